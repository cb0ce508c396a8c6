/*
 * cmd_admin.c — introspection and administration: COMMAND (COUNT INFO
 * DOCS LIST), INFO, CONFIG (GET SET RESETSTAT HELP; handlers in config.c),
 * SHUTDOWN, TIME.
 *
 * COMMAND INFO answers Redis 7's ten-element shape (name, arity, flags,
 * first/last key, step, ACL categories, tips, key specs, subcommands) and
 * COMMAND DOCS a map per command (summary, since, group, complexity,
 * subcommands), which is what redis-cli and client libraries read. INFO
 * uses Redis's field names so monitoring tools and redis-benchmark work;
 * the store's own numbers are in "# Persistence" with an mn_ prefix.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "server.h"
#include "stream_util.h"

/* ---- COMMAND ---- */

static const struct {
    uint32_t flag;
    const char *name;
} flag_names[] = {
    {CMD_WRITE, "write"},       {CMD_READONLY, "readonly"}, {CMD_DENYOOM, "denyoom"},
    {CMD_ADMIN, "admin"},       {CMD_PUBSUB, "pubsub"},     {CMD_BLOCKING, "blocking"},
    {CMD_LOADING, "loading"},   {CMD_STALE, "stale"},       {CMD_FAST, "fast"},
    {CMD_NO_AUTH, "no_auth"},   {CMD_NO_MULTI, "no_multi"},
};
#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

static void reply_acl_categories(client *c, const command *cmd)
{
    const char *cats[8];
    int n = 0;
    uint32_t f = cmd->def->flags;
    const char *g = cmd->def->group ? cmd->def->group : "";
    if (!strcmp(g, "generic"))
        cats[n++] = "@keyspace";
    if (f & CMD_WRITE)
        cats[n++] = "@write";
    if (f & CMD_READONLY)
        cats[n++] = "@read";
    if (!strcmp(g, "stream"))
        cats[n++] = "@stream";
    if (!strcmp(g, "pubsub"))
        cats[n++] = "@pubsub";
    if (!strcmp(g, "connection"))
        cats[n++] = "@connection";
    if (!strcmp(g, "transactions"))
        cats[n++] = "@transaction";
    if (f & CMD_ADMIN) {
        cats[n++] = "@admin";
        cats[n++] = "@dangerous";
    }
    if (f & CMD_BLOCKING && n < 8)
        cats[n++] = "@blocking";
    if (n < 8)
        cats[n++] = (f & CMD_FAST) ? "@fast" : "@slow";
    reply_set(c, n);
    for (int i = 0; i < n; i++)
        reply_simple(c, cats[i]);
}

static void reply_key_specs(client *c, const command *cmd)
{
    const cmd_def *d = cmd->def;
    if (d->first_key <= 0) {
        reply_array(c, 0);
        return;
    }
    reply_array(c, 1);
    reply_map(c, 3);
    reply_bulk_cstr(c, "flags");
    reply_set(c, 2);
    reply_simple(c, (d->flags & CMD_WRITE) ? "RW" : "RO");
    reply_simple(c, (d->flags & CMD_WRITE) ? "UPDATE" : "ACCESS");
    reply_bulk_cstr(c, "begin_search");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "index");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 1);
    reply_bulk_cstr(c, "index");
    reply_long(c, d->first_key);
    reply_bulk_cstr(c, "find_keys");
    reply_map(c, 2);
    reply_bulk_cstr(c, "type");
    reply_bulk_cstr(c, "range");
    reply_bulk_cstr(c, "spec");
    reply_map(c, 3);
    reply_bulk_cstr(c, "lastkey");
    reply_long(c, d->last_key < 0 ? d->last_key : d->last_key - d->first_key);
    reply_bulk_cstr(c, "keystep");
    reply_long(c, d->key_step);
    reply_bulk_cstr(c, "limit");
    reply_long(c, 0);
}

static void reply_command_info(client *c, const command *cmd)
{
    const cmd_def *d = cmd->def;
    reply_array(c, 10);
    reply_bulk_cstr(c, cmd->fullname);
    reply_long(c, d->arity);
    int nf = 0;
    for (size_t i = 0; i < NFLAGS; i++)
        if (d->flags & flag_names[i].flag)
            nf++;
    reply_set(c, nf);
    for (size_t i = 0; i < NFLAGS; i++)
        if (d->flags & flag_names[i].flag)
            reply_simple(c, flag_names[i].name);
    reply_long(c, d->first_key);
    reply_long(c, d->last_key);
    reply_long(c, d->key_step);
    reply_acl_categories(c, cmd);
    reply_array(c, 0); /* tips */
    reply_key_specs(c, cmd);
    reply_array(c, (long)cmd->nsubs);
    for (size_t i = 0; i < cmd->nsubs; i++)
        reply_command_info(c, cmd->subs[i]);
}

