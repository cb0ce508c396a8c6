/*
 * test_queue.c — queue policies through the public API (MN_OP_QUEUE_POLICY,
 * MN_OP_DELIVER under a policy, MN_OP_QUEUE_REPLAY, mn_queue_policy_get,
 * mn_queue_next_due): set / partial update / clear / refusals; redelivery
 * before new entries with out_ids, entries deleted since dropped from the
 * PEL; the dead letter's exact fields; and the
 * atomicity of a dead-lettering — a failed write changes nothing, a log torn
 * inside its record group recovers to "still pending, no dead letter", and
 * the whole thing is identical after close/reopen and after mn_reindex.
 */
#include <errno.h>

#include "harness.h"
#define STORE_HELPERS_STREAMS
#include "store_helpers.h"
#include "storage/io.h"

static int set_policy(mn_store *st, const char *stream, const char *group, int64_t vis,
                      int64_t maxd, const char *dl)
{
    mn_op op;
    mn_op_init(&op, MN_OP_QUEUE_POLICY);
    op.group = group;
    op.group_len = strlen(group);
    op.visibility_ms = vis;
    op.maxdeliver = maxd;
    if (dl) {
        op.deadletter = dl;
        op.deadletter_len = strlen(dl);
        op.deadletter_set = 1;
    }
    return run_op(st, &op, stream);
}

static mn_queue_policy get_policy(mn_store *st, const char *stream, const char *group)
{
    mn_queue_policy p;
    ASSERT_OK(mn_queue_policy_get(st, stream, strlen(stream), group, strlen(group), &p));
    return p;
}

static void group0(mn_store *st, const char *stream, const char *group)
{
    mn_op op;
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.group = group;
    op.group_len = strlen(group);
    op.id_set = 1;
    ASSERT_OK(run_op(st, &op, stream));
}

/* A DELIVER; *again gets the redelivered ids (caller frees), n the new. */
typedef struct got {
    uint64_t n;               /* new entries */
    size_t nagain;            /* redelivered */
    mn_entry_id again[16];
    size_t ndead;
} got;

static got deliver(mn_store *st, const char *stream, const char *group, const char *consumer,
                   uint64_t count)
{
    mn_op op;
    got g;
    memset(&g, 0, sizeof g);
    mn_op_init(&op, MN_OP_DELIVER);
    op.group = group;
    op.group_len = strlen(group);
    op.consumer = consumer;
    op.consumer_len = strlen(consumer);
    op.count = count;
    ASSERT_OK(run_op(st, &op, stream));
    g.n = op.n;
    g.nagain = op.out_n;
    ASSERT_LE(g.nagain, 16);
    if (g.nagain) memcpy(g.again, op.out_ids, g.nagain * sizeof *g.again);
    g.ndead = op.deleted_n;
    mn_op_free(&op);
    return g;
}

static int pe_copy(void *ud, const mn_pending_entry *p)
{
    mn_pending_entry *o = ud;
    *o = *p;
    o->consumer = NULL; /* borrowed: not kept */
    return 0;
}

/* 1 and *out if id is pending, else 0. */
static uint64_t pending_of(mn_store *st, const char *stream, const char *group, mn_entry_id id,
                           mn_pending_entry *out)
{
    mn_pending_entry p;
    memset(&p, 0, sizeof p);
    ASSERT_OK(mn_list_pending(st, stream, strlen(stream), group, strlen(group), id, id, 1, NULL, 0,
                              0, pe_copy, &p));
    if (out) *out = p;
    return p.deliveries != 0;
}

/* The fields of the stream's only entry, "f=v;f=v;". */
static void entry_fields(mn_store *st, const char *stream, char *out, size_t cap)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    size_t off = 0, w = 0;
    const void *f, *v;
    size_t fl, vl;
    ASSERT_OK(mn_read_stream(st, stream, strlen(stream), 0, 0, 0, &it));
    ASSERT_EQ(mn_iter_next(it, &ev), 1);
    ASSERT(ev.flags & MN_EVENT_FIELDS);
    while (mn_fields_next(ev.data, ev.data_len, &off, &f, &fl, &v, &vl) == 1)
        w += (size_t)snprintf(out + w, cap - w, "%.*s=%.*s;", (int)fl, (const char *)f, (int)vl,
                              (const char *)v);
    ASSERT_EQ(mn_iter_next(it, &ev), 0);
    mn_iter_free(it);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

