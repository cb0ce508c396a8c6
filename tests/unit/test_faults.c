/*
 * test_faults.c — what the store does when the disk fails under it, and when
 * its index files are damaged (docs/reliability.md, "Torn writes, corruption,
 * disk full"; docs/storage.md, write-path rules 5 and 6).
 *
 * Disk faults are injected with io_fault_set (src/storage/io.h): a failing
 * io_pwrite_all first writes half of its buffer (a partial write), then
 * fails; a failing io_fdatasync fails without syncing.
 *
 *   write_enospc           ENOSPC on the batch write: MN_ENOSPC with the OS's
 *                          text, not a byte of it in the files, reads unchanged,
 *                          the next append succeeds where the failed one began
 *   write_enospc_persistent  the disk stays full for several appends, then
 *                          space comes back; also EIO on write (MN_EIO)
 *   partial_write_truncated  a large multi-stream atomic append half written:
 *                          the segment is byte for byte what it was before
 *   fsync_eio_latches      EIO on fdatasync: MN_EREADONLY with the reason,
 *                          every later write refused, reads keep working, a
 *                          reopen recovers every acknowledged append
 *   fsync_eio_interval     the same for the periodic sync of MN_FSYNC_INTERVAL
 *   roll_fault_<step>      a batch of two appends that rolls to a new segment,
 *                          failing at each of its disk calls in turn: nothing
 *                          half made (no stray segment, mn_check clean), the
 *                          store's positions consistent
 *   op_faults              XDEL, trims, XSETID, group create/destroy,
 *                          deliveries, acks, claims, deletes under ENOSPC: each
 *                          fails and changes nothing; then each succeeds
 *   op_fsync_eio           an op whose fdatasync fails latches the store; after
 *                          a reopen the op is either wholly there or not at all
 *   index_damage_*         data.mdb truncated, zeroed, garbled or bit-flipped
 *                          (store closed): mn_open rebuilds or refuses with a
 *                          message, never crashes (each open runs in a child
 *                          process) and never serves what the reference
 *                          reads did not (the seal of the clean close gives
 *                          every case away: all are rebuilt)
 *   index_points_elsewhere an index entry redirected to another stream's
 *                          event: with the seal the open rebuilds; without it
 *                          (as after kill -9) the read must not serve that
 *                          event
 *   lock_mdb_removed       index/lock.mdb deleted: opens, same reads
 *
 * Existing corruption tests of the log itself are in test_recovery.c and
 * test_index_rebuild.c; they are not repeated here.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "store_helpers.h"
#include "storage/io.h"
#include "util/crc32c.h"

#define EID(a, b) ((mn_entry_id){(a), (b)})

/* ------------------------------------------------------------------------ */
/* Text: everything observable, as one comparable string                      */
/* ------------------------------------------------------------------------ */

static void tfree(text *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}

static const char *tstr(const text *t) { return t->p ? t->p : ""; }

/* Fails with the first line where two dumps differ. */
static void expect_same_text(const text *got, const text *want, const char *what)
{
    const char *a = tstr(got), *b = tstr(want);
    if (strcmp(a, b) == 0) return;
    size_t i = 0, line = 1, ls = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '\n') {
            line++;
            ls = i + 1;
        }
        i++;
    }
    const char *ea = strchr(a + ls, '\n'), *eb = strchr(b + ls, '\n');
    int na = ea ? (int)(ea - (a + ls)) : (int)strlen(a + ls);
    int nb = eb ? (int)(eb - (b + ls)) : (int)strlen(b + ls);
    FAIL("%s: the store reads differently, first at line %zu\n    got:  %.*s\n    want: %.*s", what,
         line, na, a + ls, nb, b + ls);
}

static void tname(text *t, const char *p, size_t n)
{
    tprintf(t, "%.*s", (int)n, p);
}

static void tevent(text *t, const mn_event_view *v)
{
    tprintf(t, "    ");
    tname(t, v->stream, v->stream_len);
    tprintf(t, " v%" PRId64 " @%" PRIu64 " ts %" PRIu64 " eid %" PRIu64 "-%" PRIu64 " type %.*s data[%zu] %08x meta[%zu] %08x f%u\n",
            v->version, v->position, v->timestamp_us, v->entry_id.ms, v->entry_id.seq, (int)v->type_len,
            v->type, v->data_len, crc32c(v->data, v->data_len), v->meta_len,
            v->meta ? crc32c(v->meta, v->meta_len) : 0, v->flags);
}

typedef struct dumpctx {
    text *t;
    mn_store *st;
    int errors;
    char names[64][64];
    size_t lens[64];
    int n;
} dumpctx;

static void titer(dumpctx *d, int rc, mn_iter *it)
{
    if (rc != MN_OK) {
        tprintf(d->t, "    -> %s\n", mn_strerror(rc));
        if (rc != MN_ENOTFOUND) d->errors++;
        return;
    }
    mn_event_view v;
    while ((rc = mn_iter_next(it, &v)) == 1) tevent(d->t, &v);
    if (rc < 0) {
        tprintf(d->t, "    ERR %s\n", mn_strerror(rc));
        d->errors++;
    }
    mn_iter_free(it);
}

static int name_cb(void *ud, const char *name, size_t len)
{
    dumpctx *d = ud;
    if (d->n < 64 && len < 64) {
        memcpy(d->names[d->n], name, len);
        d->lens[d->n++] = len;
    }
    tprintf(d->t, "  stream ");
    tname(d->t, name, len);
    tprintf(d->t, "\n");
    return 0;
}

static int pending_cb(void *ud, const mn_pending_entry *p)
{
    dumpctx *d = ud;
    tprintf(d->t, "      pel %" PRIu64 "-%" PRIu64 " %.*s x%" PRIu64 " at %" PRIu64 "\n", p->id.ms,
            p->id.seq, (int)p->consumer_len, p->consumer, p->deliveries, p->delivered_ms);
    return 0;
}

typedef struct gctx {
    dumpctx *d;
    const char *stream;
    size_t stream_len;
} gctx;

static int group_cb(void *ud, const mn_group_info *g)
{
    gctx *gc = ud;
    dumpctx *d = gc->d;
    tprintf(d->t, "    group %.*s last %" PRIu64 "-%" PRIu64 " read %" PRId64 " lag %" PRId64 " pending %" PRIu64
            " consumers %" PRIu64 "\n", (int)g->name_len, g->name, g->last_delivered.ms, g->last_delivered.seq,
            g->entries_read, g->lag, g->pending, g->consumers);
    int rc = mn_list_pending(d->st, gc->stream, gc->stream_len, g->name, g->name_len, EID(0, 0),
                             EID(UINT64_MAX, UINT64_MAX), 0, NULL, 0, 0, pending_cb, d);
    if (rc < 0) {
        tprintf(d->t, "      ERR pending %s\n", mn_strerror(rc));
        d->errors++;
    }
    return 0;
}

/* Everything a client can read: store totals, the stream list, each stream's
 * state, events (by version), groups and PELs, and $all. Returns the number
 * of reads that failed with an error (written into the text as ERR lines). */
