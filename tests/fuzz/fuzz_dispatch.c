/*
 * fuzz_dispatch.c — the server's commands, run by its own code on a fake
 * client: process_input (resp_parse, the reply-ordering gate, MULTI/EXEC),
 * process_command (lookup, arity, auth, the '$' rule) and every command
 * handler with its argument parsing, against a real store and the real
 * event loop, deferred replies and blocking included.
 *
 * Input: what a client sends (any bytes: RESP2 multibulk, inline, both).
 *
 * The fake client is what client.c's client_create makes, minus the
 * socket: no socket is needed. Its fd is a dup of a memfd, so replies are
 * written by the server's own write path and read back afterwards; the
 * loop never watches that fd (epoll refuses regular files): the harness
 * queues the client on server.resume, as the loop does after a deferred
 * reply, and the loop's before_sleep runs process_input on it. The store
 * is a real one on /dev/shm (fsync never, the writer thread and the
 * background worker running); after each input its live streams are
 * deleted, and it is recreated when its log passes 64 KiB ($all and the
 * other views keep every event, and a long $all would slow every XRANGE).
 * Configuration changes (CONFIG SET) and SHUTDOWN are undone after each
 * input. Inputs are therefore not perfectly independent: a crash found
 * here may need the inputs before it (libFuzzer saves only the last).
 *
 * Invariants: no crash, no hang (an input has 2 s), no memory error; every
 * byte the server writes to the client is a sequence of whole, well-formed
 * RESP2/RESP3 replies (the last one may be cut short when the server aborted
 * the connection, see check_replies). Leaks: libFuzzer's per-input leak check cannot tell
 * the store's long-lived memory from a leak, so runs use -detect_leaks=0
 * (tests/fuzz/fuzz_dispatch.flags); replay.sh checks leaks at exit, after
 * the server and store are shut down.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "mnemosyne.h"
#include "server/server.h"

static char store_dir[256];
static int out_fd = -1;       /* the memfd the fake client writes its replies to */
static int64_t deadline_ms;   /* the running input's deadline */
static client *current;       /* the fake client, NULL once the server freed it */
static int aborted;           /* the server closed it (perhaps CLIENT_CLOSE_ASAP), see check_replies */

static void quiet_config(void)
{
    config_free(&server.cfg);
    config_defaults(&server.cfg);
    server.cfg.loglevel = 99; /* nothing to stderr: the fuzzer's output stays readable */
    server.cfg.fsync_policy = MN_FSYNC_NEVER;
}

static void retry_blocked(void *arg)
{
    (void)arg;
    server_retry_blocked();
}

