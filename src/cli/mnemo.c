/*
 * mnemo.c — `mnemo`, the command-line tool, in one of two modes:
 *
 *   mnemo [--dir D] [--fsync P] COMMAND [ARGS...]         local
 *   mnemo [-h HOST] [-p PORT] [-a PASS] COMMAND [ARGS...]  remote
 *
 * Local mode embeds the engine on a directory, the way `sqlite3 FILE` embeds
 * SQLite: the store is opened in-process, used for one command, and closed.
 * Remote mode talks RESP to a running mnemosyned, like redis-cli (remote.h).
 *
 * This file holds main: choosing the mode, the global options, the command
 * table and dispatch, the global usage text, and the two things every local
 * command needs — opening the store and turning an engine error into a
 * message and an exit code (cli.h lists the codes). Each command lives in
 * the cmd_*.c file of its family.
 *
 * The mode: -h/-p/-a (before the command: they decide how it runs) select
 * remote; else $MNEMO_HOST / $MNEMO_PORT do, unless a directory is named
 * (--dir, $MNEMO_DIR). Other global options come before the command and are
 * accepted after it too (`mnemo read s --dir D`). The directory is --dir,
 * else $MNEMO_DIR, else ./data.
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
    &cli_cmd_info,   &cli_cmd_check, &cli_cmd_reindex, &cli_cmd_tail,
    &cli_cmd_trace,  &cli_cmd_dlq,   &cli_cmd_saga,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fputs("usage: mnemo [--dir DIR] [--fsync POLICY] COMMAND [ARGS...]\n"
          "       mnemo [-h HOST] [-p PORT] [-a PASSWORD] COMMAND [ARGS...] [--json]\n"
          "\n"
          "Mnemosyne's event store, used directly on its directory, or through a\n"
          "running mnemosyned (remote mode, like redis-cli).\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s%s\n", commands[i]->name, commands[i]->summary,
                commands[i]->run == NULL ? " (remote)"
                : commands[i]->run_remote == NULL ? " (local)" : "");
    fputs("\n"
          "Local mode (the store opened in-process; no server may have it open):\n"
          "  --dir DIR        the store directory (default: $MNEMO_DIR, else ./data)\n"
          "  --fsync POLICY   always (default), interval:<ms> or never: when an append\n"
          "                   is acknowledged relative to fdatasync of the log\n"
          "\n"
          "Remote mode (before the command; any of them selects it):\n"
          "  -h, --host HOST  the server (default: $MNEMO_HOST, else 127.0.0.1)\n"
          "  -p, --port PORT  its port (default: $MNEMO_PORT, else 6363)\n"
          "  -a, --auth PASS  AUTH with this password (default: $MNEMO_AUTH; the\n"
          "                   variable keeps the password out of `ps`)\n"
          "  $MNEMO_HOST or $MNEMO_PORT alone select remote mode too, unless --dir\n"
          "  or $MNEMO_DIR names a directory.\n"
          "  --json           JSON Lines (one object per line) instead of tables\n"
          "\n"
          "  --help           this text; 'mnemo COMMAND --help' for a command's\n"
          "                   ('mnemo -p PORT COMMAND --help' for its remote form)\n"
          "  --version        the version\n"
          "\n"
          "Exit codes: 0 ok, 1 check found damage, 2 usage error,\n"
          "            3 wrong expected version, 4 other errors (no server, auth,\n"
          "            an error reply, no such stream).\n",
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
static int help(const cli *c, int argc, char **argv)
{
    const cli_command *cmd;

    if (argc < 2) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL) return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    fputs(cli_usage_text(c, cmd), stdout);
    return CLI_EXIT_OK;
}

/* Applies the connection option at argv[*i] (-h HOST, -p PORT, -a PASSWORD
 * and their long forms, "--port=P" too), advancing *i past its value.
 * Returns 0, -1 if argv[*i] is not one, or CLI_EXIT_USAGE (printed). */
