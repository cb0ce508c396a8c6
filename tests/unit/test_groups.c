/*
 * test_groups.c — consumer groups through the public API, as Redis 7 defines
 * them: XGROUP CREATE (explicit id, '$', MKSTREAM, BUSYGROUP, missing key),
 * XREADGROUP '>' deliveries to several consumers (count, NOACK, versions),
 * XACK, XPENDING (range, consumer, IDLE), XCLAIM (min-idle, FORCE, JUSTID,
 * RETRYCOUNT, IDLE, TIME, LASTID, deleted entries), XAUTOCLAIM (cursor,
 * count, deleted ids), XGROUP CREATECONSUMER / DELCONSUMER / SETID /
 * DESTROY, XINFO GROUPS' entries-read and lag; everything identical after
 * close/reopen and after mn_reindex; and mn_op_async's callback.
 */
#include <semaphore.h>
#include <stdatomic.h>

#include "harness.h"
#define STORE_HELPERS_STREAMS
#include "store_helpers.h"

/* ------------------------------------------------------------------------ */
/* Group helpers                                                              */
/* ------------------------------------------------------------------------ */

static void gop(mn_op *op, int kind, const char *group, const char *consumer)
{
    mn_op_init(op, kind);
    op->group = group;
    op->group_len = group ? strlen(group) : 0;
    op->consumer = consumer;
    op->consumer_len = consumer ? strlen(consumer) : 0;
}

/* XGROUP CREATE with an explicit id (id_set) or '$' (!id_set). */
static int gcreate(mn_store *st, const char *stream, const char *group, int id_set, mn_entry_id id,
                   int64_t entries_read, int mkstream)
{
    mn_op op;
    gop(&op, MN_OP_GROUP_CREATE, group, NULL);
    op.id_set = id_set;
    op.id = id;
    op.entries_read = entries_read;
    op.mkstream = mkstream;
    return run_op(st, &op, stream);
}

typedef struct delivered {
    uint64_t n;
    int64_t from, to;
} delivered;

static delivered deliver_opt(mn_store *st, const char *stream, const char *group,
                             const char *consumer, uint64_t count, int noack)
{
    mn_op op;
    gop(&op, MN_OP_DELIVER, group, consumer);
    op.count = count;
    op.noack = noack;
    ASSERT_OK(run_op(st, &op, stream));
    delivered d = {op.n, op.from_version, op.to_version};
    if (d.n == 0) {
        ASSERT_EQ(d.from, -1);
        ASSERT_EQ(d.to, -1);
    } else {
        ASSERT_LE(d.from, d.to);
    }
    return d;
}

static delivered deliver(mn_store *st, const char *stream, const char *group, const char *consumer,
                         uint64_t count)
{
    return deliver_opt(st, stream, group, consumer, count, 0);
}

static uint64_t ack(mn_store *st, const char *stream, const char *group, const mn_entry_id *ids,
                    size_t n)
{
    mn_op op;
    gop(&op, MN_OP_ACK, group, NULL);
    op.ids = ids;
    op.nids = n;
    ASSERT_OK(run_op(st, &op, stream));
    return op.n;
}

typedef struct ginfo_t {
    int found;
    mn_entry_id last;
    int64_t entries_read, lag;
    uint64_t pending, consumers;
} ginfo_t;

static int ginfo_cb(void *ud, const mn_group_info *g)
{
    ginfo_t *gi = ud;
    gi->found = 1;
    gi->last = g->last_delivered;
    gi->entries_read = g->entries_read;
    gi->lag = g->lag;
    gi->pending = g->pending;
    gi->consumers = g->consumers;
    return 0;
}

static ginfo_t ginfo(mn_store *st, const char *stream, const char *group)
{
    ginfo_t gi;
    memset(&gi, 0, sizeof gi);
    ASSERT_OK(mn_group_get(st, stream, strlen(stream), group, strlen(group), ginfo_cb, &gi));
    ASSERT(gi.found);
    return gi;
}

typedef struct cinfo_t {
    const char *want;
    int found;
    uint64_t pending, seen, active;
    size_t count;
} cinfo_t;

static int cinfo_cb(void *ud, const mn_consumer_info *c)
{
    cinfo_t *ci = ud;
    ci->count++;
    if (c->name_len == strlen(ci->want) && memcmp(c->name, ci->want, c->name_len) == 0) {
        ci->found = 1;
        ci->pending = c->pending;
        ci->seen = c->seen_ms;
        ci->active = c->active_ms;
    }
    return 0;
}

/* The consumer's info; found = 0 if it does not exist. */
static cinfo_t cinfo(mn_store *st, const char *stream, const char *group, const char *consumer)
{
    cinfo_t ci;
    memset(&ci, 0, sizeof ci);
    ci.want = consumer;
    ASSERT_OK(mn_list_consumers(st, stream, strlen(stream), group, strlen(group), cinfo_cb, &ci));
    return ci;
}

typedef struct pend {
    mn_entry_id id;
    char consumer[32];
    uint64_t at, deliveries;
} pend;

typedef struct pendlist {
    pend p[128];
    size_t n;
} pendlist;

static int pend_cb(void *ud, const mn_pending_entry *p)
{
    pendlist *pl = ud;
    if (pl->n >= 128) return 1;
    pend *q = &pl->p[pl->n++];
    q->id = p->id;
    snprintf(q->consumer, sizeof q->consumer, "%.*s", (int)p->consumer_len, p->consumer);
    q->at = p->delivered_ms;
    q->deliveries = p->deliveries;
    return 0;
}

static pendlist *pending(mn_store *st, const char *stream, const char *group, mn_entry_id start,
                         mn_entry_id end, uint64_t count, const char *consumer, uint64_t min_idle)
{
    static pendlist pl;
    memset(&pl, 0, sizeof pl);
    ASSERT_OK(mn_list_pending(st, stream, strlen(stream), group, strlen(group), start, end, count,
                              consumer, consumer ? strlen(consumer) : 0, min_idle, pend_cb, &pl));
    return &pl;
}

static pendlist *pending_all(mn_store *st, const char *stream, const char *group)
{
    return pending(st, stream, group, ALL_IDS, 0, NULL, 0);
}

/* The PEL entry for id, or NULL. */
static pend *pel_has(pendlist *pl, uint64_t ms, uint64_t seq)
{
    for (size_t i = 0; i < pl->n; i++)
        if (pl->p[i].id.ms == ms && pl->p[i].id.seq == seq) return &pl->p[i];
    return NULL;
}

/* The PEL entry for id; fails the test if there is none. */
static pend *pel_find(pendlist *pl, uint64_t ms, uint64_t seq)
{
    pend *p = pel_has(pl, ms, seq);
    if (!p) FAIL("no PEL entry %" PRIu64 "-%" PRIu64, ms, seq);
    return p;
}

/* Checks the PEL's ids (ms-0, 0-terminated list) and owners (one name per
 * entry, or NULL to skip the owner check). */
static void expect_pel(pendlist *pl, const uint64_t *ms, const char *const *owners,
                       const char *what)
{
    size_t want = 0;
    while (ms[want]) want++;
    if (pl->n != want) {
        char buf[1024];
        size_t o = 0;
        for (size_t i = 0; i < pl->n && o < sizeof buf - 64; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, " %" PRIu64 "-%" PRIu64 ":%s",
                                  pl->p[i].id.ms, pl->p[i].id.seq, pl->p[i].consumer);
        buf[o] = 0;
        FAIL("%s: PEL has %zu entries (%s), expected %zu", what, pl->n, buf, want);
    }
    for (size_t i = 0; i < want; i++) {
        if (pl->p[i].id.ms != ms[i] || pl->p[i].id.seq != 0)
            FAIL("%s: PEL entry %zu is %" PRIu64 "-%" PRIu64 ", expected %" PRIu64 "-0", what, i,
                 pl->p[i].id.ms, pl->p[i].id.seq, ms[i]);
        if (owners && strcmp(pl->p[i].consumer, owners[i]) != 0)
            FAIL("%s: PEL entry %" PRIu64 "-0 belongs to %s, expected %s", what, ms[i],
                 pl->p[i].consumer, owners[i]);
    }
}

#define OWNERS(...) ((const char *const[]){__VA_ARGS__})

typedef struct claim_args {
    uint64_t min_idle;
    int64_t idle, time, retry;
    int force, justid;
    int lastid_set;
    mn_entry_id lastid;
} claim_args;

static claim_args CA(uint64_t min_idle)
{
    claim_args a = {min_idle, -1, -1, -1, 0, 0, 0, {0, 0}};
    return a;
}

/* XCLAIM; returns the claimed ids (into out, at most 64) and their count. */
static size_t claim(mn_store *st, const char *stream, const char *group, const char *consumer,
                    const mn_entry_id *ids, size_t nids, claim_args a, mn_entry_id *out)
{
    mn_op op;
    gop(&op, MN_OP_CLAIM, group, consumer);
    op.ids = ids;
    op.nids = nids;
    op.min_idle_ms = a.min_idle;
    op.idle_ms = a.idle;
    op.time_ms = a.time;
    op.retrycount = a.retry;
    op.force = a.force;
    op.justid = a.justid;
    op.lastid_set = a.lastid_set;
    op.lastid = a.lastid;
    ASSERT_OK(run_op(st, &op, stream));
    size_t n = op.out_n;
    ASSERT(n <= 64);
    ASSERT(n == 0 || op.out_ids != NULL);
    if (out && n) memcpy(out, op.out_ids, n * sizeof *out);
    mn_op_free(&op);
    return n;
}