TEST(policy_set_show_clear)
{
    char dir[512];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd(st, "q", 1, 0);
    group0(st, "q", "g");
    mn_queue_policy p = get_policy(st, "q", "g");
    ASSERT_EQ_U64(p.visibility_ms, 0);
    ASSERT_EQ_U64(p.maxdeliver, 0);
    ASSERT_EQ(p.deadletter_len, 0);
    ASSERT_OK(set_policy(st, "q", "g", 500, -1, NULL));
    ASSERT_OK(set_policy(st, "q", "g", -1, 3, "q-dl"));
    p = get_policy(st, "q", "g");
    ASSERT_EQ_U64(p.visibility_ms, 500);
    ASSERT_EQ_U64(p.maxdeliver, 3);
    ASSERT_MEM_EQ(p.deadletter, "q-dl", 4);
    ASSERT_EQ(p.deadletter_len, 4);
    /* refusals change nothing */
    ASSERT_ERR(set_policy(st, "q", "nope", 1, -1, NULL), MN_ENOGROUP);
    ASSERT_ERR(set_policy(st, "nope", "g", 1, -1, NULL), MN_ENOGROUP);
    ASSERT_ERR(set_policy(st, "q", "g", -1, -1, ""), MN_EINVAL);        /* MAXDELIVER needs it */
    ASSERT_ERR(set_policy(st, "q", "g", -1, -1, "$all"), MN_EINVAL);
    ASSERT_ERR(set_policy(st, "q", "g", -1, -1, "q"), MN_EINVAL);
    p = get_policy(st, "q", "g");
    ASSERT_EQ_U64(p.visibility_ms, 500);
    ASSERT_EQ_U64(p.maxdeliver, 3);
    ASSERT_OK(set_policy(st, "q", "g", 0, 0, ""));
    p = get_policy(st, "q", "g");
    ASSERT_EQ_U64(p.visibility_ms + p.maxdeliver + p.deadletter_len, 0);
    ASSERT_ERR(mn_queue_policy_get(st, "q", 1, "x", 1, &p), MN_ENOGROUP);
    ASSERT_ERR(mn_queue_policy_get(st, "zz", 2, "g", 1, &p), MN_ENOTFOUND);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(redelivery_then_dead_letter)
{
    char dir[512], fields[512];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd(st, "q", 1, 0);
    xadd(st, "q", 2, 0);
    group0(st, "q", "g");
    ASSERT_OK(set_policy(st, "q", "g", 40, 2, "dl"));
    uint64_t due = 0;
    ASSERT_OK(mn_queue_next_due(st, "q", 1, "g", 1, &due));
    ASSERT_EQ_U64(due, 0); /* nothing pending */
    got g = deliver(st, "q", "g", "alice", 1);
    ASSERT_EQ_U64(g.n, 1);
    ASSERT_EQ(g.nagain, 0);
    ASSERT_OK(mn_queue_next_due(st, "q", 1, "g", 1, &due));
    ASSERT_GT_U64(due, now_ms());
    sleep_ms(60);
    ASSERT_OK(mn_queue_next_due(st, "q", 1, "g", 1, &due));
    ASSERT_LE_U64(due, now_ms());
    /* 1-0 again (first, counts against COUNT 2), then the new 2-0 */
    g = deliver(st, "q", "g", "bob", 2);
    ASSERT_EQ(g.nagain, 1);
    ASSERT_ID(g.again[0], 1, 0);
    ASSERT_EQ_U64(g.n, 1);
    mn_pending_entry pe;
    ASSERT_EQ_U64(pending_of(st, "q", "g", EID(1, 0), &pe), 1);
    ASSERT_EQ_U64(pe.deliveries, 2);
    sleep_ms(60);
    /* 1-0 has had 2 deliveries: dead letter; 2-0 (1 delivery) again */
    g = deliver(st, "q", "g", "carol", 0);
    ASSERT_EQ(g.ndead, 1);
    ASSERT_EQ(g.nagain, 1);
    ASSERT_ID(g.again[0], 2, 0);
    ASSERT_EQ_U64(pending_of(st, "q", "g", EID(1, 0), NULL), 0);
    entry_fields(st, "dl", fields, sizeof fields);
    ASSERT_STR_EQ(fields, "dlq-source=q;dlq-id=1-0;dlq-group=g;dlq-deliveries=2;"
                          "dlq-consumer=bob;dlq-reason=maxdeliver;f=v;");
    /* the same after close/reopen and after a rebuild from the log */
    mn_close(st);
    ASSERT_OK(mn_reindex(dir, NULL, NULL));
    st = open_dir(dir);
    entry_fields(st, "dl", fields, sizeof fields);
    ASSERT_STR_EQ(fields, "dlq-source=q;dlq-id=1-0;dlq-group=g;dlq-deliveries=2;"
                          "dlq-consumer=bob;dlq-reason=maxdeliver;f=v;");
    ASSERT_EQ_U64(pending_of(st, "q", "g", EID(1, 0), NULL), 0);
    ASSERT_EQ_U64(get_policy(st, "q", "g").maxdeliver, 2);
    /* replay: back on q as a new entry, gone from dl */
    mn_op op;
    mn_op_init(&op, MN_OP_QUEUE_REPLAY);
    ASSERT_OK(run_op(st, &op, "dl"));
    ASSERT_EQ_U64(op.n, 1);
    ASSERT_EQ_U64(info(st, "dl").length, 0);
    ASSERT_EQ_U64(info(st, "q").length, 3);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(redelivery_drops_deleted_entries)
{
    char dir[512];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "q", 1, 5);
    group0(st, "q", "g");
    ASSERT_OK(set_policy(st, "q", "g", 20, -1, NULL));
    ASSERT_EQ_U64(deliver(st, "q", "g", "alice", 0).n, 5);
    mn_entry_id two = EID(2, 0);
    ASSERT_EQ_U64(xdel(st, "q", &two, 1), 1);
    ASSERT_EQ_U64(trim(st, "q", MN_TRIM_MINID, 0, EID(4, 0), 0), 2); /* 1-0, 3-0 */
    sleep_ms(40);
    got g = deliver(st, "q", "g", "bob", 0);
    ASSERT_EQ(g.nagain, 2);
    ASSERT_ID(g.again[0], 4, 0);
    ASSERT_ID(g.again[1], 5, 0);
    ASSERT_EQ_U64(g.n, 0);
    ASSERT_EQ_U64(pending_of(st, "q", "g", EID(1, 0), NULL), 0);
    ASSERT_EQ_U64(pending_of(st, "q", "g", EID(2, 0), NULL), 0);
    /* group state, PEL and policy identical after reopen and after a rebuild */
    const char *const streams[] = {"q"};
    expect_persists(dir, &st, streams, 1);
    ASSERT_EQ_U64(get_policy(st, "q", "g").visibility_ms, 20);
    mn_close(st);
    harness_rmrf(dir);
}

/* Sets up q with 1-0 pending (1 delivery, due), dl with policy MAXDELIVER 1. */
static mn_store *due_for_dead_letter(char *dir, size_t cap)
{
    mn_store *st = open_fresh(dir, cap);
    xadd(st, "q", 1, 0);
    group0(st, "q", "g");
    ASSERT_OK(set_policy(st, "q", "g", 20, 1, "dl"));
    ASSERT_EQ_U64(deliver(st, "q", "g", "alice", 0).n, 1);
    sleep_ms(40);
    return st;
}

static void expect_not_dead_lettered(mn_store *st, const char *what)
{
    mn_stream_info si;
    int rc = mn_stream_info_get(st, "dl", 2, &si);
    if (rc != MN_ENOTFOUND) FAIL("%s: dl exists (rc %d)", what, rc);
    mn_pending_entry pe;
    if (pending_of(st, "q", "g", EID(1, 0), &pe) != 1 || pe.deliveries != 1)
        FAIL("%s: 1-0 is not pending with 1 delivery", what);
}

TEST(dead_letter_write_failure_changes_nothing)
{
    char dir[512];
    mn_store *st = due_for_dead_letter(dir, sizeof dir);
    mn_op op;
    mn_op_init(&op, MN_OP_DELIVER);
    op.group = "g";
    op.group_len = 1;
    op.consumer = "bob";
    op.consumer_len = 3;
    io_fault_set(IO_FAULT_WRITE, 0, ENOSPC, 1);
    ASSERT_ERR(run_op(st, &op, "q"), MN_ENOSPC);
    io_fault_clear();
    expect_not_dead_lettered(st, "after ENOSPC");
    got g = deliver(st, "q", "g", "bob", 0);
    ASSERT_EQ(g.ndead, 1);
    ASSERT_EQ_U64(info(st, "dl").length, 1);
    mn_close(st);
    harness_rmrf(dir);
}

/* The path of the store's only segment. */
static void only_segment(const char *dir, char *out, size_t cap)
{
    char logdir[600];
    PATHF(logdir, "%s/log", dir);
    DIR *d = opendir(logdir);
    ASSERT(d != NULL);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (snprintf(out, cap, "%s/%s", logdir, e->d_name) >= (int)cap) FAIL("path too long");
        n++;
    }
    closedir(d);
    ASSERT_EQ(n, 1);
}

