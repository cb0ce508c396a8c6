/*
 * test_recovery.c — what opening a store finds after a crash or damage.
 *
 *   truncate_every_offset   the log cut at every byte offset recovers to the
 *                           complete atomic groups before the cut, whatever
 *                           state the index is in (none, ahead, behind);
 *   truncate_in_segment_header  the same for cuts inside the segment header
 *   corrupt_mid_log_*       damage with valid records after it is refused with
 *                           its position and changes nothing; repair truncates
 *                           there and says what was dropped
 *   segment_roll            many segments: names, joins, reads across them,
 *                           torn tail in the last one, damage in a sealed one
 *   crash_during_create     whatever a crash while creating a store left, the
 *                           next open finishes the creation
 *
 * The log format facts used here (storage/record.h, storage/segment.h): a
 * segment DIR/log/<20-digit base>.seg starts with a 32-byte header; records
 * are 8-byte aligned, each with a 24-byte header {crc, len (header+payload),
 * pos, kind, flags}; the last record of an atomic group has REC_TXN_END.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "harness.h"
#include "store_helpers.h"
#include "storage/record.h"
#include "storage/segment.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ------------------------------------------------------------------------ */
/* Files                                                                      */
/* ------------------------------------------------------------------------ */

/* The segment files of DIR/log, ascending. Returns how many (<= max). */
static int list_segments(const char *dir, uint64_t *bases, int max)
{
    char logdir[4096];
    PATHF(logdir, "%s/log", dir);
    DIR *d = opendir(logdir);
    if (!d) FAIL("opendir %s: %s", logdir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ".seg") != 0) continue;
        ASSERT_EQ(l, 24); /* 20 digits + ".seg" */
        uint64_t base = 0;
        for (int i = 0; i < 20; i++) {
            ASSERT(e->d_name[i] >= '0' && e->d_name[i] <= '9');
            base = base * 10 + (uint64_t)(e->d_name[i] - '0');
        }
        ASSERT_LT(n, max);
        bases[n++] = base;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort */
        for (int j = i; j > 0 && bases[j - 1] > bases[j]; j--) {
            uint64_t t = bases[j];
            bases[j] = bases[j - 1];
            bases[j - 1] = t;
        }
    return n;
}

static void seg_file(char *out, size_t cap, const char *dir, uint64_t base)
{
    snprintf(out, cap, "%s/log/%020" PRIu64 ".seg", dir, base);
}

/* ------------------------------------------------------------------------ */
/* Events: what was appended, what is read                                   */
/* ------------------------------------------------------------------------ */

/* One event as the test knows it (a deep copy of a view). */
typedef struct xev {
    char stream[MN_MAX_STREAM_NAME];
    size_t stream_len;
    int64_t version;
    uint64_t position;
    uint8_t id[16];
    uint64_t ts;
    mn_entry_id eid;
    char type[64];
    size_t type_len;
    uint8_t data[8192];
    size_t data_len;
    uint8_t meta[128];
    size_t meta_len;
    int has_meta;
} xev;

typedef struct xevs {
    xev *v;
    size_t n, cap;
} xevs;

static void xevs_push(xevs *x, const xev *e)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 64;
        x->v = realloc(x->v, x->cap * sizeof *x->v);
        ASSERT(x->v != NULL);
    }
    x->v[x->n++] = *e;
}

static void xev_from_view(xev *x, const mn_event_view *v)
{
    memset(x, 0, sizeof *x);
    ASSERT_LE(v->stream_len, sizeof x->stream);
    ASSERT_LE(v->type_len, sizeof x->type);
    ASSERT_LE(v->data_len, sizeof x->data);
    ASSERT_LE(v->meta_len, sizeof x->meta);
    memcpy(x->stream, v->stream, v->stream_len);
    x->stream_len = v->stream_len;
    x->version = v->version;
    x->position = v->position;
    memcpy(x->id, v->id, 16);
    x->ts = v->timestamp_us;
    x->eid = v->entry_id;
    memcpy(x->type, v->type, v->type_len);
    x->type_len = v->type_len;
    if (v->data_len) memcpy(x->data, v->data, v->data_len);
    x->data_len = v->data_len;
    x->has_meta = v->meta != NULL;
    if (v->meta_len) memcpy(x->meta, v->meta, v->meta_len);
    x->meta_len = v->meta_len;
}

/* Compares two events field by field; fails the test naming `what`. */
static void xev_expect_eq(const xev *got, const xev *want, const char *what, size_t i)
{
    if (got->stream_len != want->stream_len || memcmp(got->stream, want->stream, got->stream_len) ||
        got->version != want->version || got->position != want->position ||
        memcmp(got->id, want->id, 16) || got->ts != want->ts || got->eid.ms != want->eid.ms ||
        got->eid.seq != want->eid.seq || got->type_len != want->type_len ||
        memcmp(got->type, want->type, got->type_len) || got->data_len != want->data_len ||
        memcmp(got->data, want->data, got->data_len) || got->meta_len != want->meta_len ||
        memcmp(got->meta, want->meta, got->meta_len))
        FAIL("%s: event %zu differs:\n    got:  %.*s v%" PRId64 " @%" PRIu64 " type %.*s data %zu bytes\n"
             "    want: %.*s v%" PRId64 " @%" PRIu64 " type %.*s data %zu bytes",
             what, i, (int)got->stream_len, got->stream, got->version, got->position, (int)got->type_len,
             got->type, got->data_len, (int)want->stream_len, want->stream, want->version, want->position,
             (int)want->type_len, want->type, want->data_len);
}

/* Reads $all from `from` into x (appending). */
static void read_all_into(mn_store *st, uint64_t from, xevs *x)
{
    mn_iter *it = NULL;
    mn_event_view v;
    int rc;
    ASSERT_OK(mn_read_all(st, from, 0, &it));
    while ((rc = mn_iter_next(it, &v)) == 1) {
        xev e;
        xev_from_view(&e, &v);
        xevs_push(x, &e);
    }
    ASSERT_OK(rc);
    mn_iter_free(it);
}

