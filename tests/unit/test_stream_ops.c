/*
 * test_stream_ops.c — the Redis-stream side of the engine, through the public
 * API: field lists (MN_EVENT_FIELDS), entry id rules, entry-id range reads,
 * and the stream operations MN_OP_STREAM_CREATE, MN_OP_ENTRIES_DELETE
 * (XDEL), MN_OP_TRIM (XTRIM MAXLEN / MINID, with and without LIMIT),
 * MN_OP_SETID (XSETID), and soft / tombstone deletion of streams.
 *
 * Every state change is a log record applied to the index, so everything
 * observable must be identical live, after close/reopen, and after
 * mn_reindex: persist_everything checks that on a store that used all of
 * the operations above.
 */
#include "harness.h"
#define STORE_HELPERS_STREAMS
#include "store_helpers.h"

/* ------------------------------------------------------------------------ */
/* Field lists                                                                */
/* ------------------------------------------------------------------------ */

TEST(fields_roundtrip)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);

    /* binary values (NULs, 0xff), an empty field, an empty value, duplicates */
    const uint8_t bin[] = {0x00, 0xff, 0x00, 0x7f, 0x80, 0x0a};
    const void *ptrs[10] = {"name", "alice", "blob", bin, "", "empty-field",
                            "nothing", "", "name", "bob"};
    size_t lens[10] = {4, 5, 4, sizeof bin, 0, 11, 7, 0, 4, 3};
    size_t sz = mn_fields_size(5, lens);
    ASSERT_EQ(sz, 4 + 10 * 4 + 4 + 5 + 4 + sizeof bin + 0 + 11 + 7 + 0 + 4 + 3);
    uint8_t *buf = malloc(sz);
    ASSERT(buf != NULL);
    mn_fields_encode(buf, 5, ptrs, lens);
    ASSERT_EQ(mn_fields_count(buf, sz), 5);

    /* walk it */
    size_t off = 0, fl, vl;
    const void *f, *v;
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(mn_fields_next(buf, sz, &off, &f, &fl, &v, &vl), 1);
        ASSERT_EQ(fl, lens[2 * i]);
        ASSERT_EQ(vl, lens[2 * i + 1]);
        ASSERT_MEM_EQ(f, ptrs[2 * i], fl);
        ASSERT_MEM_EQ(v, ptrs[2 * i + 1], vl);
    }
    ASSERT_EQ(mn_fields_next(buf, sz, &off, &f, &fl, &v, &vl), 0);
    ASSERT_EQ(off, sz);

    /* damage: truncated, count disagreeing, too short for the count */
    ASSERT_EQ(mn_fields_count(buf, sz - 1), -1);
    ASSERT_EQ(mn_fields_count(buf, 3), -1);
    off = 0;
    ASSERT_EQ(mn_fields_next(buf, 2, &off, &f, &fl, &v, &vl), -1);
    uint8_t *bad = malloc(sz);
    memcpy(bad, buf, sz);
    bad[0] = 6; /* claims 6 pairs, has 5 */
    ASSERT_EQ(mn_fields_count(bad, sz), -1);
    memcpy(bad, buf, sz);
    bad[4] = 200; /* first field's length runs past the end */
    ASSERT_EQ(mn_fields_count(bad, sz), -1);
    free(bad);

    /* zero pairs */
    uint8_t zero[4];
    mn_fields_encode(zero, 0, NULL, NULL);
    ASSERT_EQ(mn_fields_size(0, NULL), 4);
    ASSERT_EQ(mn_fields_count(zero, 4), 0);

    /* appended with MN_EVENT_FIELDS, read back identically */
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = "xadd";
    e.type_len = 4;
    e.data = buf;
    e.data_len = sz;
    e.flags = MN_EVENT_FIELDS;
    mn_event plain;
    memset(&plain, 0, sizeof plain);
    plain.type = "t";
    plain.type_len = 1;
    plain.data = "{}";
    plain.data_len = 2;
    mn_event both[2] = {e, plain};
    ASSERT_OK(mn_append_one(st, "f", 1, MN_EXPECT_NOSTREAM, both, 2, NULL, NULL));

    for (int pass = 0; pass < 2; pass++) {
        mn_iter *it = NULL;
        mn_event_view ev;
        if (pass == 0) ASSERT_OK(mn_read_stream(st, "f", 1, 0, 0, 0, &it));
        else ASSERT_OK(mn_read_stream_range(st, "f", 1, ALL_IDS, 0, 0, &it));
        ASSERT_EQ(mn_iter_next(it, &ev), 1);
        ASSERT_EQ(ev.flags & MN_EVENT_FIELDS, MN_EVENT_FIELDS);
        ASSERT_EQ(ev.data_len, sz);
        ASSERT_MEM_EQ(ev.data, buf, sz);
        ASSERT_EQ(mn_fields_count(ev.data, ev.data_len), 5);
        off = 0;
        ASSERT_EQ(mn_fields_next(ev.data, ev.data_len, &off, &f, &fl, &v, &vl), 1);
        ASSERT_EQ(mn_fields_next(ev.data, ev.data_len, &off, &f, &fl, &v, &vl), 1);
        ASSERT_EQ(vl, sizeof bin);
        ASSERT_MEM_EQ(v, bin, sizeof bin);
        ASSERT_EQ(mn_iter_next(it, &ev), 1);
        ASSERT_EQ(ev.flags & MN_EVENT_FIELDS, 0);
        ASSERT_EQ(mn_iter_next(it, &ev), 0);
        mn_iter_free(it);
        if (pass == 0) {
            /* the same after reopen */
            mn_close(st);
            st = open_dir(dir);
        }
    }
    free(buf);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Entry ids                                                                  */
/* ------------------------------------------------------------------------ */

