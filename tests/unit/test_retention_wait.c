/*
 * test_retention_wait.c — retention by size and by age drops whole oldest
 * segments (never the active one) and reads skip what it dropped; mn_wait
 * and the notify hook wake when new events become readable; a virtual
 * stream's group sees dropped events as deleted entries; submissions held
 * by mn_submit_hold reach the writer only at mn_submit_flush (or a
 * synchronous call, or close), in order.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"

static mn_options small_opts(void)
{
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = MN_FSYNC_NEVER;
    o.segment_size = 4096;
    o.index_map_size = 64u << 20;
    return o;
}

static void append_n(mn_store *st, const char *stream, int n, int from)
{
    char data[256];
    for (int i = 0; i < n; i++) {
        mn_event e;
        memset(&e, 0, sizeof e);
        e.type = "Tick";
        e.type_len = 4;
        int len = snprintf(data, sizeof data, "{\"i\":%d,\"pad\":\"%0200d\"}", from + i, 0);
        e.data = data;
        e.data_len = (size_t)len;
        ASSERT_OK(mn_append_one(st, stream, strlen(stream), MN_EXPECT_ANY, &e, 1, NULL, NULL));
    }
}

/* Versions readable in stream order. */
static int read_versions(mn_store *st, const char *stream, int64_t *out, int cap)
{
    mn_iter *it;
    mn_event_view ev;
    int n = 0, rc;
    ASSERT_OK(mn_read_stream(st, stream, strlen(stream), 0, 0, 0, &it));
    while ((rc = mn_iter_next(it, &ev)) == 1 && n < cap) out[n++] = ev.version;
    ASSERT_EQ(rc < 0 ? rc : 0, 0);
    mn_iter_free(it);
    return n;
}

TEST(retention_by_size)
{
    char dir[512];
    mn_options o = small_opts();
    o.retention_bytes = 16 * 1024;
    mn_store *st = NULL;
    harness_tmpdir(dir, sizeof dir);
    ASSERT_OK(mn_open(dir, &o, &st));
    append_n(st, "s", 200, 0); /* ~60 KiB: ~15 segments */
    mn_store_info before;
    mn_store_info_get(st, &before);
    ASSERT_GT(before.segments, 8);
    /* housekeeping runs every 2 s, after a batch */
    sleep(3);
    append_n(st, "s", 1, 200);
    mn_store_info after;
    mn_store_info_get(st, &after);
    ASSERT_LT(after.segments, before.segments);
    ASSERT_LE_U64(after.log_bytes, 16 * 1024 + 2 * 4096);
    ASSERT_GT_U64(after.first_position, 32);

    /* $all starts at the first retained event; the stream read skips the
     * dropped ones and returns the retained versions in order, up to 200 */
    int64_t v[256];
    int n = read_versions(st, "s", v, 256);
    ASSERT_GT(n, 0);
    ASSERT_LT(n, 201);
    for (int i = 1; i < n; i++) ASSERT_EQ(v[i], v[i - 1] + 1);
    ASSERT_EQ(v[n - 1], 200);
    mn_iter *it;
    mn_event_view ev;
    ASSERT_OK(mn_read_all(st, 0, 1, &it));
    ASSERT_EQ(mn_iter_next(it, &ev), 1);
    ASSERT_EQ_U64(ev.position, after.first_position);
    ASSERT_EQ(ev.version, v[0]);
    mn_iter_free(it);

    /* the same after a reopen */
    mn_close(st);
    ASSERT_OK(mn_open(dir, &o, &st));
    int64_t w[256];
    ASSERT_EQ(read_versions(st, "s", w, 256), n);
    ASSERT_MEM_EQ(v, w, (size_t)n * sizeof *v);
    mn_close(st);
    mn_check_report rep;
    ASSERT_OK(mn_check(dir, &rep));
    ASSERT_EQ(rep.ok, 1);
    harness_rmrf(dir);
}

/* A group on a virtual stream whose delivered events retention dropped:
 * XCLAIM does not take them (and drops them from the PEL, as Redis does for
 * deleted entries), XAUTOCLAIM reports them deleted, and the lag counts only
 * what is still there. */
static void vop(mn_op *op, int kind, const char *stream, const char *consumer)
{
    mn_op_init(op, kind);
    op->stream = stream;
    op->stream_len = strlen(stream);
    op->group = "g";
    op->group_len = 1;
    op->consumer = consumer;
    op->consumer_len = consumer ? strlen(consumer) : 0;
}

static int lag_cb(void *ud, const mn_group_info *g)
{
    *(int64_t *)ud = g->lag;
    return 0;
}