typedef struct autoclaimed {
    mn_entry_id ids[64], deleted[64], next;
    size_t n, ndeleted;
} autoclaimed;

static autoclaimed autoclaim(mn_store *st, const char *stream, const char *group,
                             const char *consumer, mn_entry_id start, uint64_t count,
                             uint64_t min_idle, int justid)
{
    mn_op op;
    autoclaimed r;
    memset(&r, 0, sizeof r);
    gop(&op, MN_OP_AUTOCLAIM, group, consumer);
    op.start = start;
    op.count = count;
    op.min_idle_ms = min_idle;
    op.justid = justid;
    ASSERT_OK(run_op(st, &op, stream));
    ASSERT(op.out_n <= 64 && op.deleted_n <= 64);
    r.n = op.out_n;
    r.ndeleted = op.deleted_n;
    if (r.n) memcpy(r.ids, op.out_ids, r.n * sizeof *r.ids);
    if (r.ndeleted) memcpy(r.deleted, op.deleted_ids, r.ndeleted * sizeof *r.deleted);
    r.next = op.next;
    mn_op_free(&op);
    return r;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ------------------------------------------------------------------------ */
/* XGROUP CREATE                                                              */
/* ------------------------------------------------------------------------ */

typedef struct gnames {
    char names[8][16];
    size_t n;
} gnames;

static int gname_cb(void *ud, const mn_group_info *g)
{
    gnames *gn = ud;
    if (gn->n < 8) snprintf(gn->names[gn->n++], 16, "%.*s", (int)g->name_len, g->name);
    return 0;
}

TEST(group_create)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 3);

    /* explicit 0-0: everything is new, entries_read 0 */
    ASSERT_OK(gcreate(st, "s", "g0", 1, EID(0, 0), -1, 0));
    ginfo_t g = ginfo(st, "s", "g0");
    ASSERT_ID(g.last, 0, 0);
    ASSERT_EQ(g.entries_read, 0);
    ASSERT_EQ(g.lag, 3);
    ASSERT_EQ(g.pending, 0);
    ASSERT_EQ(g.consumers, 0);

    /* '$': the stream's last id, entries_read = entries_added */
    ASSERT_OK(gcreate(st, "s", "g$", 0, EID(0, 0), -1, 0));
    g = ginfo(st, "s", "g$");
    ASSERT_ID(g.last, 3, 0);
    ASSERT_EQ(g.entries_read, 3);
    ASSERT_EQ(g.lag, 0);

    /* an explicit id in the middle: entries_read unknown unless given */
    ASSERT_OK(gcreate(st, "s", "gmid", 1, EID(2, 0), -1, 0));
    g = ginfo(st, "s", "gmid");
    ASSERT_ID(g.last, 2, 0);
    ASSERT_EQ(g.entries_read, -1);
    ASSERT_EQ(g.lag, -1);
    ASSERT_OK(gcreate(st, "s", "gmid2", 1, EID(2, 0), 2, 0));
    g = ginfo(st, "s", "gmid2");
    ASSERT_EQ(g.entries_read, 2);
    ASSERT_EQ(g.lag, 1);

    /* BUSYGROUP, with or without MKSTREAM; the group is unchanged */
    ASSERT_ERR(gcreate(st, "s", "g0", 1, EID(3, 0), -1, 0), MN_EEXISTS);
    ASSERT_ERR(gcreate(st, "s", "g0", 0, EID(0, 0), -1, 1), MN_EEXISTS);
    g = ginfo(st, "s", "g0");
    ASSERT_ID(g.last, 0, 0);

    /* listed in name order; counted in the stream's info */
    gnames gn;
    memset(&gn, 0, sizeof gn);
    ASSERT_OK(mn_list_groups(st, "s", 1, gname_cb, &gn));
    ASSERT_EQ(gn.n, 4);
    ASSERT_STR_EQ(gn.names[0], "g$");
    ASSERT_STR_EQ(gn.names[1], "g0");
    ASSERT_STR_EQ(gn.names[2], "gmid");
    ASSERT_STR_EQ(gn.names[3], "gmid2");
    ASSERT_EQ(info(st, "s").groups, 4);

    /* a missing stream: ENOTFOUND, nothing created */
    ASSERT_ERR(gcreate(st, "missing", "g", 1, EID(0, 0), -1, 0), MN_ENOTFOUND);
    mn_stream_info in;
    ASSERT_ERR(mn_stream_info_get(st, "missing", 7, &in), MN_ENOTFOUND);
    /* MKSTREAM creates it, empty */
    ASSERT_OK(gcreate(st, "mk", "g", 0, EID(0, 0), -1, 1));
    in = info(st, "mk");
    ASSERT_EQ(in.version, MN_NO_VERSION);
    ASSERT_EQ(in.length, 0);
    ASSERT_EQ(in.groups, 1);
    g = ginfo(st, "mk", "g");
    ASSERT_ID(g.last, 0, 0);
    ASSERT_EQ(g.entries_read, 0);
    ASSERT_EQ(g.lag, 0);
    /* MKSTREAM with an explicit id */
    ASSERT_OK(gcreate(st, "mk2", "g", 1, EID(5, 5), -1, 1));
    ASSERT_ID(ginfo(st, "mk2", "g").last, 5, 5);
    /* the group on the empty stream then sees what is appended */
    xadd(st, "mk", 1, 0);
    g = ginfo(st, "mk", "g");
    ASSERT_EQ(g.lag, 1);
    delivered d = deliver(st, "mk", "g", "c", 0);
    ASSERT_EQ(d.n, 1);
    ASSERT_EQ(d.from, 0);
    ASSERT_EQ(d.to, 0);

    /* lookups of what is not there */
    ASSERT_ERR(mn_group_get(st, "s", 1, "nope", 4, ginfo_cb, &g), MN_ENOGROUP);
    ASSERT_ERR(mn_group_get(st, "missing", 7, "g0", 2, ginfo_cb, &g), MN_ENOTFOUND);
    ASSERT_ERR(mn_list_groups(st, "missing", 7, ginfo_cb, &g), MN_ENOTFOUND);
    ASSERT_ERR(mn_list_consumers(st, "s", 1, "nope", 4, cinfo_cb, NULL), MN_ENOGROUP);
    ASSERT_ERR(mn_list_pending(st, "s", 1, "nope", 4, ALL_IDS, 0, NULL, 0, 0, pend_cb, NULL),
               MN_ENOGROUP);
    /* bad names */
    ASSERT_ERR(gcreate(st, "s", "", 1, EID(0, 0), -1, 0), MN_EINVAL);
    /* a tombstoned stream */
    xadd_range(st, "dead", 1, 2);
    ASSERT_OK(mn_delete_stream(st, "dead", 4, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));
    ASSERT_ERR(gcreate(st, "dead", "g", 1, EID(0, 0), -1, 0), MN_EDELETED);
    ASSERT_ERR(gcreate(st, "dead", "g", 1, EID(0, 0), -1, 1), MN_EDELETED);

    const char *streams[] = {"s", "mk", "mk2", "missing", "dead"};
    expect_persists(dir, &st, streams, 5);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* XREADGROUP '>'                                                             */
/* ------------------------------------------------------------------------ */

