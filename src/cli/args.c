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
#include "util/json.h"

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

const char *cli_usage_text(const cli *c, const cli_command *cmd)
{
    return c->remote && cmd->remote_usage != NULL ? cmd->remote_usage : cmd->usage;
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

/* 1 if arg (its first len bytes) names a server connection option. They are
 * accepted before the command only, because they decide whether the command
 * runs on a directory or against a server (mnemo.c). */
static int is_connection_option(const char *arg, size_t len)
{
    static const char *const names[] = {"-h", "-p", "-a", "--host", "--port", "--auth"};

    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strlen(names[k]) == len && memcmp(names[k], arg, len) == 0) return 1;
    return 0;
}

int cli_global_option(cli *c, const cli_command *cmd, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *value;
    size_t len = strcspn(arg, "=");
    int is_dir = len == 5 && memcmp(arg, "--dir", 5) == 0;
    int is_fsync = len == 7 && memcmp(arg, "--fsync", 7) == 0;

    if (strcmp(arg, "--json") == 0) {
        c->json = 1;
        return 0;
    }
    if (cmd != NULL && is_connection_option(arg, len))
        return cli_usage_error(cmd, "'%.*s' goes before the command: mnemo -h HOST -p PORT %s ...",
                               (int)len, arg, cmd->name);
    if (!is_dir && !is_fsync) return -1;
    if (arg[len] == '=') value = arg + len + 1;
    else if (*i + 1 < argc) value = argv[++*i];
    else return cli_usage_error(cmd, "option '%s' needs a value", arg);

    if (is_dir) {
        if (c->remote)
            return cli_usage_error(cmd, "--dir (a local store) and a server (-h/-p/-a, "
                                        "$MNEMO_HOST/$MNEMO_PORT) exclude each other");
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
            fputs(cli_usage_text(c, cmd), stdout);
            return CLI_HELP;
        }
        rc = cli_global_option(c, cmd, argc, argv, &i);
        if (rc >= 0) {
            if (rc != 0) return rc;
            continue;
        }
        if (arg[1] != '-') {
            /* "-f", "-n 5" */
            for (size_t k = 0; k < nopts && arg[2] == '\0'; k++)
                if (opts[k].short_name != 0 && opts[k].short_name == arg[1]) o = &opts[k];
            if (o == NULL) return cli_usage_error(cmd, "unknown option '%s'", arg);
            name = o->name;
            eq = NULL;
        } else {
            /* "--name" or "--name=value" */
            name = arg + 2;
            eq = strchr(name, '=');
            name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
            for (size_t k = 0; k < nopts; k++) {
                if (strlen(opts[k].name) == name_len &&
                    memcmp(opts[k].name, name, name_len) == 0) {
                    o = &opts[k];
                    break;
                }
            }
            if (o == NULL)
                return cli_usage_error(cmd, "unknown option '--%.*s'", (int)name_len, name);
        }
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
        const char *u = cli_usage_text(c, cmd);
        return cli_usage_error(cmd, "missing argument%s; %.*s", min_pos - n > 1 ? "s" : "",
                               (int)strcspn(u, "\n"), u);
    }
    *npos = n;
    return 0;
}

int cli_parse_expect(const char *s, int64_t *out)
{
    uint64_t v;

    /* local mode's words, and ES.APPEND's as the server spells them; not
     * any mixed case ("None" is more likely a script's bug than a word) */
    if (strcmp(s, "any") == 0 || strcmp(s, "ANY") == 0) *out = MN_EXPECT_ANY;
    else if (strcmp(s, "none") == 0 || strcmp(s, "nostream") == 0 || strcmp(s, "NOSTREAM") == 0)
        *out = MN_EXPECT_NOSTREAM;
    else if (strcmp(s, "exists") == 0 || strcmp(s, "EXISTS") == 0) *out = MN_EXPECT_EXISTS;
    else if (cli_parse_u64(s, INT64_MAX, &v) == 0) *out = (int64_t)v;
    else return -1;
    return 0;
}

int cli_check_append(const cli_command *cmd, const char *stream, const char *type,
                     const char *expect_s, const char *id_s, const char *meta_s,
                     int64_t *expected, uint8_t id[16])
{
    static const uint8_t nil[16];
    size_t stream_len = strlen(stream), type_len = strlen(type);

    *expected = MN_EXPECT_ANY;
    memset(id, 0, 16);
    if (stream_len == 0 || stream_len > MN_MAX_STREAM_NAME)
        return cli_usage_error(cmd, "a stream name is 1 to %u bytes", MN_MAX_STREAM_NAME);
    if (type_len == 0 || type_len > MN_MAX_TYPE_LEN)
        return cli_usage_error(cmd, "an event type is 1 to %u bytes", MN_MAX_TYPE_LEN);
    if (expect_s != NULL && cli_parse_expect(expect_s, expected) != 0)
        return cli_usage_error(cmd, "bad --expect '%s' (any, none, exists or a version >= 0)",
                               expect_s);
    if (id_s != NULL) {
        if (mn_uuid_parse(id_s, strlen(id_s), id) != MN_OK)
            return cli_usage_error(cmd,
                                   "bad --id '%s' (a UUID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                                   id_s);
        /* all zero means "generate one" to the engine: a retry with it would
         * silently append twice */
        if (memcmp(id, nil, sizeof nil) == 0)
            return cli_usage_error(cmd, "--id may not be the nil UUID");
    }
    if (meta_s != NULL && !json_is_object(meta_s, strlen(meta_s)))
        return cli_usage_error(cmd, "--meta must be a JSON object, got '%s'", meta_s);
    return 0;
}