static int connection_option(cli *c, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *value;
    size_t len = strcspn(arg, "=");
    char opt = 0;
    uint64_t port;

    if ((len == 2 && strncmp(arg, "-h", 2) == 0) || (len == 6 && strncmp(arg, "--host", 6) == 0))
        opt = 'h';
    else if ((len == 2 && strncmp(arg, "-p", 2) == 0) || (len == 6 && strncmp(arg, "--port", 6) == 0))
        opt = 'p';
    else if ((len == 2 && strncmp(arg, "-a", 2) == 0) || (len == 6 && strncmp(arg, "--auth", 6) == 0))
        opt = 'a';
    else
        return -1;
    if (arg[len] == '=') value = arg + len + 1;
    else if (*i + 1 < argc) value = argv[++*i];
    else return cli_usage_error(NULL, "option '%s' needs a value", arg);

    if (opt == 'h') {
        if (value[0] == '\0') return cli_usage_error(NULL, "-h needs a host name");
        c->host = value;
    } else if (opt == 'p') {
        if (cli_parse_u64(value, 65535, &port) != 0 || port == 0)
            return cli_usage_error(NULL, "bad port '%s' (1 to 65535)", value);
        c->port = (int)port;
    } else {
        c->auth = value;
    }
    c->remote = 1;
    return 0;
}

/* Remote mode by the environment: $MNEMO_HOST / $MNEMO_PORT (the variables
 * the examples use) choose the server when no directory was named — an
 * explicit --dir or $MNEMO_DIR keeps the command local. */
static int env_defaults(cli *c, int dir_given)
{
    const char *host = getenv("MNEMO_HOST"), *port = getenv("MNEMO_PORT");
    const char *auth = getenv("MNEMO_AUTH");
    uint64_t p;

    if (c->host == NULL && host != NULL && host[0] != '\0') {
        c->host = host;
        if (!dir_given) c->remote = 1;
    }
    if (c->port == 0 && port != NULL && port[0] != '\0') {
        if (cli_parse_u64(port, 65535, &p) != 0 || p == 0)
            return cli_usage_error(NULL, "bad $MNEMO_PORT '%s' (1 to 65535)", port);
        c->port = (int)p;
        if (!dir_given) c->remote = 1;
    }
    /* like $REDISCLI_AUTH: the password stays out of `ps` */
    if (c->auth == NULL && auth != NULL && auth[0] != '\0') c->auth = auth;
    if (c->host == NULL) c->host = "127.0.0.1";
    if (c->port == 0) c->port = 6363;
    return 0;
}

int main(int argc, char **argv)
{
    cli c;
    const cli_command *cmd;
    const char *env = getenv("MNEMO_DIR");
    int i, rc, dir_flag = 0, dir_given = env != NULL && env[0] != '\0';

    memset(&c, 0, sizeof c);
    c.dir = dir_given ? env : "./data";
    c.fsync_policy = MN_FSYNC_ALWAYS;

    /* global options, up to the command name */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        /* -h is help when nothing follows it, as it always was; -h HOST
         * otherwise, as in redis-cli */
        if ((strcmp(argv[i], "-h") == 0 && (i + 1 >= argc || argv[i + 1][0] == '-')) ||
            strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            rc = out_finish();
            goto done;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("mnemo %s (libmnemosyne %s)\n", MN_VERSION_STRING, mn_version());
            rc = out_finish();
            goto done;
        }
        rc = connection_option(&c, argc, argv, &i);
        if (rc < 0) {
            if (strncmp(argv[i], "--dir", 5) == 0) dir_flag = dir_given = 1;
            rc = cli_global_option(&c, NULL, argc, argv, &i);
        }
        if (rc < 0) rc = cli_usage_error(NULL, "unknown option '%s'", argv[i]);
        if (rc != 0) goto done;
    }
    if (c.remote && dir_flag) {
        rc = cli_usage_error(NULL, "--dir (a local store) and -h/-p/-a (a server) exclude each other");
        goto done;
    }
    rc = env_defaults(&c, dir_given);
    if (rc != 0) goto done;
    if (i >= argc) {
        usage(stderr);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (strcmp(argv[i], "help") == 0) {
        rc = help(&c, argc - i, argv + i);
        if (rc == CLI_EXIT_OK) rc = out_finish();
        goto done;
    }
    cmd = find_command(argv[i]);
    if (cmd == NULL) {
        rc = cli_usage_error(NULL, "unknown command '%s'", argv[i]);
        goto done;
    }
    if (c.remote && cmd->run_remote == NULL) {
        rc = cli_usage_error(NULL, "'%s' works on a store directory (--dir), not against a server",
                             cmd->name);
        goto done;
    }
    if (!c.remote && cmd->run == NULL) {
        rc = cli_usage_error(NULL, "'%s' talks to a server: give -h HOST and/or -p PORT "
                             "(or set $MNEMO_HOST / $MNEMO_PORT)", cmd->name);
        goto done;
    }
    rc = c.remote ? cmd->run_remote(&c, argc - i, argv + i) : cmd->run(&c, argc - i, argv + i);
    if (rc == CLI_HELP) rc = out_finish();

done:
    return rc;
}