TEST(deliver_two_consumers)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 10);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));

    delivered d = deliver(st, "s", "g", "alice", 3);
    ASSERT_EQ(d.n, 3);
    ASSERT_EQ(d.from, 0);
    ASSERT_EQ(d.to, 2);
    d = deliver(st, "s", "g", "bob", 4);
    ASSERT_EQ(d.n, 4);
    ASSERT_EQ(d.from, 3);
    ASSERT_EQ(d.to, 6);
    ginfo_t g = ginfo(st, "s", "g");
    ASSERT_ID(g.last, 7, 0);
    ASSERT_EQ(g.entries_read, 7);
    ASSERT_EQ(g.lag, 3);
    ASSERT_EQ(g.pending, 7);
    ASSERT_EQ(g.consumers, 2);
    d = deliver(st, "s", "g", "alice", 0); /* all the rest */
    ASSERT_EQ(d.n, 3);
    ASSERT_EQ(d.from, 7);
    ASSERT_EQ(d.to, 9);
    /* nothing new */
    d = deliver(st, "s", "g", "alice", 0);
    ASSERT_EQ(d.n, 0);
    d = deliver(st, "s", "g", "bob", 5);
    ASSERT_EQ(d.n, 0);
    /* a new consumer is created even when there is nothing to deliver */
    ASSERT(!cinfo(st, "s", "g", "carol").found);
    d = deliver(st, "s", "g", "carol", 1);
    ASSERT_EQ(d.n, 0);
    cinfo_t c = cinfo(st, "s", "g", "carol");
    ASSERT(c.found);
    ASSERT_EQ(c.pending, 0);
    ASSERT_EQ(c.active, 0);
    ASSERT_GT(c.seen, 0);
    ASSERT_EQ(c.count, 3);

    /* the PEL: distinct entries, each to one consumer, delivered once */
    pendlist *pl = pending_all(st, "s", "g");
    expect_pel(pl, MS(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
               OWNERS("alice", "alice", "alice", "bob", "bob", "bob", "bob", "alice", "alice",
                      "alice"),
               "after deliveries");
    for (size_t i = 0; i < pl->n; i++) ASSERT_EQ(pl->p[i].deliveries, 1);
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 6);
    ASSERT_EQ(cinfo(st, "s", "g", "bob").pending, 4);
    ASSERT_GT(cinfo(st, "s", "g", "alice").active, 0);
    g = ginfo(st, "s", "g");
    ASSERT_ID(g.last, 10, 0);
    ASSERT_EQ(g.entries_read, 10);
    ASSERT_EQ(g.lag, 0);
    ASSERT_EQ(g.pending, 10);
    ASSERT_EQ(g.consumers, 3);

    /* more entries, one deleted before delivery: skipped, versions span it */
    xadd_range(st, "s", 11, 15);
    ASSERT_EQ(ginfo(st, "s", "g").lag, 5);
    mn_entry_id twelve = EID(12, 0);
    ASSERT_EQ(xdel(st, "s", &twelve, 1), 1);
    d = deliver(st, "s", "g", "bob", 2);
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ(d.from, 10);
    ASSERT_EQ(d.to, 12);
    pl = pending(st, "s", "g", EID(11, 0), EID(UINT64_MAX, UINT64_MAX), 0, NULL, 0);
    expect_pel(pl, MS(11, 13), OWNERS("bob", "bob"), "across a hole");
    g = ginfo(st, "s", "g");
    ASSERT_ID(g.last, 13, 0);
    ASSERT_EQ(g.entries_read, 13);
    /* a trim of undelivered entries: they are never delivered */
    ASSERT_EQ(trim(st, "s", MN_TRIM_MINID, 0, EID(15, 0), 0), 13); /* 1..14 but 12 */
    d = deliver(st, "s", "g", "alice", 0);
    ASSERT_EQ(d.n, 1);
    ASSERT_EQ(d.from, 14);
    ASSERT_EQ(d.to, 14);
    ASSERT_ID(ginfo(st, "s", "g").last, 15, 0);

    /* errors */
    mn_op op;
    gop(&op, MN_OP_DELIVER, "nope", "alice");
    ASSERT_ERR(run_op(st, &op, "s"), MN_ENOGROUP);
    gop(&op, MN_OP_DELIVER, "g", "alice");
    ASSERT_ERR(run_op(st, &op, "missing"), MN_ENOGROUP);
    gop(&op, MN_OP_DELIVER, "g", "");
    ASSERT_ERR(run_op(st, &op, "s"), MN_EINVAL);
    gop(&op, MN_OP_DELIVER, "", "x");
    ASSERT_ERR(run_op(st, &op, "s"), MN_EINVAL);

    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    /* and delivery continues where it was */
    xadd(st, "s", 16, 0);
    d = deliver(st, "s", "g", "carol", 0);
    ASSERT_EQ(d.n, 1);
    ASSERT_EQ(d.from, 15);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(deliver_noack)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 6);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    delivered d = deliver_opt(st, "s", "g", "a", 2, 1);
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ(d.from, 0);
    ASSERT_EQ(d.to, 1);
    ginfo_t g = ginfo(st, "s", "g");
    ASSERT_EQ(g.pending, 0);
    ASSERT_ID(g.last, 2, 0);
    ASSERT_EQ(g.entries_read, 2);
    ASSERT_EQ(g.lag, 4);
    ASSERT_EQ(g.consumers, 1);
    cinfo_t c = cinfo(st, "s", "g", "a");
    ASSERT(c.found);
    ASSERT_EQ(c.pending, 0);
    ASSERT_EQ(pending_all(st, "s", "g")->n, 0);
    /* then a normal delivery goes on from there */
    d = deliver(st, "s", "g", "a", 2);
    ASSERT_EQ(d.from, 2);
    expect_pel(pending_all(st, "s", "g"), MS(3, 4), OWNERS("a", "a"), "after noack + normal");
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* XACK, XPENDING                                                             */
/* ------------------------------------------------------------------------ */

TEST(ack)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 6);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "a", 3);
    deliver(st, "s", "g", "b", 3);
    mn_entry_id ids[] = {EID(1, 0), EID(5, 0), EID(99, 0), EID(1, 0), EID(2, 1)};
    ASSERT_EQ(ack(st, "s", "g", ids, 5), 2);
    ASSERT_EQ(ack(st, "s", "g", ids, 5), 0); /* idempotent */
    ASSERT_EQ(ginfo(st, "s", "g").pending, 4);
    ASSERT_EQ(cinfo(st, "s", "g", "a").pending, 2);
    ASSERT_EQ(cinfo(st, "s", "g", "b").pending, 2);
    expect_pel(pending_all(st, "s", "g"), MS(2, 3, 4, 6), OWNERS("a", "a", "b", "b"), "after ack");
    ASSERT_EQ(ack(st, "s", "g", NULL, 0), 0);
    /* ack of a deleted entry still removes it from the PEL */
    mn_entry_id three = EID(3, 0);
    ASSERT_EQ(xdel(st, "s", &three, 1), 1);
    ASSERT_EQ(ack(st, "s", "g", &three, 1), 1);
    /* ack everything */
    mn_entry_id rest[] = {EID(2, 0), EID(4, 0), EID(6, 0)};
    ASSERT_EQ(ack(st, "s", "g", rest, 3), 3);
    ASSERT_EQ(ginfo(st, "s", "g").pending, 0);
    ASSERT_EQ(cinfo(st, "s", "g", "a").pending, 0);
    ASSERT_EQ(cinfo(st, "s", "g", "b").pending, 0);
    ASSERT_EQ(ginfo(st, "s", "g").consumers, 2); /* consumers stay */
    /* errors */
    mn_op op;
    gop(&op, MN_OP_ACK, "nope", NULL);
    op.ids = rest;
    op.nids = 1;
    ASSERT_ERR(run_op(st, &op, "s"), MN_ENOGROUP);
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(pending_listing)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 10);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "alice", 5);
    deliver(st, "s", "g", "bob", 5);
    uint64_t t = now_ms();
    /* make 2, 4 and 7 old: TIME with JUSTID keeps their counts */
    mn_entry_id old_a[] = {EID(2, 0), EID(4, 0)};
    claim_args a = CA(0);
    a.time = (int64_t)(t - 100000);
    a.justid = 1;
    ASSERT_EQ(claim(st, "s", "g", "alice", old_a, 2, a, NULL), 2);
    mn_entry_id old_b = EID(7, 0);
    a.time = (int64_t)(t - 50000);
    ASSERT_EQ(claim(st, "s", "g", "bob", &old_b, 1, a, NULL), 1);

    /* by range */
    expect_pel(pending(st, "s", "g", EID(3, 0), EID(8, 0), 0, NULL, 0), MS(3, 4, 5, 6, 7, 8), NULL,
               "[3,8]");
    expect_pel(pending(st, "s", "g", EID(3, 1), EID(7, 9), 0, NULL, 0), MS(4, 5, 6, 7), NULL,
               "(3-1,7-9)");
    expect_pel(pending(st, "s", "g", EID(3, 0), EID(8, 0), 2, NULL, 0), MS(3, 4), NULL,
               "[3,8] count 2");
    expect_pel(pending(st, "s", "g", EID(8, 0), EID(3, 0), 0, NULL, 0), NONE, NULL, "8 > 3");
    /* by consumer */
    expect_pel(pending(st, "s", "g", ALL_IDS, 0, "bob", 0), MS(6, 7, 8, 9, 10), NULL, "bob");
    expect_pel(pending(st, "s", "g", ALL_IDS, 3, "alice", 0), MS(1, 2, 3), NULL, "alice count 3");
    expect_pel(pending(st, "s", "g", EID(4, 0), EID(9, 0), 0, "alice", 0), MS(4, 5), NULL,
               "alice [4,9]");
    expect_pel(pending(st, "s", "g", ALL_IDS, 0, "nobody", 0), NONE, NULL, "nobody");
    /* by idle time */
    expect_pel(pending(st, "s", "g", ALL_IDS, 0, NULL, 40000), MS(2, 4, 7), NULL, "idle 40s");
    expect_pel(pending(st, "s", "g", ALL_IDS, 0, NULL, 80000), MS(2, 4), NULL, "idle 80s");
    expect_pel(pending(st, "s", "g", ALL_IDS, 0, "bob", 40000), MS(7), NULL, "bob idle 40s");
    expect_pel(pending(st, "s", "g", ALL_IDS, 1, NULL, 40000), MS(2), NULL, "idle 40s count 1");
    pendlist *pl = pending_all(st, "s", "g");
    ASSERT_EQ_U64(pel_find(pl, 2, 0)->at, t - 100000);
    ASSERT_EQ_U64(pel_find(pl, 7, 0)->at, t - 50000);
    ASSERT_GE(pel_find(pl, 1, 0)->at, t - 5000);

    /* delivery counts: claims bump them, JUSTID does not */
    mn_entry_id one = EID(1, 0);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 1, 0)->deliveries, 1);
    ASSERT_EQ(claim(st, "s", "g", "bob", &one, 1, CA(0), NULL), 1);
    pl = pending_all(st, "s", "g");
    ASSERT_EQ(pel_find(pl, 1, 0)->deliveries, 2);
    ASSERT_STR_EQ(pel_find(pl, 1, 0)->consumer, "bob");
    ASSERT_EQ(claim(st, "s", "g", "alice", &one, 1, CA(0), NULL), 1);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 1, 0)->deliveries, 3);
    a = CA(0);
    a.justid = 1;
    ASSERT_EQ(claim(st, "s", "g", "alice", &one, 1, a, NULL), 1);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 1, 0)->deliveries, 3);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 2, 0)->deliveries, 1);

    /* the listing stops when the callback says so */
    ASSERT_EQ(mn_list_pending(st, "s", 1, "g", 1, ALL_IDS, 0, NULL, 0, 0, pend_cb,
                              &(pendlist){.n = 128}),
              1);
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    /* idle times persist: still old after the restart */
    expect_pel(pending(st, "s", "g", ALL_IDS, 0, NULL, 80000), MS(2, 4), NULL, "idle 80s reopened");
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* XCLAIM                                                                     */
/* ------------------------------------------------------------------------ */

