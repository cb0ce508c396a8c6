/*
 * test_index_rebuild.c — the derived indexes are a function of the log.
 *
 *   persisted_equals_rebuilt  a store with many streams, multi-stream atomic
 *                             appends, explicit entry ids, a soft delete, a
 *                             tombstone and idempotent retries looks exactly
 *                             the same (every observable: store info, stream
 *                             list, stream infos, stream reads both ways,
 *                             entry-id ranges, $all) live, after reopen, after
 *                             mn_reindex, and after DIR/index is deleted
 *   index_ahead_of_log        the log lost its last groups but the index still
 *                             reflects them: opening notices, rebuilds, and the
 *                             lost positions and event ids are free again
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "harness.h"
#include "store_helpers.h"
#include "storage/record.h"
#include "storage/segment.h"

/* ------------------------------------------------------------------------ */
/* A text dump of everything observable                                       */
/* ------------------------------------------------------------------------ */

/* A stream name: printable as is, else hex. */
static void tname(text *t, const char *p, size_t n)
{
    int plain = 1;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e) plain = 0;
    if (plain) tprintf(t, "%.*s", (int)n, p);
    else {
        tprintf(t, "hex:");
        thex(t, p, n);
    }
}

static void tevent(text *t, const mn_event_view *v)
{
    tprintf(t, "  ");
    tname(t, v->stream, v->stream_len);
    tprintf(t, " v%" PRId64 " @%" PRIu64 " ts %" PRIu64 " eid %" PRIu64 "-%" PRIu64 " id ", v->version, v->position,
            v->timestamp_us, v->entry_id.ms, v->entry_id.seq);
    thex(t, v->id, 16);
    tprintf(t, " type %.*s data[%zu] %08x meta%s[%zu] %08x\n", (int)v->type_len, v->type, v->data_len,
            crc32c(v->data, v->data_len), v->meta ? "" : "(null)", v->meta_len,
            v->meta ? crc32c(v->meta, v->meta_len) : 0);
}

static void titer(text *t, int rc, mn_iter *it)
{
    if (rc != MN_OK) {
        tprintf(t, "  -> %s\n", mn_strerror(rc));
        return;
    }
    mn_event_view v;
    while ((rc = mn_iter_next(it, &v)) == 1) tevent(t, &v);
    tprintf(t, "  end %d\n", rc);
    mn_iter_free(it);
}

typedef struct namelist {
    char names[128][MN_MAX_STREAM_NAME];
    size_t lens[128];
    int n;
} namelist;

static int list_cb(void *ud, const char *name, size_t len)
{
    text *t = ud;
    tprintf(t, "  ");
    tname(t, name, len);
    tprintf(t, "\n");
    return 0;
}

static int stop_after_two(void *ud, const char *name, size_t len)
{
    int *n = ud;
    return ++*n == 2 ? 42 : 0;
}