static int dump(mn_store *st, text *t)
{
    dumpctx d;
    memset(&d, 0, sizeof d);
    d.t = t;
    d.st = st;
    mn_store_info si;
    mn_store_info_get(st, &si);
    tprintf(t, "end %" PRIu64 " streams %" PRIu64 " events %" PRIu64 "\n", si.end_position, si.streams,
            si.events);
    int rc = mn_list_streams(st, NULL, 0, name_cb, &d);
    if (rc < 0) {
        tprintf(t, "  ERR list %s\n", mn_strerror(rc));
        d.errors++;
    }
    for (int i = 0; i < d.n; i++) {
        mn_stream_info in;
        memset(&in, 0, sizeof in);
        tprintf(t, "stream ");
        tname(t, d.names[i], d.lens[i]);
        rc = mn_stream_info_get(st, d.names[i], d.lens[i], &in);
        if (rc != MN_OK) {
            tprintf(t, " ERR info %s\n", mn_strerror(rc));
            d.errors++;
            continue;
        }
        tprintf(t, " v%" PRId64 " len %" PRIu64 " first v%" PRId64 " @%" PRIu64 " last @%" PRIu64 " top %" PRIu64
                "-%" PRIu64 " added %" PRIu64 " maxdel %" PRIu64 "-%" PRIu64 " groups %" PRIu64 " del %d\n",
                in.version, in.length, in.first_version, in.first_position, in.last_position, in.last_id.ms,
                in.last_id.seq, in.entries_added, in.max_deleted_id.ms, in.max_deleted_id.seq, in.groups,
                in.deleted);
        mn_iter *it = NULL;
        rc = mn_read_stream(st, d.names[i], d.lens[i], 0, 0, 0, &it);
        titer(&d, rc, it);
        it = NULL;
        rc = mn_read_stream_range(st, d.names[i], d.lens[i], EID(0, 1), EID(UINT64_MAX, UINT64_MAX), 0, 1, &it);
        tprintf(t, "  by id, backward\n");
        titer(&d, rc, it);
        gctx gc = {&d, d.names[i], d.lens[i]};
        rc = mn_list_groups(st, d.names[i], d.lens[i], group_cb, &gc);
        if (rc < 0) {
            tprintf(t, "  ERR groups %s\n", mn_strerror(rc));
            d.errors++;
        }
    }
    tprintf(t, "$all\n");
    mn_iter *it = NULL;
    rc = mn_read_all(st, 0, 0, &it);
    titer(&d, rc, it);
    return d.errors;
}

static void dump_new(mn_store *st, text *t)
{
    memset(t, 0, sizeof *t);
    int errors = dump(st, t);
    if (errors) FAIL("reads failed (%d):\n%s", errors, tstr(t));
}

/* ------------------------------------------------------------------------ */
/* Files                                                                      */
/* ------------------------------------------------------------------------ */

/* The log directory as text: every file with its size and CRC, in name
 * order, so that "nothing changed" is one string comparison. */
static void log_listing(const char *dir, text *t)
{
    char logdir[4096];
    PATHF(logdir, "%s/log", dir);
    struct dirent **ents = NULL;
    int n = scandir(logdir, &ents, NULL, alphasort);
    if (n < 0) FAIL("scandir %s: %s", logdir, strerror(errno));
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            char p[4096];
            size_t len;
            PATHF(p, "%s/%s", logdir, ents[i]->d_name);
            uint8_t *b = slurp(p, &len);
            tprintf(t, "%s %zu %08x\n", ents[i]->d_name, len, crc32c(b, len));
            free(b);
        }
        free(ents[i]);
    }
    free(ents);
}

static int count_segments(const char *dir)
{
    char logdir[4096];
    PATHF(logdir, "%s/log", dir);
    DIR *d = opendir(logdir);
    if (!d) FAIL("opendir %s: %s", logdir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l >= 4 && !strcmp(e->d_name + l - 4, ".seg")) n++;
    }
    closedir(d);
    return n;
}

static void expect_msg_has(const char *msg, const char *needle, const char *what)
{
    if (msg == NULL || strstr(msg, needle) == NULL)
        FAIL("%s: the message \"%s\" does not say \"%s\"", what, msg ? msg : "(null)", needle);
}

/* ------------------------------------------------------------------------ */
/* Stores and appends                                                         */
/* ------------------------------------------------------------------------ */

static mn_options opts_with(int policy, uint64_t segment_size)
{
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = policy;
    o.index_map_size = 64u << 20;
    if (segment_size) o.segment_size = segment_size;
    return o;
}

static mn_store *open_store(const char *dir, const mn_options *o)
{
    mn_store *st = NULL;
    int rc = mn_open(dir, o, &st);
    if (rc != MN_OK) FAIL("mn_open %s: %s (%s)", dir, mn_strerror(rc), mn_errmsg());
    return st;
}

/* Appends one event of `size` data bytes (a pattern of `seed`) to stream. */
static int append_ev(mn_store *st, const char *stream, unsigned seed, size_t size, int64_t *version)
{
    static uint8_t data[65536];
    ASSERT_LE(size, sizeof data);
    for (size_t i = 0; i < size; i++) data[i] = (uint8_t)(seed * 31u + i * 7u);
    mn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "t";
    ev.type_len = 1;
    ev.data = data;
    ev.data_len = size;
    return mn_append_one(st, stream, strlen(stream), MN_EXPECT_ANY, &ev, 1, version, NULL);
}

static void fill(mn_store *st, int n, size_t size)
{
    static const char *const names[] = {"acct-1", "acct-2", "order-7"};
    for (int i = 0; i < n; i++) ASSERT_OK(append_ev(st, names[i % 3], (unsigned)i, size + (size_t)(i % 5) * 8, NULL));
}

static mn_store_info info(mn_store *st)
{
    mn_store_info si;
    memset(&si, 0, sizeof si);
    mn_store_info_get(st, &si);
    return si;
}

/* The store's positions are consistent: nothing durable past the end. */
static void expect_positions_sane(mn_store *st, const char *what)
{
    mn_store_info si = info(st);
    if (si.durable_position > si.end_position)
        FAIL("%s: durable_position %" PRIu64 " is past end_position %" PRIu64
             " (the log was truncated back but the durable mark was not)",
             what, si.durable_position, si.end_position);
}

/* ------------------------------------------------------------------------ */
/* ENOSPC and EIO on write                                                    */
/* ------------------------------------------------------------------------ */

TEST(write_enospc)
{
    char dir[4096];
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    mn_store *st = open_store(dir, &o);
    fill(st, 20, 100);
    text ref, files, got, now;
    dump_new(st, &ref);
    log_listing(dir, &files);
    uint64_t end = info(st).end_position;

    io_fault_set(IO_FAULT_WRITE, 0, ENOSPC, 1);
    ASSERT_ERR(append_ev(st, "acct-1", 99, 300, NULL), MN_ENOSPC);
    expect_msg_has(mn_errmsg(), "No space left on device", "ENOSPC append");
    log_listing(dir, &now);
    expect_same_text(&now, &files, "log files after ENOSPC");
    tfree(&now);
    ASSERT_EQ_U64(info(st).end_position, end);
    ASSERT_EQ(info(st).read_only, 0);
    expect_positions_sane(st, "after ENOSPC");
    dump_new(st, &got);
    expect_same_text(&got, &ref, "reads after ENOSPC");
    tfree(&got);

    /* the fault is over (times = 1): the next append succeeds, exactly where
     * the failed one would have gone */
    uint64_t pos = 0;
    mn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "after";
    ev.type_len = 5;
    ev.data = "x";
    ev.data_len = 1;
    int64_t ver = -5;
    ASSERT_OK(mn_append_one(st, "acct-1", 6, MN_EXPECT_ANY, &ev, 1, &ver, &pos));
    ASSERT_EQ_U64(pos, end);
    ASSERT_EQ(ver, 7); /* acct-1 had versions 0..6: the failed append took none */
    text live;
    dump_new(st, &live);
    mn_close(st);
    expect_check_ok(dir, "after ENOSPC and a later append");
    st = open_store(dir, &o);
    dump_new(st, &got);
    expect_same_text(&got, &live, "reopened after ENOSPC");
    mn_close(st);
    tfree(&got);
    tfree(&live);
    tfree(&ref);
    tfree(&files);
    harness_rmrf(dir);
}