/* Checks that the store holds exactly `want[0..n)`: $all, each stream read
 * forward (versions 0..), backward, and the stream infos. names[] lists
 * every stream the test ever used (those with no event must be unknown). */
static void expect_store_holds(mn_store *st, const xev *want, size_t n, const char *const *names, int nnames,
                               const char *what)
{
    xevs got = {0};
    read_all_into(st, 0, &got);
    if (got.n != n)
        FAIL("%s: $all has %zu events, expected %zu", what, got.n, n);
    for (size_t i = 0; i < n; i++) xev_expect_eq(&got.v[i], &want[i], what, i);
    free(got.v);

    for (int s = 0; s < nnames; s++) {
        size_t nl = strlen(names[s]);
        size_t cnt = 0;
        const xev *last = NULL;
        for (size_t i = 0; i < n; i++)
            if (want[i].stream_len == nl && !memcmp(want[i].stream, names[s], nl)) {
                cnt++;
                last = &want[i];
            }
        mn_iter *it = NULL;
        mn_stream_info si;
        if (cnt == 0) {
            ASSERT_ERR(mn_read_stream(st, names[s], nl, 0, 0, 0, &it), MN_ENOTFOUND);
            ASSERT_ERR(mn_stream_info_get(st, names[s], nl, &si), MN_ENOTFOUND);
            continue;
        }
        ASSERT_OK(mn_stream_info_get(st, names[s], nl, &si));
        ASSERT_EQ(si.version, (int64_t)cnt - 1);
        ASSERT_EQ_U64(si.length, cnt);
        ASSERT_EQ_U64(si.last_position, last->position);
        ASSERT_EQ(si.deleted, 0);
        for (int backward = 0; backward <= 1; backward++) {
            ASSERT_OK(mn_read_stream(st, names[s], nl, backward ? -1 : 0, 0, backward, &it));
            mn_event_view v;
            size_t k = 0;
            int rc;
            while ((rc = mn_iter_next(it, &v)) == 1) {
                /* the k-th event of the stream in want order (forward) */
                size_t idx = backward ? cnt - 1 - k : k, seen = 0;
                const xev *w = NULL;
                for (size_t i = 0; i < n; i++)
                    if (want[i].stream_len == nl && !memcmp(want[i].stream, names[s], nl) && seen++ == idx) {
                        w = &want[i];
                        break;
                    }
                if (!w) FAIL("%s: stream %s has more than %zu events", what, names[s], cnt);
                xev e;
                xev_from_view(&e, &v);
                ASSERT_EQ(e.version, (int64_t)idx);
                xev_expect_eq(&e, w, names[s], idx);
                k++;
            }
            ASSERT_OK(rc);
            mn_iter_free(it);
            if (k != cnt) FAIL("%s: stream %s read %s: %zu events, expected %zu", what, names[s],
                               backward ? "backward" : "forward", k, cnt);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* A random workload of atomic groups                                         */
/* ------------------------------------------------------------------------ */

static const char *const wl_names[] = {"acct-1", "acct-2", "order-7", "s", "x-long-stream-name-0123456789"};
#define WL_NAMES 5

/* One atomic append as the test made it: up to 2 parts of up to 3 events. */
typedef struct wgroup {
    int nparts;
    int stream[2];
    int count[2];
    mn_event ev[2][3];
    uint8_t data[2][3][400];
    char type[2][3][16];
    uint8_t meta[2][3][32];
} wgroup;

static void wl_make(wgroup *g, int idx)
{
    memset(g, 0, sizeof *g);
    g->nparts = harness_rand() % 4 == 0 ? 2 : 1;
    g->stream[0] = (int)(harness_rand() % WL_NAMES);
    g->stream[1] = (g->stream[0] + 1 + (int)(harness_rand() % (WL_NAMES - 1))) % WL_NAMES;
    for (int p = 0; p < g->nparts; p++) {
        g->count[p] = harness_rand() % 3 == 0 ? 1 + (int)(harness_rand() % 3) : 1;
        for (int k = 0; k < g->count[p]; k++) {
            mn_event *e = &g->ev[p][k];
            if (harness_rand() % 2) { /* a given id (dedup), or all zero: generated */
                harness_rand_bytes(e->id, 16);
                e->id[0] |= 1;
            }
            snprintf(g->type[p][k], sizeof g->type[p][k], "T%d_%d", idx, k);
            e->type = g->type[p][k];
            e->type_len = strlen(g->type[p][k]);
            e->data_len = 20 + harness_rand() % 300;
            harness_rand_bytes(g->data[p][k], e->data_len);
            e->data = g->data[p][k];
            if (harness_rand() % 3 == 0) {
                int ml = snprintf((char *)g->meta[p][k], sizeof g->meta[p][k], "{\"g\":%d}", idx);
                e->meta = g->meta[p][k];
                e->meta_len = (size_t)ml;
            }
        }
    }
}

static int wl_append(mn_store *st, wgroup *g, int *idem)
{
    mn_append_part parts[2];
    memset(parts, 0, sizeof parts);
    for (int p = 0; p < g->nparts; p++) {
        parts[p].stream = wl_names[g->stream[p]];
        parts[p].stream_len = strlen(wl_names[g->stream[p]]);
        parts[p].expected = MN_EXPECT_ANY;
        parts[p].events = g->ev[p];
        parts[p].count = (size_t)g->count[p];
    }
    return mn_append(st, parts, (size_t)g->nparts, idem);
}

/* The log's atomic groups, from its bytes: [start, end) of each, end being the
 * end of the TXN_END record (before its padding). */
typedef struct lgroup {
    uint64_t start, end, aligned_end;
    int events;
} lgroup;

static int parse_groups(const uint8_t *seg, size_t len, uint64_t base, lgroup *out, int max)
{
    int n = 0;
    uint64_t off = SEG_HDR_SIZE, start = off;
    int evs = 0;
    ASSERT_GE(len, SEG_HDR_SIZE);
    ASSERT_MEM_EQ(seg, SEG_MAGIC, 8);
    while (off < len) {
        rec_hdr h;
        int st = rec_check(seg + off, len - off, base + off, 1u << 24, &h);
        if (st != REC_OK) FAIL("the test's own log is not clean at offset %" PRIu64 " (%d)", off, st);
        if (h.kind == REC_EVENT) evs++;
        off += rec_align(h.len);
        if (h.flags & REC_TXN_END) {
            ASSERT_LT(n, max);
            out[n].start = start;
            out[n].end = off - rec_align(h.len) + h.len;
            out[n].aligned_end = off;
            out[n].events = evs;
            n++;
            evs = 0;
            start = off;
        }
    }
    ASSERT_EQ(evs, 0);
    ASSERT_EQ_U64(off, len);
    return n;
}

/* ------------------------------------------------------------------------ */
/* The log cut at every byte offset                                           */
/* ------------------------------------------------------------------------ */

/* Thousands of opens: on tmpfs when there is one (fsync is free there, and
 * what is tested is the recovery logic, not the disk). */
static void fast_tmpdir(char *out, size_t cap)
{
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
        if (snprintf(out, cap, "/dev/shm/mn-test-%s-XXXXXX", harness.current) < (int)cap && mkdtemp(out))
            return;
    }
    harness_tmpdir(out, cap);
}

enum { IX_NONE = 0, IX_AHEAD = 1, IX_BEHIND = 2 };
static const char *const ix_names[] = {"no index", "index ahead of the log", "index behind the log"};

/* Builds a log of 30 atomic groups (fsync never), then for every length L in
 * [from, to] (clamped to the log's size): restores the log's first L bytes
 * with one of three indexes — none, the final one (ahead of the cut log), or
 * one saved after 10 groups (behind it, unless the cut is before) — and
 * checks that the store opens and holds exactly the groups whole within L, a
 * prefix in order, by $all, stream reads both ways and stream infos; that
 * the torn bytes are reported; that an append then works (the first lost
 * group again, with its ids: the log no longer has them, so it is not a
 * retry); and that mn_check is clean after close. Near the end of the log
 * every index state is tried at every L; before, they take turns. Under ASan
 * the lengths before the last two groups go in steps of 7. */
static void truncation(uint64_t from, uint64_t to)
{
    char dir[512], ixfull[600], ixearly[600], logdir[600], path[700];
    fast_tmpdir(dir, sizeof dir);
    char store[600];
    PATHF(store, "%s/s", dir);
    PATHF(ixfull, "%s/ix-full", dir);
    PATHF(ixearly, "%s/ix-early", dir);
    PATHF(logdir, "%s/log", store);
    mn_options o = test_opts();
    mn_store *st = NULL;

    /* The workload: 30 groups, the index snapshotted (store closed) after 10. */
    enum { NGROUPS = 30, EARLY = 10 };
    static wgroup groups[NGROUPS];
    ASSERT_OK(mn_open(store, &o, &st));
    for (int g = 0; g < NGROUPS; g++) {
        wl_make(&groups[g], g);
        int idem = -1;
        ASSERT_OK(wl_append(st, &groups[g], &idem));
        ASSERT_EQ(idem, 0);
        if (g == EARLY - 1) {
            mn_close(st);
            char ix[700];
            PATHF(ix, "%s/index", store);
            copy_tree(ix, ixearly);
            ASSERT_OK(mn_open(store, &o, &st));
        }
    }
    mn_close(st);

    /* What the complete log holds, and its groups. */
    xevs all = {0};
    ASSERT_OK(mn_open(store, &o, &st));
    read_all_into(st, 0, &all);
    mn_close(st);
    {
        char ix[700];
        PATHF(ix, "%s/index", store);
        copy_tree(ix, ixfull);
    }
    uint64_t bases[4];
    ASSERT_EQ(list_segments(store, bases, 4), 1);
    ASSERT_EQ_U64(bases[0], 0);
    seg_file(path, sizeof path, store, bases[0]);
    size_t full_len;
    uint8_t *full = slurp(path, &full_len);
    static lgroup lg[NGROUPS];
    ASSERT_EQ(parse_groups(full, full_len, bases[0], lg, NGROUPS), NGROUPS);
    size_t total_events = 0;
    for (int g = 0; g < NGROUPS; g++) {
        int want = groups[g].count[0] + groups[g].count[1];
        ASSERT_EQ(lg[g].events, want);
        total_events += (size_t)want;
    }
    ASSERT_EQ(all.n, total_events);
    /* each event's group, by position */
    int *ev_group = calloc(all.n, sizeof *ev_group);
    for (size_t i = 0, g = 0; i < all.n; i++) {
        while (g < NGROUPS && all.v[i].position >= lg[g].aligned_end) g++;
        ASSERT_LT(g, NGROUPS);
        ASSERT_GE(all.v[i].position, lg[g].start);
        ev_group[i] = (int)g;
    }
    printf("      log: %zu bytes, %d groups, %zu events%s\n", full_len, NGROUPS, all.n,
           UNDER_ASAN ? " (ASan: stride outside the last two groups)" : "");

    /* Every length. Near the end (the last two groups) every index state is
     * tried at every length; before, they take turns.
     * MN_TEST_STRIDE=N (make test-valgrind) tries only every Nth length, plus
     * the lengths within 1 byte of each group's start, end and aligned end. */
    uint64_t dense_from = lg[NGROUPS - 2].start;
    size_t opens = 0;
    const char *stride_env = getenv("MN_TEST_STRIDE");
    uint64_t stride = stride_env ? strtoull(stride_env, NULL, 10) : 1;
    if (stride > 1) printf("      MN_TEST_STRIDE=%" PRIu64 ": every %" PRIu64 "th length and the group boundaries\n", stride, stride);
    if (to > full_len) to = full_len;
    for (uint64_t L = from; L <= to; L++) {
        if (UNDER_ASAN && L >= SEG_HDR_SIZE && L < dense_from && L % 7 != 0) continue;
        if (stride > 1 && L % stride != 0) {
            int near = 0;
            for (int g = 0; g < NGROUPS && !near; g++)
                near = L + 1 >= lg[g].start && L <= lg[g].start + 1 ? 1
                     : L + 1 >= lg[g].end && L <= lg[g].end + 1   ? 1
                     : L + 1 >= lg[g].aligned_end && L <= lg[g].aligned_end + 1;
            if (!near) continue;
        }
        int nvariants = L >= dense_from ? 3 : 1;
        for (int vi = 0; vi < nvariants; vi++) {
            int variant = nvariants == 3 ? vi : (int)(L % 3);
            char what[200];
            snprintf(what, sizeof what, "log cut at %" PRIu64 " of %zu bytes, %s", L, full_len,
                     ix_names[variant]);

            /* restore: the log's first L bytes and the chosen index */
            ASSERT_EQ(harness_rmrf(logdir), 0);
            ASSERT_EQ(mkdir(logdir, 0755), 0);
            spit(path, full, (size_t)L);
            char ix[700];
            PATHF(ix, "%s/index", store);
            ASSERT_EQ(harness_rmrf(ix), 0);
            if (variant == IX_AHEAD) copy_tree(ixfull, ix);
            if (variant == IX_BEHIND) copy_tree(ixearly, ix);

            /* which groups survive: those whose last record is whole; a cut
             * inside the zero padding after a group's last record may keep it
             * or not */
            int sure = 0;
            while (sure < NGROUPS && lg[sure].aligned_end <= L) sure++;
            int maybe = sure < NGROUPS && lg[sure].end <= L;

            int rc = mn_open(store, &o, &st);
            if (rc != MN_OK) FAIL("%s: mn_open: %s (%s)", what, mn_strerror(rc), mn_errmsg());
            opens++;
            xevs got = {0};
            read_all_into(st, 0, &got);
            size_t nsure = 0, nmaybe;
            while (nsure < all.n && ev_group[nsure] < sure) nsure++;
            nmaybe = nsure;
            if (maybe)
                while (nmaybe < all.n && ev_group[nmaybe] <= sure) nmaybe++;
            if (got.n != nsure && got.n != nmaybe)
                FAIL("%s: $all has %zu events, expected %zu (the %d whole groups)", what, got.n, nsure, sure);
            int kept = got.n == nsure ? sure : sure + 1;
            free(got.v);
            expect_store_holds(st, all.v, got.n, wl_names, WL_NAMES, what);

            mn_recovery_report rr;
            memset(&rr, 0, sizeof rr);
            mn_recovery_info(st, &rr);
            if (L >= SEG_HDR_SIZE) {
                uint64_t kept_end = kept ? lg[kept - 1].end : SEG_HDR_SIZE;
                uint64_t kept_aend = kept ? lg[kept - 1].aligned_end : SEG_HDR_SIZE;
                if (L > kept_aend && rr.truncated_bytes != L - kept_aend)
                    FAIL("%s: truncated_bytes %" PRIu64 ", expected %" PRIu64, what, rr.truncated_bytes,
                         L - kept_aend);
                if (L <= kept_aend && rr.truncated_bytes > L - kept_end)
                    FAIL("%s: truncated_bytes %" PRIu64 ", nothing torn", what, rr.truncated_bytes);
            }

            /* Appending works: the first lost group again, with its ids (they
             * must not count as stored: the log no longer has them), or a new
             * event when nothing was lost. */
            mn_store_info si;
            mn_store_info_get(st, &si);
            uint64_t end_before = si.end_position;
            if (end_before % REC_ALIGN != 0)
                FAIL("%s: after recovery the log ends at %" PRIu64 ", not a multiple of %u: the next "
                     "record would be written where no scan looks for one", what, end_before, REC_ALIGN);
            int idem = -1;
            xevs after = {0};
            if (kept < NGROUPS) {
                rc = wl_append(st, &groups[kept], &idem);
                if (rc != MN_OK) FAIL("%s: appending after recovery: %s (%s)", what, mn_strerror(rc), mn_errmsg());
                ASSERT_EQ(idem, 0);
                read_all_into(st, end_before, &after);
                ASSERT_EQ(after.n, (size_t)(groups[kept].count[0] + groups[kept].count[1]));
                for (size_t i = 0; i < after.n; i++) {
                    const xev *w = &all.v[got.n + i];
                    ASSERT_MEM_EQ(after.v[i].stream, w->stream, w->stream_len);
                    ASSERT_EQ(after.v[i].version, w->version);
                    ASSERT_EQ(after.v[i].data_len, w->data_len);
                    ASSERT_MEM_EQ(after.v[i].data, w->data, w->data_len);
                    ASSERT_GE(after.v[i].position, end_before);
                }
            } else {
                mn_event e;
                memset(&e, 0, sizeof e);
                e.type = "After";
                e.type_len = 5;
                e.data = "{}";
                e.data_len = 2;
                int64_t ver = -9;
                rc = mn_append_one(st, "after", 5, MN_EXPECT_NOSTREAM, &e, 1, &ver, NULL);
                if (rc != MN_OK) FAIL("%s: appending after recovery: %s (%s)", what, mn_strerror(rc), mn_errmsg());
                ASSERT_EQ(ver, 0);
                read_all_into(st, end_before, &after);
                ASSERT_EQ(after.n, 1);
            }
            free(after.v);
            mn_close(st);
            expect_check_ok(store, what);
        }
    }
    printf("      %zu opens\n", opens);
    free(ev_group);
    free(all.v);
    free(full);
    harness_rmrf(dir);
}

/* Cuts inside the first segment's header: what a crash while creating the
 * store leaves. The store must open (empty) and work. */
TEST(truncate_in_segment_header) { truncation(0, SEG_HDR_SIZE - 1); }

/* Every cut from the first record to the end of the log. */
TEST(truncate_every_offset) { truncation(SEG_HDR_SIZE, UINT64_MAX); }

/* ------------------------------------------------------------------------ */
/* Mid-log damage                                                             */
/* ------------------------------------------------------------------------ */

/* A store of 20 single-event groups on streams m-0..m-3, the index
 * snapshotted after the first 3. Returns the events (all) and the index
 * snapshot's path. */
enum { MID_N = 20, MID_EARLY = 3 };
static const char *const mid_names[] = {"m-0", "m-1", "m-2", "m-3"};

static void mid_build(const char *store, const char *ixearly, xevs *all)
{
    mn_options o = test_opts();
    mn_store *st = NULL;
    ASSERT_OK(mn_open(store, &o, &st));
    for (int i = 0; i < MID_N; i++) {
        char data[200];
        int n = snprintf(data, sizeof data, "{\"i\":%d,\"pad\":\"%0*d\"}", i, 10 + i * 5, 0);
        mn_event e;
        memset(&e, 0, sizeof e);
        e.id[0] = 0xa0;
        e.id[15] = (uint8_t)(i + 1);
        e.type = "Mid";
        e.type_len = 3;
        e.data = data;
        e.data_len = (size_t)n;
        ASSERT_OK(mn_append_one(st, mid_names[i % 4], 3, MN_EXPECT_ANY, &e, 1, NULL, NULL));
        if (i == MID_EARLY - 1) {
            mn_close(st);
            char ix[700];
            PATHF(ix, "%s/index", store);
            copy_tree(ix, ixearly);
            ASSERT_OK(mn_open(store, &o, &st));
        }
    }
    read_all_into(st, 0, all);
    ASSERT_EQ(all->n, MID_N);
    mn_close(st);
}

/* Everything under dir, as "path size crc" lines — to prove nothing changed. */
static void tree_digest(const char *dir, const char *rel, char *out, size_t cap)
{
    char p[4096];
    PATHF(p, "%s%s%s", dir, *rel ? "/" : "", rel);
    DIR *d = opendir(p);
    if (!d) return;
    struct dirent *e;
    char names[64][256];
    int n = 0;
    while ((e = readdir(d)) != NULL && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[256];
            memcpy(t, names[j], 256);
            memcpy(names[j], names[j - 1], 256);
            memcpy(names[j - 1], t, 256);
        }
    for (int i = 0; i < n; i++) {
        char r[2048], f[4096];
        struct stat st;
        PATHF(r, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        PATHF(f, "%s/%s", dir, r);
        if (lstat(f, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, "%s/\n", r);
            tree_digest(dir, r, out, cap);
        } else {
            size_t len, l = strlen(out);
            uint8_t *b = slurp(f, &len);
            snprintf(out + l, cap - l, "%s %zu %08x\n", r, len, crc32c(b, len));
            free(b);
        }
    }
}

/* Flips one byte of the log at global position pos (single segment 0). */
static void flip_byte(const char *store, uint64_t pos, uint8_t mask)
{
    char path[700];
    seg_file(path, sizeof path, store, 0);
    size_t len;
    uint8_t *b = slurp(path, &len);
    ASSERT_LT_U64(pos, len);
    b[pos] ^= mask;
    spit(path, b, len);
    free(b);
}

static void set_index(const char *store, const char *from)
{
    char ix[700];
    PATHF(ix, "%s/index", store);
    ASSERT_EQ(harness_rmrf(ix), 0);
    if (from) copy_tree(from, ix);
}

/* Opening must refuse with MN_ECORRUPT naming `bad` and leave every file of
 * the log as it was. */
static void expect_refused(const char *store, uint64_t bad, const char *what)
{
    char before[8192] = "", after[8192] = "", logdir[700], num[32];
    PATHF(logdir, "%s/log", store);
    tree_digest(logdir, "", before, sizeof before);
    mn_options o = test_opts();
    mn_store *st = NULL;
    int rc = mn_open(store, &o, &st);
    if (rc != MN_ECORRUPT) {
        mn_close(st);
        FAIL("%s: mn_open returned %d (%s) \"%s\", expected MN_ECORRUPT", what, rc, mn_strerror(rc), mn_errmsg());
    }
    snprintf(num, sizeof num, "%" PRIu64, bad);
    if (!strstr(mn_errmsg(), num))
        FAIL("%s: the message does not name position %s: \"%s\"", what, num, mn_errmsg());
    printf("      %s: \"%s\"\n", what, mn_errmsg());
    after[0] = 0;
    tree_digest(logdir, "", after, sizeof after);
    ASSERT_STR_EQ(after, before);

    mn_check_report cr;
    memset(&cr, 0, sizeof cr);
    ASSERT_ERR(mn_check(store, &cr), MN_ECORRUPT);
    ASSERT_EQ(cr.ok, 0);
    ASSERT_EQ_U64(cr.bad_position, bad);
    ASSERT(cr.what[0] != 0);
    after[0] = 0;
    tree_digest(logdir, "", after, sizeof after);
    ASSERT_STR_EQ(after, before);
}

TEST(corrupt_mid_log_refused)
{
    char dir[512], store[600], ixearly[600];
    harness_tmpdir(dir, sizeof dir);
    PATHF(store, "%s/s", dir);
    PATHF(ixearly, "%s/ix-early", dir);
    xevs all = {0};
    mid_build(store, ixearly, &all);

    /* A payload byte of event 5: valid records follow. */
    uint64_t bad = all.v[5].position;
    flip_byte(store, bad + REC_HDR_SIZE + 3, 0x20);

    set_index(store, NULL); /* a rebuild scans the whole log */
    expect_refused(store, bad, "no index");
    set_index(store, ixearly); /* the tail after the checkpoint holds the damage */
    expect_refused(store, bad, "index checkpoint before the damage");

    /* The same with the damage in a header field (the CRC itself). */
    flip_byte(store, bad + REC_HDR_SIZE + 3, 0x20);
    flip_byte(store, bad + 1, 0x01);
    set_index(store, NULL);
    expect_refused(store, bad, "bad CRC field");
    flip_byte(store, bad + 1, 0x01);

    /* A record length that claims to run past the end of the file: looks like
     * a torn tail, but valid records follow, so it is damage. */
    uint64_t bad2 = all.v[7].position;
    char path[700];
    seg_file(path, sizeof path, store, 0);
    size_t len;
    uint8_t *b = slurp(path, &len);
    uint32_t huge = (uint32_t)len * 2;
    uint8_t saved[4];
    memcpy(saved, b + bad2 + 4, 4);
    memcpy(b + bad2 + 4, &huge, 4);
    spit(path, b, len);
    set_index(store, NULL);
    expect_refused(store, bad2, "record length past the end of the log");
    memcpy(b + bad2 + 4, saved, 4);
    spit(path, b, len);
    free(b);

    /* Restored: the store opens and holds everything. */
    set_index(store, NULL);
    mn_options o = test_opts();
    mn_store *st = NULL;
    ASSERT_OK(mn_open(store, &o, &st));
    expect_store_holds(st, all.v, all.n, mid_names, 4, "restored");
    mn_close(st);

    /* With an index that is current (the damage is before its checkpoint),
     * opening need not scan the damaged record — but reading it must not
     * return wrong bytes, and mn_check must find it. */
    ASSERT_OK(mn_open(store, &o, &st));
    mn_close(st);
    flip_byte(store, bad + REC_HDR_SIZE + 3, 0x20);
    int rc = mn_open(store, &o, &st);
    if (rc == MN_OK) {
        mn_iter *it = NULL;
        mn_event_view v;
        ASSERT_OK(mn_read_stream(st, all.v[5].stream, all.v[5].stream_len, all.v[5].version, 1, 0, &it));
        rc = mn_iter_next(it, &v);
        if (rc == 1) FAIL("reading the damaged event returned it (data %.*s)", (int)v.data_len, (const char *)v.data);
        ASSERT_ERR(rc, MN_ECORRUPT);
        mn_iter_free(it);
        ASSERT_OK(mn_read_all(st, all.v[4].position, 0, &it));
        ASSERT_EQ(mn_iter_next(it, &v), 1);
        ASSERT_EQ_U64(v.position, all.v[4].position);
        ASSERT_ERR(mn_iter_next(it, &v), MN_ECORRUPT);
        mn_iter_free(it);
        mn_close(st);
    } else {
        ASSERT_ERR(rc, MN_ECORRUPT);
    }
    mn_check_report cr;
    memset(&cr, 0, sizeof cr);
    ASSERT_ERR(mn_check(store, &cr), MN_ECORRUPT);
    ASSERT_EQ_U64(cr.bad_position, bad);

    free(all.v);
    harness_rmrf(dir);
}

/* Repair truncates at the damage and reports what it dropped; ixstate is the
 * index before the repairing open: none, behind the damage ("early"), or
 * current ("full"). Current matters: a user opens with repair because reads
 * or mn_check reported damage — a repair that only looks at the tail after
 * the checkpoint would leave the damage in place. */
static void repair_case(const char *ixstate)
{
    char dir[512], store[600], ixearly[600], ixfull[600];
    harness_tmpdir(dir, sizeof dir);
    PATHF(store, "%s/s", dir);
    PATHF(ixearly, "%s/ix-early", dir);
    PATHF(ixfull, "%s/ix-full", dir);
    xevs all = {0};
    mid_build(store, ixearly, &all);
    char ix[700];
    PATHF(ix, "%s/index", store);
    copy_tree(ix, ixfull);

    const int k = 8; /* the damaged event: events 8..19 are lost */
    uint64_t bad = all.v[k].position;
    char path[700];
    seg_file(path, sizeof path, store, 0);
    size_t len0;
    free(slurp(path, &len0));
    flip_byte(store, bad + REC_HDR_SIZE + 5, 0x04);
    if (!strcmp(ixstate, "none")) set_index(store, NULL);
    else if (!strcmp(ixstate, "early")) set_index(store, ixearly);
    else set_index(store, ixfull);

    mn_options o = test_opts();
    o.repair = 1;
    mn_store *st = NULL;
    int rc = mn_open(store, &o, &st);
    if (rc != MN_OK) FAIL("index %s: repair open: %s (%s)", ixstate, mn_strerror(rc), mn_errmsg());
    mn_recovery_report rr;
    memset(&rr, 0, sizeof rr);
    mn_recovery_info(st, &rr);
    /* the repair cut the log at the damaged record */
    ASSERT_EQ_U64(rr.truncated_bytes, len0 - bad);
    uint64_t dropped = rr.dropped_events; /* checked last, so the rest runs */
    expect_store_holds(st, all.v, (size_t)k, mid_names, 4, "after repair");

    /* appends continue where the log now ends; the lost ids are free again */
    mn_store_info si;
    mn_store_info_get(st, &si);
    ASSERT_EQ_U64(si.end_position, bad);
    mn_event e;
    memset(&e, 0, sizeof e);
    e.id[0] = 0xa0;
    e.id[15] = (uint8_t)(k + 1);
    e.type = "Mid";
    e.type_len = 3;
    e.data = "{\"again\":1}";
    e.data_len = 11;
    mn_append_part part;
    memset(&part, 0, sizeof part);
    part.stream = all.v[k].stream;
    part.stream_len = all.v[k].stream_len;
    part.expected = MN_EXPECT_ANY;
    part.events = &e;
    part.count = 1;
    int idem = -1;
    ASSERT_OK(mn_append(st, &part, 1, &idem));
    ASSERT_EQ(idem, 0);
    ASSERT_EQ(part.version, all.v[k].version);
    xevs got = {0};
    read_all_into(st, 0, &got);
    ASSERT_EQ(got.n, (size_t)k + 1);
    ASSERT_EQ(got.v[k].data_len, 11);
    ASSERT_MEM_EQ(got.v[k].data, "{\"again\":1}", 11);
    free(got.v);
    mn_close(st);
    expect_check_ok(store, "after repair");

    /* and a plain reopen (no repair, index rebuilt from scratch) agrees */
    set_index(store, NULL);
    o.repair = 0;
    ASSERT_OK(mn_open(store, &o, &st));
    memset(&got, 0, sizeof got);
    read_all_into(st, 0, &got);
    ASSERT_EQ(got.n, (size_t)k + 1);
    free(got.v);
    mn_close(st);
    free(all.v);
    harness_rmrf(dir);
    /* what was dropped: the damaged event and the 11 after it */
    ASSERT_EQ_U64(dropped, MID_N - k);
}

TEST(corrupt_mid_log_repair_no_index) { repair_case("none"); }
TEST(corrupt_mid_log_repair_index_behind) { repair_case("early"); }
TEST(corrupt_mid_log_repair_index_current) { repair_case("full"); }

/* ------------------------------------------------------------------------ */
/* Segment roll                                                               */
/* ------------------------------------------------------------------------ */

static const char *const roll_names[] = {"r-a", "r-b", "r-c"};

TEST(segment_roll)
{
    char dir[512], store[600];
    harness_tmpdir(dir, sizeof dir);
    PATHF(store, "%s/s", dir);
    mn_options o = test_opts();
    o.segment_size = 4096;
    mn_store *st = NULL;
    ASSERT_OK(mn_open(store, &o, &st));
    char data[8192];
    memset(data, 'z', sizeof data);
    for (int i = 0; i < 300; i++) {
        mn_event e[3];
        memset(e, 0, sizeof e);
        int n = i % 10 == 0 ? 3 : 1;
        for (int j = 0; j < n; j++) {
            e[j].type = "Roll";
            e[j].type_len = 4;
            e[j].data = data;
            e[j].data_len = 60 + (size_t)((i * 37 + j) % 150);
        }
        if (i == 150) e[0].data_len = 6000; /* bigger than a segment */
        ASSERT_OK(mn_append_one(st, roll_names[i % 3], 3, MN_EXPECT_ANY, e, (size_t)n, NULL, NULL));
    }
    xevs all = {0};
    read_all_into(st, 0, &all);
    ASSERT_EQ(all.n, 300 + 30 * 2);
    mn_store_info si;
    mn_store_info_get(st, &si);
    mn_close(st);

    uint64_t bases[256];
    int nseg = list_segments(store, bases, 256);
    ASSERT_GE(nseg, 10);
    ASSERT_EQ_U64(si.segments, (uint64_t)nseg);
    uint64_t total = 0;
    for (int i = 0; i < nseg; i++) {
        char path[700];
        seg_file(path, sizeof path, store, bases[i]);
        size_t len;
        uint8_t *b = slurp(path, &len);
        total += len;
        ASSERT_GE(len, SEG_HDR_SIZE);
        ASSERT_MEM_EQ(b, SEG_MAGIC, 8);
        uint64_t hb;
        memcpy(&hb, b + 16, 8);
        ASSERT_EQ_U64(hb, bases[i]);
        if (i + 1 < nseg) ASSERT_EQ_U64(bases[i] + len, bases[i + 1]); /* segments join */
        /* a group never spans segments: each segment ends with TXN_END */
        uint64_t off = SEG_HDR_SIZE;
        int last_flags = REC_TXN_END;
        while (off < len) {
            rec_hdr h;
            ASSERT_EQ(rec_check(b + off, len - off, bases[i] + off, 1u << 24, &h), REC_OK);
            last_flags = h.flags;
            off += rec_align(h.len);
        }
        ASSERT_EQ_U64(off, len);
        ASSERT(last_flags & REC_TXN_END);
        /* rolled past segment_size only by the group that did not fit */
        if (i + 1 < nseg && len > 4096) ASSERT_LT_U64(len - 4096, 6000 + 4096);
        free(b);
    }
    ASSERT_EQ_U64(si.log_bytes, total);

    /* reads across segments, after a reopen with and without the index */
    ASSERT_OK(mn_open(store, &o, &st));
    expect_store_holds(st, all.v, all.n, roll_names, 3, "reopened");
    /* $all from a position in the middle of a segment and from a segment base */
    xevs part = {0};
    read_all_into(st, bases[3], &part);
    ASSERT(part.n > 0);
    ASSERT_GE(part.v[0].position, bases[3] + SEG_HDR_SIZE);
    ASSERT_LT_U64(part.v[0].position, bases[4]);
    free(part.v);
    mn_close(st);
    set_index(store, NULL);
    ASSERT_OK(mn_open(store, &o, &st));
    mn_recovery_report rr;
    mn_recovery_info(st, &rr);
    int rebuilt_flag = rr.index_rebuilt; /* checked last, so the rest runs */
    expect_store_holds(st, all.v, all.n, roll_names, 3, "index rebuilt");
    mn_close(st);
    expect_check_ok(store, "rolled");

    /* A torn tail in the last segment: cut its last record (a one-event
     * group) 30 bytes in. */
    char path[700];
    seg_file(path, sizeof path, store, bases[nseg - 1]);
    size_t len;
    uint8_t *b = slurp(path, &len);
    uint64_t cut = all.v[all.n - 1].position - bases[nseg - 1] + 30;
    ASSERT_LT_U64(cut, len);
    spit(path, b, (size_t)cut);
    ASSERT_OK(mn_open(store, &o, &st));
    mn_recovery_info(st, &rr);
    ASSERT_EQ_U64(rr.truncated_bytes, 30);
    expect_store_holds(st, all.v, all.n - 1, roll_names, 3, "torn last segment");
    mn_close(st);
    expect_check_ok(store, "torn last segment");

    /* A last segment cut inside its header (a crash while creating it; the
     * previous one was sealed first): its events are gone, the rest stays. */
    spit(path, b, 10);
    ASSERT_OK(mn_open(store, &o, &st));
    size_t in_prev = 0;
    while (in_prev < all.n && all.v[in_prev].position < bases[nseg - 1]) in_prev++;
    expect_store_holds(st, all.v, in_prev, roll_names, 3, "torn segment header");
    mn_close(st);
    expect_check_ok(store, "torn segment header");
    spit(path, b, len);
    free(b);

    /* Damage at the end of a sealed segment is never a torn tail. */
    seg_file(path, sizeof path, store, bases[2]);
    b = slurp(path, &len);
    uint64_t last_in_2 = 0;
    for (size_t i = 0; i < all.n; i++)
        if (all.v[i].position < bases[3]) last_in_2 = all.v[i].position;
    b[last_in_2 - bases[2] + REC_HDR_SIZE + 2] ^= 0x40;
    spit(path, b, len);
    set_index(store, NULL);
    expect_refused(store, last_in_2, "damage at the end of a sealed segment");
    b[last_in_2 - bases[2] + REC_HDR_SIZE + 2] ^= 0x40;
    spit(path, b, len);
    free(b);

    free(all.v);
    harness_rmrf(dir);
    /* the open that found no index says it rebuilt it */
    ASSERT_EQ(rebuilt_flag, 1);
}

/* ------------------------------------------------------------------------ */
/* A crash while the store is being created                                   */
/* ------------------------------------------------------------------------ */

/* mn_open of a new directory makes LOCK, log/ with its first segment, index/,
 * and FORMAT last (through FORMAT.new and a rename). A crash can stop it after
 * any of these steps. Whatever it left, the log holds no record yet (appends
 * start after FORMAT exists), so nothing can be lost by finishing the
 * creation — and a directory that can never be opened again is what must
 * not happen: the next mn_open (create = 1) has to succeed. */
static void create_crash_case(const char *what, int seg_bytes, int index, const char *format_new)
{
    char dir[512], store[600], path[1024];
    harness_tmpdir(dir, sizeof dir);
    PATHF(store, "%s/s", dir);
    mn_options o = test_opts();
    mn_store *st = NULL;
    /* the full layout of a new, empty store */
    ASSERT_OK(mn_open(store, &o, &st));
    mn_close(st);
    PATHF(path, "%s/FORMAT", store);
    ASSERT_EQ(unlink(path), 0);
    if (format_new) {
        PATHF(path, "%s/FORMAT.new", store);
        spit(path, format_new, strlen(format_new));
    }
    if (!index) {
        PATHF(path, "%s/index", store);
        ASSERT_EQ(harness_rmrf(path), 0);
    }
    if (seg_bytes >= 0) {
        PATHF(path, "%s/log/%020d.seg", store, 0);
        size_t len;
        uint8_t *b = slurp(path, &len);
        ASSERT_EQ(len, SEG_HDR_SIZE);
        spit(path, b, (size_t)seg_bytes);
        free(b);
    } else {
        PATHF(path, "%s/log", store);
        ASSERT_EQ(harness_rmrf(path), 0);
    }
    int rc = mn_open(store, &o, &st);
    if (rc != MN_OK) FAIL("crash during creation, %s: mn_open: %s (%s)", what, mn_strerror(rc), mn_errmsg());
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = "First";
    e.type_len = 5;
    int64_t v = -9;
    ASSERT_OK(mn_append_one(st, "s", 1, MN_EXPECT_NOSTREAM, &e, 1, &v, NULL));
    ASSERT_EQ(v, 0);
    mn_close(st);
    char format[64] = "";
    PATHF(path, "%s/FORMAT", store);
    size_t len;
    uint8_t *b = slurp(path, &len);
    ASSERT_LT(len, sizeof format);
    memcpy(format, b, len);
    free(b);
    ASSERT_STR_EQ(format, "mnemosyne-store 1\n");
    expect_check_ok(store, what);
    harness_rmrf(dir);
}

TEST(crash_during_create)
{
    create_crash_case("only LOCK", -1, 0, NULL);
    create_crash_case("log/ with an empty first segment", 0, 0, NULL);
    create_crash_case("log/ with a torn first segment header", 20, 0, NULL);
    create_crash_case("log/ and a whole first segment", SEG_HDR_SIZE, 0, NULL);
    create_crash_case("log/ and index/", SEG_HDR_SIZE, 1, NULL);
    create_crash_case("log/, index/ and an empty FORMAT.new", SEG_HDR_SIZE, 1, "");
    create_crash_case("log/, index/ and a whole FORMAT.new", SEG_HDR_SIZE, 1, "mnemosyne-store 1\n");
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(truncate_in_segment_header);
    RUN(truncate_every_offset);
    RUN(corrupt_mid_log_refused);
    RUN(corrupt_mid_log_repair_no_index);
    RUN(corrupt_mid_log_repair_index_behind);
    RUN(corrupt_mid_log_repair_index_current);
    RUN(segment_roll);
    RUN(crash_during_create);
    return harness_summary();
}