/* Dumps the store: names lists every stream name the test ever used. */
static void dump(mn_store *st, const namelist *names, text *t)
{
    mn_store_info si;
    mn_store_info_get(st, &si);
    /* (not durable_position: it depends on when the log was last synced) */
    tprintf(t, "store first %" PRIu64 " end %" PRIu64 " streams %" PRIu64 " events %" PRIu64 " segments %" PRIu64
               " bytes %" PRIu64 "\n",
            si.first_position, si.end_position, si.streams, si.events, si.segments, si.log_bytes);
    tprintf(t, "list:\n");
    int rc = mn_list_streams(st, NULL, 0, list_cb, t);
    tprintf(t, "list rc %d\n", rc);
    if (names->n > 0) {
        tprintf(t, "list after ");
        tname(t, names->names[0], names->lens[0]);
        tprintf(t, ":\n");
        rc = mn_list_streams(st, names->names[0], names->lens[0], list_cb, t);
        tprintf(t, "list rc %d\n", rc);
    }
    int cnt = 0;
    tprintf(t, "list stopped: %d after %d\n", mn_list_streams(st, NULL, 0, stop_after_two, &cnt), cnt);
    for (int i = 0; i < names->n; i++) {
        const char *nm = names->names[i];
        size_t nl = names->lens[i];
        mn_stream_info in;
        memset(&in, 0, sizeof in);
        tprintf(t, "stream ");
        tname(t, nm, nl);
        rc = mn_stream_info_get(st, nm, nl, &in);
        if (rc != MN_OK) tprintf(t, " info -> %s\n", mn_strerror(rc));
        else
            tprintf(t, " version %" PRId64 " length %" PRIu64 " first_version %" PRId64 " first_pos %" PRIu64
                       " last_pos %" PRIu64 " first_id %" PRIu64 "-%" PRIu64 " last_id %" PRIu64 "-%" PRIu64
                       " created %" PRIu64 " deleted %d\n",
                    in.version, in.length, in.first_version, in.first_position, in.last_position, in.first_id.ms,
                    in.first_id.seq, in.last_id.ms, in.last_id.seq, in.created_us, in.deleted);
        mn_iter *it = NULL;
        tprintf(t, " forward:\n");
        rc = mn_read_stream(st, nm, nl, 0, 0, 0, &it);
        titer(t, rc, it);
        tprintf(t, " backward:\n");
        rc = mn_read_stream(st, nm, nl, -1, 0, 1, &it);
        titer(t, rc, it);
        if (rc == MN_OK && in.version >= 2) {
            tprintf(t, " from middle, 2:\n");
            rc = mn_read_stream(st, nm, nl, in.version / 2, 2, 0, &it);
            titer(t, rc, it);
        }
        tprintf(t, " entry ids:\n");
        mn_entry_id lo = {0, 1}, hi = {UINT64_MAX, UINT64_MAX};
        rc = mn_read_stream_range(st, nm, nl, lo, hi, 0, 0, &it);
        titer(t, rc, it);
    }
    tprintf(t, "$all:\n");
    mn_iter *it = NULL;
    rc = mn_read_all(st, 0, 0, &it);
    titer(t, rc, it);
}

/* Fails with the first differing line if a != b. */
static void expect_same(const text *a, const text *b, const char *what)
{
    if (a->len == b->len && memcmp(a->p, b->p, a->len) == 0) return;
    size_t i = 0, line = 1, ls = 0;
    while (i < a->len && i < b->len && a->p[i] == b->p[i]) {
        if (a->p[i] == '\n') {
            line++;
            ls = i + 1;
        }
        i++;
    }
    const char *ea = memchr(a->p + ls, '\n', a->len - ls), *eb = memchr(b->p + ls, '\n', b->len - ls);
    int la = ea ? (int)(ea - (a->p + ls)) : (int)(a->len - ls);
    int lb = eb ? (int)(eb - (b->p + ls)) : (int)(b->len - ls);
    FAIL("%s: the stores differ at line %zu:\n    before: %.*s\n    after:  %.*s", what, line, la, a->p + ls, lb,
         b->p + ls);
}

/* ------------------------------------------------------------------------ */
/* Building the store                                                         */
/* ------------------------------------------------------------------------ */

static void name_add(namelist *nl, const char *p, size_t n)
{
    for (int i = 0; i < nl->n; i++)
        if (nl->lens[i] == n && !memcmp(nl->names[i], p, n)) return;
    ASSERT_LT(nl->n, 128);
    memcpy(nl->names[nl->n], p, n);
    nl->lens[nl->n++] = n;
}

/* test_opts with small segments: a few segments. */
static mn_options rebuild_opts(void)
{
    mn_options o = test_opts();
    o.segment_size = 16384;
    return o;
}

/* A remembered append, to retry. */
typedef struct retry {
    char stream[2][64];
    int nparts;
    mn_event ev[2][3];
    size_t count[2];
    int64_t expected[2];
    int64_t version[2];
    uint64_t position[2];
    uint8_t data[2][3][64];
} retry;