TEST(write_enospc_persistent)
{
    char dir[4096];
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_options o = opts_with(MN_FSYNC_NEVER, 0);
    mn_store *st = open_store(dir, &o);
    fill(st, 9, 50);
    text ref, files, got, now;
    dump_new(st, &ref);
    log_listing(dir, &files);

    /* full until space is freed: every write fails, whatever its kind */
    io_fault_set(IO_FAULT_WRITE, 0, ENOSPC, -1);
    for (int i = 0; i < 5; i++) ASSERT_ERR(append_ev(st, "acct-2", 200u + (unsigned)i, 64, NULL), MN_ENOSPC);
    ASSERT_ERR(mn_delete_stream(st, "acct-1", 6, MN_EXPECT_ANY, 0), MN_ENOSPC);
    mn_op op;
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.stream = "acct-1";
    op.stream_len = 6;
    op.group = "g";
    op.group_len = 1;
    ASSERT_ERR(mn_op_run(st, &op), MN_ENOSPC);
    mn_op_free(&op);
    log_listing(dir, &now);
    expect_same_text(&now, &files, "log files while full");
    tfree(&now);
    dump_new(st, &got);
    expect_same_text(&got, &ref, "reads while full");
    tfree(&got);

    /* EIO on write is an I/O error, not a latch: the next write may succeed */
    io_fault_set(IO_FAULT_WRITE, 0, EIO, 1);
    ASSERT_ERR(append_ev(st, "acct-2", 300, 64, NULL), MN_EIO);
    expect_msg_has(mn_errmsg(), "Input/output error", "EIO append");
    ASSERT_EQ(info(st).read_only, 0);

    /* space freed */
    io_fault_clear();
    int64_t v = -5;
    ASSERT_OK(append_ev(st, "acct-2", 400, 64, &v));
    ASSERT_EQ(v, 3); /* acct-2 had 0..2 */
    text live;
    dump_new(st, &live);
    mn_close(st);
    expect_check_ok(dir, "after a full disk");
    st = open_store(dir, &o);
    dump_new(st, &got);
    expect_same_text(&got, &live, "reopened after a full disk");
    mn_close(st);
    tfree(&got);
    tfree(&live);
    tfree(&ref);
    tfree(&files);
    harness_rmrf(dir);
}

