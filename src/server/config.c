/*
 * config.c — settings: defaults, command-line flags, the config file and
 * CONFIG GET/SET/RESETSTAT.
 *
 * One table (params[]) describes every setting once: its name, an alias,
 * whether it can change at run time, and a get/set pair. The file parser,
 * the command line and CONFIG SET all go through the same setter, so a
 * value is validated the same way wherever it comes from. Precedence:
 * defaults < --config FILE < other flags (applied in that order).
 *
 * Settings the engine fixes at mn_open (dir, segment-size, max-event-size)
 * and the listening address are immutable at run time, as Redis's immutable
 * configs are; fsync changes the engine's policy (mn_set_fsync). `save` and `appendonly` exist only so the
 * Redis tools that ask get a true answer: nothing is ever snapshotted, and
 * everything is always in the log ("appendonly yes").
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "glob.h"
#include "server.h"

typedef struct param param;

/* Setter: validates v; with apply, also stores it. NULL or an error text. */
typedef const char *param_set_fn(server_config *cfg, const char *v, int apply);
/* Getter: writes the value into out. */
typedef void param_get_fn(const server_config *cfg, char *out, size_t cap);

enum { P_IMMUTABLE = 1, P_IGNORED_SET = 2 };

struct param {
    const char *name;      /* canonical name */
    const char *alias;     /* Redis name it also answers to, or NULL */
    int flags;             /* P_* */
    param_set_fn *set;     /* setter */
    param_get_fn *get;     /* getter */
};

/* ---- value parsing ---- */

/* Redis's memtoull: 1k = 1000, 1kb = 1024, ... Returns 0 on success. */
static int parse_mem(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned long long mul = 1;
    if (!strcasecmp(end, "") || !strcasecmp(end, "b"))
        mul = 1;
    else if (!strcasecmp(end, "k"))
        mul = 1000;
    else if (!strcasecmp(end, "kb"))
        mul = 1024;
    else if (!strcasecmp(end, "m"))
        mul = 1000 * 1000;
    else if (!strcasecmp(end, "mb"))
        mul = 1024 * 1024;
    else if (!strcasecmp(end, "g"))
        mul = 1000ull * 1000 * 1000;
    else if (!strcasecmp(end, "gb"))
        mul = 1024ull * 1024 * 1024;
    else
        return -1;
    if (v > ULLONG_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int parse_ll(const char *s, long long *out)
{
    return resp_str2ll(s, strlen(s), out) ? 0 : -1;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        fprintf(stderr, "Out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- setters and getters ---- */

static const char *set_port(server_config *cfg, const char *v, int apply)
{
    long long x;
    if (parse_ll(v, &x) < 0)
        return "argument couldn't be parsed into an integer";
    if (x < 0 || x > 65535)
        return "argument must be between 0 and 65535 inclusive";
    if (apply)
        cfg->port = (int)x;
    return NULL;
}
static void get_port(const server_config *cfg, char *o, size_t n) { snprintf(o, n, "%d", cfg->port); }

static const char *set_bind(server_config *cfg, const char *v, int apply)
{
    if (!*v)
        return "bind address may not be empty";
    if (apply) {
        free(cfg->bind);
        cfg->bind = xstrdup(v);
    }
    return NULL;
}
static void get_bind(const server_config *cfg, char *o, size_t n) { snprintf(o, n, "%s", cfg->bind); }

static const char *set_dir(server_config *cfg, const char *v, int apply)
{
    if (!*v)
        return "dir may not be empty";
    if (apply) {
        free(cfg->dir);
        cfg->dir = xstrdup(v);
    }
    return NULL;
}
static void get_dir(const server_config *cfg, char *o, size_t n) { snprintf(o, n, "%s", cfg->dir); }

/* --projections DIR: read once at start (cmd_projection.c); "" = none */
static const char *set_projections(server_config *cfg, const char *v, int apply)
{
    if (apply) {
        free(cfg->projections);
        cfg->projections = xstrdup(v);
    }
    return NULL;
}
static void get_projections(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%s", cfg->projections ? cfg->projections : "");
}

/* --sagas DIR: read once at start (cmd_saga.c); "" = none */
static const char *set_sagas(server_config *cfg, const char *v, int apply)
{
    if (apply) {
        free(cfg->sagas);
        cfg->sagas = xstrdup(v);
    }
    return NULL;
}
static void get_sagas(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%s", cfg->sagas ? cfg->sagas : "");
}

static const char *set_fsync(server_config *cfg, const char *v, int apply)
{
    int pol;
    long long ms = cfg->fsync_interval_ms;
    if (!strcasecmp(v, "always")) {
        pol = MN_FSYNC_ALWAYS;
    } else if (!strcasecmp(v, "never") || !strcasecmp(v, "no")) {
        pol = MN_FSYNC_NEVER;
    } else if (!strcasecmp(v, "everysec")) {
        pol = MN_FSYNC_INTERVAL;
        ms = 1000;
    } else if (!strncasecmp(v, "interval:", 9)) {
        pol = MN_FSYNC_INTERVAL;
        if (parse_ll(v + 9, &ms) < 0 || ms < 1 || ms > 3600000)
            return "interval must be 1..3600000 ms";
    } else {
        return "argument(s) must be one of the following: always, interval:<ms>, never";
    }
    if (apply) {
        cfg->fsync_policy = pol;
        cfg->fsync_interval_ms = (uint32_t)ms;
        /* At run time (CONFIG SET) the engine switches from its next batch;
         * it can only refuse for a read-only store, where there is nothing
         * to sync anyway. */
        if (server.store) (void)mn_set_fsync(server.store, pol, (uint32_t)ms);
    }
    return NULL;
}
static void get_fsync(const server_config *cfg, char *o, size_t n)
{
    if (cfg->fsync_policy == MN_FSYNC_ALWAYS)
        snprintf(o, n, "always");
    else if (cfg->fsync_policy == MN_FSYNC_NEVER)
        snprintf(o, n, "never");
    else
        snprintf(o, n, "interval:%u", cfg->fsync_interval_ms);
}
/* Redis's appendfsync vocabulary: always / everysec / no. */
static void get_appendfsync(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%s", cfg->fsync_policy == MN_FSYNC_ALWAYS  ? "always"
                         : cfg->fsync_policy == MN_FSYNC_NEVER ? "no"
                                                               : "everysec");
}

static const char *set_requirepass(server_config *cfg, const char *v, int apply)
{
    if (apply) {
        free(cfg->requirepass);
        cfg->requirepass = xstrdup(v);
    }
    return NULL;
}
static void get_requirepass(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%s", cfg->requirepass);
}

static const char *const levels[] = {"debug", "verbose", "notice", "warning"};

static const char *set_loglevel(server_config *cfg, const char *v, int apply)
{
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, levels[i])) {
            if (apply)
                cfg->loglevel = i;
            return NULL;
        }
    }
    return "argument(s) must be one of the following: debug, verbose, notice, warning";
}
static void get_loglevel(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%s", levels[cfg->loglevel & 3]);
}