TEST(entry_id_auto_monotonic)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    uint64_t t0 = now_ms();
    mn_entry_id prev = {0, 0}, id;
    /* one event per append, and batches of several in one append */
    for (int i = 0; i < 40; i++) {
        ASSERT_OK(xadd_rc(st, "a", MN_ID_AUTO, EID(0, 0), &id));
        ASSERT(id_cmp(id, prev) > 0);
        ASSERT_GE(id.ms, t0);
        prev = id;
    }
    mn_event evs[5];
    for (int i = 0; i < 5; i++) evs[i] = fev("x", MN_ID_AUTO, EID(0, 0));
    ASSERT_OK(mn_append_one(st, "a", 1, MN_EXPECT_ANY, evs, 5, NULL, NULL));
    mn_entry_id all[64];
    size_t n = range_ids(st, "a", ALL_IDS, 0, 0, all, 64);
    ASSERT_EQ(n, 45);
    for (size_t i = 1; i < n; i++) ASSERT(id_cmp(all[i], all[i - 1]) > 0);
    mn_stream_info in = info(st, "a");
    ASSERT_ID(in.last_id, all[44].ms, all[44].seq);
    ASSERT_ID(in.first_id, all[0].ms, all[0].seq);
    ASSERT_EQ(in.entries_added, 45);

    /* an explicit id in the future: AUTO then stays on its ms, seq + 1 */
    uint64_t future = now_ms() + 100000000ull;
    xadd(st, "a", future, 7);
    ASSERT_OK(xadd_rc(st, "a", MN_ID_AUTO, EID(0, 0), &id));
    ASSERT_ID(id, future, 8);
    ASSERT_OK(xadd_rc(st, "a", MN_ID_AUTO, EID(0, 0), &id));
    ASSERT_ID(id, future, 9);
    /* seq exhausted: AUTO goes to the next ms */
    xadd(st, "a", future, UINT64_MAX);
    ASSERT_OK(xadd_rc(st, "a", MN_ID_AUTO, EID(0, 0), &id));
    ASSERT_ID(id, future + 1, 0);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(entry_id_explicit_and_auto_seq)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    mn_entry_id id;
    /* 0-0 is never valid */
    ASSERT_ERR(xadd_rc(st, "e", MN_ID_EXPLICIT, EID(0, 0), &id), MN_EIDORDER);
    ASSERT_ERR(mn_stream_info_get(st, "e", 1, &(mn_stream_info){0}), MN_ENOTFOUND);
    xadd(st, "e", 5, 1);
    ASSERT_ERR(xadd_rc(st, "e", MN_ID_EXPLICIT, EID(5, 1), &id), MN_EIDORDER); /* equal */
    ASSERT_ERR(xadd_rc(st, "e", MN_ID_EXPLICIT, EID(5, 0), &id), MN_EIDORDER);
    ASSERT_ERR(xadd_rc(st, "e", MN_ID_EXPLICIT, EID(4, 9), &id), MN_EIDORDER);
    xadd(st, "e", 5, 2);
    xadd(st, "e", 6, 0);

    /* AUTO_SEQ: the same ms as the top continues its seq; a larger one starts at 0 */
    ASSERT_OK(xadd_rc(st, "e", MN_ID_AUTO_SEQ, EID(6, 0), &id));
    ASSERT_ID(id, 6, 1);
    ASSERT_OK(xadd_rc(st, "e", MN_ID_AUTO_SEQ, EID(9, 0), &id));
    ASSERT_ID(id, 9, 0);
    ASSERT_ERR(xadd_rc(st, "e", MN_ID_AUTO_SEQ, EID(8, 0), &id), MN_EIDORDER);
    /* ms-* with ms 0 on a new stream: 0-1 */
    ASSERT_OK(xadd_rc(st, "z", MN_ID_AUTO_SEQ, EID(0, 0), &id));
    ASSERT_ID(id, 0, 1);

    /* within one append, ids must increase too; a failing append writes nothing */
    mn_event evs[3] = {fev("a", MN_ID_EXPLICIT, EID(10, 0)), fev("b", MN_ID_EXPLICIT, EID(12, 0)),
                       fev("c", MN_ID_EXPLICIT, EID(11, 0))};
    ASSERT_ERR(mn_append_one(st, "e", 1, MN_EXPECT_ANY, evs, 3, NULL, NULL), MN_EIDORDER);
    mn_stream_info in = info(st, "e");
    ASSERT_EQ(in.length, 5);
    ASSERT_EQ(in.version, 4);
    ASSERT_ID(in.last_id, 9, 0);
    /* a multi-part append where one part's id is bad writes no part */
    mn_event good = fev("g", MN_ID_EXPLICIT, EID(100, 0)), badid = fev("b", MN_ID_EXPLICIT, EID(1, 0));
    mn_append_part parts[2];
    memset(parts, 0, sizeof parts);
    parts[0].stream = "other";
    parts[0].stream_len = 5;
    parts[0].expected = MN_EXPECT_ANY;
    parts[0].events = &good;
    parts[0].count = 1;
    parts[1].stream = "e";
    parts[1].stream_len = 1;
    parts[1].expected = MN_EXPECT_ANY;
    parts[1].events = &badid;
    parts[1].count = 1;
    ASSERT_ERR(mn_append(st, parts, 2, NULL), MN_EIDORDER);
    ASSERT_ERR(mn_stream_info_get(st, "other", 5, &in), MN_ENOTFOUND);

    /* mixed modes in one append */
    mn_event mixed[3] = {fev("a", MN_ID_EXPLICIT, EID(20, 5)), fev("b", MN_ID_AUTO_SEQ, EID(20, 0)),
                         fev("c", MN_ID_AUTO_SEQ, EID(21, 0))};
    mn_append_part p;
    memset(&p, 0, sizeof p);
    p.stream = "e";
    p.stream_len = 1;
    p.expected = 4;
    p.events = mixed;
    p.count = 3;
    ASSERT_OK(mn_append(st, &p, 1, NULL));
    ASSERT_EQ(p.version, 7);
    ASSERT_ID(p.last_id, 21, 0);
    mn_entry_id all[16];
    size_t n = range_ids(st, "e", ALL_IDS, 0, 0, all, 16);
    ASSERT_EQ(n, 8);
    ASSERT_ID(all[5], 20, 5);
    ASSERT_ID(all[6], 20, 6);
    ASSERT_ID(all[7], 21, 0);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Range reads                                                                */
/* ------------------------------------------------------------------------ */