TEST(partial_write_truncated)
{
    char dir[4096], seg[4096];
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    mn_store *st = open_store(dir, &o);
    fill(st, 6, 200);
    text ref, files, got, now;
    dump_new(st, &ref);
    log_listing(dir, &files);
    PATHF(seg, "%s/log/%020d.seg", dir, 0);
    size_t len0;
    uint8_t *before = slurp(seg, &len0);

    /* one atomic append of 3 parts x 4 events of 8 KiB: ~100 KiB, of which
     * the failing write puts half in the file before it fails */
    static uint8_t big[8192];
    harness_rand_bytes(big, sizeof big);
    mn_event evs[4];
    memset(evs, 0, sizeof evs);
    for (int i = 0; i < 4; i++) {
        evs[i].type = "big";
        evs[i].type_len = 3;
        evs[i].data = big;
        evs[i].data_len = sizeof big;
    }
    mn_append_part parts[3];
    memset(parts, 0, sizeof parts);
    const char *names[3] = {"acct-1", "new-stream", "order-7"};
    for (int i = 0; i < 3; i++) {
        parts[i].stream = names[i];
        parts[i].stream_len = strlen(names[i]);
        parts[i].expected = MN_EXPECT_ANY;
        parts[i].events = evs;
        parts[i].count = 4;
    }
    io_fault_set(IO_FAULT_WRITE, 0, ENOSPC, 1);
    ASSERT_ERR(mn_append(st, parts, 3, NULL), MN_ENOSPC);
    size_t len1;
    uint8_t *after = slurp(seg, &len1);
    ASSERT_EQ(len1, len0);
    ASSERT_MEM_EQ(after, before, len0);
    free(after);
    log_listing(dir, &now);
    expect_same_text(&now, &files, "log files after a partial write");
    tfree(&now);
    dump_new(st, &got);
    expect_same_text(&got, &ref, "reads after a partial write");
    tfree(&got);
    mn_stream_info si;
    ASSERT_ERR(mn_stream_info_get(st, "new-stream", 10, &si), MN_ENOTFOUND);

    /* the same append again succeeds, whole */
    ASSERT_OK(mn_append(st, parts, 3, NULL));
    ASSERT_EQ(parts[1].version, 3);
    text live;
    dump_new(st, &live);
    mn_close(st);
    expect_check_ok(dir, "after a partial write and a retry");
    st = open_store(dir, &o);
    dump_new(st, &got);
    expect_same_text(&got, &live, "reopened after a partial write");
    mn_close(st);
    free(before);
    tfree(&got);
    tfree(&live);
    tfree(&ref);
    tfree(&files);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* EIO on fdatasync: latched read-only                                        */
/* ------------------------------------------------------------------------ */

/* After a latch: every kind of write is refused with the reason. */
static void expect_latched(mn_store *st, const char *what)
{
    char m[600];
    ASSERT_EQ(info(st).read_only, 1);
    ASSERT_ERR(append_ev(st, "acct-1", 1, 10, NULL), MN_EREADONLY);
    snprintf(m, sizeof m, "%s: later append", what);
    expect_msg_has(mn_errmsg(), "fdatasync", m);
    expect_msg_has(mn_errmsg(), "Input/output error", m);
    ASSERT_ERR(append_ev(st, "brand-new", 1, 10, NULL), MN_EREADONLY);
    ASSERT_ERR(mn_delete_stream(st, "acct-2", 6, MN_EXPECT_ANY, 0), MN_EREADONLY);
    mn_op op;
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.stream = "acct-1";
    op.stream_len = 6;
    op.group = "late";
    op.group_len = 4;
    ASSERT_ERR(mn_op_run(st, &op), MN_EREADONLY);
    snprintf(m, sizeof m, "%s: later op", what);
    expect_msg_has(mn_errmsg(), "fdatasync", m);
    mn_op_free(&op);
}

/* Reads of every acknowledged event, as text, to compare after a reopen in
 * which the unacknowledged tail may or may not be back: the reopened store
 * must read exactly `acked`, or `acked` plus what was in flight. */
TEST(fsync_eio_latches)
{
    char dir[4096];
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    mn_store *st = open_store(dir, &o);
    fill(st, 12, 80);
    text ref, got;
    dump_new(st, &ref);
    uint64_t end = info(st).end_position;

    io_fault_set(IO_FAULT_SYNC, 0, EIO, 1);
    ASSERT_ERR(append_ev(st, "acct-1", 77, 80, NULL), MN_EREADONLY);
    const char *m = mn_errmsg();
    expect_msg_has(m, "fdatasync", "failed fsync");
    expect_msg_has(m, "Input/output error", "failed fsync");
    expect_msg_has(m, "read-only", "failed fsync");
    ASSERT_EQ_U64(info(st).end_position, end); /* not acknowledged, not visible */
    /* the fault is spent, the latch is not */
    expect_latched(st, "after a failed fsync");
    /* reads keep working, and show only what was acknowledged */
    dump_new(st, &got);
    expect_same_text(&got, &ref, "reads while latched");
    tfree(&got);
    mn_close(st);

    /* a reopen (the "restart") recovers: every acknowledged event is there;
     * the unacknowledged one may be (it reached the file) or not */
    expect_check_ok(dir, "after a failed fsync");
    st = open_store(dir, &o);
    ASSERT_EQ(info(st).read_only, 0);
    dump_new(st, &got);
    if (strcmp(tstr(&got), tstr(&ref)) != 0) {
        /* then it must be exactly the in-flight event, appended */
        mn_iter *it = NULL;
        mn_event_view v;
        ASSERT_OK(mn_read_stream(st, "acct-1", 6, 4, 0, 0, &it)); /* acct-1 had v0..3 */
        ASSERT_EQ(mn_iter_next(it, &v), 1);
        ASSERT_EQ(v.position, end);
        ASSERT_EQ(v.data_len, 80);
        ASSERT_EQ(mn_iter_next(it, &v), 0);
        mn_iter_free(it);
        ASSERT_EQ_U64(info(st).events, 13);
    }
    tfree(&got);
    ASSERT_OK(append_ev(st, "acct-1", 78, 80, NULL));
    mn_close(st);
    expect_check_ok(dir, "after a restart and an append");
    tfree(&ref);
    harness_rmrf(dir);
}

TEST(fsync_eio_interval)
{
    char dir[4096];
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_options o = opts_with(MN_FSYNC_INTERVAL, 0);
    o.fsync_interval_ms = 5;
    mn_store *st = open_store(dir, &o);
    fill(st, 6, 80);
    /* let the periodic sync catch up first, so that the fault below hits
     * the sync of the append that follows it (and not that of fill, which
     * would latch before the append on a slow run, e.g. under valgrind) */
    for (int i = 0; i < 400; i++) {
        mn_store_info si;
        mn_store_info_get(st, &si);
        if (si.durable_position >= si.end_position) break;
        usleep(5000);
    }
    io_fault_set(IO_FAULT_SYNC, 0, EIO, 1);
    /* acknowledged after write; the periodic sync fails; the store latches */
    ASSERT_OK(append_ev(st, "acct-1", 50, 80, NULL));
    text ref;
    dump_new(st, &ref);
    int latched = 0;
    for (int i = 0; i < 200 && !latched; i++) {
        usleep(5000);
        latched = info(st).read_only;
    }
    ASSERT(latched);
    expect_latched(st, "after a failed interval fsync");
    text got;
    dump_new(st, &got);
    expect_same_text(&got, &ref, "reads while latched");
    tfree(&got);
    mn_close(st);
    expect_check_ok(dir, "after a failed interval fsync");
    st = open_store(dir, &o);
    dump_new(st, &got);
    /* the file still has the acknowledged append (the process did not die) */
    expect_same_text(&got, &ref, "reopened after a failed interval fsync");
    mn_close(st);
    tfree(&got);
    tfree(&ref);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Faults during a segment roll                                               */
/* ------------------------------------------------------------------------ */

/* Holding the writer: an async append whose callback (on the writer thread)
 * waits until released, so that the appends queued meanwhile form the next
 * batch together. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
} gate;

static void gate_cb(void *ud, const mn_append_result *res)
{
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    g->entered = 1 + (res->rc != MN_OK);
    pthread_cond_broadcast(&g->cv);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

typedef struct outcome {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    int64_t version;
    uint64_t position;
    char msg[512];
} outcome;

static void outcome_cb(void *ud, const mn_append_result *res)
{
    outcome *o = ud;
    pthread_mutex_lock(&o->mu);
    o->rc = res->rc;
    if (res->rc == MN_OK) {
        o->version = res->parts[0].version;
        o->position = res->parts[0].position;
    } else {
        snprintf(o->msg, sizeof o->msg, "%s", res->errmsg ? res->errmsg : "");
    }
    o->done = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static void outcome_wait(outcome *o)
{
    pthread_mutex_lock(&o->mu);
    while (!o->done) pthread_cond_wait(&o->cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
}

#define ROLL_DATA 1000

static void async_ev(mn_store *st, const char *stream, unsigned seed, void (*cb)(void *, const mn_append_result *),
                     void *ud)
{
    static uint8_t data[ROLL_DATA];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(seed + i);
    mn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "t";
    ev.type_len = 1;
    ev.data = data;
    ev.data_len = sizeof data; /* copied before mn_append_async returns */
    mn_append_part p;
    memset(&p, 0, sizeof p);
    p.stream = stream;
    p.stream_len = strlen(stream);
    p.expected = MN_EXPECT_ANY;
    p.events = &ev;
    p.count = 1;
    ASSERT_OK(mn_append_async(st, &p, 1, cb, ud));
}

/* A fresh 4 KiB-segment store holding 2 events of ~1.1 KiB (room for one
 * more), the writer held by a third; then A (fits) and B (does not: roll)
 * are queued behind it and the writer released, so one batch writes
 *   write 0: A into segment 0     sync 0: seal segment 0
 *   write 1: segment 1's header   sync 1: the header
 *   write 2: B into segment 1     sync 2: the batch (MN_FSYNC_ALWAYS)
 * and the fault hits the chosen call. */
static void roll_case(int kind, long after, int err)
{
    char dir[4096], what[128];
    snprintf(what, sizeof what, "%s #%ld %s", kind == IO_FAULT_WRITE ? "write" : "fdatasync", after,
             strerror(err));
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 4096);
    mn_store *st = open_store(dir, &o);
    uint64_t p0 = info(st).end_position;
    static uint8_t data[ROLL_DATA];
    memset(data, 1, sizeof data);
    mn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "t";
    ev.type_len = 1;
    ev.data = data;
    ev.data_len = sizeof data;
    ASSERT_OK(mn_append_one(st, "r-a", 3, MN_EXPECT_ANY, &ev, 1, NULL, NULL));
    uint64_t rec = info(st).end_position - p0; /* one record's size */
    ASSERT_EQ((4096 - 32) / rec, 3);            /* 3 fit in a segment */

    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    async_ev(st, "r-b", 1, gate_cb, &g);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    ASSERT_EQ(g.entered, 1); /* the held append itself succeeded */
    ASSERT_EQ(count_segments(dir), 1);
    text ref, files;
    /* reads work while the writer is held */
    dump_new(st, &ref);
    log_listing(dir, &files);
    uint64_t end = info(st).end_position;

    outcome a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, {0}};
    outcome b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, {0}};
    async_ev(st, "r-a", 2, outcome_cb, &a);
    async_ev(st, "r-c", 3, outcome_cb, &b);
    io_fault_set(kind, after, err, 1);
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    outcome_wait(&a);
    outcome_wait(&b);
    io_fault_clear();

    text got, now;
    if (kind == IO_FAULT_WRITE) {
        /* rule 5: both fail, nothing of the batch in the files */
        int want = err == ENOSPC ? MN_ENOSPC : MN_EIO;
        if (a.rc != want || b.rc != want)
            FAIL("%s: appends answered %s / %s (\"%s\" / \"%s\"), expected %s", what, mn_strerror(a.rc),
                 mn_strerror(b.rc), a.msg, b.msg, mn_strerror(want));
        expect_msg_has(a.msg, strerror(err), what);
        log_listing(dir, &now);
        expect_same_text(&now, &files, what);
        tfree(&now);
        ASSERT_EQ_U64(info(st).end_position, end);
        ASSERT_EQ(info(st).read_only, 0);
        expect_positions_sane(st, what);
        dump_new(st, &got);
        expect_same_text(&got, &ref, what);
        tfree(&got);
        /* the store goes on: the roll happens now, the positions are those
         * the failed batch would have had */
        uint64_t pa = 0, pb = 0;
        ASSERT_OK(mn_append_one(st, "r-a", 3, MN_EXPECT_ANY, &ev, 1, NULL, &pa));
        ASSERT_EQ_U64(pa, end);
        ASSERT_OK(mn_append_one(st, "r-c", 3, MN_EXPECT_ANY, &ev, 1, NULL, &pb));
        ASSERT_EQ(count_segments(dir), 2);
        ASSERT_EQ_U64(pb, end + rec + 32); /* segment 1 begins where 0 ends */
        expect_positions_sane(st, what);
    } else {
        /* a failed fdatasync: both refused (read-only latched), or — for
         * the new segment's own header sync — an I/O error with the
         * batch undone */
        if (!((a.rc == MN_EREADONLY && b.rc == MN_EREADONLY) || (a.rc == MN_EIO && b.rc == MN_EIO)))
            FAIL("%s: appends answered %s / %s (\"%s\" / \"%s\")", what, mn_strerror(a.rc), mn_strerror(b.rc),
                 a.msg, b.msg);
        expect_msg_has(a.msg, strerror(err), what);
        ASSERT_EQ_U64(info(st).end_position, end);
        dump_new(st, &got);
        expect_same_text(&got, &ref, what);
        tfree(&got);
        if (a.rc == MN_EREADONLY) {
            ASSERT_EQ(info(st).read_only, 1);
            ASSERT_ERR(append_ev(st, "r-a", 9, 10, NULL), MN_EREADONLY);
        } else {
            /* undone like a failed write: no stray segment, nothing of A */
            log_listing(dir, &now);
            expect_same_text(&now, &files, what);
            tfree(&now);
            expect_positions_sane(st, what);
            ASSERT_OK(append_ev(st, "r-a", 2, ROLL_DATA, NULL));
        }
    }
    text live;
    dump_new(st, &live);
    int latched = info(st).read_only;
    mn_close(st);
    tfree(&files);
    {
        char m[256];
        snprintf(m, sizeof m, "%s: after close", what);
        expect_check_ok(dir, m);
    }
    st = open_store(dir, &o);
    dump_new(st, &got);
    if (!latched) {
        expect_same_text(&got, &live, what);
    } else {
        /* acknowledged: r-a v0, r-b v0; A and B may be back, nothing else */
        mn_stream_info si;
        ASSERT_OK(mn_stream_info_get(st, "r-a", 3, &si));
        ASSERT(si.version == 0 || si.version == 1);
        ASSERT_OK(mn_stream_info_get(st, "r-b", 3, &si));
        ASSERT_EQ(si.version, 0);
        int rc = mn_stream_info_get(st, "r-c", 3, &si);
        ASSERT(rc == MN_ENOTFOUND || (rc == MN_OK && si.version == 0));
        ASSERT(strncmp(tstr(&got), "end ", 4) == 0);
        ASSERT(count_segments(dir) <= 2);
    }
    ASSERT_OK(append_ev(st, "r-d", 4, ROLL_DATA, NULL));
    mn_close(st);
    {
        char m[256];
        snprintf(m, sizeof m, "%s: after reopen", what);
        expect_check_ok(dir, m);
    }
    tfree(&got);
    tfree(&live);
    tfree(&ref);
    harness_rmrf(dir);
}