static void reply_command_docs(client *c, const command *cmd)
{
    const cmd_def *d = cmd->def;
    int n = 3 + (d->complexity != NULL) + (cmd->nsubs > 0);
    reply_map(c, n);
    reply_bulk_cstr(c, "summary");
    reply_bulk_cstr(c, d->summary ? d->summary : "");
    reply_bulk_cstr(c, "since");
    reply_bulk_cstr(c, d->since ? d->since : "1.0.0");
    reply_bulk_cstr(c, "group");
    reply_bulk_cstr(c, d->group ? d->group : "generic");
    if (d->complexity) {
        reply_bulk_cstr(c, "complexity");
        reply_bulk_cstr(c, d->complexity);
    }
    if (cmd->nsubs) {
        reply_bulk_cstr(c, "subcommands");
        reply_map(c, (long)cmd->nsubs);
        for (size_t i = 0; i < cmd->nsubs; i++) {
            reply_bulk_cstr(c, cmd->subs[i]->fullname);
            reply_command_docs(c, cmd->subs[i]);
        }
    }
}

/* "config|get" or "config" (any case) to a command. */
static command *lookup_full(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (!bar)
        return cmd_lookup(name, len);
    command *p = cmd_lookup(name, (size_t)(bar - name));
    if (!p)
        return NULL;
    return cmd_lookup_sub(p, bar + 1, len - (size_t)(bar - name) - 1);
}

static void cmd_command(client *c)
{
    reply_array(c, (long)server.ncmds);
    for (size_t i = 0; i < server.ncmds; i++)
        reply_command_info(c, server.cmdlist[i]);
}

static void cmd_command_count(client *c) { reply_long(c, (long long)server.ncmds); }

static void cmd_command_info(client *c)
{
    if (c->argc == 2) {
        cmd_command(c);
        return;
    }
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        command *cmd = lookup_full(c->argv[i], c->argvlen[i]);
        if (cmd)
            reply_command_info(c, cmd);
        else
            reply_null_array(c);
    }
}

static void cmd_command_docs(client *c)
{
    if (c->argc == 2) {
        reply_map(c, (long)server.ncmds);
        for (size_t i = 0; i < server.ncmds; i++) {
            reply_bulk_cstr(c, server.cmdlist[i]->fullname);
            reply_command_docs(c, server.cmdlist[i]);
        }
        return;
    }
    void *h = reply_deferred_len(c);
    long n = 0;
    for (int i = 2; i < c->argc; i++) {
        command *cmd = lookup_full(c->argv[i], c->argvlen[i]);
        if (!cmd)
            continue;
        reply_bulk_cstr(c, cmd->fullname);
        reply_command_docs(c, cmd);
        n++;
    }
    reply_set_map_len(c, h, n);
}

static void cmd_command_list(client *c)
{
    if (c->argc != 2) {
        reply_error_syntax(c); /* FILTERBY is not supported */
        return;
    }
    reply_array(c, (long)server.ncmds);
    for (size_t i = 0; i < server.ncmds; i++)
        reply_bulk_cstr(c, server.cmdlist[i]->fullname);
}

static void cmd_command_help(client *c)
{
    static const char *lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all commands.",
        "COUNT", "    Return the total number of commands in this server.",
        "LIST", "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]", "    Return details about multiple commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
        "HELP", "    Print this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

/* COMMAND is a container whose bare form is valid: dispatch here. */
static void cmd_command_entry(client *c) { cmd_command(c); }

/* ---- INFO ---- */

typedef struct sbuf {
    char *p;       /* text */
    size_t len;    /* used */
    size_t cap;    /* allocated */
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = b->p ? vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap) : -1;
        va_end(ap);
        if (b->p && n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        char *q = realloc(b->p, cap);
        if (!q)
            return;
        b->p = q;
        b->cap = cap;
    }
}

static void human_bytes(char *out, size_t cap, unsigned long long n)
{
    if (n < 1024)
        snprintf(out, cap, "%lluB", n);
    else if (n < 1024ull * 1024)
        snprintf(out, cap, "%.2fK", n / 1024.0);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(out, cap, "%.2fM", n / (1024.0 * 1024));
    else
        snprintf(out, cap, "%.2fG", n / (1024.0 * 1024 * 1024));
}