TEST(claim_options)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 10);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "alice", 6);
    mn_entry_id got[64];

    /* too recent for min_idle: not claimed, nothing changes */
    mn_entry_id one = EID(1, 0);
    ASSERT_EQ(claim(st, "s", "g", "bob", &one, 1, CA(60000), got), 0);
    pendlist *pl = pending_all(st, "s", "g");
    ASSERT_STR_EQ(pel_find(pl, 1, 0)->consumer, "alice");
    ASSERT_EQ(pel_find(pl, 1, 0)->deliveries, 1);
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 6);
    /* (whether bob now exists differs between Redis 7.0 and 7.2: not checked) */
    ASSERT_EQ(cinfo(st, "s", "g", "bob").pending, 0);
    ASSERT_EQ(cinfo(st, "s", "g", "bob").active, 0);

    /* after some time it is idle enough */
    sleep_ms(60);
    ASSERT_EQ(claim(st, "s", "g", "bob", &one, 1, CA(30), got), 1);
    ASSERT_ID(got[0], 1, 0);
    pl = pending_all(st, "s", "g");
    ASSERT_STR_EQ(pel_find(pl, 1, 0)->consumer, "bob");
    ASSERT_EQ(pel_find(pl, 1, 0)->deliveries, 2);
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 5);
    ASSERT_EQ(cinfo(st, "s", "g", "bob").pending, 1);
    ASSERT_GT(cinfo(st, "s", "g", "bob").active, 0);
    ASSERT_EQ(ginfo(st, "s", "g").pending, 6);
    /* ... and the claim reset its idle time */
    ASSERT_EQ(claim(st, "s", "g", "alice", &one, 1, CA(20000), got), 0);

    /* not in the PEL: not claimed without FORCE; FORCE takes it if it exists */
    mn_entry_id eight = EID(8, 0), missing = EID(8, 5);
    ASSERT_EQ(claim(st, "s", "g", "bob", &eight, 1, CA(0), got), 0);
    ASSERT(pel_has(pending_all(st, "s", "g"), 8, 0) == NULL);
    claim_args a = CA(0);
    a.force = 1;
    mn_entry_id forced[] = {EID(8, 0), EID(8, 5)};
    ASSERT_EQ(claim(st, "s", "g", "bob", forced, 2, a, got), 1);
    ASSERT_ID(got[0], 8, 0);
    (void)missing;
    pl = pending_all(st, "s", "g");
    ASSERT(pel_has(pl, 8, 0) != NULL);
    ASSERT_STR_EQ(pel_find(pl, 8, 0)->consumer, "bob");
    ASSERT_GE(pel_find(pl, 8, 0)->deliveries, 1);
    ASSERT(pel_has(pl, 8, 5) == NULL);
    ASSERT_EQ(ginfo(st, "s", "g").pending, 7);
    ASSERT_EQ(cinfo(st, "s", "g", "bob").pending, 2);
    ASSERT_ID(ginfo(st, "s", "g").last, 6, 0); /* FORCE does not move last-delivered */

    /* JUSTID: no count bump */
    mn_entry_id two = EID(2, 0);
    a = CA(0);
    a.justid = 1;
    ASSERT_EQ(claim(st, "s", "g", "bob", &two, 1, a, got), 1);
    pl = pending_all(st, "s", "g");
    ASSERT_EQ(pel_find(pl, 2, 0)->deliveries, 1);
    ASSERT_STR_EQ(pel_find(pl, 2, 0)->consumer, "bob");

    /* RETRYCOUNT: set exactly (even with JUSTID) */
    a = CA(0);
    a.retry = 42;
    ASSERT_EQ(claim(st, "s", "g", "carol", &two, 1, a, got), 1);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 2, 0)->deliveries, 42);
    a.justid = 1;
    a.retry = 7;
    ASSERT_EQ(claim(st, "s", "g", "carol", &two, 1, a, got), 1);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 2, 0)->deliveries, 7);

    /* IDLE: the delivery time is set back by that much */
    mn_entry_id three = EID(3, 0);
    uint64_t t0 = now_ms();
    a = CA(0);
    a.idle = 500000;
    ASSERT_EQ(claim(st, "s", "g", "carol", &three, 1, a, got), 1);
    uint64_t t1 = now_ms();
    pend *p = pel_find(pending_all(st, "s", "g"), 3, 0);
    ASSERT_GE(p->at, t0 - 500000);
    ASSERT_LE(p->at, t1 - 500000);
    ASSERT_EQ(p->deliveries, 2);
    /* so a min_idle claim takes it now */
    ASSERT_EQ(claim(st, "s", "g", "dave", &three, 1, CA(400000), got), 1);
    ASSERT_STR_EQ(pel_find(pending_all(st, "s", "g"), 3, 0)->consumer, "dave");

    /* TIME: an absolute delivery time */
    mn_entry_id four = EID(4, 0);
    a = CA(0);
    a.time = 1234567;
    ASSERT_EQ(claim(st, "s", "g", "carol", &four, 1, a, got), 1);
    ASSERT_EQ_U64(pel_find(pending_all(st, "s", "g"), 4, 0)->at, 1234567);

    /* several ids at once, some claimable, some not; duplicates count once */
    mn_entry_id many[] = {EID(4, 0), EID(5, 0), EID(9, 0), EID(4, 0), EID(6, 0)};
    ASSERT_EQ(claim(st, "s", "g", "erin", many, 5, CA(0), got), 3);
    ASSERT_ID(got[0], 4, 0);
    ASSERT_ID(got[1], 5, 0);
    ASSERT_ID(got[2], 6, 0);
    ASSERT_EQ(cinfo(st, "s", "g", "erin").pending, 3);

    /* LASTID: raises the group's last-delivered id, never lowers it */
    a = CA(0);
    a.lastid_set = 1;
    a.lastid = EID(8, 0);
    ASSERT_EQ(claim(st, "s", "g", "erin", NULL, 0, a, got), 0);
    ASSERT_ID(ginfo(st, "s", "g").last, 8, 0);
    a.lastid = EID(2, 0);
    ASSERT_EQ(claim(st, "s", "g", "erin", NULL, 0, a, got), 0);
    ASSERT_ID(ginfo(st, "s", "g").last, 8, 0);
    delivered d = deliver(st, "s", "g", "erin", 0); /* '>' continues after the LASTID */
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ(d.from, 8);

    /* the counts stay consistent */
    pl = pending_all(st, "s", "g");
    uint64_t total = 0;
    const char *cons[] = {"alice", "bob", "carol", "dave", "erin"};
    for (int i = 0; i < 5; i++) {
        uint64_t n = 0;
        for (size_t k = 0; k < pl->n; k++) n += strcmp(pl->p[k].consumer, cons[i]) == 0;
        ASSERT_EQ(cinfo(st, "s", "g", cons[i]).pending, n);
        total += n;
    }
    ASSERT_EQ(total, pl->n);
    ASSERT_EQ(ginfo(st, "s", "g").pending, pl->n);

    /* errors */
    mn_op op;
    gop(&op, MN_OP_CLAIM, "nope", "x");
    op.ids = &one;
    op.nids = 1;
    ASSERT_ERR(run_op(st, &op, "s"), MN_ENOGROUP);
    gop(&op, MN_OP_CLAIM, "g", NULL);
    op.ids = &one;
    op.nids = 1;
    ASSERT_ERR(run_op(st, &op, "s"), MN_EINVAL);

    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