TEST(range_reads)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "r", 1, 10);

    expect_range_ms(st, "r", ALL_IDS, 0, 0, MS(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), "all forward");
    expect_range_ms(st, "r", ALL_IDS, 0, 1, MS(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), "all backward");
    expect_range_ms(st, "r", EID(3, 0), EID(7, 0), 0, 0, MS(3, 4, 5, 6, 7), "[3,7]");
    expect_range_ms(st, "r", EID(3, 0), EID(7, 0), 0, 1, MS(7, 6, 5, 4, 3), "[3,7] back");
    expect_range_ms(st, "r", EID(3, 0), EID(7, 0), 2, 0, MS(3, 4), "[3,7] count 2");
    expect_range_ms(st, "r", EID(3, 0), EID(7, 0), 2, 1, MS(7, 6), "[3,7] back count 2");
    /* bounds between ids */
    expect_range_ms(st, "r", EID(2, 5), EID(6, 5), 0, 0, MS(3, 4, 5, 6), "(2-5,6-5)");
    expect_range_ms(st, "r", EID(2, 5), EID(6, 5), 0, 1, MS(6, 5, 4, 3), "(2-5,6-5) back");
    expect_range_ms(st, "r", EID(7, 0), EID(7, 0), 0, 0, MS(7), "[7,7]");
    expect_range_ms(st, "r", EID(7, 0), EID(7, 0), 0, 1, MS(7), "[7,7] back");
    expect_range_ms(st, "r", EID(7, 1), EID(7, 9), 0, 0, NONE, "(7-1,7-9)");
    expect_range_ms(st, "r", EID(7, 1), EID(7, 9), 0, 1, NONE, "(7-1,7-9) back");
    expect_range_ms(st, "r", EID(8, 0), EID(3, 0), 0, 0, NONE, "start > end");
    expect_range_ms(st, "r", EID(8, 0), EID(3, 0), 0, 1, NONE, "start > end back");
    expect_range_ms(st, "r", EID(11, 0), EID(UINT64_MAX, UINT64_MAX), 0, 0, NONE, "past the end");
    expect_range_ms(st, "r", EID(0, 0), EID(0, 5), 0, 1, NONE, "before the start back");
    expect_range_ms(st, "r", EID(9, 0), EID(UINT64_MAX, UINT64_MAX), 0, 1, MS(10, 9), "[9,max] back");
    expect_range_ms(st, "r", EID(0, 0), EID(1, 0), 0, 1, MS(1), "[0,1] back");

    /* after deletions (XDEL in the middle and at both ends, a front trim) */
    mn_entry_id del[] = {EID(4, 0), EID(7, 0), EID(10, 0)};
    ASSERT_EQ(xdel(st, "r", del, 3), 3);
    ASSERT_EQ(trim(st, "r", MN_TRIM_MAXLEN, 5, EID(0, 0), 0), 2); /* 1, 2 */
    expect_range_ms(st, "r", ALL_IDS, 0, 0, MS(3, 5, 6, 8, 9), "after dels");
    expect_range_ms(st, "r", ALL_IDS, 0, 1, MS(9, 8, 6, 5, 3), "after dels back");
    expect_range_ms(st, "r", EID(4, 0), EID(7, 0), 0, 0, MS(5, 6), "[4,7] after dels");
    expect_range_ms(st, "r", EID(4, 0), EID(7, 0), 0, 1, MS(6, 5), "[4,7] back after dels");
    expect_range_ms(st, "r", EID(7, 0), EID(7, 0), 0, 0, NONE, "[7,7] after dels");
    expect_range_ms(st, "r", EID(7, 0), EID(7, 0), 0, 1, NONE, "[7,7] back after dels");
    expect_range_ms(st, "r", EID(1, 0), EID(4, 0), 0, 1, MS(3), "[1,4] back after dels");
    expect_range_ms(st, "r", EID(1, 0), EID(2, 9), 0, 1, NONE, "[1,2-9] back (trimmed)");
    expect_range_ms(st, "r", EID(1, 0), EID(2, 9), 0, 0, NONE, "[1,2-9] (trimmed)");
    expect_range_ms(st, "r", EID(9, 0), EID(10, 0), 0, 1, MS(9), "[9,10] back after dels");
    expect_range_ms(st, "r", EID(10, 0), EID(20, 0), 0, 0, NONE, "[10,20] after dels");
    expect_range_ms(st, "r", EID(5, 0), EID(20, 0), 3, 0, MS(5, 6, 8), "[5,20] count 3");
    expect_range_ms(st, "r", EID(0, 0), EID(8, 0), 3, 1, MS(8, 6, 5), "[0,8] back count 3");
    /* mn_read_entry */
    mn_iter *it = NULL;
    mn_event_view v;
    ASSERT_OK(mn_read_entry(st, "r", 1, EID(5, 0), &it));
    ASSERT_EQ(mn_iter_next(it, &v), 1);
    ASSERT_ID(v.entry_id, 5, 0);
    ASSERT_EQ(mn_iter_next(it, &v), 0);
    mn_iter_free(it);
    ASSERT_OK(mn_read_entry(st, "r", 1, EID(7, 0), &it));
    ASSERT_EQ(mn_iter_next(it, &v), 0);
    mn_iter_free(it);
    ASSERT_ERR(mn_read_entry(st, "nope", 4, EID(7, 0), &it), MN_ENOTFOUND);
    /* version reads see the same holes */
    ASSERT_OK(mn_read_stream(st, "r", 1, 0, 0, 0, &it));
    int64_t want_v[] = {2, 4, 5, 7, 8};
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(mn_iter_next(it, &v), 1);
        ASSERT_EQ(v.version, want_v[i]);
    }
    ASSERT_EQ(mn_iter_next(it, &v), 0);
    mn_iter_free(it);
    /* a missing stream */
    ASSERT_ERR(mn_read_stream_range(st, "nope", 4, ALL_IDS, 0, 0, &it), MN_ENOTFOUND);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* MN_OP_STREAM_CREATE                                                        */
/* ------------------------------------------------------------------------ */

static int count_stream_cb(void *ud, const char *name, size_t len)
{
    (void)name;
    (void)len;
    (*(int *)ud)++;
    return 0;
}

