/*
 * args.c — the command-line parser every mnemo command shares, and strict
 * number parsing.
 *
 * Why not getopt_long: options must be accepted after positionals
 * (`mnemo append s t '{}' --expect 3`) without GNU argv permutation, and a
 * negative number must stay a positional (`mnemo append s t -5`, data that is
 * the JSON number -5). The rules are in cli.h above cli_parse_args.
 *
 * Numbers are parsed strictly: "12abc", " 12", "+12", "-1", "0x10" and values
 * that overflow are all usage errors, never silently something else.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9') return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') return -1;
    if ((uint64_t)v > max) return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_fsync(cli *c, const char *s)
{
    static const char interval[] = "interval:";
    uint64_t ms;

    if (strcmp(s, "always") == 0) {
        c->fsync_policy = MN_FSYNC_ALWAYS;
        return 0;
    }
    if (strcmp(s, "never") == 0) {
        c->fsync_policy = MN_FSYNC_NEVER;
        return 0;
    }
    if (strncmp(s, interval, sizeof interval - 1) == 0 &&
        cli_parse_u64(s + sizeof interval - 1, UINT32_MAX, &ms) == 0 && ms > 0) {
        c->fsync_policy = MN_FSYNC_INTERVAL;
        c->fsync_interval_ms = (uint32_t)ms;
        return 0;
    }
    return -1;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("mnemo: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd != NULL)
        fprintf(stderr, "\nTry 'mnemo %s --help'.\n", cmd->name);
    else
        fputs("\nTry 'mnemo --help'.\n", stderr);
    return CLI_EXIT_USAGE;
}

/* 1 if arg is to be read as an option (see cli_parse_args). */
static int is_option(const char *arg)
{
    if (arg[0] != '-' || arg[1] == '\0') return 0;     /* "x", "-" */
    if (arg[1] >= '0' && arg[1] <= '9') return 0;      /* "-5", "-1.5e3" */
    return 1;
}

int cli_global_option(cli *c, const cli_command *cmd, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *value;
    size_t len = strcspn(arg, "=");
    int is_dir = len == 5 && memcmp(arg, "--dir", 5) == 0;
    int is_fsync = len == 7 && memcmp(arg, "--fsync", 7) == 0;

    if (!is_dir && !is_fsync) return -1;
    if (arg[len] == '=') value = arg + len + 1;
    else if (*i + 1 < argc) value = argv[++*i];
    else return cli_usage_error(cmd, "option '%s' needs a value", arg);

    if (is_dir) {
        if (value[0] == '\0') return cli_usage_error(cmd, "--dir needs a directory");
        c->dir = value;
    } else if (cli_parse_fsync(c, value) != 0) {
        return cli_usage_error(cmd, "bad --fsync '%s' (always, never or interval:<ms>)", value);
    }
    return 0;
}

int cli_parse_args(cli *c, const cli_command *cmd, int argc, char **argv,
                   const cli_opt *opts, size_t nopts, char **pos, int min_pos,
                   int max_pos, int *npos)
{
    int n = 0, only_positionals = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *eq;
        size_t name_len;
        const cli_opt *o = NULL;
        int rc;

        if (only_positionals || !is_option(arg)) {
            if (n >= max_pos)
                return cli_usage_error(cmd, "unexpected argument '%s'", arg);
            pos[n++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positionals = 1;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(cmd->usage, stdout);
            return CLI_HELP;
        }
        if (arg[1] != '-') return cli_usage_error(cmd, "unknown option '%s'", arg);
        rc = cli_global_option(c, cmd, argc, argv, &i);
        if (rc >= 0) {
            if (rc != 0) return rc;
            continue;
        }

        /* "--name" or "--name=value" */
        name = arg + 2;
        eq = strchr(name, '=');
        name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        for (size_t k = 0; k < nopts; k++) {
            if (strlen(opts[k].name) == name_len && memcmp(opts[k].name, name, name_len) == 0) {
                o = &opts[k];
                break;
            }
        }
        if (o == NULL)
            return cli_usage_error(cmd, "unknown option '--%.*s'", (int)name_len, name);
        if (!o->takes_value) {
            if (eq != NULL)
                return cli_usage_error(cmd, "option '--%s' takes no value", o->name);
            *o->flag = 1;
        } else if (eq != NULL) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            return cli_usage_error(cmd, "option '--%s' needs a value", o->name);
        }
    }
    if (n < min_pos) {
        return cli_usage_error(cmd, "missing argument%s; %.*s", min_pos - n > 1 ? "s" : "",
                               (int)strcspn(cmd->usage, "\n"), cmd->usage);
    }
    *npos = n;
    return 0;
}