static void do_retry(mn_store *st, retry *r, const char *what)
{
    mn_append_part parts[2];
    memset(parts, 0, sizeof parts);
    for (int p = 0; p < r->nparts; p++) {
        parts[p].stream = r->stream[p];
        parts[p].stream_len = strlen(r->stream[p]);
        parts[p].expected = r->expected[p];
        parts[p].events = r->ev[p];
        parts[p].count = r->count[p];
    }
    int idem = -1;
    int rc = mn_append(st, parts, (size_t)r->nparts, &idem);
    if (rc != MN_OK) FAIL("%s: retry: %s (%s)", what, mn_strerror(rc), mn_errmsg());
    ASSERT_EQ(idem, 1);
    for (int p = 0; p < r->nparts; p++) {
        ASSERT_EQ(parts[p].version, r->version[p]);
        ASSERT_EQ_U64(parts[p].position, r->position[p]);
    }
}

static char long_name[MN_MAX_STREAM_NAME];
static const char bin_name[] = {'\0', 'b', 'i', 'n', (char)0xff, '\n'};

/* The mixed workload. Fills names and retries[0..*nretries). */
static void build_mix(mn_store *st, namelist *names, retry *retries, int *nretries)
{
    char nm[64];
    int64_t ver[40];
    int unknown[40]; /* after a soft delete: the next append uses ANY */
    for (int i = 0; i < 40; i++) {
        ver[i] = MN_NO_VERSION;
        unknown[i] = 0;
    }
    memset(long_name, 'L', sizeof long_name);
    long_name[0] = 'l';
    *nretries = 0;

    for (int round = 0; round < 300; round++) {
        int nparts = harness_rand() % 6 == 0 ? 2 : 1;
        int sidx[2];
        sidx[0] = (int)(harness_rand() % 40);
        sidx[1] = (sidx[0] + 1 + (int)(harness_rand() % 39)) % 40;
        if (sidx[0] == 5 || sidx[1] == 5) continue; /* acct-5 is tombstoned below */
        retry r;
        memset(&r, 0, sizeof r);
        r.nparts = nparts;
        int given = harness_rand() % 3 == 0;
        for (int p = 0; p < nparts; p++) {
            snprintf(r.stream[p], sizeof r.stream[p], "acct-%d", sidx[p]);
            name_add(names, r.stream[p], strlen(r.stream[p]));
            r.count[p] = 1 + harness_rand() % 3;
            int mode = (int)(harness_rand() % 3);
            r.expected[p] = unknown[sidx[p]] || mode == 0 ? MN_EXPECT_ANY
                            : mode == 1 && ver[sidx[p]] >= 0 ? MN_EXPECT_EXISTS
                                                             : ver[sidx[p]];
            for (size_t k = 0; k < r.count[p]; k++) {
                mn_event *e = &r.ev[p][k];
                if (given) {
                    harness_rand_bytes(e->id, 16);
                    e->id[6] = (uint8_t)((e->id[6] & 0x0f) | 0x40);
                }
                e->type = k % 2 ? "Deposited" : "Withdrawn";
                e->type_len = strlen(e->type);
                int n = snprintf((char *)r.data[p][k], sizeof r.data[p][k], "{\"r\":%d,\"k\":%zu}", round, k);
                e->data = r.data[p][k];
                e->data_len = (size_t)n;
                if (k == 1) {
                    e->meta = "{\"correlation_id\":\"c\"}";
                    e->meta_len = strlen(e->meta);
                }
            }
        }
        mn_append_part parts[2];
        memset(parts, 0, sizeof parts);
        for (int p = 0; p < nparts; p++) {
            parts[p].stream = r.stream[p];
            parts[p].stream_len = strlen(r.stream[p]);
            parts[p].expected = r.expected[p];
            parts[p].events = r.ev[p];
            parts[p].count = r.count[p];
        }
        int idem = -1;
        ASSERT_OK(mn_append(st, parts, (size_t)nparts, &idem));
        ASSERT_EQ(idem, 0);
        for (int p = 0; p < nparts; p++) {
            if (!unknown[sidx[p]]) ASSERT_EQ(parts[p].version, ver[sidx[p]] + (int64_t)r.count[p]);
            unknown[sidx[p]] = 0;
            ver[sidx[p]] = parts[p].version;
            r.version[p] = parts[p].version;
            r.position[p] = parts[p].position;
        }
        if (given && *nretries < 8) {
            retries[(*nretries)++] = r;
            /* the retry's pointers must point into the saved copy */
            retry *s = &retries[*nretries - 1];
            for (int p = 0; p < nparts; p++)
                for (size_t k = 0; k < s->count[p]; k++) s->ev[p][k].data = s->data[p][k];
            do_retry(st, s, "live");
        }
        /* a failed append writes nothing */
        if (round % 50 == 7) {
            mn_event e;
            memset(&e, 0, sizeof e);
            e.type = "Nope";
            e.type_len = 4;
            ASSERT_ERR(mn_append_one(st, r.stream[0], strlen(r.stream[0]), ver[sidx[0]] + 5, &e, 1, NULL, NULL),
                       MN_EWRONGVERSION);
        }
        /* soft deletes; the names are used again later */
        if (round == 100 || round == 200) {
            snprintf(nm, sizeof nm, "acct-%d", sidx[0]);
            ASSERT_OK(mn_delete_stream(st, nm, strlen(nm), ver[sidx[0]], 0));
            unknown[sidx[0]] = 1;
            /* what a retry of an append into a since-deleted stream answers is
             * not this test's business: forget those */
            int keep = 0;
            for (int i = 0; i < *nretries; i++) {
                int hit = 0;
                for (int p = 0; p < retries[i].nparts; p++) hit |= !strcmp(retries[i].stream[p], nm);
                if (!hit) {
                    if (keep != i) {
                        retries[keep] = retries[i];
                        for (int p = 0; p < retries[keep].nparts; p++)
                            for (size_t k = 0; k < retries[keep].count[p]; k++)
                                retries[keep].ev[p][k].data = retries[keep].data[p][k];
                    }
                    keep++;
                }
            }
            *nretries = keep;
        }
    }
    /* The tombstone. */
    name_add(names, "acct-5", 6);
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = "Opened";
    e.type_len = 6;
    ASSERT_OK(mn_append_one(st, "acct-5", 6, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    ASSERT_OK(mn_delete_stream(st, "acct-5", 6, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));
    /* A soft-deleted stream that stays deleted. */
    name_add(names, "gone", 4);
    ASSERT_OK(mn_append_one(st, "gone", 4, MN_EXPECT_NOSTREAM, &e, 1, NULL, NULL));
    ASSERT_OK(mn_delete_stream(st, "gone", 4, 0, 0));

    /* Names at the edges: binary bytes, the longest allowed, one byte. */
    name_add(names, bin_name, sizeof bin_name);
    name_add(names, long_name, sizeof long_name);
    name_add(names, "z", 1);
    ASSERT_OK(mn_append_one(st, bin_name, sizeof bin_name, MN_EXPECT_NOSTREAM, &e, 1, NULL, NULL));
    ASSERT_OK(mn_append_one(st, long_name, sizeof long_name, MN_EXPECT_NOSTREAM, &e, 1, NULL, NULL));
    ASSERT_OK(mn_append_one(st, "z", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL));

    /* Explicit entry ids. */
    name_add(names, "xid", 3);
    for (int i = 0; i < 5; i++) {
        mn_event x;
        memset(&x, 0, sizeof x);
        x.type = "X";
        x.type_len = 1;
        x.entry_id_mode = i % 2 ? MN_ID_AUTO_SEQ : MN_ID_EXPLICIT;
        x.entry_id.ms = 1000 + (uint64_t)i * 10;
        x.entry_id.seq = (uint64_t)i;
        ASSERT_OK(mn_append_one(st, "xid", 3, MN_EXPECT_ANY, &x, 1, NULL, NULL));
    }
    /* Never-used names must read as unknown everywhere. */
    name_add(names, "never", 5);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct progress_log {
    int calls;
    uint64_t last_done, total;
    int backwards;
} progress_log;

static void on_progress(void *ud, uint64_t done, uint64_t total)
{
    progress_log *p = ud;
    if (p->calls && done < p->last_done) p->backwards = 1;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

TEST(persisted_equals_rebuilt)
{
    char dir[512], store[1024], ix[1536];
    harness_tmpdir(dir, sizeof dir);
    PATHF(store, "%s/s", dir);
    PATHF(ix, "%s/index", store);
    static namelist names;
    static retry retries[8];
    memset(&names, 0, sizeof names);
    int nretries = 0;
    mn_options o = rebuild_opts();
    mn_store *st = NULL;
    text live = {0}, reopened = {0}, reindexed = {0}, fresh = {0};

    ASSERT_OK(mn_open(store, &o, &st));
    build_mix(st, &names, retries, &nretries);
    ASSERT_GT(nretries, 0);
    dump(st, &names, &live);
    mn_close(st);
    if (getenv("MN_TEST_DUMP")) { /* for debugging: what is compared */
        FILE *f = fopen(getenv("MN_TEST_DUMP"), "w");
        if (f) {
            fwrite(live.p, 1, live.len, f);
            fclose(f);
        }
    }

    /* reopened: the persisted index */
    ASSERT_OK(mn_open(store, &o, &st));
    mn_recovery_report rr;
    mn_recovery_info(st, &rr);
    ASSERT_EQ(rr.index_rebuilt, 0);
    ASSERT_EQ_U64(rr.truncated_bytes, 0);
    dump(st, &names, &reopened);
    expect_same(&live, &reopened, "reopened");
    for (int i = 0; i < nretries; i++) do_retry(st, &retries[i], "reopened");
    /* mn_reindex refuses while the store is open */
    ASSERT_ERR(mn_reindex(store, NULL, NULL), MN_ELOCKED);
    mn_close(st);

    /* mn_reindex */
    progress_log pl;
    memset(&pl, 0, sizeof pl);
    ASSERT_OK(mn_reindex(store, on_progress, &pl));
    ASSERT_EQ(pl.backwards, 0);
    if (pl.calls) ASSERT_LE_U64(pl.last_done, pl.total);
    ASSERT_OK(mn_open(store, &o, &st));
    dump(st, &names, &reindexed);
    expect_same(&live, &reindexed, "after mn_reindex");
    for (int i = 0; i < nretries; i++) do_retry(st, &retries[i], "after mn_reindex");
    {
        mn_event e;
        memset(&e, 0, sizeof e);
        e.type = "Late";
        e.type_len = 4;
        ASSERT_ERR(mn_append_one(st, "acct-5", 6, MN_EXPECT_ANY, &e, 1, NULL, NULL), MN_EDELETED);
    }
    mn_close(st);

    /* DIR/index deleted: open rebuilds it */
    ASSERT_EQ(harness_rmrf(ix), 0);
    ASSERT_OK(mn_open(store, &o, &st));
    memset(&rr, 0, sizeof rr);
    mn_recovery_info(st, &rr);
    int rebuilt_flag = rr.index_rebuilt; /* asserted last, so the rest runs */
    dump(st, &names, &fresh);
    expect_same(&live, &fresh, "index deleted and rebuilt on open");
    for (int i = 0; i < nretries; i++) do_retry(st, &retries[i], "index rebuilt on open");
    mn_close(st);

    /* and once more, all of it survives a plain reopen of the rebuilt index */
    free(fresh.p);
    memset(&fresh, 0, sizeof fresh);
    ASSERT_OK(mn_open(store, &o, &st));
    dump(st, &names, &fresh);
    expect_same(&live, &fresh, "reopened after the rebuild");
    mn_close(st);
    /* the open that found no index reports the rebuild */
    ASSERT_EQ(rebuilt_flag, 1);

    free(live.p);
    free(reopened.p);
    free(reindexed.p);
    free(fresh.p);
    harness_rmrf(dir);
}

/* ------------------------------------------------------------------------ */
/* Index ahead of the log                                                     */
/* ------------------------------------------------------------------------ */

/* The last segment's base (the test keeps segments large enough for one). */
static uint64_t last_segment(const char *store, char *path, size_t cap)
{
    char logdir[2048];
    PATHF(logdir, "%s/log", store);
    DIR *d = opendir(logdir);
    ASSERT(d != NULL);
    struct dirent *e;
    uint64_t best = 0;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        unsigned long long b;
        char tail[8];
        if (strlen(e->d_name) == 24 && sscanf(e->d_name, "%20llu%7s", &b, tail) == 2 && !strcmp(tail, ".seg")) {
            if (!found || b > best) best = b;
            found = 1;
        }
    }
    closedir(d);
    ASSERT(found);
    if (snprintf(path, cap, "%s/%020" PRIu64 ".seg", logdir, best) >= (int)cap) FAIL("path too long");
    return best;
}

static const char *const ahead_names[] = {"a-0", "a-1", "a-2", "a-3", "a-4"};

static void ahead_event(mn_event *e, uint8_t *data, int i)
{
    memset(e, 0, sizeof *e);
    e->id[0] = 0xad;
    e->id[14] = (uint8_t)(i >> 8);
    e->id[15] = (uint8_t)i;
    e->type = "Ahead";
    e->type_len = 5;
    int n = snprintf((char *)data, 64, "{\"i\":%d}", i);
    e->data = data;
    e->data_len = (size_t)n;
}

TEST(index_ahead_of_log)
{
    char dir[512], store[1024], ix[1536], twin[1024], path[4096];
    harness_tmpdir(dir, sizeof dir);
    PATHF(store, "%s/s", dir);
    PATHF(ix, "%s/index", store);
    PATHF(twin, "%s/twin", dir);
    mn_options o = rebuild_opts();
    o.segment_size = 1u << 20; /* one segment */
    mn_store *st = NULL;
    namelist names;
    memset(&names, 0, sizeof names);
    for (int i = 0; i < 5; i++) name_add(&names, ahead_names[i], 3);

    /* 100 events in groups of 1..3, given ids; remember where each group starts */
    uint64_t group_start[100];
    int group_first[100], ngroups = 0, i = 0;
    ASSERT_OK(mn_open(store, &o, &st));
    while (i < 100) {
        int n = 1 + (int)(harness_rand() % 3);
        if (i + n > 100) n = 100 - i;
        mn_event e[3];
        uint8_t data[3][64];
        for (int k = 0; k < n; k++) ahead_event(&e[k], data[k], i + k);
        mn_store_info si;
        mn_store_info_get(st, &si);
        group_start[ngroups] = si.end_position;
        group_first[ngroups++] = i;
        ASSERT_OK(mn_append_one(st, ahead_names[i % 5], 3, MN_EXPECT_ANY, e, (size_t)n, NULL, NULL));
        i += n;
    }
    mn_close(st);

    /* The log loses its last groups (about 40 events); the index stays. */
    int g = 0;
    while (group_first[g] < 60) g++;
    int kept_events = group_first[g];
    uint64_t cut = group_start[g];
    uint64_t base = last_segment(store, path, sizeof path);
    ASSERT_EQ_U64(base, 0);
    ASSERT_EQ(truncate(path, (off_t)(cut - base)), 0);

    ASSERT_OK(mn_open(store, &o, &st));
    mn_recovery_report rr;
    memset(&rr, 0, sizeof rr);
    mn_recovery_info(st, &rr);
    ASSERT_EQ(rr.index_rebuilt, 1);
    text a = {0}, b = {0};
    dump(st, &names, &a);

    /* the same log with no index at all gives the same store */
    mn_close(st);
    copy_tree(store, twin);
    {
        char tix[2048];
        PATHF(tix, "%s/index", twin);
        ASSERT_EQ(harness_rmrf(tix), 0);
    }
    mn_store *tw = NULL;
    ASSERT_OK(mn_open(twin, &o, &tw));
    dump(tw, &names, &b);
    mn_close(tw);
    expect_same(&b, &a, "index ahead vs no index");

    /* what is readable is exactly the first kept_events events */
    ASSERT_OK(mn_open(store, &o, &st));
    mn_iter *it = NULL;
    mn_event_view v;
    int rc, n = 0;
    ASSERT_OK(mn_read_all(st, 0, 0, &it));
    while ((rc = mn_iter_next(it, &v)) == 1) {
        char want[64];
        int wl = snprintf(want, sizeof want, "{\"i\":%d}", n);
        ASSERT_EQ(v.data_len, wl);
        ASSERT_MEM_EQ(v.data, want, (size_t)wl);
        ASSERT_LT_U64(v.position, cut);
        n++;
    }
    ASSERT_OK(rc);
    mn_iter_free(it);
    ASSERT_EQ(n, kept_events);
    for (int s = 0; s < 5; s++) {
        mn_stream_info in;
        ASSERT_OK(mn_stream_info_get(st, ahead_names[s], 3, &in));
        ASSERT_LT_U64(in.last_position, cut);
        ASSERT_OK(mn_read_stream(st, ahead_names[s], 3, 0, 0, 0, &it));
        int64_t vv = 0;
        while ((rc = mn_iter_next(it, &v)) == 1) {
            ASSERT_EQ(v.version, vv);
            vv++;
        }
        ASSERT_OK(rc);
        mn_iter_free(it);
        ASSERT_EQ(in.version, vv - 1);
        ASSERT_EQ_U64(in.length, (uint64_t)vv);
        /* the old index's entries past the cut must not answer */
        ASSERT_OK(mn_read_stream(st, ahead_names[s], 3, vv, 0, 0, &it));
        ASSERT_EQ(mn_iter_next(it, &v), 0);
        mn_iter_free(it);
    }

    /* The lost events again, same ids: written anew (not idempotent), at the
     * positions the lost ones had, with the new data readable there. */
    mn_store_info si;
    mn_store_info_get(st, &si);
    ASSERT_EQ_U64(si.end_position, cut);
    for (int k = g; k < ngroups; k++) {
        int first = group_first[k], cnt = (k + 1 < ngroups ? group_first[k + 1] : 100) - first;
        mn_event e[3];
        uint8_t data[3][64];
        for (int j = 0; j < cnt; j++) {
            ahead_event(&e[j], data[j], first + j);
            data[j][1] = 'I'; /* {"I":...}: not the old bytes */
        }
        mn_append_part part;
        memset(&part, 0, sizeof part);
        part.stream = ahead_names[first % 5];
        part.stream_len = 3;
        part.expected = MN_EXPECT_ANY;
        part.events = e;
        part.count = (size_t)cnt;
        int idem = -1;
        ASSERT_OK(mn_append(st, &part, 1, &idem));
        ASSERT_EQ(idem, 0);
        if (k == g) ASSERT_GE(part.position, cut);
    }
    ASSERT_OK(mn_read_all(st, cut, 0, &it));
    n = 0;
    while ((rc = mn_iter_next(it, &v)) == 1) {
        ASSERT(v.data_len > 2);
        ASSERT_EQ(((const char *)v.data)[1], 'I');
        n++;
    }
    ASSERT_OK(rc);
    mn_iter_free(it);
    ASSERT_EQ(n, 100 - kept_events);
    mn_close(st);
    free(a.p);
    free(b.p);
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(persisted_equals_rebuilt);
    RUN(index_ahead_of_log);
    return harness_summary();
}