TEST(stream_create)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    mn_op op;
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "empty"));
    ASSERT_EQ(op.n, 1);
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "empty"));
    ASSERT_EQ(op.n, 0);

    mn_stream_info in = info(st, "empty");
    ASSERT_EQ(in.version, MN_NO_VERSION);
    ASSERT_EQ(in.length, 0);
    ASSERT_EQ(in.first_version, -1);
    ASSERT_EQ(in.entries_added, 0);
    ASSERT_EQ(in.deleted, 0);
    ASSERT_EQ(in.groups, 0);
    ASSERT_ID(in.last_id, 0, 0);
    ASSERT_ID(in.max_deleted_id, 0, 0);
    ASSERT_GT(in.created_us, 0);
    int nstreams = 0;
    mn_list_streams(st, NULL, 0, count_stream_cb, &nstreams);
    ASSERT_EQ(nstreams, 1);
    mn_store_info si;
    mn_store_info_get(st, &si);
    ASSERT_EQ(si.streams, 1);

    mn_iter *it = NULL;
    mn_event_view v;
    ASSERT_OK(mn_read_stream(st, "empty", 5, 0, 0, 0, &it));
    ASSERT_EQ(mn_iter_next(it, &v), 0);
    mn_iter_free(it);
    ASSERT_OK(mn_read_stream_range(st, "empty", 5, ALL_IDS, 0, 1, &it));
    ASSERT_EQ(mn_iter_next(it, &v), 0);
    mn_iter_free(it);

    /* operations on the empty stream */
    ASSERT_EQ(trim(st, "empty", MN_TRIM_MAXLEN, 0, EID(0, 0), 0), 0);
    mn_entry_id one = EID(1, 0);
    ASSERT_EQ(xdel(st, "empty", &one, 1), 0);

    /* appending continues it: "no stream" still holds (no events) */
    mn_event e = fev("first", MN_ID_AUTO, EID(0, 0));
    int64_t ver = -5;
    ASSERT_OK(mn_append_one(st, "empty", 5, MN_EXPECT_NOSTREAM, &e, 1, &ver, NULL));
    ASSERT_EQ(ver, 0);
    mn_stream_info in2 = info(st, "empty");
    ASSERT_EQ(in2.version, 0);
    ASSERT_EQ(in2.length, 1);
    ASSERT_EQ(in2.entries_added, 1);
    ASSERT_EQ(in2.first_version, 0);
    ASSERT_EQ_U64(in2.created_us, in.created_us); /* the same stream */
    mn_store_info_get(st, &si);
    ASSERT_EQ(si.streams, 1);
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "empty"));
    ASSERT_EQ(op.n, 0);
    ASSERT_EQ(info(st, "empty").length, 1);

    /* another empty stream, and a tombstoned one refuses creation */
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "e2"));
    ASSERT_EQ(op.n, 1);
    ASSERT_OK(mn_delete_stream(st, "e2", 2, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_ERR(run_op(st, &op, "e2"), MN_EDELETED);
    /* a soft-deleted empty stream can be created again */
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "e3"));
    ASSERT_OK(mn_delete_stream(st, "e3", 2, MN_EXPECT_ANY, 0));
    ASSERT_ERR(mn_stream_info_get(st, "e3", 2, &in), MN_ENOTFOUND);
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "e3"));
    ASSERT_EQ(op.n, 1);
    ASSERT_EQ(info(st, "e3").version, MN_NO_VERSION);
    /* an empty stream survives restart and reindex */
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "e4"));
    /* bad names */
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    op.stream = "";
    op.stream_len = 0;
    ASSERT_ERR(mn_op_run(st, &op), MN_EINVAL);

    const char *streams[] = {"empty", "e2", "e3", "e4"};
    expect_persists(dir, &st, streams, 4);
    ASSERT_EQ(info(st, "e4").version, MN_NO_VERSION);
    mn_store_info_get(st, &si);
    ASSERT_EQ(si.streams, 3);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* MN_OP_ENTRIES_DELETE                                                       */
/* ------------------------------------------------------------------------ */

TEST(entries_delete)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "d", 1, 5);
    mn_entry_id ids[] = {EID(2, 0), EID(4, 0), EID(99, 0), EID(2, 0), EID(3, 1)};
    ASSERT_EQ(xdel(st, "d", ids, 5), 2);
    mn_stream_info in = info(st, "d");
    ASSERT_EQ(in.length, 3);
    ASSERT_EQ(in.version, 4);
    ASSERT_EQ(in.entries_added, 5);
    ASSERT_ID(in.max_deleted_id, 4, 0);
    ASSERT_ID(in.last_id, 5, 0);
    ASSERT_ID(in.first_id, 1, 0);
    expect_range_ms(st, "d", ALL_IDS, 0, 0, MS(1, 3, 5), "after xdel");
    expect_range_ms(st, "d", ALL_IDS, 0, 1, MS(5, 3, 1), "after xdel back");

    /* deleting twice counts 0 and changes nothing */
    ASSERT_EQ(xdel(st, "d", ids, 2), 0);
    in = info(st, "d");
    ASSERT_EQ(in.length, 3);
    ASSERT_ID(in.max_deleted_id, 4, 0);

    /* deleting a lower id keeps max_deleted_id; the first entry moves */
    mn_entry_id first = EID(1, 0);
    ASSERT_EQ(xdel(st, "d", &first, 1), 1);
    in = info(st, "d");
    ASSERT_EQ(in.length, 2);
    ASSERT_ID(in.max_deleted_id, 4, 0);
    ASSERT_ID(in.first_id, 3, 0);
    ASSERT_EQ(in.first_version, 2);

    /* deleting the top entry: last_id stays (ids never go back) */
    mn_entry_id top = EID(5, 0);
    ASSERT_EQ(xdel(st, "d", &top, 1), 1);
    in = info(st, "d");
    ASSERT_EQ(in.length, 1);
    ASSERT_ID(in.max_deleted_id, 5, 0);
    ASSERT_ID(in.last_id, 5, 0);
    ASSERT_EQ(in.version, 4);
    mn_entry_id id;
    ASSERT_ERR(xadd_rc(st, "d", MN_ID_EXPLICIT, EID(5, 0), &id), MN_EIDORDER);
    xadd(st, "d", 6, 0);
    ASSERT_EQ(info(st, "d").version, 5);

    /* no ids at all */
    ASSERT_EQ(xdel(st, "d", NULL, 0), 0);
    /* a missing stream */
    mn_op op;
    mn_op_init(&op, MN_OP_ENTRIES_DELETE);
    op.ids = ids;
    op.nids = 1;
    ASSERT_ERR(run_op(st, &op, "missing"), MN_ENOTFOUND);

    /* delete everything: the stream stays, empty */
    mn_entry_id rest[] = {EID(3, 0), EID(6, 0)};
    ASSERT_EQ(xdel(st, "d", rest, 2), 2);
    in = info(st, "d");
    ASSERT_EQ(in.length, 0);
    ASSERT_EQ(in.first_version, -1);
    ASSERT_EQ(in.version, 5);
    ASSERT_ID(in.max_deleted_id, 6, 0);
    expect_range_ms(st, "d", ALL_IDS, 0, 0, NONE, "all deleted");

    /* many at once in a bigger stream */
    xadd_range(st, "big", 1, 50);
    mn_entry_id odd[25];
    for (int i = 0; i < 25; i++) odd[i] = EID(2 * (uint64_t)i + 1, 0);
    ASSERT_EQ(xdel(st, "big", odd, 25), 25);
    mn_entry_id got[64];
    size_t n = range_ids(st, "big", ALL_IDS, 0, 0, got, 64);
    ASSERT_EQ(n, 25);
    for (size_t i = 0; i < n; i++) ASSERT_ID(got[i], 2 * (i + 1), 0);
    ASSERT_ID(info(st, "big").max_deleted_id, 49, 0);

    const char *streams[] = {"d", "big"};
    expect_persists(dir, &st, streams, 2);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* MN_OP_TRIM                                                                 */
/* ------------------------------------------------------------------------ */