static const char *set_segment_size(server_config *cfg, const char *v, int apply)
{
    unsigned long long x;
    if (parse_mem(v, &x) < 0)
        return "argument must be a memory value";
    if (x != 0 && x < 4096)
        return "segment-size must be at least 4kb";
    if (apply)
        cfg->segment_size = x;
    return NULL;
}
static void get_segment_size(const server_config *cfg, char *o, size_t n)
{
    /* 0 means the engine's default: show the value in effect */
    snprintf(o, n, "%llu", (unsigned long long)(cfg->segment_size ? cfg->segment_size : 64ull << 20));
}

static const char *set_max_event_size(server_config *cfg, const char *v, int apply)
{
    unsigned long long x;
    if (parse_mem(v, &x) < 0)
        return "argument must be a memory value";
    if (x > (256ull << 20))
        return "max-event-size must be at most 256mb";
    if (apply)
        cfg->max_event_size = (uint32_t)x;
    return NULL;
}
static void get_max_event_size(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%u", cfg->max_event_size ? cfg->max_event_size : 1u << 20);
}

static const char *set_maxclients(server_config *cfg, const char *v, int apply)
{
    long long x;
    if (parse_ll(v, &x) < 0)
        return "argument couldn't be parsed into an integer";
    if (x < 1 || x > 1000000)
        return "argument must be between 1 and 1000000 inclusive";
    if (apply)
        cfg->maxclients = (int)x;
    return NULL;
}
static void get_maxclients(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%d", cfg->maxclients);
}

static const char *set_timeout(server_config *cfg, const char *v, int apply)
{
    long long x;
    if (parse_ll(v, &x) < 0)
        return "argument couldn't be parsed into an integer";
    if (x < 0 || x > INT_MAX)
        return "argument must be between 0 and 2147483647 inclusive";
    if (apply)
        cfg->timeout = x;
    return NULL;
}
static void get_timeout(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%lld", cfg->timeout);
}