TEST(claim_deleted_entry)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 5);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "alice", 0);
    mn_entry_id dels[] = {EID(2, 0), EID(4, 0)};
    ASSERT_EQ(xdel(st, "s", dels, 2), 2);
    /* still pending after XDEL (as in Redis) */
    expect_pel(pending_all(st, "s", "g"), MS(1, 2, 3, 4, 5), NULL, "after xdel");
    mn_entry_id ids[] = {EID(1, 0), EID(2, 0), EID(4, 0)};
    mn_entry_id got[64];
    ASSERT_EQ(claim(st, "s", "g", "bob", ids, 3, CA(0), got), 1);
    ASSERT_ID(got[0], 1, 0);
    expect_pel(pending_all(st, "s", "g"), MS(1, 3, 5), OWNERS("bob", "alice", "alice"),
               "claimed deleted");
    ASSERT_EQ(ginfo(st, "s", "g").pending, 3);
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 2);
    ASSERT_EQ(cinfo(st, "s", "g", "bob").pending, 1);
    /* with FORCE too, and through a trim */
    ASSERT_EQ(trim(st, "s", MN_TRIM_MAXLEN, 1, EID(0, 0), 0), 2); /* 1, 3 */
    claim_args a = CA(0);
    a.force = 1;
    mn_entry_id three = EID(3, 0);
    ASSERT_EQ(claim(st, "s", "g", "carol", &three, 1, a, got), 0);
    expect_pel(pending_all(st, "s", "g"), MS(1, 5), OWNERS("bob", "alice"), "claimed trimmed");
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 1);
    ASSERT_EQ(ginfo(st, "s", "g").pending, 2);
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* XAUTOCLAIM                                                                 */
/* ------------------------------------------------------------------------ */

TEST(autoclaim)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 10);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "alice", 0);

    /* too recent: nothing claimed, the scan still ends */
    autoclaimed r = autoclaim(st, "s", "g", "bob", EID(0, 0), 5, 60000, 0);
    ASSERT_EQ(r.n, 0);
    ASSERT_EQ(r.ndeleted, 0);
    ASSERT_ID(r.next, 0, 0);
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 10);

    /* a cursor walk, 3 at a time */
    r = autoclaim(st, "s", "g", "bob", EID(0, 0), 3, 0, 0);
    ASSERT_EQ(r.n, 3);
    ASSERT_ID(r.ids[0], 1, 0);
    ASSERT_ID(r.ids[2], 3, 0);
    ASSERT_ID(r.next, 4, 0);
    r = autoclaim(st, "s", "g", "bob", r.next, 3, 0, 0);
    ASSERT_EQ(r.n, 3);
    ASSERT_ID(r.ids[0], 4, 0);
    ASSERT_ID(r.next, 7, 0);
    /* a start between ids */
    r = autoclaim(st, "s", "g", "bob", EID(6, 1), 3, 0, 0);
    ASSERT_EQ(r.n, 3);
    ASSERT_ID(r.ids[0], 7, 0);
    ASSERT_ID(r.next, 10, 0);
    r = autoclaim(st, "s", "g", "bob", r.next, 3, 0, 0);
    ASSERT_EQ(r.n, 1);
    ASSERT_ID(r.ids[0], 10, 0);
    ASSERT_ID(r.next, 0, 0);
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 0);
    ASSERT_EQ(cinfo(st, "s", "g", "bob").pending, 10);
    pendlist *pl = pending_all(st, "s", "g");
    for (size_t i = 0; i < pl->n; i++) {
        ASSERT_STR_EQ(pl->p[i].consumer, "bob");
        ASSERT_EQ(pl->p[i].deliveries, 2);
    }
    /* count exactly the rest: the cursor is 0-0 */
    r = autoclaim(st, "s", "g", "carol", EID(9, 0), 2, 0, 0);
    ASSERT_EQ(r.n, 2);
    ASSERT_ID(r.next, 0, 0);

    /* JUSTID: no count bump */
    r = autoclaim(st, "s", "g", "carol", EID(0, 0), 2, 0, 1);
    ASSERT_EQ(r.n, 2);
    pl = pending_all(st, "s", "g");
    ASSERT_EQ(pel_find(pl, 1, 0)->deliveries, 2);
    ASSERT_STR_EQ(pel_find(pl, 1, 0)->consumer, "carol");

    /* deleted entries: reported, dropped from the PEL, not claimed */
    mn_entry_id dels[] = {EID(2, 0), EID(5, 0), EID(6, 0)};
    ASSERT_EQ(xdel(st, "s", dels, 3), 3);
    r = autoclaim(st, "s", "g", "dave", EID(0, 0), 3, 0, 0);
    ASSERT_EQ(r.n, 3);
    ASSERT_ID(r.ids[0], 1, 0);
    ASSERT_ID(r.ids[1], 3, 0);
    ASSERT_ID(r.ids[2], 4, 0);
    ASSERT_EQ(r.ndeleted, 1);
    ASSERT_ID(r.deleted[0], 2, 0);
    ASSERT_ID(r.next, 5, 0);
    r = autoclaim(st, "s", "g", "dave", r.next, 3, 0, 0);
    ASSERT_EQ(r.ndeleted, 2);
    ASSERT_ID(r.deleted[0], 5, 0);
    ASSERT_ID(r.deleted[1], 6, 0);
    ASSERT_EQ(r.n, 3);
    ASSERT_ID(r.ids[0], 7, 0);
    ASSERT_ID(r.next, 10, 0);
    expect_pel(pending_all(st, "s", "g"), MS(1, 3, 4, 7, 8, 9, 10), NULL, "after autoclaim dels");
    ASSERT_EQ(ginfo(st, "s", "g").pending, 7);
    uint64_t sum = 0;
    const char *cons[] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < 4; i++) sum += cinfo(st, "s", "g", cons[i]).pending;
    ASSERT_EQ(sum, 7);

    /* min_idle filters; IDLE set by a claim makes some old */
    claim_args a = CA(0);
    a.idle = 100000;
    a.justid = 1;
    mn_entry_id old[] = {EID(4, 0), EID(9, 0)};
    ASSERT_EQ(claim(st, "s", "g", "alice", old, 2, a, NULL), 2);
    r = autoclaim(st, "s", "g", "erin", EID(0, 0), 10, 50000, 0);
    ASSERT_EQ(r.n, 2);
    ASSERT_ID(r.ids[0], 4, 0);
    ASSERT_ID(r.ids[1], 9, 0);
    ASSERT_ID(r.next, 0, 0);

    /* errors */
    mn_op op;
    gop(&op, MN_OP_AUTOCLAIM, "nope", "x");
    ASSERT_ERR(run_op(st, &op, "s"), MN_ENOGROUP);
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Consumers, SETID, DESTROY                                                  */
/* ------------------------------------------------------------------------ */

TEST(consumers)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 6);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    mn_op op;
    gop(&op, MN_OP_CONSUMER_CREATE, "g", "alice");
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 1);
    gop(&op, MN_OP_CONSUMER_CREATE, "g", "alice");
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 0);
    cinfo_t c = cinfo(st, "s", "g", "alice");
    ASSERT(c.found);
    ASSERT_EQ(c.pending, 0);
    ASSERT_EQ(c.active, 0);
    ASSERT_EQ(ginfo(st, "s", "g").consumers, 1);

    deliver(st, "s", "g", "alice", 4);
    deliver(st, "s", "g", "bob", 0);
    ASSERT_EQ(ginfo(st, "s", "g").consumers, 2);
    gop(&op, MN_OP_CONSUMER_DELETE, "g", "alice");
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 4);
    ASSERT(!cinfo(st, "s", "g", "alice").found);
    expect_pel(pending_all(st, "s", "g"), MS(5, 6), OWNERS("bob", "bob"), "after delconsumer");
    ginfo_t g = ginfo(st, "s", "g");
    ASSERT_EQ(g.pending, 2);
    ASSERT_EQ(g.consumers, 1);
    ASSERT_ID(g.last, 6, 0); /* deliveries are not undone */
    /* deleting again, or one that never was: 0 */
    gop(&op, MN_OP_CONSUMER_DELETE, "g", "alice");
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 0);
    gop(&op, MN_OP_CONSUMER_DELETE, "g", "nobody");
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 0);
    /* a consumer with nothing pending */
    gop(&op, MN_OP_CONSUMER_CREATE, "g", "idle");
    ASSERT_OK(run_op(st, &op, "s"));
    gop(&op, MN_OP_CONSUMER_DELETE, "g", "idle");
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 0);
    ASSERT_EQ(ginfo(st, "s", "g").consumers, 1);
    /* a recreated consumer starts empty */
    gop(&op, MN_OP_CONSUMER_CREATE, "g", "alice");
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 1);
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 0);
    /* errors */
    gop(&op, MN_OP_CONSUMER_CREATE, "nope", "x");
    ASSERT_ERR(run_op(st, &op, "s"), MN_ENOGROUP);
    gop(&op, MN_OP_CONSUMER_CREATE, "g", "");
    ASSERT_ERR(run_op(st, &op, "s"), MN_EINVAL);
    gop(&op, MN_OP_CONSUMER_DELETE, "g", "x");
    ASSERT_ERR(run_op(st, &op, "missing"), MN_ENOGROUP);
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