TEST(trim_maxlen)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "t", 1, 10);
    ASSERT_EQ(trim(st, "t", MN_TRIM_MAXLEN, 20, EID(0, 0), 0), 0);
    ASSERT_EQ(trim(st, "t", MN_TRIM_MAXLEN, 10, EID(0, 0), 0), 0);
    ASSERT_ID(info(st, "t").max_deleted_id, 0, 0);
    ASSERT_EQ(trim(st, "t", MN_TRIM_MAXLEN, 7, EID(0, 0), 0), 3);
    mn_stream_info in = info(st, "t");
    ASSERT_EQ(in.length, 7);
    ASSERT_ID(in.first_id, 4, 0);
    ASSERT_EQ(in.first_version, 3);
    ASSERT_ID(in.max_deleted_id, 0, 0); /* trims do not move it (Redis) */
    ASSERT_EQ(in.entries_added, 10);
    ASSERT_EQ(in.version, 9);
    expect_range_ms(st, "t", ALL_IDS, 0, 0, MS(4, 5, 6, 7, 8, 9, 10), "maxlen 7");

    /* with a limit: at most `limit` removed */
    ASSERT_EQ(trim(st, "t", MN_TRIM_MAXLEN, 2, EID(0, 0), 3), 3);
    in = info(st, "t");
    ASSERT_EQ(in.length, 4);
    ASSERT_ID(in.max_deleted_id, 0, 0);
    expect_range_ms(st, "t", ALL_IDS, 0, 0, MS(7, 8, 9, 10), "maxlen 2 limit 3");
    /* a limit larger than needed */
    ASSERT_EQ(trim(st, "t", MN_TRIM_MAXLEN, 3, EID(0, 0), 100), 1);
    expect_range_ms(st, "t", ALL_IDS, 0, 0, MS(8, 9, 10), "maxlen 3 limit 100");

    /* holes (XDEL) do not count towards the length */
    mn_entry_id nine = EID(9, 0);
    ASSERT_EQ(xdel(st, "t", &nine, 1), 1);
    ASSERT_EQ(trim(st, "t", MN_TRIM_MAXLEN, 1, EID(0, 0), 0), 1);
    expect_range_ms(st, "t", ALL_IDS, 0, 0, MS(10), "maxlen 1 with a hole");
    in = info(st, "t");
    ASSERT_EQ(in.length, 1);
    ASSERT_ID(in.max_deleted_id, 9, 0); /* XDEL 9; the trim of 8 does not count */

    /* MAXLEN 0: empty, but still there, and appends continue */
    ASSERT_EQ(trim(st, "t", MN_TRIM_MAXLEN, 0, EID(0, 0), 0), 1);
    in = info(st, "t");
    ASSERT_EQ(in.length, 0);
    ASSERT_EQ(in.version, 9);
    ASSERT_EQ(in.first_version, -1);
    ASSERT_ID(in.last_id, 10, 0);
    ASSERT_ID(in.max_deleted_id, 9, 0);
    xadd(st, "t", 11, 0);
    in = info(st, "t");
    ASSERT_EQ(in.version, 10);
    ASSERT_EQ(in.length, 1);
    ASSERT_EQ(in.entries_added, 11);

    /* no mode: nothing */
    ASSERT_EQ(trim(st, "t", MN_TRIM_NONE, 0, EID(0, 0), 0), 0);
    ASSERT_EQ(info(st, "t").length, 1);
    /* a missing stream */
    mn_op op;
    mn_op_init(&op, MN_OP_TRIM);
    op.trim.mode = MN_TRIM_MAXLEN;
    ASSERT_ERR(run_op(st, &op, "missing"), MN_ENOTFOUND);

    const char *streams[] = {"t"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(trim_minid)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "m", 1, 10);
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(1, 0), 0), 0);
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(4, 0), 0), 3);
    mn_stream_info in = info(st, "m");
    ASSERT_EQ(in.length, 7);
    ASSERT_ID(in.first_id, 4, 0);
    ASSERT_ID(in.max_deleted_id, 0, 0); /* trims do not move it (Redis) */
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(4, 0), 0), 0);
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(3, 7), 0), 0);

    /* with a limit */
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(8, 0), 2), 2);
    expect_range_ms(st, "m", ALL_IDS, 0, 0, MS(6, 7, 8, 9, 10), "minid 8 limit 2");
    ASSERT_ID(info(st, "m").max_deleted_id, 0, 0);
    /* a minid between ids */
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(6, 5), 0), 1);
    expect_range_ms(st, "m", ALL_IDS, 0, 0, MS(7, 8, 9, 10), "minid 6-5");

    /* holes: XDEL 8, then MINID 9 removes 7 only (8 is gone already) */
    mn_entry_id eight = EID(8, 0);
    ASSERT_EQ(xdel(st, "m", &eight, 1), 1);
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(9, 0), 0), 1);
    expect_range_ms(st, "m", ALL_IDS, 0, 0, MS(9, 10), "minid 9 with a hole");
    in = info(st, "m");
    ASSERT_EQ(in.length, 2);
    ASSERT_ID(in.max_deleted_id, 8, 0);
    ASSERT_EQ(in.first_version, 8);

    /* a minid above everything empties the stream */
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(100, 0), 1), 1); /* limit 1 first */
    expect_range_ms(st, "m", ALL_IDS, 0, 0, MS(10), "minid 100 limit 1");
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(100, 0), 0), 1);
    in = info(st, "m");
    ASSERT_EQ(in.length, 0);
    ASSERT_ID(in.max_deleted_id, 8, 0); /* the XDEL of 8 */
    ASSERT_ID(in.last_id, 10, 0);
    ASSERT_EQ(in.version, 9);
    ASSERT_EQ(trim(st, "m", MN_TRIM_MINID, 0, EID(100, 0), 0), 0);

    /* a bigger stream, trimmed in several limited steps */
    xadd_range(st, "big", 1, 100);
    uint64_t total = 0, n;
    while ((n = trim(st, "big", MN_TRIM_MINID, 0, EID(61, 0), 7)) > 0) {
        ASSERT_LE(n, 7);
        total += n;
    }
    ASSERT_EQ(total, 60);
    in = info(st, "big");
    ASSERT_EQ(in.length, 40);
    ASSERT_ID(in.first_id, 61, 0);
    ASSERT_ID(in.max_deleted_id, 0, 0);

    const char *streams[] = {"m", "big"};
    expect_persists(dir, &st, streams, 2);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* MN_OP_SETID                                                                */
/* ------------------------------------------------------------------------ */