/* After a rolling batch is undone (its first part had been written and
 * synced with the sealed segment, then truncated away), the next append under
 * MN_FSYNC_INTERVAL must still be synced by the interval timer: the log's
 * durable mark must not stay ahead of its end. Seen through the fault
 * counter: an injected fdatasync failure must be met (and latch the store)
 * within the interval after that append. */
TEST(roll_undo_then_interval_sync)
{
    char dir[4096];
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_options o = opts_with(MN_FSYNC_INTERVAL, 4096);
    o.fsync_interval_ms = 5;
    mn_store *st = open_store(dir, &o);
    static uint8_t data[ROLL_DATA];
    mn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "t";
    ev.type_len = 1;
    ev.data = data;
    ev.data_len = sizeof data;
    ASSERT_OK(mn_append_one(st, "r-a", 3, MN_EXPECT_ANY, &ev, 1, NULL, NULL));
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    async_ev(st, "r-b", 1, gate_cb, &g);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    outcome a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, {0}};
    outcome b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, {0}};
    async_ev(st, "r-a", 2, outcome_cb, &a);
    async_ev(st, "r-c", 3, outcome_cb, &b);
    /* under INTERVAL: write A, seal (sync), header write + sync, write B */
    io_fault_set(IO_FAULT_WRITE, 2, ENOSPC, 1);
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    outcome_wait(&a);
    outcome_wait(&b);
    io_fault_clear();
    ASSERT_ERR(a.rc, MN_ENOSPC);
    ASSERT_ERR(b.rc, MN_ENOSPC);
    ASSERT_EQ(count_segments(dir), 1);

    /* the next sync attempt fails; a small append is acknowledged after its
     * write and must be synced (here: fail to) within the interval */
    io_fault_set(IO_FAULT_SYNC, 0, EIO, 1);
    mn_event small = ev;
    small.data_len = 8;
    ASSERT_OK(mn_append_one(st, "r-d", 3, MN_EXPECT_ANY, &small, 1, NULL, NULL));
    int latched = 0;
    for (int i = 0; i < 60 && !latched; i++) {
        usleep(5000);
        latched = info(st).read_only;
    }
    io_fault_clear();
    mn_close(st);
    harness_rmrf(dir);
    if (!latched)
        FAIL("no fdatasync within 300 ms of an acknowledged append (fsync interval 5 ms): after the undone "
             "roll the log's durable mark stayed past its end, so log_sync thought there was nothing to sync");
}

TEST(roll_fault_write0) { roll_case(IO_FAULT_WRITE, 0, ENOSPC); }
TEST(roll_fault_write1_header) { roll_case(IO_FAULT_WRITE, 1, ENOSPC); }
TEST(roll_fault_write2) { roll_case(IO_FAULT_WRITE, 2, ENOSPC); }
TEST(roll_fault_write2_eio) { roll_case(IO_FAULT_WRITE, 2, EIO); }
TEST(roll_fault_sync0_seal) { roll_case(IO_FAULT_SYNC, 0, EIO); }
TEST(roll_fault_sync1_header) { roll_case(IO_FAULT_SYNC, 1, EIO); }
TEST(roll_fault_sync2) { roll_case(IO_FAULT_SYNC, 2, EIO); }

/* ------------------------------------------------------------------------ */
/* Faults during operations                                                   */
/* ------------------------------------------------------------------------ */

/* stream s: 10 entries with ids 1-0 .. 10-0; group g delivered 1..5 to alice
 * (pending), group h with nothing delivered; stream t: 3 entries. */
static mn_store *ops_store(const char *dir)
{
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    mn_store *st = open_store(dir, &o);
    mn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "t";
    ev.type_len = 1;
    ev.data = "payload";
    ev.data_len = 7;
    ev.entry_id_mode = MN_ID_EXPLICIT;
    for (uint64_t i = 1; i <= 10; i++) {
        ev.entry_id = EID(i, 0);
        ASSERT_OK(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &ev, 1, NULL, NULL));
    }
    for (uint64_t i = 1; i <= 3; i++) {
        ev.entry_id = EID(i, 0);
        ASSERT_OK(mn_append_one(st, "t", 1, MN_EXPECT_ANY, &ev, 1, NULL, NULL));
    }
    const char *groups[2] = {"g", "h"};
    for (int i = 0; i < 2; i++) {
        mn_op op;
        mn_op_init(&op, MN_OP_GROUP_CREATE);
        op.stream = "s";
        op.stream_len = 1;
        op.group = groups[i];
        op.group_len = 1;
        op.id_set = 1;
        op.id = EID(0, 0);
        ASSERT_OK(mn_op_run(st, &op));
        mn_op_free(&op);
    }
    mn_op op;
    mn_op_init(&op, MN_OP_DELIVER);
    op.stream = "s";
    op.stream_len = 1;
    op.group = "g";
    op.group_len = 1;
    op.consumer = "alice";
    op.consumer_len = 5;
    op.count = 5;
    ASSERT_OK(mn_op_run(st, &op));
    ASSERT_EQ(op.n, 5);
    mn_op_free(&op);
    return st;
}

static const mn_entry_id ops_ids[2] = {{2, 0}, {4, 0}};

/* The i-th operation to try (returns 0 past the last): a name and an op on
 * stream s (or t), or a stream delete (kind 0). */