static unsigned long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static void info_server(sbuf *b)
{
    struct utsname u;
    uname(&u);
    int64_t up = (loop_now_ms() - server.start_ms) / 1000;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    sb_printf(b, "# Server\r\n"
                 "redis_version:%s\r\n"
                 "mnemosyne_version:%s\r\n"
                 "redis_git_sha1:00000000\r\n"
                 "redis_git_dirty:0\r\n"
                 "redis_mode:standalone\r\n"
                 "os:%s %s %s\r\n"
                 "arch_bits:%d\r\n"
                 "monotonic_clock:POSIX clock_gettime\r\n"
                 "multiplexing_api:epoll\r\n"
                 "gcc_version:%d.%d.%d\r\n"
                 "process_id:%d\r\n"
                 "run_id:%s\r\n"
                 "tcp_port:%d\r\n"
                 "server_time_usec:%lld\r\n"
                 "uptime_in_seconds:%lld\r\n"
                 "uptime_in_days:%lld\r\n"
                 "hz:10\r\n"
                 "configured_hz:10\r\n"
                 "executable:%s\r\n"
                 "config_file:%s\r\n"
                 "io_threads_active:0\r\n",
              MN_REDIS_COMPAT_VERSION, MN_VERSION_STRING, u.sysname, u.release, u.machine,
              (int)(sizeof(void *) * 8),
#ifdef __GNUC__
              __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
              0, 0, 0,
#endif
              (int)getpid(), server.run_id, server.cfg.port,
              (long long)tv.tv_sec * 1000000 + tv.tv_usec, (long long)up, (long long)(up / 86400),
              server.executable, server.cfg.config_file ? server.cfg.config_file : "");
}

static void info_clients(sbuf *b)
{
    sb_printf(b, "# Clients\r\n"
                 "connected_clients:%zu\r\n"
                 "cluster_connections:0\r\n"
                 "maxclients:%d\r\n"
                 "blocked_clients:%zu\r\n"
                 "tracking_clients:0\r\n"
                 "clients_in_timeout_table:%zu\r\n"
                 "pending_deferred_replies:%zu\r\n",
              server.nclients, server.cfg.maxclients, server.nblocked, server.nblocked,
              server.ndeferred);
}

static void info_memory(sbuf *b)
{
    struct mallinfo2 mi = mallinfo2();
    unsigned long long used = (unsigned long long)(mi.uordblks + mi.hblkhd);
    unsigned long long rss = rss_bytes();
    char uh[32], rh[32];
    human_bytes(uh, sizeof(uh), used);
    human_bytes(rh, sizeof(rh), rss);
    sb_printf(b, "# Memory\r\n"
                 "used_memory:%llu\r\n"
                 "used_memory_human:%s\r\n"
                 "used_memory_rss:%llu\r\n"
                 "used_memory_rss_human:%s\r\n"
                 "maxmemory:0\r\n"
                 "maxmemory_human:0B\r\n"
                 "maxmemory_policy:noeviction\r\n"
                 "mem_allocator:libc\r\n",
              used, uh, rss, rh);
}

static void info_persistence(sbuf *b)
{
    mn_store_info si;
    memset(&si, 0, sizeof(si));
    if (server.store)
        mn_store_info_get(server.store, &si);
    static const char *pol[] = {"always", "interval", "never"};
    sb_printf(b, "# Persistence\r\n"
                 "loading:0\r\n"
                 "async_loading:0\r\n"
                 "rdb_changes_since_last_save:0\r\n"
                 "rdb_bgsave_in_progress:0\r\n"
                 "rdb_last_save_time:%lld\r\n"
                 "rdb_last_bgsave_status:ok\r\n"
                 "aof_enabled:1\r\n"
                 "aof_rewrite_in_progress:0\r\n"
                 "aof_rewrite_scheduled:0\r\n"
                 "aof_last_write_status:%s\r\n"
                 "mn_dir:%s\r\n"
                 "mn_fsync:%s\r\n"
                 "mn_read_only:%d\r\n"
                 "mn_first_position:%llu\r\n"
                 "mn_end_position:%llu\r\n"
                 "mn_durable_position:%llu\r\n"
                 "mn_streams:%llu\r\n"
                 "mn_events:%llu\r\n"
                 "mn_segments:%llu\r\n"
                 "mn_log_bytes:%llu\r\n",
              (long long)server.start_wall_s, si.read_only ? "err" : "ok", server.cfg.dir,
              pol[(unsigned)si.fsync_policy < 3 ? si.fsync_policy : 0], si.read_only,
              (unsigned long long)si.first_position, (unsigned long long)si.end_position,
              (unsigned long long)si.durable_position, (unsigned long long)si.streams,
              (unsigned long long)si.events, (unsigned long long)si.segments,
              (unsigned long long)si.log_bytes);
}