static const char *set_bulk_len(server_config *cfg, const char *v, int apply)
{
    unsigned long long x;
    if (parse_mem(v, &x) < 0)
        return "argument must be a memory value";
    if (x < 1024 * 1024 || x > (unsigned long long)LLONG_MAX)
        return "argument must be between 1048576 and 9223372036854775807 inclusive";
    if (apply)
        cfg->proto_max_bulk_len = (long long)x;
    return NULL;
}
static void get_bulk_len(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "%lld", cfg->proto_max_bulk_len);
}

/* "normal 0 0 0 pubsub 32mb 8mb 60": classes in any number and order. */
static const char *set_obl(server_config *cfg, const char *v, int apply)
{
    char *copy = strdup(v), *save = NULL;
    const char *err = NULL;
    obl_limit lims[OBL_CLASSES];
    memcpy(lims, cfg->obl, sizeof(lims));
    if (!copy)
        return "out of memory";
    char *tok[64];
    int n = 0;
    for (char *t = strtok_r(copy, " \t", &save); t && n < 64; t = strtok_r(NULL, " \t", &save))
        tok[n++] = t;
    if (n == 0 || n % 4 != 0) {
        err = "Wrong number of arguments in buffer limit configuration.";
        goto out;
    }
    for (int i = 0; i < n; i += 4) {
        int cls;
        if (!strcasecmp(tok[i], "normal"))
            cls = OBL_NORMAL;
        else if (!strcasecmp(tok[i], "replica") || !strcasecmp(tok[i], "slave"))
            cls = OBL_REPLICA;
        else if (!strcasecmp(tok[i], "pubsub"))
            cls = OBL_PUBSUB;
        else {
            err = "Invalid client class specified in buffer limit configuration.";
            goto out;
        }
        unsigned long long h, s;
        long long secs;
        if (parse_mem(tok[i + 1], &h) < 0 || parse_mem(tok[i + 2], &s) < 0 ||
            parse_ll(tok[i + 3], &secs) < 0 || secs < 0) {
            err = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            goto out;
        }
        lims[cls].hard = h;
        lims[cls].soft = s;
        lims[cls].soft_seconds = secs;
    }
    if (apply)
        memcpy(cfg->obl, lims, sizeof(lims));
out:
    free(copy);
    return err;
}
static void get_obl(const server_config *cfg, char *o, size_t n)
{
    snprintf(o, n, "normal %llu %llu %lld slave %llu %llu %lld pubsub %llu %llu %lld",
             cfg->obl[0].hard, cfg->obl[0].soft, cfg->obl[0].soft_seconds, cfg->obl[1].hard,
             cfg->obl[1].soft, cfg->obl[1].soft_seconds, cfg->obl[2].hard, cfg->obl[2].soft,
             cfg->obl[2].soft_seconds);
}

static const char *set_save(server_config *cfg, const char *v, int apply) { (void)cfg; (void)v; (void)apply; return NULL; }
static void get_save(const server_config *cfg, char *o, size_t n) { (void)cfg; snprintf(o, n, "%s", ""); }

static const char *set_appendonly(server_config *cfg, const char *v, int apply)
{
    (void)cfg; (void)apply;
    return strcasecmp(v, "yes") == 0 ? NULL : "every write is always in the log (appendonly is always yes)";
}
static void get_appendonly(const server_config *cfg, char *o, size_t n) { (void)cfg; snprintf(o, n, "yes"); }

static const char *set_databases(server_config *cfg, const char *v, int apply)
{
    (void)cfg; (void)apply;
    return strcmp(v, "1") == 0 ? NULL : "only one database (db 0) exists";
}
static void get_databases(const server_config *cfg, char *o, size_t n) { (void)cfg; snprintf(o, n, "1"); }

static const param params[] = {
    {"port", NULL, P_IMMUTABLE, set_port, get_port},
    {"bind", NULL, P_IMMUTABLE, set_bind, get_bind},
    {"dir", NULL, P_IMMUTABLE, set_dir, get_dir},
    {"projections", NULL, P_IMMUTABLE, set_projections, get_projections},
    {"sagas", NULL, P_IMMUTABLE, set_sagas, get_sagas},
    {"fsync", NULL, 0, set_fsync, get_fsync},
    {"appendfsync", NULL, 0, set_fsync, get_appendfsync},
    {"requirepass", NULL, 0, set_requirepass, get_requirepass},
    {"loglevel", NULL, 0, set_loglevel, get_loglevel},
    {"segment-size", NULL, P_IMMUTABLE, set_segment_size, get_segment_size},
    {"max-event-size", NULL, P_IMMUTABLE, set_max_event_size, get_max_event_size},
    {"maxclients", NULL, 0, set_maxclients, get_maxclients},
    {"timeout", NULL, 0, set_timeout, get_timeout},
    {"proto-max-bulk-len", NULL, 0, set_bulk_len, get_bulk_len},
    {"client-output-buffer-limit", NULL, 0, set_obl, get_obl},
    {"save", NULL, P_IGNORED_SET, set_save, get_save},
    {"appendonly", NULL, 0, set_appendonly, get_appendonly},
    {"databases", NULL, P_IMMUTABLE, set_databases, get_databases},
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

static const param *find_param(const char *name)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (!strcasecmp(params[i].name, name) || (params[i].alias && !strcasecmp(params[i].alias, name)))
            return &params[i];
    return NULL;
}

