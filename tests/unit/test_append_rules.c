/*
 * test_append_rules.c — the conditions of mn_append, through the public API:
 * expected versions, atomic multi-stream appends, idempotent retries,
 * deletion, limits, bad input, and opening directories that are not (this
 * version's) stores. Every refused call must leave the store unchanged.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

#define PATHF(buf, ...)                                                                  \
    do {                                                                                 \
        if (snprintf(buf, sizeof buf, __VA_ARGS__) >= (int)sizeof buf)                   \
            FAIL("path too long for %s", #buf);                                          \
    } while (0)

static mn_options test_opts(void)
{
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = MN_FSYNC_NEVER;
    o.index_map_size = 64u << 20;
    return o;
}

static mn_store *open_fresh(char *dir, size_t cap, const mn_options *o)
{
    mn_store *st = NULL;
    harness_tmpdir(dir, cap);
    ASSERT_OK(mn_open(dir, o, &st));
    return st;
}

static mn_event ev(const char *type, const char *data)
{
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.type_len = strlen(type);
    e.data = data;
    e.data_len = strlen(data);
    return e;
}

static mn_event ev_id(const char *type, const char *data, uint8_t tag)
{
    mn_event e = ev(type, data);
    memset(e.id, 0x11, 16);
    e.id[6] = 0x40;
    e.id[15] = tag;
    return e;
}

static mn_append_part part(const char *stream, int64_t expected, const mn_event *evs, size_t n)
{
    mn_append_part p;
    memset(&p, 0, sizeof p);
    p.stream = stream;
    p.stream_len = strlen(stream);
    p.expected = expected;
    p.events = evs;
    p.count = n;
    p.actual = 12345; /* to see whether it was set */
    return p;
}

static int64_t version_of(mn_store *st, const char *stream)
{
    mn_stream_info in;
    int rc = mn_stream_info_get(st, stream, strlen(stream), &in);
    if (rc == MN_ENOTFOUND) return MN_NO_VERSION;
    ASSERT_OK(rc);
    return in.version;
}

/* The whole observable state that an append could change. */
typedef struct snap {
    uint64_t end, events, streams;
    size_t nall;
} snap;

static snap take(mn_store *st)
{
    snap s;
    mn_store_info si;
    mn_store_info_get(st, &si);
    s.end = si.end_position;
    s.events = si.events;
    s.streams = si.streams;
    s.nall = 0;
    mn_iter *it = NULL;
    mn_event_view v;
    int rc;
    ASSERT_OK(mn_read_all(st, 0, 0, &it));
    while ((rc = mn_iter_next(it, &v)) == 1) s.nall++;
    ASSERT_OK(rc);
    mn_iter_free(it);
    return s;
}

static void expect_unchanged(mn_store *st, snap before)
{
    snap now = take(st);
    ASSERT_EQ_U64(now.end, before.end);
    ASSERT_EQ_U64(now.events, before.events);
    ASSERT_EQ_U64(now.streams, before.streams);
    ASSERT_EQ(now.nall, before.nall);
}

static size_t stream_len(mn_store *st, const char *stream)
{
    mn_iter *it = NULL;
    mn_event_view v;
    int rc = mn_read_stream(st, stream, strlen(stream), 0, 0, 0, &it);
    if (rc == MN_ENOTFOUND) return 0;
    ASSERT_OK(rc);
    size_t n = 0;
    while ((rc = mn_iter_next(it, &v)) == 1) n++;
    ASSERT_OK(rc);
    mn_iter_free(it);
    return n;
}

/* ------------------------------------------------------------------------ */