static void info_stats(sbuf *b)
{
    sb_printf(b, "# Stats\r\n"
                 "total_connections_received:%llu\r\n"
                 "total_commands_processed:%llu\r\n"
                 "instantaneous_ops_per_sec:%llu\r\n"
                 "total_net_input_bytes:%llu\r\n"
                 "total_net_output_bytes:%llu\r\n"
                 "rejected_connections:%llu\r\n"
                 "expired_keys:0\r\n"
                 "evicted_keys:0\r\n"
                 "evicted_clients:0\r\n"
                 "keyspace_hits:0\r\n"
                 "keyspace_misses:0\r\n"
                 "pubsub_channels:%zu\r\n"
                 "pubsub_patterns:%zu\r\n"
                 "client_output_buffer_limit_disconnections:%llu\r\n"
                 "total_error_replies:%llu\r\n"
                 "total_reads_processed:%llu\r\n"
                 "total_writes_processed:%llu\r\n",
              (unsigned long long)server.stat_numconnections,
              (unsigned long long)server.stat_numcommands,
              (unsigned long long)server_ops_per_sec(), (unsigned long long)server.stat_net_in,
              (unsigned long long)server.stat_net_out,
              (unsigned long long)server.stat_rejected_conn, pubsub_nchannels(),
              pubsub_npatterns(), (unsigned long long)server.stat_obl_disconnects,
              (unsigned long long)server.stat_errors, (unsigned long long)server.stat_reads,
              (unsigned long long)server.stat_writes);
}

static void info_replication(sbuf *b)
{
    sb_printf(b, "# Replication\r\n"
                 "role:master\r\n"
                 "connected_slaves:0\r\n"
                 "master_failover_state:no-failover\r\n"
                 "master_replid:%s\r\n"
                 "master_repl_offset:0\r\n",
              server.run_id);
}

static void info_cpu(sbuf *b)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    sb_printf(b, "# CPU\r\n"
                 "used_cpu_sys:%ld.%06ld\r\n"
                 "used_cpu_user:%ld.%06ld\r\n",
              (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, (long)ru.ru_utime.tv_sec,
              (long)ru.ru_utime.tv_usec);
}

static void info_cmdstat_one(sbuf *b, const command *cmd)
{
    if (cmd->calls || cmd->rejected || cmd->failed)
        sb_printf(b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                     "failed_calls=%llu\r\n",
                  cmd->fullname, (unsigned long long)cmd->calls, (unsigned long long)cmd->usec,
                  cmd->calls ? (double)cmd->usec / (double)cmd->calls : 0.0,
                  (unsigned long long)cmd->rejected, (unsigned long long)cmd->failed);
    for (size_t i = 0; i < cmd->nsubs; i++)
        info_cmdstat_one(b, cmd->subs[i]);
}

static void info_commandstats(sbuf *b)
{
    sb_printf(b, "# Commandstats\r\n");
    for (size_t i = 0; i < server.ncmds; i++)
        info_cmdstat_one(b, server.cmdlist[i]);
}

static void info_errorstats(sbuf *b)
{
    sb_printf(b, "# Errorstats\r\n");
    dict_iter it;
    dict_iter_init(&it);
    dict_entry *e;
    while ((e = dict_next(server.errors, &it)))
        sb_printf(b, "errorstat_%s:count=%llu\r\n", e->key, (unsigned long long)(uintptr_t)e->val);
}

static void info_keyspace(sbuf *b)
{
    uint64_t keys = stream_key_count();
    sb_printf(b, "# Keyspace\r\n");
    if (keys)
        sb_printf(b, "db0:keys=%llu,expires=0,avg_ttl=0\r\n", (unsigned long long)keys);
}

static void info_sagas(sbuf *b)
{
    char tmp[1024];
    saga_module_info(tmp, sizeof tmp);
    sb_printf(b, "%s", tmp);
}