/* ---- defaults, flags, file ---- */

void config_defaults(server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 6363;
    cfg->bind = xstrdup("127.0.0.1");
    cfg->dir = xstrdup("./data");
    cfg->fsync_policy = MN_FSYNC_ALWAYS;
    cfg->fsync_interval_ms = 1000;
    cfg->requirepass = xstrdup("");
    cfg->loglevel = LL_NOTICE;
    cfg->maxclients = 10000;
    cfg->proto_max_bulk_len = 512ll * 1024 * 1024;
    cfg->obl[OBL_NORMAL] = (obl_limit){0, 0, 0};
    cfg->obl[OBL_REPLICA] = (obl_limit){256ull << 20, 64ull << 20, 60};
    cfg->obl[OBL_PUBSUB] = (obl_limit){32ull << 20, 8ull << 20, 60};
}

void config_free(server_config *cfg)
{
    free(cfg->bind);
    free(cfg->dir);
    free(cfg->requirepass);
    free(cfg->config_file);
    free(cfg->projections);
    free(cfg->sagas);
    memset(cfg, 0, sizeof(*cfg));
}

static int apply_setting(server_config *cfg, const char *name, const char *value,
                         const char *where, int line)
{
    const param *p = find_param(name);
    const char *err = NULL;
    if (!p)
        err = "Bad directive or wrong number of arguments";
    else
        err = p->set(cfg, value, 1);
    if (err) {
        if (line > 0)
            fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR ***\nReading %s, line %d\n>>> '%s %s'\n%s\n",
                    where, line, name, value, err);
        else
            fprintf(stderr, "Bad option --%s '%s': %s\n", name, value, err);
        return -1;
    }
    return 0;
}

/* Splits a config line into words with "double" and 'single' quotes
 * (backslash escapes \n \r \t \\ \" inside double quotes). In place.
 * Returns the word count, or -1 on unbalanced quotes. */
static int split_line(char *s, char **words, int max)
{
    int n = 0;
    char *r = s;
    while (*r) {
        while (isspace((unsigned char)*r))
            r++;
        if (!*r)
            break;
        if (n == max)
            return -1;
        char *w = r, *start = r;
        char q = 0;
        if (*r == '"' || *r == '\'')
            q = *r++;
        for (;;) {
            if (!*r) {
                if (q)
                    return -1;
                break;
            }
            if (!q && isspace((unsigned char)*r)) {
                r++;
                break;
            }
            if (q && *r == q) {
                r++;
                if (*r && !isspace((unsigned char)*r))
                    return -1;
                break;
            }
            if (q == '"' && *r == '\\' && r[1]) {
                r++;
                *w++ = *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r == 't' ? '\t' : *r;
                r++;
                continue;
            }
            *w++ = *r++;
        }
        char *end = w;
        words[n++] = start;
        /* the terminator was consumed; safe to end the word in place */
        *end = '\0';
    }
    return n;
}

static int load_file(server_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    int rc = 0, lineno = 0;
    char line[4096];
    if (!f) {
        fprintf(stderr, "Fatal error, can't open config file '%s': %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *words[64];
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == '\0')
            continue;
        p[strcspn(p, "\r\n")] = '\0';
        int n = split_line(p, words, 64);
        if (n < 0) {
            fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR ***\nReading %s, line %d\n"
                            "Unbalanced quotes in configuration line\n", path, lineno);
            rc = -1;
            break;
        }
        if (n == 0)
            continue;
        char value[4096] = "";
        size_t vl = 0;
        for (int i = 1; i < n; i++) {
            int k = snprintf(value + vl, sizeof(value) - vl, "%s%s", i > 1 ? " " : "", words[i]);
            if (k < 0 || (size_t)k >= sizeof(value) - vl)
                break;
            vl += (size_t)k;
        }
        for (char *q = words[0]; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        if (apply_setting(cfg, words[0], value, path, lineno) < 0) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "Usage: mnemosyned [--config FILE] [--port N] [--bind ADDR] [--dir DIR]\n"
            "                  [--fsync always|interval:<ms>|never] [--requirepass PASS]\n"
            "                  [--repair]  (cut the log at mid-log damage instead of refusing to start)\n"
            "                  [--projections DIR]  (create or update the projections DIR/*.lua)\n"
            "                  [--sagas DIR]  (define or update the sagas DIR/<name>.lua)\n"
            "                  [--loglevel debug|verbose|notice|warning]\n"
            "                  [--segment-size BYTES] [--max-event-size BYTES]\n"
            "                  [--<any CONFIG parameter> VALUE]\n");
}