TEST(virtual_group_after_retention)
{
    char dir[512];
    mn_options o = small_opts();
    o.retention_bytes = 16 * 1024;
    mn_store *st = NULL;
    mn_op op;
    harness_tmpdir(dir, sizeof dir);
    ASSERT_OK(mn_open(dir, &o, &st));
    vop(&op, MN_OP_GROUP_CREATE, "$ce-s", NULL);
    op.id_set = 1;
    ASSERT_OK(mn_op_run(st, &op));
    append_n(st, "s-1", 100, 0);
    vop(&op, MN_OP_DELIVER, "$ce-s", "a");
    op.count = 2;
    ASSERT_OK(mn_op_run(st, &op));
    ASSERT_EQ(op.n, 2);
    mn_entry_id first = {(uint64_t)op.from_version, 0}, second = {(uint64_t)op.to_version, 0};
    append_n(st, "s-1", 100, 100); /* ~60 KiB in all: the first segments go */
    sleep(3);                      /* housekeeping runs every 2 s, after a batch */
    append_n(st, "s-1", 1, 200);
    mn_store_info si;
    mn_store_info_get(st, &si);
    ASSERT_GT_U64(si.first_position, first.ms);

    vop(&op, MN_OP_CLAIM, "$ce-s", "b");
    op.ids = &first;
    op.nids = 1;
    ASSERT_OK(mn_op_run(st, &op)); /* and, as Redis, drops it from the PEL */
    ASSERT_EQ(op.out_n, 0);
    mn_op_free(&op);
    vop(&op, MN_OP_AUTOCLAIM, "$ce-s", "b");
    ASSERT_OK(mn_op_run(st, &op));
    ASSERT_EQ(op.out_n, 0);
    ASSERT_EQ(op.deleted_n, 1);
    ASSERT_EQ_U64(op.deleted_ids[0].ms, second.ms);
    mn_op_free(&op);

    uint64_t left = 0;
    int64_t lag = -2;
    ASSERT_OK(mn_view_count(st, MN_VIEW_CATEGORY, "s", 1, &left));
    ASSERT_OK(mn_group_get(st, "$ce-s", 5, "g", 1, lag_cb, &lag));
    ASSERT_EQ(lag, (int64_t)left);
    vop(&op, MN_OP_DELIVER, "$ce-s", "a");
    ASSERT_OK(mn_op_run(st, &op));
    ASSERT_EQ_U64(op.n, left); /* the rest: what retention kept */
    ASSERT_GE_U64((uint64_t)op.from_version, si.first_position);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(retention_by_age)
{
    char dir[512];
    mn_options o = small_opts();
    o.retention_ms = 1000;
    mn_store *st = NULL;
    harness_tmpdir(dir, sizeof dir);
    ASSERT_OK(mn_open(dir, &o, &st));
    append_n(st, "old", 60, 0);
    sleep(3); /* older than 1 s, and a housekeeping pass due */
    append_n(st, "new", 1, 0);
    mn_store_info si;
    mn_store_info_get(st, &si);
    ASSERT_LE_U64(si.segments, 2); /* only the active one (and maybe the one before) */
    int64_t v[64];
    int n = read_versions(st, "new", v, 64);
    ASSERT_EQ(n, 1);
    mn_close(st);
    harness_rmrf(dir);
}

typedef struct waiter_arg {
    mn_store *st;
    uint64_t after;
    int rc;
    atomic_int done;
} waiter_arg;

static void *wait_thread(void *p)
{
    waiter_arg *w = p;
    w->rc = mn_wait(w->st, w->after, 5000);
    atomic_store(&w->done, 1);
    return NULL;
}

static atomic_ulong notified;

static void on_notify(void *ud, uint64_t end)
{
    (void)ud;
    atomic_store(&notified, end);
}

TEST(wait_and_notify)
{
    char dir[512];
    mn_options o = small_opts();
    mn_store *st = NULL;
    harness_tmpdir(dir, sizeof dir);
    ASSERT_OK(mn_open(dir, &o, &st));
    mn_set_notify(st, on_notify, NULL);
    mn_store_info si;
    mn_store_info_get(st, &si);

    /* nothing new: a zero timeout answers at once, a short one times out */
    ASSERT_EQ(mn_wait(st, si.end_position, 0), MN_ETIMEOUT);
    ASSERT_EQ(mn_wait(st, si.end_position, 50), MN_ETIMEOUT);
    /* something already there: no wait */
    append_n(st, "w", 1, 0);
    ASSERT_OK(mn_wait(st, si.end_position, 0));
    ASSERT_GT_U64(atomic_load(&notified), si.end_position);

    /* a blocked waiter wakes when another thread appends */
    mn_store_info_get(st, &si);
    waiter_arg w = {st, si.end_position, -1, 0};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, wait_thread, &w), 0);
    usleep(100 * 1000);
    ASSERT_EQ(atomic_load(&w.done), 0);
    append_n(st, "w", 1, 1);
    pthread_join(t, NULL);
    ASSERT_EQ(w.rc, MN_OK);
    mn_store_info after;
    mn_store_info_get(st, &after);
    ASSERT_EQ_U64(atomic_load(&notified), after.end_position);
    mn_set_notify(st, NULL, NULL);
    mn_close(st);
    harness_rmrf(dir);
}