TEST(expected_version)
{
    char dir[512];
    mn_options o = test_opts();
    mn_store *st = open_fresh(dir, sizeof dir, &o);
    mn_event e = ev("T", "{}");
    int64_t v = -9;
    uint64_t pos = 0;

    /* EXISTS on a stream with no events */
    mn_append_part p = part("s", MN_EXPECT_EXISTS, &e, 1);
    snap s0 = take(st);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(p.actual, MN_NO_VERSION);
    ASSERT(strlen(mn_errmsg()) > 0);
    expect_unchanged(st, s0);
    /* exact 0 on a stream with no events */
    p = part("s", 0, &e, 1);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(p.actual, MN_NO_VERSION);
    expect_unchanged(st, s0);

    /* NOSTREAM creates */
    ASSERT_OK(mn_append_one(st, "s", 1, MN_EXPECT_NOSTREAM, &e, 1, &v, &pos));
    ASSERT_EQ(v, 0);
    ASSERT(pos > 0);
    /* NOSTREAM again: the stream is at 0 */
    p = part("s", MN_EXPECT_NOSTREAM, &e, 1);
    snap s1 = take(st);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(p.actual, 0);
    expect_unchanged(st, s1);
    /* EXISTS holds */
    p = part("s", MN_EXPECT_EXISTS, &e, 1);
    ASSERT_OK(mn_append(st, &p, 1, NULL));
    ASSERT_EQ(p.version, 1);
    ASSERT_EQ(p.actual, 0); /* the version before the append */
    /* ANY */
    mn_event two[2] = {ev("T", "1"), ev("T", "2")};
    p = part("s", MN_EXPECT_ANY, two, 2);
    ASSERT_OK(mn_append(st, &p, 1, NULL));
    ASSERT_EQ(p.version, 3);
    uint64_t last_pos = p.position;
    /* exact: right and wrong (below, above) */
    p = part("s", 3, &e, 1);
    ASSERT_OK(mn_append(st, &p, 1, NULL));
    ASSERT_EQ(p.version, 4);
    ASSERT(p.position > last_pos);
    snap s2 = take(st);
    p = part("s", 2, &e, 1);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(p.actual, 4);
    printf("      wrong version: \"%s\"\n", mn_errmsg());
    p = part("s", 7, &e, 1);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(p.actual, 4);
    expect_unchanged(st, s2);
    ASSERT_EQ(version_of(st, "s"), 4);
    ASSERT_EQ(stream_len(st, "s"), 5);

    /* an expected version that is none of the above */
    p = part("s", -3, &e, 1);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EINVAL);
    p = part("s", -5, &e, 1);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EINVAL);
    p = part("s", INT64_MIN, &e, 1);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EINVAL);
    expect_unchanged(st, s2);

    /* the versions hold across a reopen */
    mn_close(st);
    ASSERT_OK(mn_open(dir, &o, &st));
    ASSERT_EQ(version_of(st, "s"), 4);
    p = part("s", 3, &e, 1);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(p.actual, 4);
    p = part("s", 4, &e, 1);
    ASSERT_OK(mn_append(st, &p, 1, NULL));
    ASSERT_EQ(p.version, 5);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(multi_stream_atomic)
{
    char dir[512];
    mn_options o = test_opts();
    mn_store *st = open_fresh(dir, sizeof dir, &o);
    mn_event e = ev("T", "{}");
    ASSERT_OK(mn_append_one(st, "a", 1, MN_EXPECT_NOSTREAM, &e, 1, NULL, NULL));
    ASSERT_OK(mn_append_one(st, "b", 1, MN_EXPECT_NOSTREAM, &e, 1, NULL, NULL));

    /* the second part's condition fails: nothing of either part is written */
    mn_event ea[2] = {ev("T", "a1"), ev("T", "a2")};
    mn_event eb[1] = {ev("T", "b1")};
    mn_event ec[1] = {ev("T", "c1")};
    mn_append_part parts[3] = {part("a", 0, ea, 2), part("b", 5, eb, 1), part("c", MN_EXPECT_NOSTREAM, ec, 1)};
    snap s0 = take(st);
    ASSERT_ERR(mn_append(st, parts, 3, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(parts[1].actual, 0);
    /* the header: only the failing part has `actual` set; a part that passed
     * may at most hold its true version */
    ASSERT(parts[0].actual == 12345 || parts[0].actual == 0);
    ASSERT(parts[2].actual == 12345 || parts[2].actual == MN_NO_VERSION);
    expect_unchanged(st, s0);
    ASSERT_EQ(stream_len(st, "a"), 1);
    ASSERT_EQ(stream_len(st, "c"), 0);

    /* the first part fails */
    parts[0] = part("a", MN_EXPECT_NOSTREAM, ea, 2);
    parts[1] = part("b", 0, eb, 1);
    ASSERT_ERR(mn_append(st, parts, 3, NULL), MN_EWRONGVERSION);
    ASSERT_EQ(parts[0].actual, 0);
    expect_unchanged(st, s0);

    /* all hold: every part written, in order, one position range */
    parts[0] = part("a", 0, ea, 2);
    parts[1] = part("b", MN_EXPECT_EXISTS, eb, 1);
    parts[2] = part("c", MN_EXPECT_NOSTREAM, ec, 1);
    int idem = -1;
    ASSERT_OK(mn_append(st, parts, 3, &idem));
    ASSERT_EQ(idem, 0);
    ASSERT_EQ(parts[0].version, 2);
    ASSERT_EQ(parts[1].version, 1);
    ASSERT_EQ(parts[2].version, 0);
    ASSERT(parts[0].position < parts[1].position);
    ASSERT(parts[1].position < parts[2].position);
    ASSERT_EQ(parts[0].actual, 0);
    ASSERT_EQ(parts[2].actual, MN_NO_VERSION);
    snap s1 = take(st);
    ASSERT_EQ(s1.nall, s0.nall + 4);

    /* the same stream twice in one append: applied in order, or refused whole */
    mn_append_part twice[2] = {part("a", 2, ea, 1), part("a", 3, eb, 1)};
    int rc = mn_append(st, twice, 2, NULL);
    if (rc == MN_OK) {
        ASSERT_EQ(twice[0].version, 3);
        ASSERT_EQ(twice[1].version, 4);
        s1 = take(st);
    } else {
        ASSERT(rc == MN_EINVAL || rc == MN_EWRONGVERSION);
        expect_unchanged(st, s1);
    }

    /* a tombstoned stream among the parts: nothing written */
    ASSERT_OK(mn_append_one(st, "dead", 4, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    ASSERT_OK(mn_delete_stream(st, "dead", 4, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));
    snap s2 = take(st);
    mn_append_part withdead[2] = {part("c", MN_EXPECT_ANY, ec, 1), part("dead", MN_EXPECT_ANY, eb, 1)};
    ASSERT_ERR(mn_append(st, withdead, 2, NULL), MN_EDELETED);
    expect_unchanged(st, s2);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(idempotent_retry)
{
    char dir[512];
    mn_options o = test_opts();
    mn_store *st = open_fresh(dir, sizeof dir, &o);
    mn_event filler = ev("F", "{}");
    ASSERT_OK(mn_append_one(st, "acct", 4, MN_EXPECT_ANY, &filler, 1, NULL, NULL));

    mn_event e3[3] = {ev_id("T", "1", 1), ev_id("T", "2", 2), ev_id("T", "3", 3)};
    mn_append_part p = part("acct", 0, e3, 3);
    int idem = -1;
    ASSERT_OK(mn_append(st, &p, 1, &idem));
    ASSERT_EQ(idem, 0);
    int64_t v0 = p.version;
    uint64_t pos0 = p.position;
    mn_entry_id id0 = p.last_id;
    ASSERT_EQ(v0, 3);
    ASSERT_OK(mn_append_one(st, "acct", 4, MN_EXPECT_ANY, &filler, 1, NULL, NULL)); /* the stream moves on */
    snap s0 = take(st);

    /* the retry: same ids, same expected version */
    for (int round = 0; round < 2; round++) {
        p = part("acct", 0, e3, 3);
        idem = -1;
        ASSERT_OK(mn_append(st, &p, 1, &idem));
        ASSERT_EQ(idem, 1);
        ASSERT_EQ(p.version, v0);
        ASSERT_EQ_U64(p.position, pos0);
        ASSERT_EQ_U64(p.last_id.ms, id0.ms);
        ASSERT_EQ_U64(p.last_id.seq, id0.seq);
        expect_unchanged(st, s0);
        /* the retry with ANY too */
        p = part("acct", MN_EXPECT_ANY, e3, 3);
        idem = -1;
        ASSERT_OK(mn_append(st, &p, 1, &idem));
        ASSERT_EQ(idem, 1);
        ASSERT_EQ(p.version, v0);
        ASSERT_EQ_U64(p.position, pos0);
        expect_unchanged(st, s0);
        /* mn_append_one and a NULL idempotent pointer */
        int64_t v = -9;
        uint64_t pos = 0;
        ASSERT_OK(mn_append_one(st, "acct", 4, 0, e3, 3, &v, &pos));
        ASSERT_EQ(v, v0);
        ASSERT_EQ_U64(pos, pos0);
        expect_unchanged(st, s0);
        /* ... and after a reopen (the id index is persisted) */
        mn_close(st);
        ASSERT_OK(mn_open(dir, &o, &st));
    }

    /* some stored, some new: MN_EDUPLICATE, nothing written */
    mn_event mixed[2] = {ev_id("T", "3", 3), ev_id("T", "4", 4)};
    p = part("acct", MN_EXPECT_ANY, mixed, 2);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EDUPLICATE);
    expect_unchanged(st, s0);
    /* a subset of the original ids, alone, is all stored: the original result
     * of those events (or a refusal) — but nothing written */
    p = part("acct", MN_EXPECT_ANY, &e3[1], 1);
    idem = -1;
    int rc = mn_append(st, &p, 1, &idem);
    if (rc == MN_OK) {
        ASSERT_EQ(idem, 1);
        ASSERT_EQ(p.version, 2);
    } else {
        ASSERT_ERR(rc, MN_EDUPLICATE);
    }
    expect_unchanged(st, s0);
    /* the stored ids in another stream: MN_EDUPLICATE */
    p = part("other", MN_EXPECT_ANY, e3, 3);
    ASSERT_ERR(mn_append(st, &p, 1, NULL), MN_EDUPLICATE);
    expect_unchanged(st, s0);
    ASSERT_EQ(stream_len(st, "other"), 0);
    /* one event of a multi-part append already stored elsewhere */
    mn_event fresh = ev_id("T", "9", 9);
    mn_append_part two[2] = {part("x", MN_EXPECT_ANY, &fresh, 1), part("y", MN_EXPECT_ANY, &e3[0], 1)};
    ASSERT_ERR(mn_append(st, two, 2, NULL), MN_EDUPLICATE);
    expect_unchanged(st, s0);
    /* the same new id twice in one append is not a retry of anything */
    mn_event dup2[2] = {ev_id("T", "a", 50), ev_id("T", "b", 50)};
    p = part("dupe", MN_EXPECT_ANY, dup2, 2);
    rc = mn_append(st, &p, 1, NULL);
    if (rc != MN_OK) {
        ASSERT(rc == MN_EDUPLICATE || rc == MN_EINVAL);
        expect_unchanged(st, s0);
    }

    /* generated ids (all zero) never make an append idempotent */
    mn_event gen = ev("G", "{}");
    int64_t v1 = -9, v2 = -9;
    ASSERT_OK(mn_append_one(st, "gen", 3, MN_EXPECT_ANY, &gen, 1, &v1, NULL));
    ASSERT_OK(mn_append_one(st, "gen", 3, MN_EXPECT_ANY, &gen, 1, &v2, NULL));
    ASSERT_EQ(v2, v1 + 1);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(delete_and_tombstone)
{
    char dir[512];
    mn_options o = test_opts();
    mn_store *st = open_fresh(dir, sizeof dir, &o);
    mn_event e = ev("T", "{}");
    mn_iter *it = NULL;
    mn_stream_info in;

    ASSERT_ERR(mn_delete_stream(st, "nope", 4, MN_EXPECT_ANY, 0), MN_ENOTFOUND);
    ASSERT_ERR(mn_delete_stream(st, "nope", 4, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE), MN_ENOTFOUND);
    ASSERT_OK(mn_append_one(st, "t", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    ASSERT_OK(mn_append_one(st, "t", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    ASSERT_ERR(mn_delete_stream(st, "t", 1, 0, MN_DELETE_TOMBSTONE), MN_EWRONGVERSION);
    ASSERT_EQ(stream_len(st, "t"), 2);
    ASSERT_OK(mn_delete_stream(st, "t", 1, 1, MN_DELETE_TOMBSTONE));

    for (int round = 0; round < 2; round++) {
        snap s0 = take(st);
        ASSERT_ERR(mn_append_one(st, "t", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL), MN_EDELETED);
        ASSERT_ERR(mn_append_one(st, "t", 1, MN_EXPECT_NOSTREAM, &e, 1, NULL, NULL), MN_EDELETED);
        ASSERT_ERR(mn_append_one(st, "t", 1, 1, &e, 1, NULL, NULL), MN_EDELETED);
        expect_unchanged(st, s0);
        ASSERT_ERR(mn_read_stream(st, "t", 1, 0, 0, 0, &it), MN_EDELETED);
        ASSERT_OK(mn_stream_info_get(st, "t", 1, &in));
        ASSERT_EQ(in.deleted, 1);
        ASSERT_ERR(mn_delete_stream(st, "t", 1, MN_EXPECT_ANY, 0), MN_EDELETED);
        ASSERT_ERR(mn_delete_stream(st, "t", 1, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE), MN_EDELETED);
        /* the events stay in $all */
        ASSERT_EQ(s0.nall, 2);
        mn_close(st); /* and all of it survives a reopen */
        ASSERT_OK(mn_open(dir, &o, &st));
    }

    /* soft delete: reads see nothing; the name can be used again */
    ASSERT_OK(mn_append_one(st, "soft", 4, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    ASSERT_ERR(mn_delete_stream(st, "soft", 4, 5, 0), MN_EWRONGVERSION);
    ASSERT_OK(mn_delete_stream(st, "soft", 4, 0, 0));
    ASSERT_EQ(stream_len(st, "soft"), 0);
    int64_t v = -9;
    ASSERT_OK(mn_append_one(st, "soft", 4, MN_EXPECT_ANY, &e, 1, &v, NULL));
    ASSERT_EQ(stream_len(st, "soft"), 1);
    ASSERT_OK(mn_stream_info_get(st, "soft", 4, &in));
    ASSERT_EQ(in.deleted, 0);
    ASSERT_EQ(in.version, v);
    ASSERT_EQ_U64(in.length, 1);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(limits_and_bad_input)
{
    char dir[512];
    mn_options o = test_opts();
    o.max_event_size = 1000;
    mn_store *st = open_fresh(dir, sizeof dir, &o);
    static char big[4096];
    memset(big, 'x', sizeof big);
    snap s0 = take(st);

    /* type + data + meta up to max_event_size */
    mn_event e = ev("Type", "");
    e.data = big;
    e.data_len = 1000 - 4;
    ASSERT_OK(mn_append_one(st, "big", 3, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    s0 = take(st);
    e.data_len = 1000 - 4 + 1;
    ASSERT_ERR(mn_append_one(st, "big", 3, MN_EXPECT_ANY, &e, 1, NULL, NULL), MN_ETOOBIG);
    printf("      too big: \"%s\"\n", mn_errmsg());
    expect_unchanged(st, s0);
    e.data_len = 600;
    e.meta = big;
    e.meta_len = 401;
    ASSERT_ERR(mn_append_one(st, "big", 3, MN_EXPECT_ANY, &e, 1, NULL, NULL), MN_ETOOBIG);
    /* the second event of three too big: nothing written */
    mn_event three[3] = {ev("T", "ok"), e, ev("T", "ok")};
    ASSERT_ERR(mn_append_one(st, "big", 3, MN_EXPECT_ANY, three, 3, NULL, NULL), MN_ETOOBIG);
    expect_unchanged(st, s0);

    /* stream names: 1..MN_MAX_STREAM_NAME bytes */
    mn_event ok = ev("T", "{}");
    static char name[MN_MAX_STREAM_NAME + 2];
    memset(name, 'n', sizeof name);
    ASSERT_ERR(mn_append_one(st, "", 0, MN_EXPECT_ANY, &ok, 1, NULL, NULL), MN_EINVAL);
    printf("      empty name: \"%s\"\n", mn_errmsg());
    ASSERT_ERR(mn_append_one(st, name, MN_MAX_STREAM_NAME + 1, MN_EXPECT_ANY, &ok, 1, NULL, NULL), MN_EINVAL);
    printf("      long name: \"%s\"\n", mn_errmsg());
    ASSERT_ERR(mn_append_one(st, NULL, 3, MN_EXPECT_ANY, &ok, 1, NULL, NULL), MN_EINVAL);
    expect_unchanged(st, s0);
    ASSERT_OK(mn_append_one(st, name, MN_MAX_STREAM_NAME, MN_EXPECT_ANY, &ok, 1, NULL, NULL));
    s0 = take(st);

    /* event types: 1..MN_MAX_TYPE_LEN bytes */
    mn_event bad = ok;
    bad.type_len = 0;
    ASSERT_ERR(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &bad, 1, NULL, NULL), MN_EINVAL);
    bad.type = big;
    bad.type_len = MN_MAX_TYPE_LEN + 1;
    int rc = mn_append_one(st, "s", 1, MN_EXPECT_ANY, &bad, 1, NULL, NULL);
    ASSERT(rc == MN_EINVAL || rc == MN_ETOOBIG);
    bad = ok;
    bad.type = NULL;
    ASSERT_ERR(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &bad, 1, NULL, NULL), MN_EINVAL);
    /* data pointer NULL with a length */
    bad = ok;
    bad.data = NULL;
    bad.data_len = 5;
    ASSERT_ERR(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &bad, 1, NULL, NULL), MN_EINVAL);
    /* counts */
    ASSERT_ERR(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &ok, 0, NULL, NULL), MN_EINVAL);
    mn_append_part p = part("s", MN_EXPECT_ANY, &ok, 1);
    ASSERT_ERR(mn_append(st, &p, 0, NULL), MN_EINVAL);
    ASSERT_ERR(mn_append(st, NULL, 1, NULL), MN_EINVAL);
    /* an entry id mode that does not exist */
    bad = ok;
    bad.entry_id_mode = 7;
    ASSERT_ERR(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &bad, 1, NULL, NULL), MN_EINVAL);
    expect_unchanged(st, s0);

    /* explicit entry ids must climb */
    mn_event x = ok;
    x.entry_id_mode = MN_ID_EXPLICIT;
    x.entry_id.ms = 5000;
    x.entry_id.seq = 1;
    ASSERT_OK(mn_append_one(st, "ids", 3, MN_EXPECT_ANY, &x, 1, NULL, NULL));
    s0 = take(st);
    ASSERT_ERR(mn_append_one(st, "ids", 3, MN_EXPECT_ANY, &x, 1, NULL, NULL), MN_EIDORDER);
    x.entry_id.seq = 0;
    ASSERT_ERR(mn_append_one(st, "ids", 3, MN_EXPECT_ANY, &x, 1, NULL, NULL), MN_EIDORDER);
    x.entry_id.ms = 0;
    x.entry_id.seq = 0;
    rc = mn_append_one(st, "fresh-ids", 9, MN_EXPECT_ANY, &x, 1, NULL, NULL); /* 0-0 is never valid */
    ASSERT(rc == MN_EINVAL || rc == MN_EIDORDER);
    expect_unchanged(st, s0);

    /* reads with bad arguments */
    mn_iter *it = NULL;
    ASSERT_ERR(mn_read_stream(st, "", 0, 0, 0, 0, &it), MN_EINVAL);
    ASSERT_ERR(mn_read_stream(st, "nope", 4, 0, 0, 0, &it), MN_ENOTFOUND);

    /* UUIDs */
    uint8_t id[16];
    ASSERT_OK(mn_uuid_parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 36, id));
    char out[37];
    mn_uuid_format(id, out);
    ASSERT_STR_EQ(out, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    ASSERT_OK(mn_uuid_parse("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", 36, id));
    ASSERT_ERR(mn_uuid_parse("0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", 32, id), MN_EINVAL);
    ASSERT_ERR(mn_uuid_parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g", 36, id), MN_EINVAL);
    ASSERT_ERR(mn_uuid_parse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5", 35, id), MN_EINVAL);
    ASSERT_ERR(mn_uuid_parse("", 0, id), MN_EINVAL);

    /* every error code has a name */
    for (int code = 0; code >= MN_EIDORDER; code--) {
        ASSERT(mn_strerror(code) != NULL);
        ASSERT(strlen(mn_strerror(code)) > 0);
    }
    ASSERT(mn_strerror(-999) != NULL);
    mn_close(st);
    mn_close(NULL);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                    */
/* ------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void read_file(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) FAIL("open %s: %s", path, strerror(errno));
    ssize_t n = read(fd, out, cap - 1);
    ASSERT(n >= 0);
    out[n] = 0;
    close(fd);
}

TEST(open_format_and_paths)
{
    char dir[512], path[1024], sub[1024], text[128];
    mn_options o = test_opts();
    mn_store *st = open_fresh(dir, sizeof dir, &o);
    mn_event e = ev("T", "{}");
    ASSERT_OK(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    mn_close(st);
    PATHF(path, "%s/FORMAT", dir);
    read_file(path, text, sizeof text);
    ASSERT_STR_EQ(text, "mnemosyne-store 1\n");

    /* another format version */
    write_file(path, "mnemosyne-store 99\n");
    st = NULL;
    ASSERT_ERR(mn_open(dir, &o, &st), MN_EFORMAT);
    ASSERT(st == NULL);
    printf("      format 99: \"%s\"\n", mn_errmsg());
    ASSERT(strstr(mn_errmsg(), "99") != NULL);
    read_file(path, text, sizeof text); /* not "fixed" behind our back */
    ASSERT_STR_EQ(text, "mnemosyne-store 99\n");
    mn_check_report cr;
    ASSERT(mn_check(dir, &cr) != MN_OK);
    ASSERT(mn_reindex(dir, NULL, NULL) != MN_OK);
    /* garbage */
    write_file(path, "hello\n");
    ASSERT_ERR(mn_open(dir, &o, &st), MN_EFORMAT);
    write_file(path, "mnemosyne-store 1\n");
    ASSERT_OK(mn_open(dir, &o, &st));
    ASSERT_EQ(version_of(st, "s"), 0);
    mn_close(st);

    /* create = 0 on a missing directory */
    PATHF(sub, "%s/missing", dir);
    mn_options nc = o;
    nc.create = 0;
    ASSERT(mn_open(sub, &nc, &st) != MN_OK);
    ASSERT_EQ(access(sub, F_OK), -1);
    /* an empty existing directory becomes a store */
    ASSERT_EQ(mkdir(sub, 0755), 0);
    ASSERT_OK(mn_open(sub, &o, &st));
    mn_close(st);

    /* unwritable: a path under a regular file (root ignores chmod) */
    PATHF(sub, "%s/FORMAT/x", dir);
    int rc = mn_open(sub, &o, &st);
    ASSERT(rc == MN_EIO || rc == MN_EINVAL);
    printf("      under a file: %s \"%s\"\n", mn_strerror(rc), mn_errmsg());
    ASSERT(strlen(mn_errmsg()) > 0);
    rc = mn_open("/etc/passwd/x", &o, &st);
    ASSERT(rc == MN_EIO || rc == MN_EINVAL);
    /* the store path is a regular file */
    PATHF(sub, "%s/FORMAT", dir);
    rc = mn_open(sub, &o, &st);
    ASSERT(rc == MN_EIO || rc == MN_EINVAL || rc == MN_EFORMAT);
    printf("      a file: %s \"%s\"\n", mn_strerror(rc), mn_errmsg());

    /* read-only: no appends */
    mn_options ro = o;
    ro.read_only = 1;
    ASSERT_OK(mn_open(dir, &ro, &st));
    ASSERT_EQ(version_of(st, "s"), 0);
    ASSERT_ERR(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL), MN_EREADONLY);
    ASSERT_ERR(mn_delete_stream(st, "s", 1, MN_EXPECT_ANY, 0), MN_EREADONLY);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(open_locked_by_another_process)
{
    char dir[512];
    mn_options o = test_opts();
    mn_store *st = open_fresh(dir, sizeof dir, &o);
    mn_close(st);
    int to_parent[2], to_child[2];
    ASSERT_EQ(pipe(to_parent), 0);
    ASSERT_EQ(pipe(to_child), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        mn_store *cs = NULL;
        char c = mn_open(dir, &o, &cs) == MN_OK ? 'o' : 'x';
        (void)!write(to_parent[1], &c, 1);
        (void)!read(to_child[0], &c, 1); /* hold it until the parent has tried */
        mn_close(cs);
        _exit(0);
    }
    char c = 0;
    ASSERT_EQ(read(to_parent[0], &c, 1), 1);
    ASSERT_EQ(c, 'o');
    int rc = mn_open(dir, &o, &st);
    ASSERT_EQ(write(to_child[1], "k", 1), 1);
    int status = 0;
    waitpid(pid, &status, 0);
    if (rc == MN_OK) mn_close(st);
    ASSERT_ERR(rc, MN_ELOCKED);
    ASSERT_OK(mn_reindex(dir, NULL, NULL)); /* free again */
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(expected_version);
    RUN(multi_stream_atomic);
    RUN(idempotent_retry);
    RUN(delete_and_tombstone);
    RUN(limits_and_bad_input);
    RUN(open_format_and_paths);
    RUN(open_locked_by_another_process);
    return harness_summary();
}
