/*
 * fuzz_args.c — command arguments: the parsing helpers the commands share,
 * and the server's command dispatch itself on a fake client.
 *
 * Input: byte 0 picks what the rest is (byte 0 % 4):
 *   0  an id or integer argument: byte 1 = options, the rest the argument.
 *      stream_parse_id (every mode), resp_str2ll, stream_id_incr/decr.
 *   1  a payload: json_is_valid, json_is_object, json_get_string,
 *      json_append_string.
 *   2  an event id or a pattern: mn_uuid_parse/format; glob_match with the
 *      input split at byte 1 into pattern and string.
 *   3  what a client sends: the bytes go into a fake client's query buffer
 *      and the server's own process_input runs them (resp_parse, dispatch,
 *      every command handler, MULTI/EXEC, deferred replies through the real
 *      engine and its writer thread), with the real event loop.
 *
 * The fake client is what client.c's client_create makes, minus the socket:
 * its fd is a dup of a memfd, so replies are written for real and read back
 * afterwards. No socket is needed: the loop never watches the client's fd
 * (the harness queues the client for processing through server.resume, as
 * the loop does after a deferred reply). The store is a real one on
 * /dev/shm (fsync never); after each input its live streams are deleted so
 * inputs mostly start from an empty store, and it is recreated when its
 * log passes 256 MiB.
 *
 * Invariants: no crash, no leak, no hang (an input has 2 s); parsed ids
 * format and parse back to themselves; resp_str2ll accepts exactly the
 * canonical decimals of long long (see KNOWN below); json_is_object implies
 * json_is_valid; json_get_string points inside the input; the output of
 * json_append_string is always valid JSON; a parsed UUID formats back to
 * its input (lowercased); glob_match agrees with a dynamic-programming
 * matcher over the same tokens; every byte the server writes to the client
 * is a sequence of whole, well-formed RESP2/RESP3 replies.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "mnemosyne.h"
#include "server/glob.h"
#include "server/server.h"
#include "server/stream_util.h"
#include "util/json.h"

/* ------------------------------------------------------------------ */
/* 0: ids and integers                                                  */
/* ------------------------------------------------------------------ */

/* KNOWN: resp_str2ll accepts "-0" (as 0), which Redis's string2ll refuses
 * (fuzz.h, fuzz_strict). */
static int known_minus_zero(const char *s, size_t len)
{
    return !fuzz_strict() && len == 2 && s[0] == '-' && s[1] == '0';
}