TEST(torn_dead_letter_group_recovers_to_pending)
{
    char dir[512], seg[800], ix[600];
    mn_store *st = due_for_dead_letter(dir, sizeof dir);
    mn_store_info si;
    mn_store_info_get(st, &si);
    uint64_t before = si.end_position;
    got g = deliver(st, "q", "g", "bob", 0);
    ASSERT_EQ(g.ndead, 1);
    mn_store_info_get(st, &si);
    uint64_t after = si.end_position;
    ASSERT_GT_U64(after, before);
    mn_close(st);
    only_segment(dir, seg, sizeof seg);
    size_t len;
    uint8_t *full = slurp(seg, &len);
    /* cut inside the group at several places: it is all or nothing (the
     * first segment's base is position 0) */
    ASSERT_GE_U64(len, after);
    uint64_t base = 0;
    for (uint64_t cut = before + 8; cut < after; cut += (after - before) / 5) {
        spit(seg, full, (size_t)(cut - base));
        PATHF(ix, "%s/index", dir);
        ASSERT_EQ(harness_rmrf(ix), 0);
        st = open_dir(dir);
        expect_not_dead_lettered(st, "torn group");
        mn_close(st);
    }
    free(full);
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(policy_set_show_clear);
    RUN(redelivery_then_dead_letter);
    RUN(redelivery_drops_deleted_entries);
    RUN(dead_letter_write_failure_changes_nothing);
    RUN(torn_dead_letter_group_recovers_to_pending);
    return harness_summary();
}
