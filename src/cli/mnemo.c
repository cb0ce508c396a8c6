/*
 * mnemo.c — `mnemo`, the command-line tool: the engine embedded on a
 * directory, the way `sqlite3 FILE` embeds SQLite. No server is involved;
 * the store is opened in-process, used for one command, and closed.
 *
 *   mnemo [--dir D] [--fsync P] COMMAND [ARGS...]
 *
 * This file holds main: the global options, the command table and dispatch,
 * the global usage text, and the two things every command needs — opening
 * the store and turning an engine error into a message and an exit code
 * (cli.h lists the codes). Each command lives in the cmd_*.c file of its
 * family.
 *
 * Global options come before the command and are accepted after it too
 * (`mnemo read s --dir D`). The directory is --dir, else $MNEMO_DIR, else
 * ./data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

/* The command table, in the order `mnemo --help` lists them. */
static const cli_command *const commands[] = {
    &cli_cmd_append, &cli_cmd_read, &cli_cmd_read_all,
    &cli_cmd_info,   &cli_cmd_check, &cli_cmd_reindex,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("usage: mnemo [--dir DIR] [--fsync POLICY] COMMAND [ARGS...]\n"
          "\n"
          "Mnemosyne's event store, used directly on its directory.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n"
          "Global options:\n"
          "  --dir DIR        the store directory (default: $MNEMO_DIR, else ./data)\n"
          "  --fsync POLICY   always (default), interval:<ms> or never: when an append\n"
          "                   is acknowledged relative to fdatasync of the log\n"
          "  -h, --help       this text; 'mnemo COMMAND --help' for a command's\n"
          "  --version        the version\n"
          "\n"
          "Exit codes: 0 ok, 1 check found damage, 2 usage error,\n"
          "            3 wrong expected version, 4 other errors.\n",
          f);
}

int cli_exit_code(int err)
{
    switch (err) {
    case MN_OK: return CLI_EXIT_OK;
    case MN_EWRONGVERSION: return CLI_EXIT_VERSION;
    case MN_EINVAL: return CLI_EXIT_USAGE; /* "a bad argument" */
    default: return CLI_EXIT_RUNTIME;
    }
}

/* Prints the name of err and mn_errmsg()'s detail, and a newline: "wrong
 * expected version: expected version 3, stream is at 5" — without repeating
 * the name when the detail already starts with it. */
static void print_detail(int err)
{
    const char *name = mn_strerror(err), *detail = mn_errmsg();

    if (detail == NULL || detail[0] == '\0' || strcmp(detail, name) == 0)
        fprintf(stderr, "%s\n", name);
    else if (strncmp(detail, name, strlen(name)) == 0)
        fprintf(stderr, "%s\n", detail);
    else
        fprintf(stderr, "%s: %s\n", name, detail);
}

int cli_fail(int err, const char *what)
{
    fputs("mnemo: ", stderr);
    if (what != NULL) fprintf(stderr, "%s: ", what);
    print_detail(err);
    return cli_exit_code(err);
}

int cli_fail_locked(const cli *c)
{
    const char *detail = mn_errmsg();

    if (detail != NULL && detail[0] != '\0')
        fprintf(stderr, "mnemo: %s\n", detail);
    else
        fprintf(stderr, "mnemo: %s is in use by another process (a running mnemosyned?)\n",
                c->dir);
    return CLI_EXIT_RUNTIME;
}

int cli_open(const cli *c, int read_only, mn_store **out)
{
    mn_options opts;
    struct stat st;
    int rc;

    *out = NULL;
    /* Reading never creates: a typo in --dir must not leave an empty store
     * behind and answer "no such stream". */
    if (read_only && stat(c->dir, &st) != 0) {
        fprintf(stderr, "mnemo: no store at %s: %s\n", c->dir, strerror(errno));
        return CLI_EXIT_RUNTIME;
    }
    mn_options_init(&opts);
    opts.fsync_policy = c->fsync_policy;
    if (c->fsync_policy == MN_FSYNC_INTERVAL) opts.fsync_interval_ms = c->fsync_interval_ms;
    opts.read_only = read_only;
    opts.create = !read_only;
    rc = mn_open(c->dir, &opts, out);
    if (rc == MN_OK) return CLI_EXIT_OK;
    *out = NULL;
    if (rc == MN_ELOCKED) return cli_fail_locked(c);
    fprintf(stderr, "mnemo: cannot open %s: ", c->dir);
    print_detail(rc);
    if (rc == MN_ECORRUPT)
        fputs("mnemo: 'mnemo check' shows where the log is damaged\n", stderr);
    /* a bad argument to open is still a runtime failure of the store */
    return rc == MN_EINVAL ? CLI_EXIT_RUNTIME : cli_exit_code(rc);
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

/* `mnemo help [COMMAND]` */
static int help(int argc, char **argv)
{
    const cli_command *cmd;

    if (argc < 2) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL) return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    fputs(cmd->usage, stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    cli c;
    const cli_command *cmd;
    const char *env = getenv("MNEMO_DIR");
    int i, rc;

    memset(&c, 0, sizeof c);
    c.dir = env != NULL && env[0] != '\0' ? env : "./data";
    c.fsync_policy = MN_FSYNC_ALWAYS;

    /* global options, up to the command name */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            rc = out_finish();
            goto done;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("mnemo %s (libmnemosyne %s)\n", MN_VERSION_STRING, mn_version());
            rc = out_finish();
            goto done;
        }
        rc = cli_global_option(&c, NULL, argc, argv, &i);
        if (rc < 0) rc = cli_usage_error(NULL, "unknown option '%s'", argv[i]);
        if (rc != 0) goto done;
    }
    if (i >= argc) {
        usage(stderr);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (strcmp(argv[i], "help") == 0) {
        rc = help(argc - i, argv + i);
        if (rc == CLI_EXIT_OK) rc = out_finish();
        goto done;
    }
    cmd = find_command(argv[i]);
    if (cmd == NULL) {
        rc = cli_usage_error(NULL, "unknown command '%s'", argv[i]);
        goto done;
    }
    rc = cmd->run(&c, argc - i, argv + i);
    if (rc == CLI_HELP) rc = out_finish();

done:
    return rc;
}