static int setid(mn_store *st, const char *stream, mn_entry_id id, int64_t entries_added,
                 const mn_entry_id *max_deleted)
{
    mn_op op;
    mn_op_init(&op, MN_OP_SETID);
    op.id = id;
    op.id_set = 1;
    op.entries_added = entries_added;
    if (max_deleted) {
        op.max_deleted = *max_deleted;
        op.max_deleted_set = 1;
    }
    return run_op(st, &op, stream);
}

TEST(setid)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 5);
    char *before = NULL;
    {
        const char *one[] = {"s"};
        before = dump(st, one, 1);
    }
    /* below the top item */
    ASSERT_ERR(setid(st, "s", EID(3, 0), -1, NULL), MN_EIDORDER);
    ASSERT_ERR(setid(st, "s", EID(4, 9), -1, NULL), MN_EIDORDER);
    /* entries_added below the length */
    ASSERT_ERR(setid(st, "s", EID(10, 0), 4, NULL), MN_EINVAL);
    /* max_deleted above the id */
    mn_entry_id md = EID(50, 0);
    ASSERT_ERR(setid(st, "s", EID(20, 0), -1, &md), MN_EINVAL);
    /* missing stream */
    ASSERT_ERR(setid(st, "missing", EID(20, 0), -1, NULL), MN_ENOTFOUND);
    {
        const char *one[] = {"s"};
        char *after = dump(st, one, 1);
        expect_same_text(before, after, "after refused SETIDs");
        free(after);
    }
    free(before);

    /* equal to the top: fine, nothing changes but the id */
    ASSERT_OK(setid(st, "s", EID(5, 0), -1, NULL));
    ASSERT_ID(info(st, "s").last_id, 5, 0);
    /* raise it; entries_added equal to the length is allowed */
    ASSERT_OK(setid(st, "s", EID(10, 0), 5, NULL));
    mn_stream_info in = info(st, "s");
    ASSERT_ID(in.last_id, 10, 0);
    ASSERT_EQ(in.entries_added, 5);
    ASSERT_EQ(in.length, 5);
    ASSERT_EQ(in.version, 4);
    /* later ids go above the set id */
    mn_entry_id id;
    ASSERT_ERR(xadd_rc(st, "s", MN_ID_EXPLICIT, EID(9, 0), &id), MN_EIDORDER);
    ASSERT_ERR(xadd_rc(st, "s", MN_ID_EXPLICIT, EID(10, 0), &id), MN_EIDORDER);
    ASSERT_OK(xadd_rc(st, "s", MN_ID_AUTO_SEQ, EID(10, 0), &id));
    ASSERT_ID(id, 10, 1);
    /* entries_added and max_deleted */
    md = EID(15, 0);
    ASSERT_OK(setid(st, "s", EID(20, 0), 100, &md));
    in = info(st, "s");
    ASSERT_ID(in.last_id, 20, 0);
    ASSERT_EQ(in.entries_added, 100);
    ASSERT_ID(in.max_deleted_id, 15, 0);
    ASSERT_EQ(in.length, 6);
    xadd(st, "s", 21, 0);
    in = info(st, "s");
    ASSERT_EQ(in.entries_added, 101);
    ASSERT_EQ(in.version, 6);
    /* max_deleted equal to the id is allowed */
    md = EID(30, 0);
    ASSERT_OK(setid(st, "s", EID(30, 0), -1, &md));
    ASSERT_ID(info(st, "s").max_deleted_id, 30, 0);
    ASSERT_EQ(info(st, "s").entries_added, 101);

    /* AUTO ids after a SETID into the future */
    uint64_t future = now_ms() + 100000000ull;
    ASSERT_OK(setid(st, "s", EID(future, 5), -1, NULL));
    ASSERT_OK(xadd_rc(st, "s", MN_ID_AUTO, EID(0, 0), &id));
    ASSERT_ID(id, future, 6);

    /* after the top entries are deleted, the id may go below the old last id
     * but not below the largest remaining entry, nor below the current
     * max-deleted id unless a new one is given (Redis semantics) */
    xadd_range(st, "low", 1, 5);
    mn_entry_id tops[] = {EID(4, 0), EID(5, 0)};
    ASSERT_EQ(xdel(st, "low", tops, 2), 2);
    ASSERT_ERR(setid(st, "low", EID(2, 9), -1, NULL), MN_EIDORDER);
    ASSERT_ERR(setid(st, "low", EID(3, 5), -1, NULL), MN_EIDORDER); /* below max-deleted 5-0 */
    mn_entry_id low_md = EID(3, 1);
    ASSERT_OK(setid(st, "low", EID(3, 5), -1, &low_md));
    ASSERT_ID(info(st, "low").last_id, 3, 5);
    ASSERT_OK(xadd_rc(st, "low", MN_ID_AUTO_SEQ, EID(3, 0), &id));
    ASSERT_ID(id, 3, 6);
    expect_range_ms(st, "low", EID(0, 0), EID(3, 0), 0, 0, MS(1, 2, 3), "low after setid");

    /* on an empty stream any id goes, even with entries_added 0 */
    mn_op op;
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "empty"));
    ASSERT_OK(setid(st, "empty", EID(7, 7), 0, NULL));
    in = info(st, "empty");
    ASSERT_ID(in.last_id, 7, 7);
    ASSERT_EQ(in.version, MN_NO_VERSION);
    ASSERT_ERR(xadd_rc(st, "empty", MN_ID_EXPLICIT, EID(7, 7), &id), MN_EIDORDER);
    ASSERT_OK(xadd_rc(st, "empty", MN_ID_AUTO_SEQ, EID(7, 0), &id));
    ASSERT_ID(id, 7, 8);

    const char *streams[] = {"s", "low", "empty"};
    expect_persists(dir, &st, streams, 3);
    /* and ids keep going above the set ids after the restart */
    ASSERT_ERR(xadd_rc(st, "s", MN_ID_EXPLICIT, EID(future, 6), &id), MN_EIDORDER);
    ASSERT_OK(xadd_rc(st, "s", MN_ID_AUTO, EID(0, 0), &id));
    ASSERT_ID(id, future, 7);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Deleting streams                                                           */
/* ------------------------------------------------------------------------ */

static void group_create(mn_store *st, const char *stream, const char *group)
{
    mn_op op;
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.group = group;
    op.group_len = strlen(group);
    op.id_set = 1;
    ASSERT_OK(run_op(st, &op, stream));
}

static void deliver(mn_store *st, const char *stream, const char *group, const char *consumer,
                    uint64_t count)
{
    mn_op op;
    mn_op_init(&op, MN_OP_DELIVER);
    op.group = group;
    op.group_len = strlen(group);
    op.consumer = consumer;
    op.consumer_len = strlen(consumer);
    op.count = count;
    ASSERT_OK(run_op(st, &op, stream));
}