static int gsetid(mn_store *st, const char *stream, const char *group, int id_set, mn_entry_id id,
                  int64_t entries_read)
{
    mn_op op;
    gop(&op, MN_OP_GROUP_SETID, group, NULL);
    op.id_set = id_set;
    op.id = id;
    op.entries_read = entries_read;
    return run_op(st, &op, stream);
}

TEST(group_setid_destroy)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 6);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "alice", 3);
    /* '$' */
    ASSERT_OK(gsetid(st, "s", "g", 0, EID(0, 0), -1));
    ginfo_t g = ginfo(st, "s", "g");
    ASSERT_ID(g.last, 6, 0);
    ASSERT_EQ(g.entries_read, 6);
    ASSERT_EQ(g.lag, 0);
    ASSERT_EQ(g.pending, 3); /* the PEL is kept */
    ASSERT_EQ(deliver(st, "s", "g", "alice", 0).n, 0);
    /* an explicit id with entries_read */
    ASSERT_OK(gsetid(st, "s", "g", 1, EID(4, 0), 4));
    g = ginfo(st, "s", "g");
    ASSERT_ID(g.last, 4, 0);
    ASSERT_EQ(g.entries_read, 4);
    ASSERT_EQ(g.lag, 2);
    delivered d = deliver(st, "s", "g", "bob", 0);
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ(d.from, 4);
    /* back to 0-0: everything is delivered again, to whoever reads now */
    ASSERT_OK(gsetid(st, "s", "g", 1, EID(0, 0), -1));
    g = ginfo(st, "s", "g");
    ASSERT_ID(g.last, 0, 0);
    ASSERT_EQ(g.entries_read, 0);
    ASSERT_EQ(g.lag, 6);
    d = deliver(st, "s", "g", "bob", 2);
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ(d.from, 0);
    expect_pel(pending_all(st, "s", "g"), MS(1, 2, 3, 5, 6), OWNERS("bob", "bob", "alice", "bob", "bob"),
               "redelivered after setid");
    ASSERT_EQ(cinfo(st, "s", "g", "alice").pending, 1);
    ASSERT_EQ(cinfo(st, "s", "g", "bob").pending, 4);
    ASSERT_EQ(ginfo(st, "s", "g").pending, 5);
    /* an explicit id without entries_read: unknown */
    ASSERT_OK(gsetid(st, "s", "g", 1, EID(3, 0), -1));
    g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, -1);
    ASSERT_EQ(g.lag, -1);
    /* ... until a delivery makes it known again */
    d = deliver(st, "s", "g", "bob", 0);
    ASSERT_EQ(d.n, 3);
    g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, 6);
    ASSERT_EQ(g.lag, 0);
    /* errors */
    ASSERT_ERR(gsetid(st, "s", "nope", 1, EID(0, 0), -1), MN_ENOGROUP);
    ASSERT_ERR(gsetid(st, "missing", "g", 1, EID(0, 0), -1), MN_ENOTFOUND);

    /* destroy */
    ASSERT_OK(gcreate(st, "s", "other", 0, EID(0, 0), -1, 0));
    mn_op op;
    gop(&op, MN_OP_GROUP_DESTROY, "g", NULL);
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 1);
    gop(&op, MN_OP_GROUP_DESTROY, "g", NULL);
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(op.n, 0);
    ASSERT_ERR(mn_group_get(st, "s", 1, "g", 1, ginfo_cb, &g), MN_ENOGROUP);
    ASSERT_EQ(info(st, "s").groups, 1);
    gop(&op, MN_OP_DELIVER, "g", "alice");
    ASSERT_ERR(run_op(st, &op, "s"), MN_ENOGROUP);
    mn_entry_id one = EID(1, 0);
    gop(&op, MN_OP_ACK, "g", NULL);
    op.ids = &one;
    op.nids = 1;
    ASSERT_ERR(run_op(st, &op, "s"), MN_ENOGROUP);
    /* the other group is untouched */
    g = ginfo(st, "s", "other");
    ASSERT_ID(g.last, 6, 0);
    /* recreated: a new, empty group */
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    g = ginfo(st, "s", "g");
    ASSERT_EQ(g.pending, 0);
    ASSERT_EQ(g.consumers, 0);
    ASSERT_EQ(pending_all(st, "s", "g")->n, 0);
    ASSERT(!cinfo(st, "s", "g", "bob").found);
    deliver(st, "s", "g", "zed", 1);
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

/* XREADGROUP '>' of an entry that is already in the PEL (after SETID moved
 * the group back) gives it to the reader with a delivery count of 1 in Redis
 * (t_stream.c streamReplyWithRange: "nack->delivery_count = 1"). */
TEST(redeliver_resets_count)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 3);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "alice", 0);
    mn_entry_id one = EID(1, 0);
    ASSERT_EQ(claim(st, "s", "g", "alice", &one, 1, CA(0), NULL), 1); /* count 2 */
    ASSERT_OK(gsetid(st, "s", "g", 1, EID(0, 0), -1));
    deliver(st, "s", "g", "bob", 1);
    pend *p = pel_find(pending_all(st, "s", "g"), 1, 0);
    ASSERT_STR_EQ(p->consumer, "bob");
    ASSERT_EQ(p->deliveries, 1);
    mn_close(st);
    harness_rmrf(dir);
}

/* Redis's XCLAIM FORCE creates the PEL entry with a delivery count of 1
 * (streamCreateNACK) and then counts the claim unless JUSTID: a PEL entry
 * never has 0 deliveries. */
TEST(claim_force_counts)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 3);
    ASSERT_OK(gcreate(st, "s", "g", 0, EID(0, 0), -1, 0));
    claim_args a = CA(0);
    a.force = 1;
    a.justid = 1;
    mn_entry_id one = EID(1, 0), two = EID(2, 0);
    ASSERT_EQ(claim(st, "s", "g", "c", &one, 1, a, NULL), 1);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 1, 0)->deliveries, 1);
    a.justid = 0;
    ASSERT_EQ(claim(st, "s", "g", "c", &two, 1, a, NULL), 1);
    ASSERT_EQ(pel_find(pending_all(st, "s", "g"), 2, 0)->deliveries, 2);
    mn_close(st);
    harness_rmrf(dir);
}

/* Redis's XCLAIM clamps TIME to now ("if (deliverytime < 0 || deliverytime >
 * now) deliverytime = now"): a PEL entry never has a delivery time in the
 * future, so its idle time is never negative. */
TEST(claim_time_in_future_clamped)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 2);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "a", 0);
    claim_args a = CA(0);
    a.time = (int64_t)(now_ms() + 3600000);
    mn_entry_id one = EID(1, 0);
    ASSERT_EQ(claim(st, "s", "g", "a", &one, 1, a, NULL), 1);
    uint64_t after = now_ms();
    ASSERT_LE(pel_find(pending_all(st, "s", "g"), 1, 0)->at, after);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* entries-read and lag (XINFO GROUPS)                                        */
/* ------------------------------------------------------------------------ */

TEST(lag)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    /* an empty stream: lag 0 */
    ASSERT_OK(gcreate(st, "s", "g", 0, EID(0, 0), -1, 1));
    ASSERT_EQ(ginfo(st, "s", "g").lag, 0);
    xadd_range(st, "s", 1, 10);
    ginfo_t g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, 0);
    ASSERT_EQ(g.lag, 10);
    deliver(st, "s", "g", "a", 4);
    g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, 4);
    ASSERT_EQ(g.lag, 6);
    deliver_opt(st, "s", "g", "b", 3, 1); /* noack counts too */
    g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, 7);
    ASSERT_EQ(g.lag, 3);
    /* acks do not change it */
    mn_entry_id one = EID(1, 0);
    ack(st, "s", "g", &one, 1);
    ASSERT_EQ(ginfo(st, "s", "g").lag, 3);
    /* a deletion before last-delivered does not make it unknown */
    mn_entry_id two = EID(2, 0);
    ASSERT_EQ(xdel(st, "s", &two, 1), 1);
    g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, 7);
    ASSERT_EQ(g.lag, 3);
    /* a deletion after it does (Redis: nil) */
    mn_entry_id nine = EID(9, 0);
    ASSERT_EQ(xdel(st, "s", &nine, 1), 1);
    ASSERT_EQ(ginfo(st, "s", "g").lag, -1);
    /* reading to the end makes it 0 again */
    delivered d = deliver(st, "s", "g", "a", 0);
    ASSERT_EQ(d.n, 2);
    g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, 10);
    ASSERT_EQ(g.lag, 0);
    xadd_range(st, "s", 11, 12);
    ASSERT_EQ(ginfo(st, "s", "g").lag, 2);
    /* XSETID's entries_added shows in the lag */
    mn_op op;
    mn_op_init(&op, MN_OP_SETID);
    op.id = EID(20, 0);
    op.id_set = 1;
    op.entries_added = 30;
    ASSERT_OK(run_op(st, &op, "s"));
    ASSERT_EQ(ginfo(st, "s", "g").lag, 20);
    const char *streams[] = {"s"};
    expect_persists(dir, &st, streams, 1);
    mn_close(st);
    harness_rmrf(dir);
}

