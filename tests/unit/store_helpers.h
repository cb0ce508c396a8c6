/*
 * store_helpers.h — helpers shared by the unit tests that work on whole
 * stores (header-only, like harness.h; include it after harness.h).
 *
 * For every includer (each function static and marked unused, since not
 * every test file uses each):
 *
 *   PATHF(buf, ...)        snprintf into a path buffer; a path that does not
 *                          fit fails the test
 *   test_opts()            a test store's options: no fsync, 64 MiB index map
 *   expect_check_ok        mn_check finds the store clean
 *   text, tprintf, thex    a growing text buffer, for dumps of what a store
 *                          shows, compared as one string
 *   slurp, spit, copy_tree whole files in and out; a directory tree copied
 *
 * With STORE_HELPERS_STREAMS defined before the include (test_groups.c,
 * test_stream_ops.c), also the Redis-stream helpers: open_dir / open_fresh,
 * entry ids (EID, ASSERT_ID, id_cmp, now_ms), one-field events and xadd,
 * info, entry-id range reads (range_ids, expect_range_ms, ALL_IDS, MS,
 * NONE), run_op / xdel / trim, and dump / expect_persists: everything
 * observable about some streams, identical live, after close/reopen and
 * after mn_reindex.
 */
#ifndef MN_TEST_STORE_HELPERS_H
#define MN_TEST_STORE_HELPERS_H

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "harness.h"

#define PATHF(buf, ...)                                                                  \
    do {                                                                                 \
        if (snprintf(buf, sizeof buf, __VA_ARGS__) >= (int)sizeof buf)                   \
            FAIL("path too long for %s", #buf);                                          \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Opening and checking stores                                                */
/* ------------------------------------------------------------------------ */

static __attribute__((unused)) mn_options test_opts(void)
{
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = MN_FSYNC_NEVER;
    o.index_map_size = 64u << 20;
    return o;
}

static __attribute__((unused)) void expect_check_ok(const char *dir, const char *what)
{
    mn_check_report cr;
    memset(&cr, 0, sizeof cr);
    int rc = mn_check(dir, &cr);
    if (rc != MN_OK || !cr.ok)
        FAIL("%s: mn_check: %d (%s), ok=%d, bad_position %" PRIu64 ": %s [%s]", what, rc, mn_strerror(rc),
             cr.ok, cr.bad_position, cr.what, mn_errmsg());
}

/* ------------------------------------------------------------------------ */
/* Text: what a store shows, as one comparable string                         */
/* ------------------------------------------------------------------------ */

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void tprintf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void tprintf(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? room : 0, fmt, ap);
        va_end(ap);
        ASSERT(n >= 0);
        if (t->p && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        t->p = realloc(t->p, cap);
        ASSERT(t->p != NULL);
        t->cap = cap;
    }
}

static __attribute__((unused)) void thex(text *t, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) tprintf(t, "%02x", b[i]);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                      */
/* ------------------------------------------------------------------------ */

/* Reads a whole file into a malloc'ed buffer; *len its size. */
static __attribute__((unused)) uint8_t *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) FAIL("open %s: %s", path, strerror(errno));
    uint8_t *p = malloc((size_t)st.st_size + 1);
    ASSERT(p != NULL);
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = pread(fd, p + done, (size_t)st.st_size - done, (off_t)done);
        if (n <= 0) FAIL("read %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    close(fd);
    *len = done;
    return p;
}