static int op_make(int i, mn_op *op, const char **name)
{
    switch (i) {
    case 0:
        mn_op_init(op, MN_OP_ENTRIES_DELETE);
        op->ids = ops_ids;
        op->nids = 2;
        *name = "XDEL";
        break;
    case 1:
        mn_op_init(op, MN_OP_TRIM);
        op->trim.mode = MN_TRIM_MAXLEN;
        op->trim.maxlen = 3;
        *name = "XTRIM MAXLEN";
        break;
    case 2:
        mn_op_init(op, MN_OP_TRIM);
        op->trim.mode = MN_TRIM_MINID;
        op->trim.minid = EID(7, 0);
        *name = "XTRIM MINID";
        break;
    case 3:
        mn_op_init(op, MN_OP_SETID);
        op->id = EID(100, 0);
        op->id_set = 1;
        *name = "XSETID";
        break;
    case 4:
        mn_op_init(op, MN_OP_GROUP_CREATE);
        op->group = "new";
        op->id_set = 1;
        op->id = EID(0, 0);
        *name = "XGROUP CREATE";
        break;
    case 5:
        mn_op_init(op, MN_OP_GROUP_CREATE);
        op->group = "mk";
        op->mkstream = 1;
        op->stream = "fresh";
        op->stream_len = 5;
        *name = "XGROUP CREATE MKSTREAM";
        break;
    case 6:
        mn_op_init(op, MN_OP_GROUP_SETID);
        op->group = "g";
        op->id_set = 1;
        op->id = EID(8, 0);
        *name = "XGROUP SETID";
        break;
    case 7:
        mn_op_init(op, MN_OP_GROUP_DESTROY);
        op->group = "h";
        *name = "XGROUP DESTROY";
        break;
    case 8:
        mn_op_init(op, MN_OP_CONSUMER_CREATE);
        op->group = "g";
        op->consumer = "bob";
        *name = "XGROUP CREATECONSUMER";
        break;
    case 9:
        mn_op_init(op, MN_OP_CONSUMER_DELETE);
        op->group = "g";
        op->consumer = "alice";
        *name = "XGROUP DELCONSUMER";
        break;
    case 10:
        mn_op_init(op, MN_OP_DELIVER);
        op->group = "g";
        op->consumer = "bob";
        op->count = 2;
        *name = "XREADGROUP >";
        break;
    case 11:
        mn_op_init(op, MN_OP_ACK);
        op->group = "g";
        op->ids = ops_ids;
        op->nids = 2;
        *name = "XACK";
        break;
    case 12:
        mn_op_init(op, MN_OP_CLAIM);
        op->group = "g";
        op->consumer = "carol";
        op->ids = ops_ids;
        op->nids = 2;
        *name = "XCLAIM";
        break;
    case 13:
        mn_op_init(op, MN_OP_AUTOCLAIM);
        op->group = "g";
        op->consumer = "carol";
        op->start = EID(0, 0);
        op->count = 10;
        *name = "XAUTOCLAIM";
        break;
    case 14:
        mn_op_init(op, MN_OP_STREAM_CREATE);
        op->stream = "empty";
        op->stream_len = 5;
        *name = "stream create";
        break;
    case 15:
        *name = "DEL (stream delete)";
        return -1;
    default:
        return 0;
    }
    if (op->stream == NULL) {
        op->stream = "s";
        op->stream_len = 1;
    }
    if (op->group) op->group_len = strlen(op->group);
    if (op->consumer) op->consumer_len = strlen(op->consumer);
    return 1;
}

static int op_do(mn_store *st, int i)
{
    mn_op op;
    const char *name;
    int k = op_make(i, &op, &name);
    if (k < 0) return mn_delete_stream(st, "t", 1, MN_EXPECT_ANY, 0);
    int rc = mn_op_run(st, &op);
    mn_op_free(&op);
    return rc;
}

TEST(op_faults)
{
    char dir[4096];
    harness_tmpdir(dir, sizeof dir);
    io_fault_clear();
    mn_store *st = ops_store(dir);
    text ref, files, got, now;
    dump_new(st, &ref);
    log_listing(dir, &files);
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: ENOSPC on the write; pass 1: EIO on the write */
        int err = pass == 0 ? ENOSPC : EIO, want = pass == 0 ? MN_ENOSPC : MN_EIO;
        for (int i = 0;; i++) {
            mn_op op;
            const char *name;
            if (!op_make(i, &op, &name)) break;
            mn_op_free(&op);
            io_fault_set(IO_FAULT_WRITE, 0, err, 1);
            int rc = op_do(st, i);
            io_fault_clear();
            if (rc != want)
                FAIL("%s under %s: got %s (%s), expected %s", name, strerror(err), mn_strerror(rc), mn_errmsg(),
                     mn_strerror(want));
            expect_msg_has(mn_errmsg(), strerror(err), name);
            log_listing(dir, &now);
            expect_same_text(&now, &files, name);
            tfree(&now);
            dump_new(st, &got);
            expect_same_text(&got, &ref, name);
            tfree(&got);
        }
    }
    ASSERT_EQ(info(st).read_only, 0);
    /* each then succeeds (the disk has space again), in order */
    for (int i = 0;; i++) {
        mn_op op;
        const char *name;
        if (!op_make(i, &op, &name)) break;
        mn_op_free(&op);
        int rc = op_do(st, i);
        if (rc != MN_OK) FAIL("%s after the faults: %s (%s)", name, mn_strerror(rc), mn_errmsg());
    }
    text live;
    dump_new(st, &live);
    mn_close(st);
    expect_check_ok(dir, "after the op faults");
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    st = open_store(dir, &o);
    dump_new(st, &got);
    expect_same_text(&got, &live, "reopened after the op faults");
    mn_close(st);
    tfree(&got);
    tfree(&live);
    tfree(&ref);
    tfree(&files);
    harness_rmrf(dir);
}

TEST(op_fsync_eio)
{
    /* XDEL, XACK and XGROUP CREATE (their effects do not depend on the
     * clock): the reopened store is as before the op or as after it */
    static const int which[] = {0, 11, 4};
    for (size_t w = 0; w < sizeof which / sizeof which[0]; w++) {
        char dir[4096], copy[4096];
        harness_tmpdir(dir, sizeof dir);
        harness_tmpdir(copy, sizeof copy);
        io_fault_clear();
        mn_store *st = ops_store(dir);
        mn_close(st);
        copy_tree(dir, copy);
        mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
        /* the state after the op, on the copy */
        st = open_store(copy, &o);
        text before, after, got;
        dump_new(st, &before);
        ASSERT_OK(op_do(st, which[w]));
        dump_new(st, &after);
        mn_close(st);

        mn_op op;
        const char *name;
        op_make(which[w], &op, &name);
        mn_op_free(&op);
        st = open_store(dir, &o);
        io_fault_set(IO_FAULT_SYNC, 0, EIO, 1);
        int rc = op_do(st, which[w]);
        io_fault_clear();
        if (rc != MN_EREADONLY) FAIL("%s: got %s (%s), expected MN_EREADONLY", name, mn_strerror(rc), mn_errmsg());
        expect_msg_has(mn_errmsg(), "fdatasync", name);
        dump_new(st, &got);
        expect_same_text(&got, &before, name); /* not visible: not acknowledged */
        tfree(&got);
        ASSERT_ERR(op_do(st, 10), MN_EREADONLY);
        ASSERT_ERR(append_ev(st, "s", 1, 1, NULL), MN_EREADONLY);
        mn_close(st);
        expect_check_ok(dir, name);
        st = open_store(dir, &o);
        dump_new(st, &got);
        if (strcmp(tstr(&got), tstr(&before)) != 0) expect_same_text(&got, &after, name);
        mn_close(st);
        tfree(&got);
        tfree(&before);
        tfree(&after);
        harness_rmrf(dir);
        harness_rmrf(copy);
    }
}

/* ------------------------------------------------------------------------ */
/* Index damage                                                               */
/* ------------------------------------------------------------------------ */

/* A closed store with 3 streams of 40 events, a deleted stream, a group with
 * pending entries; its reference reads in *ref. */
static void index_store(const char *dir, text *ref)
{
    io_fault_clear();
    mn_store *st = ops_store(dir);
    fill(st, 120, 40);
    ASSERT_OK(append_ev(st, "gone", 1, 10, NULL));
    ASSERT_OK(mn_delete_stream(st, "gone", 4, MN_EXPECT_ANY, 0));
    dump_new(st, ref);
    mn_close(st);
}