TEST(delete_soft_recreate)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "x", 10, 14);
    group_create(st, "x", "g");
    deliver(st, "x", "g", "c", 2);
    ASSERT_EQ(info(st, "x").groups, 1);
    ASSERT_OK(mn_delete_stream(st, "x", 1, MN_EXPECT_ANY, 0));
    mn_stream_info in;
    ASSERT_ERR(mn_stream_info_get(st, "x", 1, &in), MN_ENOTFOUND);
    mn_iter *it = NULL;
    ASSERT_ERR(mn_read_stream_range(st, "x", 1, ALL_IDS, 0, 0, &it), MN_ENOTFOUND);
    ASSERT_ERR(mn_list_groups(st, "x", 1, dump_group_cb, NULL), MN_ENOTFOUND);
    mn_op op;
    mn_op_init(&op, MN_OP_ENTRIES_DELETE);
    mn_entry_id ten = EID(10, 0);
    op.ids = &ten;
    op.nids = 1;
    ASSERT_ERR(run_op(st, &op, "x"), MN_ENOTFOUND);

    /* recreated at version 0, with fresh ids and no groups */
    xadd(st, "x", 1, 0); /* below the old stream's ids: a new stream */
    in = info(st, "x");
    ASSERT_EQ(in.version, 0);
    ASSERT_EQ(in.length, 1);
    ASSERT_EQ(in.entries_added, 1);
    ASSERT_EQ(in.groups, 0);
    ASSERT_ID(in.max_deleted_id, 0, 0);
    ASSERT_ID(in.last_id, 1, 0);
    expect_range_ms(st, "x", ALL_IDS, 0, 0, MS(1), "recreated");
    mn_op_init(&op, MN_OP_DELIVER);
    op.group = "g";
    op.group_len = 1;
    op.consumer = "c";
    op.consumer_len = 1;
    ASSERT_ERR(run_op(st, &op, "x"), MN_ENOGROUP);
    ASSERT_ERR(mn_group_get(st, "x", 1, "g", 1, dump_group_cb, NULL), MN_ENOGROUP);
    /* a group of the same name is new */
    group_create(st, "x", "g");
    xadd(st, "x", 2, 0);
    deliver(st, "x", "g", "c2", 0);

    /* soft delete of an empty (created) stream, and a group created with
     * MKSTREAM, then deleted */
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.group = "g";
    op.group_len = 1;
    op.mkstream = 1;
    ASSERT_OK(run_op(st, &op, "y"));
    ASSERT_OK(mn_delete_stream(st, "y", 1, MN_EXPECT_ANY, 0));
    ASSERT_ERR(mn_stream_info_get(st, "y", 1, &in), MN_ENOTFOUND);

    /* a delete with the wrong expected version is refused */
    ASSERT_ERR(mn_delete_stream(st, "x", 1, 5, 0), MN_EWRONGVERSION);
    ASSERT_ERR(mn_delete_stream(st, "nope", 4, MN_EXPECT_ANY, 0), MN_ENOTFOUND);

    const char *streams[] = {"x", "y"};
    expect_persists(dir, &st, streams, 2);
    /* still a new stream after the restart */
    in = info(st, "x");
    ASSERT_EQ(in.version, 1);
    ASSERT_EQ(in.groups, 1);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(delete_tombstone)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "t", 1, 3);
    group_create(st, "t", "g");
    ASSERT_OK(mn_delete_stream(st, "t", 1, 2, MN_DELETE_TOMBSTONE));
    mn_stream_info in = info(st, "t");
    ASSERT_EQ(in.deleted, 1);
    ASSERT_EQ(in.length, 0);
    ASSERT_EQ(in.groups, 0);
    mn_iter *it = NULL;
    ASSERT_ERR(mn_read_stream_range(st, "t", 1, ALL_IDS, 0, 0, &it), MN_EDELETED);
    ASSERT_ERR(mn_read_stream(st, "t", 1, 0, 0, 0, &it), MN_EDELETED);
    mn_entry_id id;
    ASSERT_ERR(xadd_rc(st, "t", MN_ID_EXPLICIT, EID(10, 0), &id), MN_EDELETED);
    ASSERT_ERR(mn_delete_stream(st, "t", 1, MN_EXPECT_ANY, 0), MN_EDELETED);
    ASSERT_ERR(mn_delete_stream(st, "t", 1, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE), MN_EDELETED);

    /* every stream operation refuses a tombstoned stream */
    mn_op op;
    mn_entry_id one = EID(1, 0);
    mn_op_init(&op, MN_OP_ENTRIES_DELETE);
    op.ids = &one;
    op.nids = 1;
    ASSERT_ERR(run_op(st, &op, "t"), MN_EDELETED);
    mn_op_init(&op, MN_OP_TRIM);
    op.trim.mode = MN_TRIM_MAXLEN;
    ASSERT_ERR(run_op(st, &op, "t"), MN_EDELETED);
    ASSERT_ERR(setid(st, "t", EID(100, 0), -1, NULL), MN_EDELETED);
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_ERR(run_op(st, &op, "t"), MN_EDELETED);
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.group = "g2";
    op.group_len = 2;
    op.mkstream = 1;
    ASSERT_ERR(run_op(st, &op, "t"), MN_EDELETED);

    /* not listed, not counted */
    int nstreams = 0;
    mn_list_streams(st, NULL, 0, count_stream_cb, &nstreams);
    ASSERT_EQ(nstreams, 0);
    mn_store_info si;
    mn_store_info_get(st, &si);
    ASSERT_EQ(si.streams, 0);

    /* a tombstone on a created, empty stream */
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "e"));
    ASSERT_OK(mn_delete_stream(st, "e", 1, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));
    ASSERT_EQ(info(st, "e").deleted, 1);

    const char *streams[] = {"t", "e"};
    expect_persists(dir, &st, streams, 2);
    ASSERT_EQ(info(st, "t").deleted, 1);
    ASSERT_ERR(xadd_rc(st, "t", MN_ID_EXPLICIT, EID(10, 0), &id), MN_EDELETED);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Everything at once, across restart and rebuild                             */
/* ------------------------------------------------------------------------ */