static const struct {
    const char *name;
    void (*fn)(sbuf *b);
    int in_default;
} sections[] = {
    {"server", info_server, 1},           {"clients", info_clients, 1},
    {"memory", info_memory, 1},           {"persistence", info_persistence, 1},
    {"stats", info_stats, 1},             {"replication", info_replication, 1},
    {"cpu", info_cpu, 1},                 {"modules", NULL, 1},
    {"errorstats", info_errorstats, 1},   {"commandstats", info_commandstats, 0},
    {"keyspace", info_keyspace, 1},       {"sagas", info_sagas, 1},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static void cmd_info(client *c)
{
    int want[NSECTIONS] = {0};
    if (c->argc == 1) {
        for (size_t i = 0; i < NSECTIONS; i++)
            want[i] = sections[i].in_default;
    }
    for (int a = 1; a < c->argc; a++) {
        const char *s = c->argv[a];
        if (!strcasecmp(s, "all") || !strcasecmp(s, "everything")) {
            for (size_t i = 0; i < NSECTIONS; i++)
                want[i] = 1;
        } else if (!strcasecmp(s, "default")) {
            for (size_t i = 0; i < NSECTIONS; i++)
                want[i] |= sections[i].in_default;
        } else {
            for (size_t i = 0; i < NSECTIONS; i++)
                if (!strcasecmp(s, sections[i].name))
                    want[i] = 1;
        }
    }
    sbuf b = {0};
    int first = 1;
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!want[i])
            continue;
        if (!first)
            sb_printf(&b, "\r\n");
        first = 0;
        if (sections[i].fn)
            sections[i].fn(&b);
        else
            sb_printf(&b, "# Modules\r\n");
    }
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    free(b.p);
}

/* ---- SHUTDOWN, TIME ---- */

static void cmd_shutdown(client *c)
{
    for (int i = 1; i < c->argc; i++) {
        const char *o = c->argv[i];
        if (strcasecmp(o, "nosave") && strcasecmp(o, "save") && strcasecmp(o, "now") &&
            strcasecmp(o, "force") && strcasecmp(o, "abort")) {
            reply_error_syntax(c);
            return;
        }
        if (!strcasecmp(o, "abort")) {
            reply_error(c, "No shutdown in progress.");
            return;
        }
    }
    server_log(LL_WARNING, "User requested shutdown...");
    server_begin_shutdown("SHUTDOWN");
    /* like Redis: no reply on success, the connection just closes */
}

static void cmd_time(client *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    reply_array(c, 2);
    reply_bulk_long(c, (long long)tv.tv_sec);
    reply_bulk_long(c, (long long)tv.tv_usec);
}

#define SRV "server"
#define ADM (CMD_ADMIN | CMD_LOADING | CMD_STALE)

static const cmd_def command_subcommands[] = {
    {"count", cmd_command_count, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "2.8.13",
     "Returns a count of commands.", "O(1)", NULL},
    {"info", cmd_command_info, -2, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "2.8.13",
     "Returns information about one, multiple or all commands.", "O(N) where N is the number of commands to look up", NULL},
    {"docs", cmd_command_docs, -2, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "7.0.0",
     "Returns documentary information about one, multiple or all commands.", "O(N) where N is the number of commands to look up", NULL},
    {"list", cmd_command_list, -2, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "7.0.0",
     "Returns a list of command names.", "O(N) where N is the total number of Redis commands", NULL},
    {"help", cmd_command_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", NULL},
    CMD_END,
};

static const cmd_def config_subcommands[] = {
    {"get", cmd_config_get, -3, ADM, 0, 0, 0, SRV, "2.0.0",
     "Returns the effective values of configuration parameters.", "O(N) when N is the number of configuration parameters provided", NULL},
    {"set", cmd_config_set, -4, ADM, 0, 0, 0, SRV, "2.0.0",
     "Sets configuration parameters in-flight.", "O(N) when N is the number of configuration parameters provided", NULL},
    {"resetstat", cmd_config_resetstat, 2, ADM, 0, 0, 0, SRV, "2.0.0",
     "Resets the server's statistics.", "O(1)", NULL},
    {"help", cmd_config_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", NULL},
    CMD_END,
};

const cmd_def admin_commands[] = {
    {"command", cmd_command_entry, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "2.8.13",
     "Returns detailed information about all commands.", "O(N) where N is the total number of commands", command_subcommands},
    {"info", cmd_info, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, SRV, "1.0.0",
     "Returns information and statistics about the server.", "O(1)", NULL},
    {"config", NULL, -2, 0, 0, 0, 0, SRV, "2.0.0", "A container for server configuration commands.",
     "Depends on subcommand.", config_subcommands},
    {"shutdown", cmd_shutdown, -1, ADM | CMD_NO_MULTI, 0, 0, 0, SRV, "1.0.0",
     "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", NULL},
    {"time", cmd_time, 1, CMD_LOADING | CMD_STALE | CMD_FAST, 0, 0, 0, SRV, "2.6.0",
     "Returns the server time.", "O(1)", NULL},
    CMD_END,
};