typedef struct damage_stats {
    int cases, same, rebuilt, refused, read_errors, crashed, wrong, failed;
    char first_bad[3][200]; /* the first few bad cases, for the failure message */
    int nbad;
} damage_stats;

/* child exit codes (a failed ASSERT in the child exits 1) */
enum { OUT_SAME = 10, OUT_REBUILT, OUT_REFUSED, OUT_READ_ERROR, OUT_WRONG, OUT_FAILED };

/* In a child: open the store, read everything, compare with ref. The exit
 * status is the outcome; a wrong read prints the difference first. */
static void damaged_child(const char *dir, const text *ref)
{
    alarm(20); /* a hang (a loop in a damaged B-tree) is a failure too */
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    mn_store *st = NULL;
    int rc = mn_open(dir, &o, &st);
    if (rc != MN_OK) {
        const char *m = mn_errmsg();
        if (m == NULL || m[0] == '\0') _exit(OUT_FAILED); /* refused without saying why */
        _exit(OUT_REFUSED);
    }
    mn_recovery_report rr;
    mn_recovery_info(st, &rr);
    text got;
    memset(&got, 0, sizeof got);
    int errors = dump(st, &got);
    int out = OUT_SAME;
    if (strcmp(tstr(&got), tstr(ref)) != 0) {
        if (errors > 0 && !rr.index_rebuilt) {
            out = OUT_READ_ERROR;
        } else {
            out = OUT_WRONG;
        }
    } else if (rr.index_rebuilt) {
        out = OUT_REBUILT;
    }
    /* and the store still takes writes (unless it refused to) */
    if (append_ev(st, "acct-1", 5, 10, NULL) != MN_OK && out != OUT_READ_ERROR) {
        if (getenv("MN_FAULTS_VERBOSE")) fprintf(stderr, "      append after open: %s\n", mn_errmsg());
        out = OUT_FAILED;
    }
    mn_close(st);
    _exit(out);
}

/* Restores the pristine store into work, lets damage() spoil its data.mdb,
 * opens it in a child; fails on a crash, a hang or a wrong read. */
static void damage_case(const char *pristine, const char *work, const text *ref, const char *what,
                        void (*damage)(const char *mdb, void *ud), void *ud, damage_stats *ds)
{
    char mdb[4096];
    harness_rmrf(work);
    copy_tree(pristine, work);
    PATHF(mdb, "%s/index/data.mdb", work);
    damage(mdb, ud);
    if (getenv("MN_FAULTS_UNSEALED")) {
        /* measures what damage does when no seal gives it away (after a
         * crash); expected to fail: docs/reliability.md has the figures */
        char seal[4200];
        PATHF(seal, "%s/index/seal", work);
        unlink(seal);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) damaged_child(work, ref);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ds->cases++;
    char bad[200] = "";
    if (WIFSIGNALED(status)) {
        ds->crashed++;
        snprintf(bad, sizeof bad, "%s: crashed (%s)", what, strsignal(WTERMSIG(status)));
    } else {
        switch (WEXITSTATUS(status)) {
        case OUT_SAME: ds->same++; break;
        case OUT_REBUILT: ds->rebuilt++; break;
        case OUT_REFUSED: ds->refused++; break;
        case OUT_READ_ERROR: ds->read_errors++; break;
        case OUT_WRONG:
            ds->wrong++;
            snprintf(bad, sizeof bad, "%s: served reads that differ from before", what);
            break;
        default:
            ds->failed++;
            snprintf(bad, sizeof bad, "%s: the child failed (exit %d)", what, WEXITSTATUS(status));
        }
    }
    if (getenv("MN_FAULTS_VERBOSE"))
        printf("      %s -> %s\n", what,
               WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
               : WEXITSTATUS(status) >= OUT_SAME && WEXITSTATUS(status) <= OUT_FAILED
                   ? (const char *[]){"same", "rebuilt", "refused", "read error", "WRONG", "failed"}[WEXITSTATUS(status) - OUT_SAME]
                   : "child failed");
    if (bad[0]) {
        if (ds->nbad < 3) snprintf(ds->first_bad[ds->nbad], sizeof ds->first_bad[0], "%s", bad);
        ds->nbad++;
    }
}

typedef struct cut {
    long size; /* < 0: from the end */
} cut;

static void do_truncate(const char *mdb, void *ud)
{
    cut *c = ud;
    struct stat st;
    ASSERT_EQ(stat(mdb, &st), 0);
    off_t to = c->size >= 0 ? (off_t)c->size : st.st_size + c->size;
    if (to < 0) to = 0;
    ASSERT_EQ(truncate(mdb, to), 0);
}

typedef struct patch {
    long off;      /* where */
    long len;      /* how many bytes */
    int mode;      /* 0: xor mask, 1: zero, 2: random */
    uint8_t mask;
} patch;

static void do_patch(const char *mdb, void *ud)
{
    patch *p = ud;
    size_t len;
    uint8_t *b = slurp(mdb, &len);
    for (long i = 0; i < p->len && (size_t)(p->off + i) < len; i++) {
        uint8_t *c = &b[p->off + i];
        *c = p->mode == 0 ? (uint8_t)(*c ^ p->mask) : p->mode == 1 ? 0 : (uint8_t)harness_rand();
    }
    spit(mdb, b, len);
    free(b);
}

static long mdb_size(const char *pristine)
{
    char mdb[4096];
    struct stat st;
    PATHF(mdb, "%s/index/data.mdb", pristine);
    ASSERT_EQ(stat(mdb, &st), 0);
    return (long)st.st_size;
}

/* Prints the tally; fails if any case crashed, hung, or served wrong reads. */
static void damage_report(const char *name, const damage_stats *ds)
{
    printf("      %s: %d cases: %d read the same, %d rebuilt, %d refused, %d read errors, "
           "%d crashed, %d wrong reads, %d other failures\n", name, ds->cases, ds->same, ds->rebuilt,
           ds->refused, ds->read_errors, ds->crashed, ds->wrong, ds->failed);
    fflush(stdout);
    if (ds->nbad)
        FAIL("%s: %d of %d damaged indexes crashed the open or served wrong reads (%d crashed, %d wrong), e.g.\n"
             "      %s\n      %s\n      %s", name, ds->nbad, ds->cases, ds->crashed, ds->wrong, ds->first_bad[0],
             ds->nbad > 1 ? ds->first_bad[1] : "", ds->nbad > 2 ? ds->first_bad[2] : "");
}

TEST(index_damage_truncated)
{
    char pristine[4096], work[4096];
    harness_tmpdir(pristine, sizeof pristine);
    harness_tmpdir(work, sizeof work);
    text ref;
    memset(&ref, 0, sizeof ref);
    index_store(pristine, &ref);
    long size = mdb_size(pristine);
    ASSERT_GE(size, 4 * 4096);
    damage_stats ds;
    memset(&ds, 0, sizeof ds);
    long sizes[] = {0, 1, 100, 4096, 8191, 8192, 12288, size / 2, size / 2 + 77, -4096, -1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char what[128];
        cut c = {sizes[i]};
        snprintf(what, sizeof what, "data.mdb (%ld bytes) truncated to %ld", size,
                 sizes[i] >= 0 ? sizes[i] : size + sizes[i]);
        damage_case(pristine, work, &ref, what, do_truncate, &c, &ds);
    }
    tfree(&ref);
    harness_rmrf(pristine);
    harness_rmrf(work);
    damage_report("truncated", &ds);
}