/* Completions of held async appends, in the order they ran. */
typedef struct held_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int order[8];
    int rc[8];
    int64_t version[8];
} held_log;

typedef struct held_arg {
    held_log *log;
    int tag;
} held_arg;

static void held_done(void *ud, const mn_append_result *res)
{
    held_arg *a = ud;
    pthread_mutex_lock(&a->log->mu);
    int i = a->log->n++;
    a->log->order[i] = a->tag;
    a->log->rc[i] = res->rc;
    a->log->version[i] = res->rc == MN_OK ? res->parts[0].version : -9;
    pthread_cond_broadcast(&a->log->cv);
    pthread_mutex_unlock(&a->log->mu);
}

static void held_append(mn_store *st, held_arg *a)
{
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = "Held";
    e.type_len = 4;
    e.data = "{}";
    e.data_len = 2;
    mn_append_part p;
    memset(&p, 0, sizeof p);
    p.stream = "h";
    p.stream_len = 1;
    p.expected = MN_EXPECT_ANY;
    p.events = &e;
    p.count = 1;
    ASSERT_OK(mn_append_async(st, &p, 1, held_done, a));
}

static int held_count(held_log *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void held_wait(held_log *l, int n)
{
    pthread_mutex_lock(&l->mu);
    while (l->n < n) pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

TEST(submit_hold_and_flush)
{
    char dir[512];
    mn_options o = small_opts();
    mn_store *st = NULL;
    held_log log = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {0}, {0}};
    held_arg a[6];
    for (int i = 0; i < 6; i++) a[i] = (held_arg){&log, i};
    harness_tmpdir(dir, sizeof dir);
    ASSERT_OK(mn_open(dir, &o, &st));

    /* held: nothing reaches the writer, nothing is readable */
    mn_submit_hold(st);
    held_append(st, &a[0]);
    held_append(st, &a[1]);
    usleep(50 * 1000);
    ASSERT_EQ(held_count(&log), 0);
    mn_stream_info si;
    ASSERT_EQ(mn_stream_info_get(st, "h", 1, &si), MN_ENOTFOUND);

    /* a synchronous append flushes the held ones first: order is kept */
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = "Sync";
    e.type_len = 4;
    int64_t v = -1;
    ASSERT_OK(mn_append_one(st, "h", 1, MN_EXPECT_ANY, &e, 1, &v, NULL));
    ASSERT_EQ(v, 2);
    held_wait(&log, 2);
    ASSERT_EQ(log.order[0], 0);
    ASSERT_EQ(log.order[1], 1);
    ASSERT_EQ(log.version[0], 0);
    ASSERT_EQ(log.version[1], 1);

    /* hold, submit, flush: all complete, in order */
    mn_submit_hold(st);
    held_append(st, &a[2]);
    held_append(st, &a[3]);
    usleep(20 * 1000);
    ASSERT_EQ(held_count(&log), 2);
    mn_submit_flush(st);
    held_wait(&log, 4);
    ASSERT_EQ(log.order[2], 2);
    ASSERT_EQ(log.order[3], 3);
    ASSERT_EQ(log.version[3], 4);

    /* a flush of nothing, or of another store, is harmless */
    mn_submit_flush(st);
    mn_submit_flush(NULL);

    /* closing with held requests: they are written, not lost */
    mn_submit_hold(st);
    held_append(st, &a[4]);
    mn_close(st);
    ASSERT_EQ(held_count(&log), 5);
    ASSERT_EQ(log.rc[4], MN_OK);
    ASSERT_OK(mn_open(dir, &o, &st));
    ASSERT_OK(mn_stream_info_get(st, "h", 1, &si));
    ASSERT_EQ(si.version, 5);
    mn_close(st);
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(retention_by_size);
    RUN(retention_by_age);
    RUN(virtual_group_after_retention);
    RUN(wait_and_notify);
    RUN(submit_hold_and_flush);
    return harness_summary();
}