static void on_notify(void *ud, uint64_t end)
{
    (void)ud;
    (void)end;
    server_post(retry_blocked, NULL);
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[700];
    struct stat st;
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(path);
        else unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void open_store(void)
{
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = MN_FSYNC_NEVER;
    o.segment_size = 4u << 20;
    o.index_map_size = 1ull << 30;
    rm_tree(store_dir);
    int rc = mn_open(store_dir, &o, &server.store);
    if (rc != MN_OK) fprintf(stderr, "fuzz_args: mn_open %s: %s\n", store_dir, mn_errmsg());
    FUZZ_CHECK(rc == MN_OK);
    mn_set_notify(server.store, on_notify, NULL);
}

static void shutdown_server(void)
{
    if (!server.el) return;
    clients_free_all();
    server_stop_bg();
    mn_close(server.store);
    server.store = NULL;
    server_shutdown_runtime();
    cmd_table_free();
    config_free(&server.cfg);
    rm_tree(store_dir);
    char root[300];
    snprintf(root, sizeof root, "%s", store_dir);
    *strrchr(root, '/') = '\0';
    rmdir(root);
}

static void setup_server(void)
{
    if (server.el) return;
    const char *base = getenv("MN_FUZZ_DIR") ? getenv("MN_FUZZ_DIR") : "/dev/shm";
    char root[200];
    snprintf(root, sizeof root, "%s/mnemo-fuzz-args.%d", base, (int)getpid());
    mkdir(root, 0755);
    snprintf(store_dir, sizeof store_dir, "%s/store", root);
    config_defaults(&server.cfg);
    quiet_config();
    server.post_fd = server.sig_fd = -1;
    FUZZ_CHECK(cmd_table_init() == 0);
    FUZZ_CHECK(server_init_runtime() == 0);
    open_store();
    FUZZ_CHECK(stream_module_init() == 0);
    out_fd = memfd_create("fuzz-replies", MFD_CLOEXEC);
    FUZZ_CHECK(out_fd >= 0);
    atexit(shutdown_server);
}

/* The fake client: client_create without the socket and the read handler. */
static client *fake_client(const uint8_t *d, size_t n)
{
    client *c = calloc(1, sizeof *c);
    FUZZ_CHECK(c != NULL);
    c->id = server.next_client_id++;
    c->fd = dup(out_fd);
    FUZZ_CHECK(c->fd >= 0);
    c->resp = 2;
    c->flags = CLIENT_AUTHED;
    c->ctime_ms = c->last_ms = loop_now_ms();
    resp_req_init(&c->req);
    c->target = &c->out;
    c->exec_next = -1;
    clist_init(&c->deferreds);
    snprintf(c->addr, sizeof c->addr, "127.0.0.1:1");
    snprintf(c->laddr, sizeof c->laddr, "127.0.0.1:6363");
    c->qb = malloc(n); /* exactly the input: ASan sees a read past it */
    FUZZ_CHECK(c->qb != NULL);
    memcpy(c->qb, d, n);
    c->qb_len = c->qb_cap = n;
    clist_push(&server.clients, &c->all);
    server.nclients++;
    return c;
}

static int on_resume_list(const client *c)
{
    for (const clink *k = server.resume.next; k != &server.resume; k = k->next)
        if (k == &c->resume) return 1;
    return 0;
}

/* The loop's before_sleep: the server's, then "is this input done?". */
static void before_sleep(loop *l, void *ud)
{
    server_before_sleep(l, ud);
    if (server.nclients == 0 && current) {
        /* closed (QUIT, CLIENT KILL, "Host:", error) by the server itself;
         * the CLOSE_ASAP flag is set and the client freed within one
         * server_before_sleep, so the harness cannot tell an abort from a
         * close after the reply and takes every close as a possible abort */
        current = NULL;
        aborted = 1;
    }
    client *c = current;
    int done = !c || (c->ndeferred == 0 && c->exec_next < 0 && !on_resume_list(c)) ||
               (c->blocked && c->ndeferred == 0);
    if ((done && server.ndeferred == 0) || loop_now_ms() >= deadline_ms) loop_stop(l);
}

static int timer_fired; /* the stop timer ran (and is gone) */

static int64_t stop_timer(loop *l, loop_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    timer_fired = 1;
    loop_stop(l);
    return LOOP_TIMER_STOP;
}

/* Runs the loop until before_sleep says the input is done, or ms pass. */
static void run_loop(int64_t ms)
{
    deadline_ms = loop_now_ms() + ms;
    timer_fired = 0;
    loop_timer *t = loop_add_timer(server.el, ms, stop_timer, NULL);
    FUZZ_CHECK(t != NULL);
    loop_run(server.el);
    if (!timer_fired) loop_del_timer(server.el, t);
}

/* One RESP2/RESP3 reply at p[*i]: 1 whole and well-formed, 0 cut short, -1 malformed. */
static int wire_reply(const char *p, size_t n, size_t *i, int depth)
{
    if (depth > 64) return -1;
    if (*i >= n) return 0;
    char t = p[*i];
    /* the line: up to the first CR, which must be followed by LF (memchr,
     * not memmem: ASan's memmem checks the whole rest each time) */
    const char *e = memchr(p + *i, '\r', n - *i);
    if (!e || (size_t)(e - p) + 1 >= n) return 0;
    if (e[1] != '\n') return -1;
    size_t ls = *i + 1, le = (size_t)(e - p);
    char line[64];
    size_t ll = le - ls;
    if (memchr(p + ls, '\n', ll)) return -1;
    *i = le + 2;
    long long num = 0;
    if (strchr("$!=*%~>|:", t)) {
        if (ll == 0 || ll >= sizeof line) return -1;
        memcpy(line, p + ls, ll);
        line[ll] = '\0';
        char *end;
        errno = 0;
        num = strtoll(line, &end, 10);
        if (errno || *end) return -1;
    }
    switch (t) {
    case '+': case '-': case '(': case ',':
        return 1;
    case ':':
        return 1;
    case '#':
        return ll == 1 && (p[ls] == 't' || p[ls] == 'f') ? 1 : -1;
    case '_':
        return ll == 0 ? 1 : -1;
    case '$': case '!': case '=':
        if (num == -1 && t == '$') return 1;
        if (num < 0) return -1;
        if (n - *i < (size_t)num + 2) return 0;
        if (p[*i + num] != '\r' || p[*i + num + 1] != '\n') return -1;
        *i += (size_t)num + 2;
        return 1;
    case '*': case '%': case '~': case '>': case '|': {
        if (num == -1 && t == '*') return 1;
        if (num < 0) return -1;
        long long items = (t == '%' || t == '|') ? 2 * num : num;
        for (long long k = 0; k < items; k++) {
            int r = wire_reply(p, n, i, depth + 1);
            if (r != 1) return r;
        }
        /* an attribute precedes the reply it describes */
        return t == '|' ? wire_reply(p, n, i, depth + 1) : 1;
    }
    default:
        return -1;
    }
}

static void check_replies(void)
{
    struct stat st;
    FUZZ_CHECK(fstat(out_fd, &st) == 0);
    size_t n = (size_t)st.st_size;
    if (n > 0) {
        char *p = malloc(n);
        FUZZ_CHECK(p != NULL);
        FUZZ_CHECK(pread(out_fd, p, n, 0) == (ssize_t)n);
        if (getenv("MN_FUZZ_SHOW")) fwrite(p, 1, n, stderr); /* the replies, to look at */
        size_t i = 0;
        while (i < n) {
            size_t at = i;
            int r = wire_reply(p, n, &i, 0);
            /* A connection the server aborts ("Host:", an output limit, CLIENT
             * KILL) gets nothing more, as in Redis (no writes to a
             * CLOSE_ASAP client), so its output may stop inside a reply whose
             * first part was already sent: MULTI, XADD, EXEC, then "Host:"
             * sends EXEC's "*1" and drops the deferred XADD reply after it
             * (corpus: exec-reply-cut-by-host-close). Only the last reply may
             * be cut, and only then; a malformed one never passes. */
            if (r == 0 && aborted) break;
            if (r != 1)
                fprintf(stderr, "fuzz_dispatch: %s reply at byte %zu of %zu: %.*s\n",
                        r == 0 ? "cut short" : "malformed", at, n,
                        (int)(n - at < 200 ? n - at : 200), p + at);
            FUZZ_CHECK(r == 1);
        }
        free(p);
    }
    FUZZ_CHECK(ftruncate(out_fd, 0) == 0);
    FUZZ_CHECK(lseek(out_fd, 0, SEEK_SET) == 0);
}

typedef struct names { char **v; size_t *len; size_t n, cap; } names;

static int collect(void *ud, const char *name, size_t len)
{
    names *ns = ud;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? 2 * ns->cap : 16;
        ns->v = realloc(ns->v, ns->cap * sizeof *ns->v);
        ns->len = realloc(ns->len, ns->cap * sizeof *ns->len);
        FUZZ_CHECK(ns->v && ns->len);
    }
    ns->v[ns->n] = malloc(len ? len : 1);
    FUZZ_CHECK(ns->v[ns->n] != NULL);
    memcpy(ns->v[ns->n], name, len);
    ns->len[ns->n++] = len;
    return 0;
}