/* Writes len bytes of p as the whole file path (created or truncated). */
static __attribute__((unused)) void spit(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) FAIL("create %s: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const uint8_t *)p + done, len - done);
        if (n <= 0) FAIL("write %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    close(fd);
}

/* Copies the directory tree from into to (regular files and directories). */
static __attribute__((unused)) void copy_tree(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (!d) FAIL("opendir %s: %s", from, strerror(errno));
    if (mkdir(to, 0755) != 0 && errno != EEXIST) FAIL("mkdir %s: %s", to, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char a[4096], b[4096];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        PATHF(a, "%s/%s", from, e->d_name);
        PATHF(b, "%s/%s", to, e->d_name);
        if (lstat(a, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            copy_tree(a, b);
        } else if (S_ISREG(st.st_mode)) {
            size_t n;
            uint8_t *p = slurp(a, &n);
            spit(b, p, n);
            free(p);
        }
    }
    closedir(d);
}

#ifdef STORE_HELPERS_STREAMS

/* ------------------------------------------------------------------------ */
/* Streams: opening, appending, range reads, stream operations                */
/* ------------------------------------------------------------------------ */

static mn_store *open_dir(const char *dir)
{
    mn_options o = test_opts();
    mn_store *st = NULL;
    ASSERT_OK(mn_open(dir, &o, &st));
    return st;
}

static mn_store *open_fresh(char *dir, size_t cap)
{
    harness_tmpdir(dir, cap);
    return open_dir(dir);
}

static mn_entry_id EID(uint64_t ms, uint64_t seq)
{
    mn_entry_id id = {ms, seq};
    return id;
}

static uint64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

#define ASSERT_ID(got, ms_, seq_)                                                        \
    do {                                                                                 \
        mn_entry_id harness_id_ = (got);                                                 \
        if (harness_id_.ms != (uint64_t)(ms_) || harness_id_.seq != (uint64_t)(seq_))    \
            FAIL("ASSERT_ID(%s)\n    got:      %" PRIu64 "-%" PRIu64                     \
                 "\n    expected: %" PRIu64 "-%" PRIu64,                                 \
                 #got, harness_id_.ms, harness_id_.seq, (uint64_t)(ms_),                 \
                 (uint64_t)(seq_));                                                      \
    } while (0)

static __attribute__((unused)) int id_cmp(mn_entry_id a, mn_entry_id b)
{
    return a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq;
}

/* A one-field event ("f" = data) with the given id mode. */
static mn_event fev(const char *data, int mode, mn_entry_id id)
{
    static __thread uint8_t buf[8][256];
    static __thread int next;
    uint8_t *b = buf[next++ % 8];
    const void *ptrs[2] = {"f", data};
    size_t lens[2] = {1, strlen(data)};
    size_t sz = mn_fields_size(1, lens);
    if (sz > 256) FAIL("fev: data too long");
    mn_fields_encode(b, 1, ptrs, lens);
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = "xadd";
    e.type_len = 4;
    e.data = b;
    e.data_len = sz;
    e.flags = MN_EVENT_FIELDS;
    e.entry_id_mode = mode;
    e.entry_id = id;
    return e;
}

/* Appends one event with entry id mode/id; returns the append's rc and the
 * assigned id in *out. */
static int xadd_rc(mn_store *st, const char *stream, int mode, mn_entry_id id, mn_entry_id *out)
{
    mn_event e = fev("v", mode, id);
    mn_append_part p;
    memset(&p, 0, sizeof p);
    p.stream = stream;
    p.stream_len = strlen(stream);
    p.expected = MN_EXPECT_ANY;
    p.events = &e;
    p.count = 1;
    int rc = mn_append(st, &p, 1, NULL);
    if (rc == MN_OK && out) *out = p.last_id;
    return rc;
}

static mn_entry_id xadd(mn_store *st, const char *stream, uint64_t ms, uint64_t seq)
{
    mn_entry_id got = {0, 0};
    ASSERT_OK(xadd_rc(st, stream, MN_ID_EXPLICIT, EID(ms, seq), &got));
    ASSERT_ID(got, ms, seq);
    return got;
}

/* Appends entries with explicit ids ms-0 for ms in [from, to]. */
static void xadd_range(mn_store *st, const char *stream, uint64_t from, uint64_t to)
{
    for (uint64_t ms = from; ms <= to; ms++) xadd(st, stream, ms, 0);
}

static mn_stream_info info(mn_store *st, const char *stream)
{
    mn_stream_info in;
    ASSERT_OK(mn_stream_info_get(st, stream, strlen(stream), &in));
    return in;
}

/* Entry ids of a range read, into out (at most cap); returns how many. */
static size_t range_ids(mn_store *st, const char *stream, mn_entry_id start, mn_entry_id end,
                        uint64_t count, int backward, mn_entry_id *out, size_t cap)
{
    mn_iter *it = NULL;
    mn_event_view v;
    int rc;
    size_t n = 0;
    ASSERT_OK(mn_read_stream_range(st, stream, strlen(stream), start, end, count, backward, &it));
    while ((rc = mn_iter_next(it, &v)) == 1) {
        if (n >= cap) FAIL("range_ids: more than %zu entries", cap);
        out[n++] = v.entry_id;
    }
    ASSERT_OK(rc);
    mn_iter_free(it);
    return n;
}

/* Checks that a range read gives exactly the entries ms-0 for the listed ms
 * values (0-terminated list). */
static __attribute__((unused)) void expect_range_ms(mn_store *st, const char *stream, mn_entry_id start, mn_entry_id end,
                            uint64_t count, int backward, const uint64_t *ms, const char *what)
{
    mn_entry_id got[64];
    size_t n = range_ids(st, stream, start, end, count, backward, got, 64), want = 0;
    while (ms[want]) want++;
    if (n != want) {
        char buf[1024];
        size_t o = 0;
        for (size_t i = 0; i < n && o < sizeof buf - 40; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " %" PRIu64 "-%" PRIu64, got[i].ms,
                                  got[i].seq);
        buf[o] = 0;
        FAIL("%s: got %zu entries (%s), expected %zu", what, n, buf, want);
    }
    for (size_t i = 0; i < n; i++)
        if (got[i].ms != ms[i] || got[i].seq != 0)
            FAIL("%s: entry %zu is %" PRIu64 "-%" PRIu64 ", expected %" PRIu64 "-0", what, i,
                 got[i].ms, got[i].seq, ms[i]);
}

#define ALL_IDS EID(0, 0), EID(UINT64_MAX, UINT64_MAX)
#define MS(...) ((const uint64_t[]){__VA_ARGS__, 0})
#define NONE ((const uint64_t[]){0})

static int run_op(mn_store *st, mn_op *op, const char *stream)
{
    op->stream = stream;
    op->stream_len = strlen(stream);
    return mn_op_run(st, op);
}

static uint64_t xdel(mn_store *st, const char *stream, const mn_entry_id *ids, size_t n)
{
    mn_op op;
    mn_op_init(&op, MN_OP_ENTRIES_DELETE);
    op.ids = ids;
    op.nids = n;
    ASSERT_OK(run_op(st, &op, stream));
    mn_op_free(&op);
    return op.n;
}

static uint64_t trim(mn_store *st, const char *stream, int mode, uint64_t maxlen, mn_entry_id minid,
                     uint64_t limit)
{
    mn_op op;
    mn_op_init(&op, MN_OP_TRIM);
    op.trim.mode = mode;
    op.trim.maxlen = maxlen;
    op.trim.minid = minid;
    op.trim.limit = limit;
    ASSERT_OK(run_op(st, &op, stream));
    mn_op_free(&op);
    return op.n;
}

/* ------------------------------------------------------------------------ */
/* A text dump of everything observable about some streams                    */
/* ------------------------------------------------------------------------ */

#define MAXG 16
typedef struct names {
    char name[MAXG][64];
    size_t len[MAXG];
    size_t n;
    text *t;
} names;

static int dump_group_cb(void *ud, const mn_group_info *g)
{
    names *nm = ud;
    tprintf(nm->t, "  group %.*s last=%" PRIu64 "-%" PRIu64 " read=%lld lag=%lld pending=%" PRIu64
                   " consumers=%" PRIu64 "\n",
            (int)g->name_len, g->name, g->last_delivered.ms, g->last_delivered.seq,
            (long long)g->entries_read, (long long)g->lag, g->pending, g->consumers);
    if (nm->n < MAXG && g->name_len < 64) {
        memcpy(nm->name[nm->n], g->name, g->name_len);
        nm->len[nm->n++] = g->name_len;
    }
    return 0;
}

static int dump_consumer_cb(void *ud, const mn_consumer_info *c)
{
    tprintf(ud, "    consumer %.*s pending=%" PRIu64 " seen=%" PRIu64 " active=%" PRIu64 "\n",
            (int)c->name_len, c->name, c->pending, c->seen_ms, c->active_ms);
    return 0;
}

static int dump_pending_cb(void *ud, const mn_pending_entry *p)
{
    tprintf(ud, "    pel %" PRIu64 "-%" PRIu64 " %.*s at=%" PRIu64 " n=%" PRIu64 "\n", p->id.ms,
            p->id.seq, (int)p->consumer_len, p->consumer, p->delivered_ms, p->deliveries);
    return 0;
}

static void dump_stream(text *t, mn_store *st, const char *s)
{
    size_t sl = strlen(s);
    mn_stream_info in;
    int rc = mn_stream_info_get(st, s, sl, &in);
    tprintf(t, "stream %s: rc=%d\n", s, rc);
    if (rc != MN_OK) return;
    tprintf(t,
            "  version=%lld length=%" PRIu64 " first_version=%lld first_pos=%" PRIu64
            " last_pos=%" PRIu64 " first_id=%" PRIu64 "-%" PRIu64 " last_id=%" PRIu64 "-%" PRIu64
            " created=%" PRIu64 " deleted=%d added=%" PRIu64 " maxdel=%" PRIu64 "-%" PRIu64
            " groups=%" PRIu64 "\n",
            (long long)in.version, in.length, (long long)in.first_version, in.first_position,
            in.last_position, in.first_id.ms, in.first_id.seq, in.last_id.ms, in.last_id.seq,
            in.created_us, in.deleted, in.entries_added, in.max_deleted_id.ms,
            in.max_deleted_id.seq, in.groups);
    mn_iter *it = NULL;
    mn_event_view v;
    rc = mn_read_stream_range(st, s, sl, ALL_IDS, 0, 0, &it);
    tprintf(t, "  range rc=%d\n", rc);
    if (rc == MN_OK) {
        while ((rc = mn_iter_next(it, &v)) == 1) {
            tprintf(t, "  ev v=%lld id=%" PRIu64 "-%" PRIu64 " pos=%" PRIu64 " ts=%" PRIu64
                       " flags=%u type=%.*s uuid=",
                    (long long)v.version, v.entry_id.ms, v.entry_id.seq, v.position,
                    v.timestamp_us, v.flags, (int)v.type_len, v.type);
            thex(t, v.id, 16);
            tprintf(t, " data=");
            thex(t, v.data, v.data_len);
            tprintf(t, "\n");
        }
        tprintf(t, "  end rc=%d\n", rc);
        mn_iter_free(it);
    }
    /* backwards, by version */
    rc = mn_read_stream(st, s, sl, -1, 0, 1, &it);
    tprintf(t, "  back rc=%d:", rc);
    if (rc == MN_OK) {
        while ((rc = mn_iter_next(it, &v)) == 1) tprintf(t, " %lld", (long long)v.version);
        tprintf(t, " end rc=%d", rc);
        mn_iter_free(it);
    }
    tprintf(t, "\n");
    names nm;
    memset(&nm, 0, sizeof nm);
    nm.t = t;
    rc = mn_list_groups(st, s, sl, dump_group_cb, &nm);
    tprintf(t, "  groups rc=%d\n", rc);
    for (size_t i = 0; i < nm.n; i++) {
        tprintf(t, "  in group %.*s\n", (int)nm.len[i], nm.name[i]);
        rc = mn_list_consumers(st, s, sl, nm.name[i], nm.len[i], dump_consumer_cb, t);
        tprintf(t, "    consumers rc=%d\n", rc);
        rc = mn_list_pending(st, s, sl, nm.name[i], nm.len[i], ALL_IDS, 0, NULL, 0, 0,
                             dump_pending_cb, t);
        tprintf(t, "    pending rc=%d\n", rc);
    }
}

static char *dump(mn_store *st, const char *const *streams, size_t n)
{
    text t = {0};
    mn_store_info si;
    mn_store_info_get(st, &si);
    tprintf(&t, "store streams=%" PRIu64 " events=%" PRIu64 "\n", si.streams, si.events);
    for (size_t i = 0; i < n; i++) dump_stream(&t, st, streams[i]);
    return t.p;
}

/* Fails with the first differing line if a != b. */
static void expect_same_text(const char *a, const char *b, const char *what)
{
    if (strcmp(a, b) == 0) return;
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    size_t ls = i;
    while (ls > 0 && a[ls - 1] != '\n') ls--;
    const char *ea = strchr(a + ls, '\n'), *eb = strchr(b + ls, '\n');
    int la = ea ? (int)(ea - (a + ls)) : (int)strlen(a + ls);
    int lb = eb ? (int)(eb - (b + ls)) : (int)strlen(b + ls);
    FAIL("%s: state differs\n    live:  %.*s\n    now:   %.*s", what, la, a + ls, lb, b + ls);
}

/* Dumps, closes, reopens, compares; closes, reindexes, reopens, compares. */
static void expect_persists(const char *dir, mn_store **st, const char *const *streams, size_t n)
{
    char *live = dump(*st, streams, n);
    if (getenv("MN_TEST_DUMP")) fputs(live, stderr); /* to look at what is compared */
    mn_close(*st);
    *st = open_dir(dir);
    char *reopened = dump(*st, streams, n);
    expect_same_text(live, reopened, "after close/reopen");
    mn_close(*st);
    *st = NULL;
    ASSERT_OK(mn_reindex(dir, NULL, NULL));
    *st = open_dir(dir);
    char *rebuilt = dump(*st, streams, n);
    expect_same_text(live, rebuilt, "after mn_reindex");
    free(live);
    free(reopened);
    free(rebuilt);
}

#endif /* STORE_HELPERS_STREAMS */

#endif /* MN_TEST_STORE_HELPERS_H */