int config_from_args(server_config *cfg, int argc, char **argv)
{
    /* the file first, wherever --config appears: flags override it */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                usage();
                return -1;
            }
            char *abs = realpath(argv[i + 1], NULL);
            free(cfg->config_file);
            cfg->config_file = abs ? abs : xstrdup(argv[i + 1]);
            if (load_file(cfg, argv[i + 1]) < 0)
                return -1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            exit(0);
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("mnemosyned %s (Redis protocol %s)\n", MN_VERSION_STRING, MN_REDIS_COMPAT_VERSION);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "Unexpected argument '%s'\n", a);
            usage();
            return -1;
        }
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strcmp(a, "--repair")) {
            /* A flag, not a setting: it acts once, on this start. */
            cfg->repair = 1;
            continue;
        }
        /* the value: the following words up to the next --option, joined */
        char value[4096] = "";
        size_t vl = 0;
        int j = i + 1;
        for (; j < argc && strncmp(argv[j], "--", 2) != 0; j++) {
            int k = snprintf(value + vl, sizeof(value) - vl, "%s%s", j > i + 1 ? " " : "", argv[j]);
            if (k < 0 || (size_t)k >= sizeof(value) - vl)
                break;
            vl += (size_t)k;
        }
        if (j == i + 1 && strcmp(a + 2, "requirepass") != 0 && strcmp(a + 2, "save") != 0) {
            fprintf(stderr, "Option %s needs a value\n", a);
            return -1;
        }
        if (apply_setting(cfg, a + 2, value, NULL, 0) < 0)
            return -1;
        i = j - 1;
    }
    return 0;
}

/* ---- CONFIG command ---- */

void cmd_config_get(client *c)
{
    const param *hit[NPARAMS];
    size_t n = 0;
    for (size_t i = 0; i < NPARAMS; i++) {
        for (int a = 2; a < c->argc; a++) {
            if (glob_match(c->argv[a], c->argvlen[a], params[i].name, strlen(params[i].name), 1)) {
                hit[n++] = &params[i];
                break;
            }
        }
    }
    reply_map(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        char val[512];
        hit[i]->get(&server.cfg, val, sizeof(val));
        reply_bulk_cstr(c, hit[i]->name);
        reply_bulk_cstr(c, val);
    }
}

void cmd_config_set(client *c)
{
    if ((c->argc - 2) % 2 != 0) {
        reply_errorf(c, "Unknown option or number of arguments for CONFIG SET - '%s'", c->argv[2]);
        return;
    }
    /* Redis 7 semantics: all or nothing — validate every pair first. */
    for (int i = 2; i < c->argc; i += 2) {
        const param *p = find_param(c->argv[i]);
        if (!p) {
            reply_errorf(c, "Unknown option or number of arguments for CONFIG SET - '%s'", c->argv[i]);
            return;
        }
        for (int j = 2; j < i; j += 2) {
            if (find_param(c->argv[j]) == p) {
                reply_errorf(c, "CONFIG SET failed (possibly related to argument '%s') - duplicate parameter",
                             c->argv[i]);
                return;
            }
        }
        const char *err = (p->flags & P_IMMUTABLE) ? "can't set immutable config"
                                                   : p->set(&server.cfg, c->argv[i + 1], 0);
        if ((p->flags & P_IMMUTABLE)) {
            /* setting an immutable parameter to its current value is harmless */
            char cur[512];
            p->get(&server.cfg, cur, sizeof(cur));
            if (!strcasecmp(cur, c->argv[i + 1]))
                err = NULL;
        }
        if (err) {
            reply_errorf(c, "CONFIG SET failed (possibly related to argument '%s') - %s", c->argv[i], err);
            return;
        }
    }
    for (int i = 2; i < c->argc; i += 2) {
        const param *p = find_param(c->argv[i]);
        if (!(p->flags & (P_IMMUTABLE | P_IGNORED_SET)))
            p->set(&server.cfg, c->argv[i + 1], 1);
    }
    reply_ok(c);
}

void cmd_config_resetstat(client *c)
{
    server_reset_stats();
    reply_ok(c);
}

void cmd_config_help(client *c)
{
    static const char *lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "HELP",
        "    Print this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}