static void fuzz_ids(const uint8_t *d, size_t n)
{
    if (n < 1) return;
    uint8_t opt = d[0];
    const char *s = (const char *)d + 1;
    size_t len = n - 1;

    /* resp_str2ll against the definition: the canonical decimals */
    long long v = 0;
    int ok = resp_str2ll(s, len, &v);
    int canonical = 0;
    long long ref = 0;
    if (len > 0 && len <= 20) {
        char tmp[32], back[32];
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        if (strlen(tmp) == len) {
            char *end = NULL;
            errno = 0;
            ref = strtoll(tmp, &end, 10);
            canonical = errno == 0 && end == tmp + len &&
                        snprintf(back, sizeof back, "%lld", ref) == (int)len &&
                        memcmp(back, tmp, len) == 0;
        }
    }
    if (canonical) FUZZ_CHECK(ok && v == ref);
    if (ok) FUZZ_CHECK(canonical || known_minus_zero(s, len));

    /* stream ids in each mode */
    uint64_t missing = (opt & 1) ? UINT64_MAX : 0;
    int strict = (opt >> 1) & 1;
    int seq_given = -1;
    mn_entry_id id;
    int rc = stream_parse_id(s, len, missing, strict, (opt & 4) ? &seq_given : NULL, &id);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (len > 127) FUZZ_CHECK(rc == -1);
    if (rc != 0) return;
    if (strict) FUZZ_CHECK(!(len >= 1 && (s[0] == '-' || s[0] == '+') && (len == 1 || s[1] == '\0')));
    if (opt & 4) {
        FUZZ_CHECK(seq_given == 0 || seq_given == 1);
        if (seq_given == 0) FUZZ_CHECK(id.seq == 0);
    }
    char text[STREAM_ID_STR_MAX];
    size_t tl = stream_format_id(id, text);
    FUZZ_CHECK(tl < STREAM_ID_STR_MAX && text[tl] == '\0' && strlen(text) == tl);
    mn_entry_id back;
    FUZZ_CHECK(stream_parse_id(text, tl, 0, 1, NULL, &back) == 0);
    FUZZ_CHECK(stream_id_cmp(back, id) == 0);
    mn_entry_id up = id, down = id;
    if (stream_id_incr(&up) == 0) {
        FUZZ_CHECK(stream_id_cmp(id, up) < 0 && stream_id_cmp(up, id) > 0);
        FUZZ_CHECK(stream_id_decr(&up) == 0 && stream_id_cmp(up, id) == 0);
    } else {
        FUZZ_CHECK(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    }
    if (stream_id_decr(&down) == 0) FUZZ_CHECK(stream_id_cmp(down, id) < 0);
    else FUZZ_CHECK(stream_id_is_zero(id));
}

/* ------------------------------------------------------------------ */
/* 1: JSON                                                              */
/* ------------------------------------------------------------------ */

static void fuzz_json(const uint8_t *d, size_t n)
{
    int valid = json_is_valid(d, n);
    int object = json_is_object(d, n);
    FUZZ_CHECK(valid == 0 || valid == 1);
    FUZZ_CHECK(!object || valid);
    static const char *const keys[] = {"correlation_id", "causation_id", "a", ""};
    for (int k = 0; k < 4; k++) {
        const char *val = NULL;
        size_t vl = 0;
        if (json_get_string(d, n, keys[k], &val, &vl)) {
            FUZZ_CHECK(object);
            FUZZ_CHECK(fuzz_within(val, vl + 1, d, n));
            FUZZ_CHECK(val > (const char *)d && val[-1] == '"' && val[vl] == '"');
            FUZZ_CHECK(memchr(val, '\\', vl) == NULL);
        }
    }
    buf b;
    buf_init(&b);
    json_append_string(&b, d, n);
    FUZZ_CHECK(!b.oom);
    FUZZ_CHECK(b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"');
    FUZZ_CHECK(json_is_valid(b.data, b.len));
    /* a string of plain printable ASCII is copied as is */
    int plain = 1;
    for (size_t i = 0; i < n && plain; i++) plain = d[i] >= 0x20 && d[i] < 0x7f && d[i] != '"' && d[i] != '\\';
    if (plain) FUZZ_CHECK(b.len == n + 2 && memcmp(b.data + 1, d, n) == 0);
    buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* 2: UUIDs and glob patterns                                           */
/* ------------------------------------------------------------------ */

enum { T_STAR, T_ANY, T_CLASS, T_LIT };
typedef struct tok { int kind; size_t at, end; unsigned char c; } tok;

static int fold(int c, int nocase) { return nocase && c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* [...] starting after '[' at pat[at], up to end: does c belong? */
static int in_class(const char *pat, size_t at, size_t end, unsigned char c, int nocase)
{
    size_t i = at;
    int neg = 0, hit = 0;
    if (i < end && pat[i] == '^') {
        neg = 1;
        i++;
    }
    while (i < end && pat[i] != ']') {
        if (pat[i] == '\\' && i + 1 < end) {
            hit |= fold((unsigned char)pat[i + 1], nocase) == fold(c, nocase);
            i += 2;
        } else if (i + 2 < end && pat[i + 1] == '-') {
            int a = fold((unsigned char)pat[i], nocase), z = fold((unsigned char)pat[i + 2], nocase);
            if (a > z) { int t = a; a = z; z = t; }
            hit |= fold(c, nocase) >= a && fold(c, nocase) <= z;
            i += 3;
        } else {
            hit |= fold((unsigned char)pat[i], nocase) == fold(c, nocase);
            i++;
        }
    }
    return neg ? !hit : hit;
}

/* The pattern as tokens (glob.h's grammar), then a DP over (token, byte). */
static int glob_ref(const char *pat, size_t plen, const char *str, size_t slen, int nocase)
{
    tok *t = malloc((plen + 1) * sizeof *t);
    size_t nt = 0;
    FUZZ_CHECK(t != NULL);
    for (size_t i = 0; i < plen;) {
        tok k = {T_LIT, i, i, 0};
        if (pat[i] == '*') { k.kind = T_STAR; i++; }
        else if (pat[i] == '?') { k.kind = T_ANY; i++; }
        else if (pat[i] == '[') {
            size_t j = i + 1;
            k.kind = T_CLASS;
            k.at = j;
            if (j < plen && pat[j] == '^') j++;
            while (j < plen && pat[j] != ']') {
                if (pat[j] == '\\' && j + 1 < plen) j += 2;
                else if (j + 2 < plen && pat[j + 1] == '-') j += 3;
                else j++;
            }
            k.end = j;
            i = j < plen ? j + 1 : j;
        } else if (pat[i] == '\\' && i + 1 < plen) { k.c = (unsigned char)pat[i + 1]; i += 2; }
        else { k.c = (unsigned char)pat[i]; i++; }
        t[nt++] = k;
    }
    /* m[i][j]: tokens i.. match bytes j.. */
    unsigned char *m = calloc((nt + 1) * (slen + 1), 1);
    FUZZ_CHECK(m != NULL);
#define M(i, j) m[(i) * (slen + 1) + (j)]
    M(nt, slen) = 1;
    for (size_t i = nt; i-- > 0;) {
        for (size_t j = slen + 1; j-- > 0;) {
            int r = 0;
            if (t[i].kind == T_STAR) r = M(i + 1, j) || (j < slen && M(i, j + 1));
            else if (j < slen) {
                unsigned char c = (unsigned char)str[j];
                int one = t[i].kind == T_ANY ||
                          (t[i].kind == T_CLASS && in_class(pat, t[i].at, t[i].end, c, nocase)) ||
                          (t[i].kind == T_LIT && fold(t[i].c, nocase) == fold(c, nocase));
                r = one && M(i + 1, j + 1);
            }
            M(i, j) = (unsigned char)r;
        }
    }
    int r = M(0, 0);
#undef M
    free(m);
    free(t);
    return r;
}

static void fuzz_uuid_glob(const uint8_t *d, size_t n)
{
    if (n < 1) return;
    const char *s = (const char *)d + 1;
    size_t len = n - 1;
    uint8_t id[16];
    if (mn_uuid_parse(s, len, id) == MN_OK) {
        char text[37];
        mn_uuid_format(id, text);
        FUZZ_CHECK(len == 36 && strlen(text) == 36);
        for (size_t i = 0; i < 36; i++) FUZZ_CHECK(text[i] == fold((unsigned char)s[i], 1));
    }
    int nocase = d[0] & 1;
    size_t plen = (size_t)(d[0] >> 1) < len ? (size_t)(d[0] >> 1) : len;
    const char *pat = s, *str = s + plen;
    size_t slen = len - plen;
    /* heap copies of exactly their size: ASan sees a read past either */
    char *p = malloc(plen ? plen : 1), *q = malloc(slen ? slen : 1);
    FUZZ_CHECK(p && q);
    memcpy(p, pat, plen);
    memcpy(q, str, slen);
    int got = glob_match(p, plen, q, slen, nocase);
    FUZZ_CHECK(got == 0 || got == 1);
    if (plen <= 512 && slen <= 512) FUZZ_CHECK(got == glob_ref(p, plen, q, slen, nocase));
    FUZZ_CHECK(glob_match("*", 1, q, slen, nocase) == 1);
    /* every byte escaped: matches exactly itself */
    char *esc = malloc(2 * slen + 1);
    FUZZ_CHECK(esc != NULL);
    for (size_t i = 0; i < slen; i++) {
        esc[2 * i] = '\\';
        esc[2 * i + 1] = q[i];
    }
    FUZZ_CHECK(glob_match(esc, 2 * slen, q, slen, nocase) == 1);
    if (slen > 0) FUZZ_CHECK(glob_match(esc, 2 * slen - 2, q, slen, nocase) == 0);
    free(esc);
    free(p);
    free(q);
}

/* ------------------------------------------------------------------ */
/* 3: the server's dispatch on a fake client                            */
/* ------------------------------------------------------------------ */

static char store_dir[256];
static int out_fd = -1;       /* the memfd the fake client writes its replies to */
static int64_t deadline_ms;   /* the running input's deadline */
static client *current;       /* the fake client, NULL once the server freed it */

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
    if (server.nclients == 0) current = NULL; /* closed (QUIT, CLIENT KILL, error) */
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
    const char *e = memmem(p + *i, n - *i, "\r\n", 2);
    if (!e) return 0;
    size_t ls = *i + 1, le = (size_t)(e - p);
    char line[64];
    size_t ll = le - ls;
    if (memchr(p + ls, '\n', ll) || memchr(p + ls, '\r', ll)) return -1;
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
            if (r != 1)
                fprintf(stderr, "fuzz_args: %s reply at byte %zu of %zu: %.*s\n",
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
    if (si.log_bytes > (256u << 20)) {
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
    if (size < 1) return 0;
    switch (data[0] % 4) {
    case 0: fuzz_ids(data + 1, size - 1); break;
    case 1: fuzz_json(data + 1, size - 1); break;
    case 2: fuzz_uuid_glob(data + 1, size - 1); break;
    default: fuzz_dispatch(data + 1, size - 1); break;
    }
    return 0;
}
