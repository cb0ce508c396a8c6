/*
 * main.c — mnemosyned: parse the configuration, open the store, listen,
 * run the loop, and on SIGTERM/SIGINT shut down cleanly.
 *
 * Startup order matters:
 *   1. SIGTERM/SIGINT are blocked in this thread *before* any other thread
 *      exists (mn_open starts the engine's writer; server_init_runtime the
 *      background worker), so every thread inherits the mask and the
 *      signals are only ever read from the loop's signalfd.
 *   2. The store is opened before listening: a client never connects to a
 *      server that cannot serve it, and a corrupt store fails fast with the
 *      engine's message.
 * Shutdown order (see server.c for the waiting part): loop stops -> the
 * stream module lets go -> background worker joined -> projection threads
 * stopped -> the saga thread stopped (after its appends completed) ->
 * mn_close (flushes,
 * syncs, completes queued appends) -> completions posted by the close run
 * -> a last non-blocking flush of replies -> exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server.h"

static void engine_log(void *ud, int level, const char *msg)
{
    (void)ud;
    int ll = level <= MN_LOG_DEBUG ? LL_DEBUG : level == MN_LOG_INFO ? LL_NOTICE : LL_WARNING;
    server_log(ll, "engine: %s", msg);
}

/* Room for maxclients connections plus our own descriptors. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)server.cfg.maxclients + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rlim_t cur = want;
    if (rl.rlim_max != RLIM_INFINITY && cur > rl.rlim_max)
        cur = rl.rlim_max;
    rl.rlim_cur = cur;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || cur < want)
        server_log(LL_WARNING, "You requested maxclients of %d requiring at least %llu max file "
                               "descriptors; the limit is %llu.",
                   server.cfg.maxclients, (unsigned long long)want, (unsigned long long)cur);
}

static int open_store(void)
{
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = server.cfg.fsync_policy;
    o.fsync_interval_ms = server.cfg.fsync_interval_ms;
    if (server.cfg.segment_size)
        o.segment_size = server.cfg.segment_size;
    if (server.cfg.max_event_size)
        o.max_event_size = server.cfg.max_event_size;
    o.create = 1;
    o.repair = server.cfg.repair;
    o.log_fn = engine_log;
    o.log_ud = NULL;
    int rc = mn_open(server.cfg.dir, &o, &server.store);
    if (rc != MN_OK) {
        server_log(LL_WARNING, "Can't open the store in '%s': %s (%s)", server.cfg.dir,
                   mn_strerror(rc), mn_errmsg());
        if (rc == MN_ECORRUPT && !server.cfg.repair)
            server_log(LL_WARNING, "To start anyway, cutting the log where it is damaged (what "
                                   "follows is lost), run with --repair");
        server.store = NULL;
        return -1;
    }
    mn_recovery_report rep;
    memset(&rep, 0, sizeof(rep));
    mn_recovery_info(server.store, &rep);
    mn_store_info si;
    memset(&si, 0, sizeof(si));
    mn_store_info_get(server.store, &si);
    server_log(LL_NOTICE, "Store opened in '%s': %llu streams, %llu events, %llu segments "
                          "(replayed %llu records, truncated %llu bytes%s)",
               server.cfg.dir, (unsigned long long)si.streams, (unsigned long long)si.events,
               (unsigned long long)si.segments, (unsigned long long)rep.replayed_records,
               (unsigned long long)rep.truncated_bytes, rep.index_rebuilt ? ", index rebuilt" : "");
    if (server.cfg.repair)
        server_log(rep.dropped_events ? LL_WARNING : LL_NOTICE,
                   "Repair: %llu bytes cut from the log, %llu events dropped",
                   (unsigned long long)rep.truncated_bytes, (unsigned long long)rep.dropped_events);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    config_defaults(&server.cfg);
    server.post_fd = server.sig_fd = -1;
    if (config_from_args(&server.cfg, argc, argv) < 0)
        goto out;
    server_log(LL_NOTICE, "oO0OoO0OoO0Oo Mnemosyne is starting oO0OoO0OoO0Oo");
    server_log(LL_NOTICE, "Mnemosyne version=%s (Redis protocol %s), bits=%d, pid=%d, just started",
               MN_VERSION_STRING, MN_REDIS_COMPAT_VERSION, (int)(sizeof(void *) * 8),
               (int)getpid());
    if (server.cfg.config_file)
        server_log(LL_NOTICE, "Configuration loaded from %s", server.cfg.config_file);
    ssize_t n = readlink("/proc/self/exe", server.executable, sizeof(server.executable) - 1);
    if (n > 0)
        server.executable[n] = '\0';
    raise_fd_limit();
    if (cmd_table_init() < 0) {
        server_log(LL_WARNING, "Can't build the command table");
        goto out;
    }
    if (open_store() < 0)
        goto out;
    if (server_init_runtime() < 0) {
        server_log(LL_WARNING, "Can't initialize the event loop: %s", strerror(errno));
        goto out_store;
    }
    if (stream_module_init() < 0) {
        server_log(LL_WARNING, "Can't initialize the stream commands");
        goto out_runtime;
    }
    if (projection_module_init() < 0) {
        server_log(LL_WARNING, "Can't start the projections");
        goto out_module;
    }
    if (saga_module_init() < 0) {
        server_log(LL_WARNING, "Can't start the sagas");
        goto out_module;
    }
    if (server_listen() < 0) {
        server_log(LL_WARNING, "Failed listening on port %d (tcp), aborting.", server.cfg.port);
        goto out_module;
    }
    char first[256];
    snprintf(first, sizeof(first), "%s", server.cfg.bind);
    first[strcspn(first, " ")] = '\0';
    server_log(LL_NOTICE, "Server initialized");
    server_log(LL_NOTICE, "Ready to accept connections on %s:%d (redis-cli -p %d)",
               first[0] == '-' ? first + 1 : first, server.cfg.port, server.cfg.port);

    loop_run(server.el);

    server_log(LL_NOTICE, "Closing the store...");
    rc = 0;
out_module:
    stream_module_shutdown();
out_runtime:
    server_stop_bg();
    projection_module_shutdown(); /* after the worker: its queries hold read models */
    saga_module_shutdown(); /* before mn_close: its append callbacks touch its instances */
out_store:
    mn_close(server.store);
    server.store = NULL;
    if (server.el)
        server_shutdown_runtime();
    if (rc == 0)
        server_log(LL_WARNING, "Mnemosyne is now ready to exit, bye bye...");
out:
    cmd_table_free();
    config_free(&server.cfg);
    return rc;
}