/* Trimming from the front does not leave a tombstone in the group's unread
 * range: Redis's streamRangeHasTombstones returns 0 when max-deleted-entry-id
 * is below the first entry, so XINFO GROUPS still reports entries-added -
 * entries-read (here 5 - 0 = 5), not nil. */
TEST(lag_after_front_trim)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 5);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    ASSERT_EQ(ginfo(st, "s", "g").lag, 5);
    ASSERT_EQ(trim(st, "s", MN_TRIM_MAXLEN, 3, EID(0, 0), 0), 2);
    ginfo_t g = ginfo(st, "s", "g");
    ASSERT_EQ(g.entries_read, 0);
    ASSERT_EQ(g.lag, 5);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Deleted streams take their groups along                                    */
/* ------------------------------------------------------------------------ */

TEST(groups_of_deleted_streams)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 4);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "s", "g", "a", 2);
    ASSERT_OK(mn_delete_stream(st, "s", 1, MN_EXPECT_ANY, 0));
    xadd_range(st, "s", 1, 2);
    ASSERT_EQ(info(st, "s").groups, 0);
    ASSERT_ERR(mn_group_get(st, "s", 1, "g", 1, ginfo_cb, NULL), MN_ENOGROUP);
    ASSERT_OK(gcreate(st, "s", "g", 1, EID(0, 0), -1, 0));
    ginfo_t g = ginfo(st, "s", "g");
    ASSERT_EQ(g.pending, 0);
    ASSERT_EQ(g.consumers, 0);
    ASSERT_EQ(g.lag, 2);
    deliver(st, "s", "g", "b", 0);
    expect_pel(pending_all(st, "s", "g"), MS(1, 2), OWNERS("b", "b"), "new stream's group");

    xadd_range(st, "t", 1, 2);
    ASSERT_OK(gcreate(st, "t", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "t", "g", "a", 0);
    ASSERT_OK(mn_delete_stream(st, "t", 1, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));
    mn_op op;
    gop(&op, MN_OP_DELIVER, "g", "a");
    ASSERT_ERR(run_op(st, &op, "t"), MN_ENOGROUP);
    ASSERT_ERR(mn_list_groups(st, "t", 1, ginfo_cb, NULL), MN_ENOTFOUND);
    const char *streams[] = {"s", "t"};
    expect_persists(dir, &st, streams, 2);
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
    xadd_range(st, "a", 1, 40);
    ASSERT_OK(gcreate(st, "a", "g1", 1, EID(0, 0), -1, 0));
    ASSERT_OK(gcreate(st, "a", "g2", 1, EID(10, 0), 10, 0));
    ASSERT_OK(gcreate(st, "a", "g3", 0, EID(0, 0), -1, 0));
    deliver(st, "a", "g1", "alice", 5);
    deliver(st, "a", "g1", "bob", 5);
    deliver_opt(st, "a", "g1", "carol", 5, 1);
    deliver(st, "a", "g1", "dave", 10);
    deliver(st, "a", "g2", "x", 7);
    mn_entry_id acks[] = {EID(1, 0), EID(7, 0), EID(22, 0)};
    ack(st, "a", "g1", acks, 3);
    claim_args ca = CA(0);
    ca.time = 1000;
    mn_entry_id cl[] = {EID(2, 0), EID(8, 0)};
    claim(st, "a", "g1", "erin", cl, 2, ca, NULL);
    ca = CA(0);
    ca.retry = 9;
    ca.idle = 5000;
    mn_entry_id cl2 = EID(3, 0);
    claim(st, "a", "g1", "erin", &cl2, 1, ca, NULL);
    ca = CA(0);
    ca.force = 1;
    ca.lastid_set = 1;
    ca.lastid = EID(30, 0);
    mn_entry_id cl3 = EID(35, 0);
    claim(st, "a", "g1", "frank", &cl3, 1, ca, NULL);
    mn_entry_id dels[] = {EID(4, 0), EID(21, 0), EID(38, 0)};
    ASSERT_EQ(xdel(st, "a", dels, 3), 3);
    autoclaim(st, "a", "g1", "gina", EID(0, 0), 4, 0, 0);
    autoclaim(st, "a", "g2", "x2", EID(0, 0), 2, 0, 1);
    gop(&op, MN_OP_CONSUMER_DELETE, "g1", "bob");
    ASSERT_OK(run_op(st, &op, "a"));
    gop(&op, MN_OP_CONSUMER_CREATE, "g1", "henry");
    ASSERT_OK(run_op(st, &op, "a"));
    ASSERT_OK(gsetid(st, "a", "g3", 1, EID(35, 0), -1));
    deliver(st, "a", "g3", "z", 2);
    ASSERT_EQ(trim(st, "a", MN_TRIM_MAXLEN, 30, EID(0, 0), 0), 7);
    gop(&op, MN_OP_GROUP_DESTROY, "g2", NULL);
    ASSERT_OK(run_op(st, &op, "a"));
    ASSERT_OK(gcreate(st, "a", "g2", 0, EID(0, 0), -1, 0));
    xadd_range(st, "a", 41, 43);

    /* b: mkstream group, empty, with a consumer */
    ASSERT_OK(gcreate(st, "b", "g", 0, EID(0, 0), -1, 1));
    deliver(st, "b", "g", "c", 0);
    /* c: deleted and recreated with a group of the same name */
    xadd_range(st, "c", 1, 3);
    ASSERT_OK(gcreate(st, "c", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "c", "g", "c1", 0);
    ASSERT_OK(mn_delete_stream(st, "c", 1, MN_EXPECT_ANY, 0));
    xadd_range(st, "c", 5, 6);
    ASSERT_OK(gcreate(st, "c", "g", 1, EID(0, 0), -1, 0));
    deliver(st, "c", "g", "c2", 1);

    const char *streams[] = {"a", "b", "c"};
    expect_persists(dir, &st, streams, 3);
    /* more after the restart: group ids must not collide with old ones */
    ASSERT_OK(gcreate(st, "b", "g-new", 1, EID(0, 0), -1, 0));
    ASSERT_OK(gcreate(st, "c", "g-new", 1, EID(0, 0), -1, 0));
    deliver(st, "c", "g-new", "n", 0);
    ASSERT_EQ(ginfo(st, "c", "g").pending, 1);
    ASSERT_EQ(ginfo(st, "c", "g-new").pending, 2);
    ASSERT_EQ(ginfo(st, "b", "g-new").pending, 0);
    ASSERT_EQ(ginfo(st, "a", "g1").consumers, cinfo(st, "a", "g1", "x").count);
    expect_persists(dir, &st, streams, 3);
    mn_close(st);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* mn_op_async                                                                */
/* ------------------------------------------------------------------------ */

typedef struct async_res {
    sem_t done;
    atomic_int calls;
    int rc;
    char errmsg[256];
    uint64_t n;
    int64_t from, to;
    mn_entry_id *ids;
    size_t nids;
    pthread_t thread;
} async_res;

static void async_cb(void *ud, mn_op_result *res)
{
    async_res *r = ud;
    r->rc = res->rc;
    snprintf(r->errmsg, sizeof r->errmsg, "%s", res->rc && res->errmsg ? res->errmsg : "");
    r->n = res->op->n;
    r->from = res->op->from_version;
    r->to = res->op->to_version;
    /* take the claimed ids */
    r->ids = res->op->out_ids;
    r->nids = res->op->out_n;
    res->op->out_ids = NULL;
    res->op->out_n = 0;
    r->thread = pthread_self();
    atomic_fetch_add(&r->calls, 1);
    sem_post(&r->done);
}

static void async_wait(async_res *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    while (sem_timedwait(&r->done, &ts) != 0) {
        if (errno == ETIMEDOUT) FAIL("mn_op_async: no callback within 10 s");
    }
}

/* Groups on virtual streams: ids are <position>-0, deliveries follow the
 * view across streams in global order, claims see only the view's events,
 * and everything survives close/reopen and mn_reindex. */
TEST(virtual_groups)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    mn_entry_id o1 = {0, 0}, o2 = {0, 0}, o3 = {0, 0}, u1 = {0, 0};
    /* '$' and 0 on an empty view, no mkstream needed */
    ASSERT_OK(gcreate(st, "$ce-o", "g", 1, EID(0, 0), -1, 0));
    ASSERT_OK(gcreate(st, "$ce-o", "late", 0, EID(0, 0), -1, 0));
    ASSERT_EQ(gcreate(st, "$ce-o", "g", 1, EID(0, 0), -1, 0), MN_EEXISTS);
    ASSERT_EQ(ginfo(st, "$ce-o", "late").last.ms, 0);
    ASSERT_EQ(deliver(st, "$ce-o", "g", "a", 0).n, 0);
    xadd_rc(st, "o-1", MN_ID_AUTO, EID(0, 0), NULL);
    o1.ms = info(st, "o-1").last_position;
    xadd_rc(st, "u-1", MN_ID_AUTO, EID(0, 0), NULL);
    u1.ms = info(st, "u-1").last_position;
    xadd_rc(st, "o-2", MN_ID_AUTO, EID(0, 0), NULL);
    o2.ms = info(st, "o-2").last_position;
    xadd_rc(st, "o-1", MN_ID_AUTO, EID(0, 0), NULL);
    o3.ms = info(st, "o-1").last_position;

    delivered d = deliver(st, "$ce-o", "g", "a", 2);
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ_U64((uint64_t)d.from, o1.ms);
    ASSERT_EQ_U64((uint64_t)d.to, o2.ms);
    d = deliver(st, "$ce-o", "g", "b", 0);
    ASSERT_EQ(d.n, 1);
    ASSERT_EQ_U64((uint64_t)d.from, o3.ms);
    ASSERT_EQ(deliver(st, "$ce-o", "g", "b", 0).n, 0);
    ginfo_t g = ginfo(st, "$ce-o", "g");
    ASSERT_ID(g.last, o3.ms, 0);
    ASSERT_EQ(g.entries_read, 3);
    ASSERT_EQ(g.lag, 0);
    ASSERT_EQ(g.pending, 3);
    ASSERT_EQ(ginfo(st, "$ce-o", "late").lag, 3);
    pendlist *pl = pending_all(st, "$ce-o", "g");
    ASSERT_EQ(pl->n, 3);
    ASSERT_EQ(pel_find(pl, o2.ms, 0)->deliveries, 1);
    ASSERT_STR_EQ(pel_find(pl, o3.ms, 0)->consumer, "b");

    /* the entry of a PEL id is the event */
    mn_iter *it = NULL;
    mn_event_view ev;
    ASSERT_OK(mn_read_entry(st, "$ce-o", 5, o2, &it));
    ASSERT_EQ(mn_iter_next(it, &ev), 1);
    ASSERT_EQ(ev.stream_len, 3);
    ASSERT(memcmp(ev.stream, "o-2", 3) == 0);
    ASSERT_ID(ev.entry_id, o2.ms, 0);
    mn_iter_free(it);

    ASSERT_EQ(ack(st, "$ce-o", "g", &o1, 1), 1);
    claim_args ca = CA(0);
    ca.force = 1;
    mn_entry_id cl[] = {o2, u1}; /* u1 is no event of $ce-o: not claimed */
    claim(st, "$ce-o", "g", "c", cl, 2, ca, NULL);
    pl = pending_all(st, "$ce-o", "g");
    ASSERT_EQ(pl->n, 2);
    ASSERT_STR_EQ(pel_find(pl, o2.ms, 0)->consumer, "c");
    ASSERT_EQ(pel_find(pl, o2.ms, 0)->deliveries, 2);
    ASSERT(!pel_has(pl, u1.ms, 0));

    /* $all and $et- groups */
    ASSERT_OK(gcreate(st, "$all", "all", 1, EID(0, 0), -1, 0));
    ASSERT_EQ(deliver(st, "$all", "all", "x", 0).n, 4);
    ASSERT_EQ(ginfo(st, "$all", "all").entries_read, 4);
    ASSERT_OK(gcreate(st, "$et-xadd", "t", 1, o2, -1, 0));
    ASSERT_EQ(ginfo(st, "$et-xadd", "t").entries_read, 3);
    ASSERT_EQ(ginfo(st, "$et-xadd", "t").lag, 1);
    ASSERT_EQ(deliver(st, "$et-xadd", "t", "x", 0).n, 1);

    const char *streams[] = {"$ce-o", "$all", "$et-xadd", "o-1"};
    expect_persists(dir, &st, streams, 4);
    /* the group goes on where it was */
    xadd_rc(st, "o-3", MN_ID_AUTO, EID(0, 0), NULL);
    d = deliver(st, "$ce-o", "g", "a", 0);
    ASSERT_EQ(d.n, 1);
    ASSERT_EQ_U64((uint64_t)d.from, info(st, "o-3").last_position);
    ASSERT_EQ(ginfo(st, "$ce-o", "g").entries_read, 4);
    mn_close(st);
}

TEST(op_async)
{
    char dir[256];
    mn_store *st = open_fresh(dir, sizeof dir);
    xadd_range(st, "s", 1, 5);
    async_res r;
    memset(&r, 0, sizeof r);
    sem_init(&r.done, 0, 0);

    /* group create, with the op's strings freed right after the call */
    char *stream = strdup("s"), *group = strdup("g");
    mn_op op;
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.stream = stream;
    op.stream_len = 1;
    op.group = group;
    op.group_len = 1;
    op.id_set = 1;
    ASSERT_OK(mn_op_async(st, &op, async_cb, &r));
    memset(stream, 'X', 1);
    memset(group, 'X', 1);
    free(stream);
    free(group);
    async_wait(&r);
    ASSERT_OK(r.rc);
    ASSERT(!pthread_equal(r.thread, pthread_self()));
    ASSERT_EQ(ginfo(st, "s", "g").lag, 5);

    /* a delivery: out fields in the callback */
    gop(&op, MN_OP_DELIVER, "g", "alice");
    op.stream = "s";
    op.stream_len = 1;
    op.count = 3;
    ASSERT_OK(mn_op_async(st, &op, async_cb, &r));
    async_wait(&r);
    ASSERT_OK(r.rc);
    ASSERT_EQ(r.n, 3);
    ASSERT_EQ(r.from, 0);
    ASSERT_EQ(r.to, 2);
    ASSERT_EQ(op.n, 0); /* the caller's op is not written to */
    /* durable and visible once the callback ran */
    ASSERT_EQ(ginfo(st, "s", "g").pending, 3);

    /* a claim: the callback takes the out array */
    mn_entry_id ids[] = {EID(1, 0), EID(3, 0)};
    gop(&op, MN_OP_CLAIM, "g", "bob");
    op.stream = "s";
    op.stream_len = 1;
    op.ids = ids;
    op.nids = 2;
    ASSERT_OK(mn_op_async(st, &op, async_cb, &r));
    async_wait(&r);
    ASSERT_OK(r.rc);
    ASSERT_EQ(r.nids, 2);
    ASSERT(r.ids != NULL);
    ASSERT_ID(r.ids[0], 1, 0);
    ASSERT_ID(r.ids[1], 3, 0);
    free(r.ids);
    r.ids = NULL;

    /* an error comes through the callback */
    gop(&op, MN_OP_GROUP_CREATE, "g", NULL);
    op.stream = "s";
    op.stream_len = 1;
    op.id_set = 1;
    ASSERT_OK(mn_op_async(st, &op, async_cb, &r));
    async_wait(&r);
    ASSERT_EQ(r.rc, MN_EEXISTS);
    ASSERT(r.errmsg[0] != 0);
    /* ... and one found before queueing is returned, without a callback */
    gop(&op, MN_OP_DELIVER, "g", "alice");
    op.stream = "";
    op.stream_len = 0;
    ASSERT_ERR(mn_op_async(st, &op, async_cb, &r), MN_EINVAL);
    mn_op_init(&op, 999);
    op.stream = "s";
    op.stream_len = 1;
    ASSERT_ERR(mn_op_async(st, &op, async_cb, &r), MN_EINVAL);
    gop(&op, MN_OP_DELIVER, "g", "alice");
    op.stream = "s";
    op.stream_len = 1;
    ASSERT_ERR(mn_op_async(st, &op, NULL, &r), MN_EINVAL);

    /* many at once, from this thread: each called exactly once */
    int before = atomic_load(&r.calls);
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        gop(&op, MN_OP_CONSUMER_CREATE, "g", name);
        op.stream = "s";
        op.stream_len = 1;
        ASSERT_OK(mn_op_async(st, &op, async_cb, &r));
    }
    for (int i = 0; i < 50; i++) async_wait(&r);
    ASSERT_EQ(atomic_load(&r.calls) - before, 50);
    ASSERT_EQ(ginfo(st, "s", "g").consumers, 52);

    /* mn_close waits for queued ops */
    before = atomic_load(&r.calls);
    for (int i = 0; i < 20; i++) {
        mn_entry_id one = EID(5, 0);
        gop(&op, MN_OP_ACK, "g", NULL);
        op.stream = "s";
        op.stream_len = 1;
        op.ids = &one;
        op.nids = 1;
        ASSERT_OK(mn_op_async(st, &op, async_cb, &r));
    }
    mn_close(st);
    ASSERT_EQ(atomic_load(&r.calls) - before, 20);
    for (int i = 0; i < 20; i++) async_wait(&r);
    sem_destroy(&r.done);
    st = open_dir(dir);
    ASSERT_EQ(ginfo(st, "s", "g").consumers, 52);
    mn_close(st);
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(group_create);
    RUN(deliver_two_consumers);
    RUN(deliver_noack);
    RUN(ack);
    RUN(pending_listing);
    RUN(claim_options);
    RUN(claim_deleted_entry);
    RUN(autoclaim);
    RUN(consumers);
    RUN(group_setid_destroy);
    RUN(redeliver_resets_count);
    RUN(claim_force_counts);
    RUN(claim_time_in_future_clamped);
    RUN(lag);
    RUN(lag_after_front_trim);
    RUN(groups_of_deleted_streams);
    RUN(persist_everything);
    RUN(op_async);
    RUN(virtual_groups);
    return harness_summary();
}