TEST(index_damage_pages)
{
    char pristine[4096], work[4096];
    harness_tmpdir(pristine, sizeof pristine);
    harness_tmpdir(work, sizeof work);
    text ref;
    memset(&ref, 0, sizeof ref);
    index_store(pristine, &ref);
    long size = mdb_size(pristine);
    damage_stats ds;
    memset(&ds, 0, sizeof ds);
    /* each page zeroed, then each page filled with garbage */
    for (int mode = 1; mode <= 2; mode++)
        for (long pg = 0; pg * 4096 < size; pg++) {
            char what[128];
            patch p = {pg * 4096, 4096, mode, 0};
            snprintf(what, sizeof what, "data.mdb page %ld %s", pg, mode == 1 ? "zeroed" : "garbled");
            damage_case(pristine, work, &ref, what, do_patch, &p, &ds);
        }
    tfree(&ref);
    harness_rmrf(pristine);
    harness_rmrf(work);
    damage_report("pages zeroed/garbled", &ds);
}

TEST(index_damage_flips)
{
    char pristine[4096], work[4096];
    harness_tmpdir(pristine, sizeof pristine);
    harness_tmpdir(work, sizeof work);
    text ref;
    memset(&ref, 0, sizeof ref);
    index_store(pristine, &ref);
    long size = mdb_size(pristine);
    damage_stats ds;
    memset(&ds, 0, sizeof ds);
    /* in every page: the page header and a few random places */
    static const long fixed[] = {0, 2, 4, 8, 10, 12, 14, 16, 18, 20};
    for (long pg = 0; pg * 4096 < size; pg++) {
        for (size_t k = 0; k < sizeof fixed / sizeof fixed[0] + 6; k++) {
            char what[160];
            long off = pg * 4096 + (k < sizeof fixed / sizeof fixed[0] ? fixed[k] : (long)(harness_rand() % 4096));
            patch p = {off, 1, 0, (uint8_t)(1u << (harness_rand() % 8))};
            snprintf(what, sizeof what, "data.mdb byte %ld (page %ld) xor 0x%02x", off, pg, p.mask);
            damage_case(pristine, work, &ref, what, do_patch, &p, &ds);
        }
    }
    tfree(&ref);
    harness_rmrf(pristine);
    harness_rmrf(work);
    damage_report("bit flips", &ds);
}

/* The one damage a page checksum-less B-tree cannot see: a value that is
 * still well-formed but says something else. Here the index entry of
 * acct-1's version 3 is rewritten to the position of acct-2's version 3 (a
 * valid event record of another stream). Reading acct-1 must not serve
 * acct-2's event as its version 3: with the seal of a clean close the open
 * sees the change and rebuilds; without it (after a crash) the read checks
 * the record it finds and answers MN_ECORRUPT. */
static void points_elsewhere(int keep_seal)
{
    char dir[4096], mdb[4096];
    harness_tmpdir(dir, sizeof dir);
    text ref;
    memset(&ref, 0, sizeof ref);
    index_store(dir, &ref);
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    mn_store *st = open_store(dir, &o);
    mn_iter *it = NULL;
    mn_event_view v;
    uint64_t pos1, pos2;
    mn_entry_id eid1;
    ASSERT_OK(mn_read_stream(st, "acct-1", 6, 3, 1, 0, &it));
    ASSERT_EQ(mn_iter_next(it, &v), 1);
    pos1 = v.position;
    eid1 = v.entry_id;
    mn_iter_free(it);
    ASSERT_OK(mn_read_stream(st, "acct-2", 6, 3, 1, 0, &it));
    ASSERT_EQ(mn_iter_next(it, &v), 1);
    pos2 = v.position;
    mn_iter_free(it);
    mn_close(st);

    /* the value {pos, len, 0, ms, seq} (event_loc, host order) of acct-1 v3 */
    PATHF(mdb, "%s/index/data.mdb", dir);
    size_t len;
    uint8_t *b = slurp(mdb, &len);
    int found = 0;
    for (size_t off = 0; off + 32 <= len; off++) {
        uint64_t p, ms, seq;
        uint32_t zero;
        memcpy(&p, b + off, 8);
        memcpy(&zero, b + off + 12, 4);
        memcpy(&ms, b + off + 16, 8);
        memcpy(&seq, b + off + 24, 8);
        if (p == pos1 && zero == 0 && ms == eid1.ms && seq == eid1.seq) {
            memcpy(b + off, &pos2, 8);
            found++;
        }
    }
    ASSERT_GE(found, 1); /* the live page, and stale copies on free pages */
    spit(mdb, b, len);
    free(b);
    if (!keep_seal) {
        /* as after a kill -9: no seal, the index is trusted at open */
        char seal[4200];
        PATHF(seal, "%s/index/seal", dir);
        ASSERT_EQ(unlink(seal), 0);
    }

    st = open_store(dir, &o);
    mn_recovery_report rr;
    mn_recovery_info(st, &rr);
    ASSERT_EQ(rr.index_rebuilt, keep_seal); /* the seal gives the change away */
    ASSERT_OK(mn_read_stream(st, "acct-1", 6, 3, 1, 0, &it));
    int rc = mn_iter_next(it, &v);
    char served[200] = "";
    if (rc == 1)
        snprintf(served, sizeof served, "%.*s v%" PRId64 " (at %" PRIu64 ")", (int)v.stream_len, v.stream,
                 v.version, v.position);
    int right = rc == 1 && v.stream_len == 6 && memcmp(v.stream, "acct-1", 6) == 0 && v.version == 3;
    mn_iter_free(it);
    mn_close(st);
    tfree(&ref);
    harness_rmrf(dir);
    if (rc == 1 && !right)
        FAIL("reading acct-1 v3 served %s instead of an error: a stream read does not check that the "
             "record it reads is the event the index says", served);
    if (keep_seal) ASSERT(right); /* rebuilt from the log: the right event */
    else ASSERT_ERR(rc, MN_ECORRUPT); /* trusted: the read itself notices */
}

TEST(index_points_elsewhere)
{
    points_elsewhere(1);
    points_elsewhere(0);
}


TEST(lock_mdb_removed)
{
    char dir[4096], p[4096];
    harness_tmpdir(dir, sizeof dir);
    text ref, got;
    memset(&ref, 0, sizeof ref);
    index_store(dir, &ref);
    PATHF(p, "%s/index/lock.mdb", dir);
    ASSERT_EQ(unlink(p), 0);
    mn_options o = opts_with(MN_FSYNC_ALWAYS, 0);
    mn_store *st = open_store(dir, &o);
    mn_recovery_report rr;
    mn_recovery_info(st, &rr);
    ASSERT_EQ(rr.index_rebuilt, 0); /* nothing to rebuild: the lock file is only a lock */
    dump_new(st, &got);
    expect_same_text(&got, &ref, "lock.mdb removed");
    tfree(&got);
    ASSERT_OK(append_ev(st, "acct-1", 1, 10, NULL));
    mn_close(st);
    /* and a garbage lock file */
    uint8_t junk[8192];
    harness_rand_bytes(junk, sizeof junk);
    spit(p, junk, sizeof junk);
    st = open_store(dir, &o);
    ASSERT_OK(append_ev(st, "acct-1", 2, 10, NULL));
    mn_close(st);
    expect_check_ok(dir, "lock.mdb removed");
    tfree(&ref);
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(write_enospc);
    RUN(write_enospc_persistent);
    RUN(partial_write_truncated);
    RUN(fsync_eio_latches);
    RUN(fsync_eio_interval);
    RUN(roll_fault_write0);
    RUN(roll_fault_write1_header);
    RUN(roll_fault_write2);
    RUN(roll_fault_write2_eio);
    RUN(roll_fault_sync0_seal);
    RUN(roll_fault_sync1_header);
    RUN(roll_fault_sync2);
    RUN(roll_undo_then_interval_sync);
    RUN(op_faults);
    RUN(op_fsync_eio);
    RUN(index_damage_truncated);
    RUN(index_damage_pages);
    RUN(index_damage_flips);
    RUN(index_points_elsewhere);
    RUN(lock_mdb_removed);
    io_fault_clear();
    return harness_summary();
}