/* Back to an empty store between inputs (or a new one when it grew big). */
static void reset_store(void)
{
    mn_store_info si;
    mn_store_info_get(server.store, &si);
    /* $all and the other views keep every event ever appended: a big log
     * would make every XRANGE $all slower, so start afresh often */
    if (si.log_bytes > (64u << 10)) {
        mn_close(server.store);
        server.store = NULL;
        open_store();
        return;
    }
    names ns = {0};
    mn_list_streams(server.store, NULL, 0, collect, &ns);
    for (size_t i = 0; i < ns.n; i++) {
        int rc = mn_delete_stream(server.store, ns.v[i], ns.len[i], MN_EXPECT_ANY, 0);
        FUZZ_CHECK(rc == MN_OK || rc == MN_ENOTFOUND || rc == MN_EDELETED);
        free(ns.v[i]);
    }
    free(ns.v);
    free(ns.len);
}

static void fuzz_dispatch(const uint8_t *d, size_t n)
{
    if (n == 0) return;
    setup_server();
    current = fake_client(d, n);
    aborted = 0;
    clist_push(&server.resume, &current->resume); /* process_input runs it */
    loop_set_before_sleep(server.el, before_sleep, NULL);
    run_loop(2000);
    /* done: flush what is writable, then let the client go */
    server_before_sleep(server.el, NULL);
    clients_free_all();
    current = NULL;
    /* replies of deferred work still running land nowhere; wait for it */
    while (server.ndeferred > 0) run_loop(50);
    check_replies();
    reset_store();
    quiet_config();
    server.shutdown_asap = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dispatch(data, size);
    return 0;
}