TEST(persist_everything)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    mn_op op;
    mn_entry_id id;

    /* a: appends, xdel, trims, setid, more appends */
    xadd_range(st, "a", 1, 30);
    mn_entry_id dels[] = {EID(3, 0), EID(17, 0), EID(29, 0)};
    ASSERT_EQ(xdel(st, "a", dels, 3), 3);
    ASSERT_EQ(trim(st, "a", MN_TRIM_MAXLEN, 20, EID(0, 0), 0), 7);
    ASSERT_EQ(trim(st, "a", MN_TRIM_MINID, 0, EID(12, 0), 2), 2);
    mn_entry_id md = EID(35, 0);
    ASSERT_OK(setid(st, "a", EID(40, 0), 77, &md));
    ASSERT_OK(xadd_rc(st, "a", MN_ID_AUTO_SEQ, EID(40, 0), &id));
    ASSERT_OK(xadd_rc(st, "a", MN_ID_AUTO, EID(0, 0), &id));

    /* b: created empty, then a setid, then appends with a group */
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    ASSERT_OK(run_op(st, &op, "b"));
    ASSERT_OK(setid(st, "b", EID(5, 0), -1, NULL));
    xadd_range(st, "b", 6, 12);
    group_create(st, "b", "g1");
    deliver(st, "b", "g1", "alice", 3);
    deliver(st, "b", "g1", "bob", 2);
    mn_entry_id bdel = EID(7, 0);
    ASSERT_EQ(xdel(st, "b", &bdel, 1), 1);

    /* c: soft-deleted and recreated */
    xadd_range(st, "c", 1, 5);
    ASSERT_EQ(trim(st, "c", MN_TRIM_MAXLEN, 2, EID(0, 0), 0), 3);
    ASSERT_OK(mn_delete_stream(st, "c", 1, MN_EXPECT_ANY, 0));
    xadd_range(st, "c", 1, 2);

    /* d: tombstoned after ops */
    xadd_range(st, "d", 1, 4);
    ASSERT_EQ(xdel(st, "d", dels, 1), 1);
    ASSERT_OK(mn_delete_stream(st, "d", 1, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));

    /* e: emptied by trimming */
    xadd_range(st, "e", 1, 3);
    ASSERT_EQ(trim(st, "e", MN_TRIM_MAXLEN, 0, EID(0, 0), 0), 3);

    /* f: field-list data with binary values */
    {
        const uint8_t bin[] = {0, 1, 2, 0xfe, 0xff};
        const void *ptrs[4] = {"k", bin, "k", ""};
        size_t lens[4] = {1, sizeof bin, 1, 0};
        uint8_t buf[64];
        size_t sz = mn_fields_size(2, lens);
        mn_fields_encode(buf, 2, ptrs, lens);
        mn_event e = fev("x", MN_ID_AUTO, EID(0, 0));
        e.data = buf;
        e.data_len = sz;
        ASSERT_OK(mn_append_one(st, "f", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    }

    const char *streams[] = {"a", "b", "c", "d", "e", "f", "never"};
    expect_persists(dir, &st, streams, 7);
    /* and a second round of operations after the restart, then again */
    xadd(st, "e", 4, 0);
    ASSERT_EQ(trim(st, "a", MN_TRIM_MINID, 0, EID(20, 0), 0), 8); /* 11..16, 18, 19 */
    expect_persists(dir, &st, streams, 7);
    mn_close(st);
    harness_rmrf(dir);
}

/* $all read backward (windows read forward, served last first) gives the
 * forward order reversed: across segment rolls, with events much larger
 * than a window, with group records between events, within bounds. */
TEST(all_backward)
{
    char dir[512];
    mn_options o = test_opts();
    o.segment_size = 64u << 10; /* rolls every few events */
    mn_store *st = NULL;
    harness_tmpdir(dir, sizeof dir);
    ASSERT_OK(mn_open(dir, &o, &st));
    static char big[200000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 400; i++) {
        mn_event e;
        memset(&e, 0, sizeof e);
        e.type = "T";
        e.type_len = 1;
        e.data = big;
        e.data_len = i % 97 == 5 ? sizeof big : (size_t)(20 + (i * 37) % 900);
        char name[32];
        snprintf(name, sizeof name, "s-%d", i % 5);
        ASSERT_OK(mn_append_one(st, name, strlen(name), MN_EXPECT_ANY, &e, 1, NULL, NULL));
        if (i == 100) { /* a non-event record between events */
            mn_op op;
            memset(&op, 0, sizeof op);
            op.kind = MN_OP_GROUP_CREATE;
            op.stream = "s-0";
            op.stream_len = 3;
            op.group = "g";
            op.group_len = 1;
            ASSERT_OK(mn_op_run(st, &op));
        }
    }
    uint64_t fwd[400];
    size_t n = 0;
    mn_iter *it;
    mn_event_view v;
    int rc;
    ASSERT_OK(mn_read_view(st, MN_VIEW_ALL, NULL, 0, 0, UINT64_MAX, 0, 0, &it));
    while ((rc = mn_iter_next(it, &v)) == 1 && n < 400) fwd[n++] = v.position;
    ASSERT_EQ(rc, 0);
    mn_iter_free(it);
    ASSERT_EQ(n, 400);

    size_t k = 0;
    ASSERT_OK(mn_read_view(st, MN_VIEW_ALL, NULL, 0, 0, UINT64_MAX, 0, MN_READ_BACKWARD, &it));
    while ((rc = mn_iter_next(it, &v)) == 1) {
        ASSERT(k < n);
        ASSERT_EQ_U64(v.position, fwd[n - 1 - k]);
        k++;
    }
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(k, n);
    mn_iter_free(it);

    /* bounded: [fwd[50], fwd[300]], at most 7, from the top */
    k = 0;
    ASSERT_OK(mn_read_view(st, MN_VIEW_ALL, NULL, 0, fwd[50], fwd[300], 7, MN_READ_BACKWARD, &it));
    while ((rc = mn_iter_next(it, &v)) == 1) ASSERT_EQ_U64(v.position, fwd[300 - k++]);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(k, 7);
    mn_iter_free(it);
    /* bounds between positions, and the whole lower part */
    k = 0;
    ASSERT_OK(mn_read_view(st, MN_VIEW_ALL, NULL, 0, fwd[10] + 1, fwd[20] - 1, 0, MN_READ_BACKWARD, &it));
    while ((rc = mn_iter_next(it, &v)) == 1) ASSERT_EQ_U64(v.position, fwd[19 - k++]);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(k, 9);
    mn_iter_free(it);
    mn_close(st);
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(fields_roundtrip);
    RUN(entry_id_auto_monotonic);
    RUN(entry_id_explicit_and_auto_seq);
    RUN(range_reads);
    RUN(stream_create);
    RUN(entries_delete);
    RUN(trim_maxlen);
    RUN(trim_minid);
    RUN(setid);
    RUN(delete_soft_recreate);
    RUN(delete_tombstone);
    RUN(persist_everything);
    RUN(all_backward);
    return harness_summary();
}
