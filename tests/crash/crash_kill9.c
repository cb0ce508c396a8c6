/*
 * crash_kill9.c — kill -9 a process that is appending with fsync=always, then
 * check that every append it reported acknowledged survived, in order, once.
 *
 * One cycle:
 *   1. fork a child. The child opens the store (fsync=always) and runs 2-4
 *      appender threads. Each thread owns one "slot": three streams
 *      k9-<slot>-<0..2>. It appends groups of events (1-4 events, one or two
 *      streams atomically) with exact expected versions, and right after
 *      mn_append returns MN_OK it writes one report (slot, seq, versions,
 *      positions) to a pipe. A report is shorter than PIPE_BUF, so it reaches
 *      the parent whole or not at all.
 *   2. The parent drains the pipe, SIGKILLs the child 5-150 ms after the fork
 *      (sometimes inside mn_open, i.e. during recovery), and reads the rest.
 *   3. The parent opens the store in-process — in place on even cycles, on a
 *      copy of the directory on odd ones, so that the next child's open is the
 *      first to recover that crash — and verifies (see verify()).
 *   4. mn_check on the verified directory after open+close must be clean, and
 *      so must `mnemo --dir D check` (the CLI next to this program, if built).
 *
 * Every third cycle or so also simulates a power cut on top of the kill: the
 * last segment is cut at a random byte after the end of the last
 * acknowledged record. With fsync=always those bytes were never promised
 * (they belong to appends in flight), so losing any suffix of them must lose
 * no acknowledged append — and recovery now has a torn tail to truncate,
 * often with an index that is ahead of the log.
 *
 * Why the groups are deterministic: a group is a function of (slot, first
 * sequence number) — its streams, sizes, event ids and data. The next child of
 * a slot starts again at the first group that was not acknowledged, with the
 * expected versions of the acknowledged state. If that group did reach the
 * log before the kill, the retry carries the same ids and the same expected
 * versions, so the store must answer it idempotently (same versions and
 * positions, nothing written); if it did not, it is written now. Either way
 * every sequence number ends up in the log exactly once — which is what an
 * at-least-once client that retries with the same ids relies on.
 *
 * Output: one line per cycle, a summary, and last "crash_kill9: N passed, N failed".
 * Environment: MN_CRASH_CYCLES (default 20), MN_CRASH_SEED, MN_TEST_TMP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mnemosyne.h"
#include "storage/record.h"
#include "storage/segment.h"

#define MAX_SLOTS 4
#define STREAMS_PER_SLOT 3
#define MAX_PART_EVENTS 4
#define MAX_FAILS_BEFORE_STOP 3
#define SEGMENT_SIZE (256u << 10) /* small, so that segments roll under the kills */

/* ------------------------------------------------------------------------ */
/* The deterministic workload                                                 */
/* ------------------------------------------------------------------------ */

static uint64_t g_salt; /* per run: event ids of different runs never collide */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* One atomic append: one or two parts, each on one of the slot's streams. */
typedef struct plan {
    int nparts;
    int stream[2];  /* 0..STREAMS_PER_SLOT-1, distinct */
    int count[2];   /* events in each part, 1..MAX_PART_EVENTS */
    int total;      /* count[0] + count[1] */
} plan;

static void make_plan(int slot, uint64_t seq, plan *p)
{
    uint64_t r = mix64(g_salt ^ ((uint64_t)slot << 56) ^ seq);
    p->nparts = (r % 5 == 0) ? 2 : 1;
    p->stream[0] = (int)((r >> 8) % STREAMS_PER_SLOT);
    p->stream[1] = (p->stream[0] + 1 + (int)((r >> 16) % (STREAMS_PER_SLOT - 1))) % STREAMS_PER_SLOT;
    p->total = 0;
    for (int i = 0; i < p->nparts; i++) {
        uint64_t c = (r >> (24 + 8 * i)) % 10;
        p->count[i] = c < 6 ? 1 : (int)(c - 4); /* 60% one event, else 2..4 (5 -> 4) */
        if (p->count[i] > MAX_PART_EVENTS) p->count[i] = MAX_PART_EVENTS;
        p->total += p->count[i];
    }
    if (p->nparts == 1) p->count[1] = 0;
}

static void event_id(int slot, uint64_t seq, uint8_t id[16])
{
    memcpy(id, &g_salt, 8);
    id[8] = (uint8_t)(0x40 | slot);
    for (int i = 0; i < 7; i++) id[9 + i] = (uint8_t)(seq >> (8 * (6 - i)));
}

static int stream_name(char *out, size_t cap, int slot, int k)
{
    return snprintf(out, cap, "k9-%d-%d", slot, k);
}

/* data: {"slot":S,"seq":Q,"i":I,"n":N,"pad":"xxx"} — I is the event's index in
 * its group of N events; the pad makes record sizes vary. */
static int event_data(char *out, size_t cap, int slot, uint64_t seq, int i, int n)
{
    int pad = (int)(mix64(seq * 7919 + (uint64_t)slot) % 200);
    int len = snprintf(out, cap, "{\"slot\":%d,\"seq\":%" PRIu64 ",\"i\":%d,\"n\":%d,\"pad\":\"", slot,
                       seq, i, n);
    for (int k = 0; k < pad && len < (int)cap - 4; k++) out[len++] = (char)('a' + k % 26);
    out[len++] = '"';
    out[len++] = '}';
    out[len] = 0;
    return len;
}

/* ------------------------------------------------------------------------ */
/* Child: appenders and their reports                                         */
/* ------------------------------------------------------------------------ */

enum { REP_ACK = 1, REP_ERROR = 2 };

typedef struct report {
    uint32_t kind;        /* REP_* */
    uint32_t slot;
    uint64_t seq;         /* first sequence number of the group */
    uint32_t total;       /* events in the group */
    uint32_t nparts;
    int32_t idempotent;   /* as mn_append reported it */
    int32_t rc;           /* REP_ERROR: the failing code */
    struct {
        int32_t stream;
        int32_t count;
        int64_t version;  /* the part's last event's version */
        uint64_t position;/* the part's last event's position */
    } parts[2];
    char msg[256];        /* REP_ERROR: what failed */
} report;

_Static_assert(sizeof(report) <= PIPE_BUF, "a report must be written atomically");

typedef struct child_cfg {
    mn_store *store;
    int slot;
    uint64_t start_seq;
    int64_t version[STREAMS_PER_SLOT]; /* expected versions: the acknowledged state */
    int fd;                            /* the pipe's write end */
} child_cfg;

static void send_report(int fd, const report *r)
{
    ssize_t n;
    do n = write(fd, r, sizeof *r);
    while (n < 0 && errno == EINTR);
}

static void send_error(int fd, int slot, int rc, const char *fmt, ...)
{
    report r;
    memset(&r, 0, sizeof r);
    r.kind = REP_ERROR;
    r.slot = (uint32_t)slot;
    r.rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.msg, sizeof r.msg, fmt, ap);
    va_end(ap);
    send_report(fd, &r);
}

static void *appender(void *arg)
{
    child_cfg *c = arg;
    uint64_t seq = c->start_seq;
    char names[2][32];
    char data[2][MAX_PART_EVENTS][320];
    mn_event evs[2][MAX_PART_EVENTS];
    mn_append_part parts[2];

    for (;;) {
        plan p;
        make_plan(c->slot, seq, &p);
        memset(evs, 0, sizeof evs);
        memset(parts, 0, sizeof parts);
        uint64_t s = seq;
        int gi = 0;
        for (int j = 0; j < p.nparts; j++) {
            int nl = stream_name(names[j], sizeof names[j], c->slot, p.stream[j]);
            for (int k = 0; k < p.count[j]; k++, s++, gi++) {
                mn_event *e = &evs[j][k];
                event_id(c->slot, s, e->id);
                e->type = "Tick";
                e->type_len = 4;
                e->data = data[j][k];
                e->data_len = (size_t)event_data(data[j][k], sizeof data[j][k], c->slot, s, gi, p.total);
            }
            parts[j].stream = names[j];
            parts[j].stream_len = (size_t)nl;
            parts[j].expected = c->version[p.stream[j]]; /* -1 == MN_EXPECT_NOSTREAM */
            parts[j].events = evs[j];
            parts[j].count = (size_t)p.count[j];
        }
        int idem = 0;
        int rc = mn_append(c->store, parts, (size_t)p.nparts, &idem);
        if (rc != MN_OK) {
            send_error(c->fd, c->slot, rc, "slot %d seq %" PRIu64 ": mn_append: %s (%s)", c->slot, seq,
                       mn_strerror(rc), mn_errmsg());
            for (;;) pause(); /* wait for the kill */
        }
        report r;
        memset(&r, 0, sizeof r);
        r.kind = REP_ACK;
        r.slot = (uint32_t)c->slot;
        r.seq = seq;
        r.total = (uint32_t)p.total;
        r.nparts = (uint32_t)p.nparts;
        r.idempotent = idem;
        for (int j = 0; j < p.nparts; j++) {
            r.parts[j].stream = p.stream[j];
            r.parts[j].count = p.count[j];
            r.parts[j].version = parts[j].version;
            r.parts[j].position = parts[j].position;
            c->version[p.stream[j]] = parts[j].version;
        }
        send_report(c->fd, &r);
        seq += (uint64_t)p.total;
    }
    return NULL;
}

static void child_main(const char *dir, int nthreads, const int *slots, child_cfg *cfg, int fd)
{
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = MN_FSYNC_ALWAYS;
    o.segment_size = SEGMENT_SIZE;
    mn_store *st = NULL;
    int rc = mn_open(dir, &o, &st);
    if (rc != MN_OK) {
        send_error(fd, -1, rc, "child: mn_open: %s (%s)", mn_strerror(rc), mn_errmsg());
        _exit(2);
    }
    pthread_t th[MAX_SLOTS];
    for (int i = 0; i < nthreads; i++) {
        cfg[slots[i]].store = st;
        cfg[slots[i]].fd = fd;
        if (pthread_create(&th[i], NULL, appender, &cfg[slots[i]]) != 0) {
            send_error(fd, slots[i], 0, "child: pthread_create failed");
            _exit(2);
        }
    }
    for (;;) pause();
}

/* ------------------------------------------------------------------------ */
/* Parent: what was acknowledged                                              */
/* ------------------------------------------------------------------------ */

typedef struct acked_part {
    int slot, stream, count;
    uint64_t seq;       /* sequence number of the part's first event */
    int64_t version;    /* of its last event */
    uint64_t position;  /* of its last event */
} acked_part;

static struct {
    uint64_t acked_upto[MAX_SLOTS];                   /* seqs 1..acked_upto acknowledged */
    int64_t version[MAX_SLOTS][STREAMS_PER_SLOT];     /* after the last acknowledged append */
    acked_part *parts;
    size_t nparts, capparts;
    uint64_t acked_appends, acked_events, idempotent_retries, torn_tails, torn_bytes;
    uint64_t pending_groups_seen; /* unacknowledged groups found in the log */
    uint64_t max_acked_pos;       /* position of the last acknowledged record */
    uint64_t power_cuts, power_cut_bytes;
} S;

static int cycle_failed;
static char fail_msg[4096];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    if (cycle_failed < 8) {
        va_start(ap, fmt);
        fprintf(stdout, "    FAIL: ");
        vfprintf(stdout, fmt, ap);
        fputc('\n', stdout);
        va_end(ap);
    }
    if (!cycle_failed) {
        va_start(ap, fmt);
        vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
        va_end(ap);
    }
    cycle_failed++;
}

static void add_acked_part(const acked_part *p)
{
    if (S.nparts == S.capparts) {
        S.capparts = S.capparts ? S.capparts * 2 : 1024;
        S.parts = realloc(S.parts, S.capparts * sizeof *S.parts);
        if (!S.parts) {
            perror("realloc");
            exit(2);
        }
    }
    S.parts[S.nparts++] = *p;
}

/* Applies one report (in arrival order, which for one slot is append order). */
static void take_report(const report *r, int *errors)
{
    if (r->kind == REP_ERROR) {
        fail("child reported: %s", r->msg);
        (*errors)++;
        return;
    }
    if (r->kind != REP_ACK || r->slot >= MAX_SLOTS) {
        fail("garbled report (kind %u slot %u)", r->kind, r->slot);
        return;
    }
    int slot = (int)r->slot;
    if (r->seq != S.acked_upto[slot] + 1) {
        fail("slot %d: acknowledged group at seq %" PRIu64 ", expected %" PRIu64, slot, r->seq,
             S.acked_upto[slot] + 1);
        return;
    }
    plan p;
    make_plan(slot, r->seq, &p);
    uint64_t s = r->seq;
    for (int j = 0; j < p.nparts; j++) {
        acked_part a = {slot, p.stream[j], p.count[j], s, r->parts[j].version, r->parts[j].position};
        add_acked_part(&a);
        S.version[slot][p.stream[j]] = r->parts[j].version;
        if (r->parts[j].position > S.max_acked_pos) S.max_acked_pos = r->parts[j].position;
        s += (uint64_t)p.count[j];
    }
    S.acked_upto[slot] = r->seq + (uint64_t)p.total - 1;
    S.acked_appends++;
    S.acked_events += (uint64_t)p.total;
    if (r->idempotent) S.idempotent_retries++;
}

/* ------------------------------------------------------------------------ */
/* Parent: what the store holds                                               */
/* ------------------------------------------------------------------------ */

typedef struct seen_ev {
    int64_t version;
    uint64_t position;
    uint64_t seq;
} seen_ev;

typedef struct vec {
    seen_ev *v;
    size_t n, cap;
} vec;

static void vec_push(vec *x, seen_ev e)
{
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 256;
        x->v = realloc(x->v, x->cap * sizeof *x->v);
        if (!x->v) {
            perror("realloc");
            exit(2);
        }
    }
    x->v[x->n++] = e;
}

static int parse_data(const void *data, size_t len, int *slot, uint64_t *seq, int *i, int *n)
{
    char buf[128];
    size_t k = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, data, k);
    buf[k] = 0;
    unsigned long long q;
    if (sscanf(buf, "{\"slot\":%d,\"seq\":%llu,\"i\":%d,\"n\":%d", slot, &q, i, n) != 4) return -1;
    *seq = q;
    return 0;
}

/* Checks the open store against everything acknowledged so far:
 *  - $all: positions strictly increase; every event is one of ours, with the
 *    id and data of its (slot, seq); within a slot, seqs increase.
 *  - per slot: the seqs present are exactly 1..M, each once (no duplicate, no
 *    gap), with M = acked_upto or M = acked_upto + the size of the one group
 *    that may have been written but not acknowledged (a whole group only).
 *  - per stream: versions 0,1,2,... contiguous, stream info agrees, and the
 *    events are the $all ones.
 *  - every acknowledged part: its events are at the versions and position
 *    the child was told, in that stream.
 */
static void verify(mn_store *st)
{
    vec all[MAX_SLOTS][STREAMS_PER_SLOT];
    vec byslot[MAX_SLOTS];
    memset(all, 0, sizeof all);
    memset(byslot, 0, sizeof byslot);
    mn_iter *it = NULL;
    mn_event_view ev;
    int rc = mn_read_all(st, 0, 0, &it);
    if (rc != MN_OK) {
        fail("mn_read_all: %s (%s)", mn_strerror(rc), mn_errmsg());
        return;
    }
    uint64_t last_pos = 0;
    size_t nall = 0;
    while ((rc = mn_iter_next(it, &ev)) == 1) {
        int slot, k, i, n;
        uint64_t seq;
        char nm[64];
        if (nall && ev.position <= last_pos)
            fail("$all: position %" PRIu64 " after %" PRIu64, ev.position, last_pos);
        last_pos = ev.position;
        nall++;
        if (ev.stream_len >= sizeof nm) {
            fail("$all: unexpected stream name of %zu bytes", ev.stream_len);
            continue;
        }
        memcpy(nm, ev.stream, ev.stream_len);
        nm[ev.stream_len] = 0;
        if (sscanf(nm, "k9-%d-%d", &slot, &k) != 2 || slot < 0 || slot >= MAX_SLOTS || k < 0 ||
            k >= STREAMS_PER_SLOT) {
            fail("$all: unexpected stream %s", nm);
            continue;
        }
        int dslot;
        if (parse_data(ev.data, ev.data_len, &dslot, &seq, &i, &n) != 0 || dslot != slot) {
            fail("$all: %s v%" PRId64 ": data %.*s", nm, ev.version, (int)(ev.data_len > 80 ? 80 : ev.data_len),
                 (const char *)ev.data);
            continue;
        }
        char want[320];
        plan p;
        make_plan(slot, seq - (uint64_t)i, &p);
        int wl = event_data(want, sizeof want, slot, seq, i, n);
        if ((size_t)wl != ev.data_len || memcmp(want, ev.data, ev.data_len) != 0 || n != p.total)
            fail("$all: %s seq %" PRIu64 ": data differs from what was appended", nm, seq);
        uint8_t id[16];
        event_id(slot, seq, id);
        if (memcmp(id, ev.id, 16) != 0) fail("$all: %s seq %" PRIu64 ": wrong event id", nm, seq);
        if (byslot[slot].n && seq <= byslot[slot].v[byslot[slot].n - 1].seq)
            fail("$all: slot %d: seq %" PRIu64 " after seq %" PRIu64 " (out of order or duplicate)", slot,
                 seq, byslot[slot].v[byslot[slot].n - 1].seq);
        seen_ev se = {ev.version, ev.position, seq};
        vec_push(&byslot[slot], se);
        vec_push(&all[slot][k], se);
    }
    if (rc < 0) fail("$all: mn_iter_next: %s (%s)", mn_strerror(rc), mn_errmsg());
    mn_iter_free(it);

    for (int slot = 0; slot < MAX_SLOTS; slot++) {
        vec *b = &byslot[slot];
        for (size_t j = 0; j < b->n; j++)
            if (b->v[j].seq != j + 1) {
                fail("slot %d: the %zu-th event has seq %" PRIu64 " (gap or duplicate)", slot, j + 1, b->v[j].seq);
                break;
            }
        uint64_t m = b->n, a = S.acked_upto[slot];
        if (m < a) {
            fail("slot %d: %" PRIu64 " events acknowledged, only %" PRIu64 " in the log", slot, a, m);
        } else if (m > a) {
            plan p;
            make_plan(slot, a + 1, &p);
            if (m != a + (uint64_t)p.total)
                fail("slot %d: %" PRIu64 " acknowledged, %" PRIu64 " present, but the pending group has %d events",
                     slot, a, m, p.total);
            else
                S.pending_groups_seen++;
        }
    }

    for (int slot = 0; slot < MAX_SLOTS; slot++)
        for (int k = 0; k < STREAMS_PER_SLOT; k++) {
            char nm[32];
            int nl = stream_name(nm, sizeof nm, slot, k);
            vec *a = &all[slot][k];
            mn_stream_info si;
            rc = mn_stream_info_get(st, nm, (size_t)nl, &si);
            if (a->n == 0) {
                if (rc != MN_ENOTFOUND) fail("%s: no events, but mn_stream_info_get says %s", nm, mn_strerror(rc));
                continue;
            }
            if (rc != MN_OK) {
                fail("%s: mn_stream_info_get: %s (%s)", nm, mn_strerror(rc), mn_errmsg());
                continue;
            }
            if (si.version != (int64_t)a->n - 1 || si.length != a->n ||
                si.last_position != a->v[a->n - 1].position)
                fail("%s: info version %" PRId64 " length %" PRIu64 " last_position %" PRIu64
                     ", $all has %zu events, last at %" PRIu64,
                     nm, si.version, si.length, si.last_position, a->n, a->v[a->n - 1].position);
            rc = mn_read_stream(st, nm, (size_t)nl, 0, 0, 0, &it);
            if (rc != MN_OK) {
                fail("%s: mn_read_stream: %s (%s)", nm, mn_strerror(rc), mn_errmsg());
                continue;
            }
            size_t j = 0;
            while ((rc = mn_iter_next(it, &ev)) == 1) {
                if (j >= a->n) {
                    fail("%s: more events than in $all", nm);
                    break;
                }
                if (ev.version != (int64_t)j || a->v[j].version != (int64_t)j || ev.position != a->v[j].position) {
                    fail("%s: event %zu has version %" PRId64 " (in $all %" PRId64 ") position %" PRIu64
                         " (in $all %" PRIu64 ")",
                         nm, j, ev.version, a->v[j].version, ev.position, a->v[j].position);
                    break;
                }
                j++;
            }
            if (rc < 0) fail("%s: mn_iter_next: %s (%s)", nm, mn_strerror(rc), mn_errmsg());
            else if (rc == 0 && j != a->n) fail("%s: %zu events read, $all has %zu", nm, j, a->n);
            mn_iter_free(it);
        }

    for (size_t x = 0; x < S.nparts; x++) {
        acked_part *p = &S.parts[x];
        vec *a = &all[p->slot][p->stream];
        int64_t first = p->version - p->count + 1;
        if (first < 0 || p->version >= (int64_t)a->n) {
            fail("acked k9-%d-%d v%" PRId64 "..%" PRId64 " (seq %" PRIu64 "): the stream has %zu events", p->slot,
                 p->stream, first, p->version, p->seq, a->n);
            continue;
        }
        for (int c = 0; c < p->count; c++)
            if (a->v[first + c].seq != p->seq + (uint64_t)c) {
                fail("acked k9-%d-%d v%" PRId64 ": seq %" PRIu64 ", the log has seq %" PRIu64, p->slot, p->stream,
                     first + c, p->seq + (uint64_t)c, a->v[first + c].seq);
                break;
            }
        if (a->v[p->version].position != p->position)
            fail("acked k9-%d-%d v%" PRId64 ": position %" PRIu64 " acknowledged, the log has %" PRIu64, p->slot,
                 p->stream, p->version, p->position, a->v[p->version].position);
    }

    for (int slot = 0; slot < MAX_SLOTS; slot++) {
        free(byslot[slot].v);
        for (int k = 0; k < STREAMS_PER_SLOT; k++) free(all[slot][k].v);
    }
}

/* ------------------------------------------------------------------------ */
/* Files                                                                      */
/* ------------------------------------------------------------------------ */

static int rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            rmrf(p);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

/* Copies a file, keeping holes (the LMDB file may be large and sparse). */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = -1, rc = -1;
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0) goto done;
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777);
    if (out < 0 || ftruncate(out, st.st_size) != 0) goto done;
    off_t off = 0;
    static char buf[1 << 16];
    while (off < st.st_size) {
        off_t data = lseek(in, off, SEEK_DATA);
        if (data < 0) break; /* ENXIO: only a hole is left */
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0) hole = st.st_size;
        for (off_t p = data; p < hole;) {
            size_t want = (size_t)(hole - p < (off_t)sizeof buf ? hole - p : (off_t)sizeof buf);
            ssize_t n = pread(in, buf, want, p);
            if (n <= 0 || pwrite(out, buf, (size_t)n, p) != n) goto done;
            p += n;
        }
        off = hole;
    }
    rc = 0;
done:
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return rc;
}

static int copy_tree(const char *from, const char *to)
{
    if (mkdir(to, 0755) != 0 && errno != EEXIST) return -1;
    DIR *d = opendir(from);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char a[4096], b[4096];
        struct stat st;
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        if (lstat(a, &st) != 0) rc = -1;
        else if (S_ISDIR(st.st_mode)) rc = copy_tree(a, b);
        else if (S_ISREG(st.st_mode)) rc = copy_file(a, b);
    }
    closedir(d);
    return rc;
}

/* The last segment of dir's log: its base and path. 0 if there is none. */
static int last_segment(const char *dir, uint64_t *base, char *path, size_t cap)
{
    char logdir[4200];
    if (snprintf(logdir, sizeof logdir, "%s/log", dir) >= (int)sizeof logdir) return 0;
    DIR *d = opendir(logdir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        unsigned long long b;
        char tail[8];
        if (strlen(e->d_name) == 24 && sscanf(e->d_name, "%20llu%7s", &b, tail) == 2 && !strcmp(tail, ".seg") &&
            (!found || b > *base)) {
            *base = b;
            found = 1;
        }
    }
    closedir(d);
    if (found && snprintf(path, cap, "%s/%020llu.seg", logdir, (unsigned long long)*base) >= (int)cap) return 0;
    return found;
}

/* Cuts the last segment at a random length past the last acknowledged
 * record (its padding included in what may go). Returns the bytes cut. */
static uint64_t power_cut(const char *dir, uint64_t r)
{
    char path[4300];
    uint64_t base = 0;
    struct stat st;
    if (!last_segment(dir, &base, path, sizeof path) || stat(path, &st) != 0) return 0;
    uint64_t size = (uint64_t)st.st_size, lo = SEG_HDR_SIZE;
    if (S.nparts > 0 && S.max_acked_pos >= base) {
        rec_hdr h;
        int fd = open(path, O_RDONLY);
        if (fd < 0) return 0;
        ssize_t n = pread(fd, &h, sizeof h, (off_t)(S.max_acked_pos - base));
        close(fd);
        if (n != (ssize_t)sizeof h || h.pos != S.max_acked_pos) {
            fail("power cut: no record at the acknowledged position %" PRIu64, S.max_acked_pos);
            return 0;
        }
        lo = S.max_acked_pos - base + h.len;
    }
    if (lo >= size) return 0;
    uint64_t cut = lo + r % (size - lo);
    if (truncate(path, (off_t)cut) != 0) {
        fail("power cut: truncate %s: %s", path, strerror(errno));
        return 0;
    }
    return size - cut;
}

/* The CLI, found next to this program (build/tests/crash_kill9 ->
 * build/mnemo) or through $MN_MNEMO; empty if there is none. */
static char g_mnemo[4096];
static uint64_t g_mnemo_runs;

static void find_mnemo(const char *argv0)
{
    const char *e = getenv("MN_MNEMO");
    if (e && *e) {
        snprintf(g_mnemo, sizeof g_mnemo, "%s", e);
    } else {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            snprintf(self, sizeof self, "%s", argv0);
            n = (ssize_t)strlen(self);
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (!slash) return;
        *slash = 0; /* build/tests */
        if (snprintf(g_mnemo, sizeof g_mnemo, "%s/../mnemo", self) >= (int)sizeof g_mnemo) g_mnemo[0] = 0;
    }
    if (g_mnemo[0] && access(g_mnemo, X_OK) != 0) g_mnemo[0] = 0;
}

/* Runs `mnemo --dir dir check`; its exit status (or -1). */
static int run_mnemo_check(const char *dir, char *out, size_t cap)
{
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execl(g_mnemo, g_mnemo, "--dir", dir, "check", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(pfd[0], out + len, cap - 1 - len)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) len += (size_t)n;
    out[len] = 0;
    close(pfd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    g_mnemo_runs++;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------------ */
/* Cycles                                                                     */
/* ------------------------------------------------------------------------ */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ULL;
    return mix64(rng_state);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reads whole reports from fd until EOF or (if deadline > 0) the deadline. */
static void drain(int fd, double deadline, char *pend, size_t *npend, int *errors)
{
    for (;;) {
        int timeout = -1;
        if (deadline > 0) {
            double left = deadline - now_ms();
            if (left <= 0) return;
            timeout = (int)left + 1;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, timeout);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) continue; /* re-check the deadline */
        ssize_t n = read(fd, pend + *npend, sizeof(report) * 64 - *npend);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* EOF: the child is gone */
        *npend += (size_t)n;
        size_t off = 0;
        while (*npend - off >= sizeof(report)) {
            report r;
            memcpy(&r, pend + off, sizeof r);
            take_report(&r, errors);
            off += sizeof r;
        }
        memmove(pend, pend + off, *npend - off);
        *npend -= off;
    }
}

static int run_cycle(int cycle, const char *dir, const char *vdir)
{
    cycle_failed = 0;
    fail_msg[0] = 0;
    int nthreads = 2 + (int)(rnd() % 3);
    int slots[MAX_SLOTS] = {0, 1, 2, 3};
    for (int i = MAX_SLOTS - 1; i > 0; i--) { /* a random subset of slots */
        int j = (int)(rnd() % (uint64_t)(i + 1));
        int t = slots[i];
        slots[i] = slots[j];
        slots[j] = t;
    }
    int kill_ms = 5 + (int)(rnd() % 146);
    child_cfg cfg[MAX_SLOTS];
    memset(cfg, 0, sizeof cfg);
    for (int s = 0; s < MAX_SLOTS; s++) {
        cfg[s].slot = s;
        cfg[s].start_seq = S.acked_upto[s] + 1;
        for (int k = 0; k < STREAMS_PER_SLOT; k++) cfg[s].version[k] = S.version[s][k];
    }
    uint64_t acked_before = S.acked_appends, idem_before = S.idempotent_retries;

    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(pfd[0]);
        child_main(dir, nthreads, slots, cfg, pfd[1]);
        _exit(0);
    }
    close(pfd[1]);
    static char pend[sizeof(report) * 64];
    size_t npend = 0;
    int errors = 0;
    drain(pfd[0], t0 + kill_ms, pend, &npend, &errors);
    kill(pid, SIGKILL);
    int status = 0;
    drain(pfd[0], 0, pend, &npend, &errors);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(pfd[0]);
    if (npend) fail("a torn report of %zu bytes (a pipe write of < PIPE_BUF was split?)", npend);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail("the child ended on its own (status 0x%x) before the kill", status);
    uint64_t cut = 0;
    if (rnd() % 3 == 0 && (cut = power_cut(dir, rnd())) > 0) {
        S.power_cuts++;
        S.power_cut_bytes += cut;
    }

    /* Verify in place (this open recovers the crash) or on a copy (the next
     * child's open will be the one that recovers it). */
    int on_copy = cycle % 2 == 1;
    const char *vd = dir;
    struct stat dst;
    if (on_copy) {
        rmrf(vdir);
        vd = vdir;
        if (stat(dir, &dst) != 0) {
            /* killed before it even made the directory: vdir stays missing */
        } else if (copy_tree(dir, vdir) != 0) {
            fail("copying %s to %s: %s", dir, vdir, strerror(errno));
            return 0;
        }
    }
    mn_options o;
    mn_options_init(&o);
    o.create = 0;
    o.segment_size = SEGMENT_SIZE;
    mn_store *st = NULL;
    mn_recovery_report rr;
    memset(&rr, 0, sizeof rr);
    int rc = mn_open(vd, &o, &st);
    if (rc == MN_OK) {
        mn_recovery_info(st, &rr);
        if (rr.truncated_bytes > 0) {
            S.torn_tails++;
            S.torn_bytes += rr.truncated_bytes;
        }
        verify(st);
        mn_close(st);
        mn_check_report cr;
        memset(&cr, 0, sizeof cr);
        rc = mn_check(vd, &cr);
        if (rc != MN_OK || !cr.ok)
            fail("mn_check after recovery: %s, ok=%d at %" PRIu64 ": %s", mn_strerror(rc), cr.ok, cr.bad_position,
                 cr.what);
        if (g_mnemo[0]) {
            char out[2048];
            int st_rc = run_mnemo_check(vd, out, sizeof out);
            if (st_rc != 0) fail("`mnemo --dir %s check` exited %d: %s", vd, st_rc, out);
        }
    } else if (rc == MN_ENOTFOUND || rc == MN_EIO || rc == MN_EFORMAT) {
        /* Killed before the store existed? Acceptable only if nothing was acknowledged. */
        if (S.acked_appends != 0 || cycle > 1)
            fail("mn_open after the kill: %s (%s)", mn_strerror(rc), mn_errmsg());
    } else {
        fail("mn_open after the kill: %s (%s)", mn_strerror(rc), mn_errmsg());
    }
    char cutmsg[64] = "";
    if (cut) snprintf(cutmsg, sizeof cutmsg, ", power cut %" PRIu64 " bytes", cut);
    printf("cycle %3d: %d threads, killed at %3d ms%s, %5" PRIu64 " appends acknowledged (%" PRIu64
           " idempotent retries), recovery: replayed %" PRIu64 " records, torn %" PRIu64 " bytes%s, verified %s: %s\n",
           cycle, nthreads, kill_ms, cutmsg, S.acked_appends - acked_before, S.idempotent_retries - idem_before,
           rr.replayed_records, rr.truncated_bytes, rr.index_rebuilt ? ", index rebuilt" : "",
           on_copy ? "on a copy" : "in place", cycle_failed ? "FAIL" : "ok");
    fflush(stdout);
    return cycle_failed == 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    find_mnemo(argv[0]);
    const char *e = getenv("MN_CRASH_CYCLES");
    int cycles = e && atoi(e) > 0 ? atoi(e) : 20;
    e = getenv("MN_CRASH_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 0) : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    rng_state = seed;
    g_salt = mix64(seed ^ 0x6b696c6c39ULL);
    signal(SIGPIPE, SIG_IGN);

    const char *tmp = getenv("MN_TEST_TMP");
    if (!tmp || !*tmp) tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    char base[4096], dir[4200], vdir[4200];
    snprintf(base, sizeof base, "%s/crash_kill9.XXXXXX", tmp);
    if (!mkdtemp(base)) {
        fprintf(stderr, "mkdtemp %s: %s\n", base, strerror(errno));
        printf("crash_kill9: 0 passed, 1 failed\n");
        return 1;
    }
    snprintf(dir, sizeof dir, "%s/store", base);
    snprintf(vdir, sizeof vdir, "%s/verify", base);
    for (int s = 0; s < MAX_SLOTS; s++)
        for (int k = 0; k < STREAMS_PER_SLOT; k++) S.version[s][k] = MN_NO_VERSION;

    printf("crash_kill9: %d cycles, seed %" PRIu64 " (MN_CRASH_SEED to repeat), store %s\n", cycles, seed, dir);
    double t0 = now_ms();
    int passed = 0, failed = 0;
    for (int c = 1; c <= cycles; c++) {
        if (run_cycle(c, dir, vdir)) passed++;
        else {
            failed++;
            if (failed >= MAX_FAILS_BEFORE_STOP) {
                printf("stopping after %d failed cycles\n", failed);
                break;
            }
        }
    }
    printf("summary: %d cycles in %.1f s, %" PRIu64 " acknowledged appends (%" PRIu64
           " events) verified, %" PRIu64 " idempotent retries of unacknowledged appends, %" PRIu64
           " unacknowledged groups found whole in the log, %" PRIu64 " simulated power cuts (%" PRIu64
           " bytes), %" PRIu64 " torn tails seen by recovery (%" PRIu64 " bytes)\n",
           passed + failed, (now_ms() - t0) / 1e3, S.acked_appends, S.acked_events, S.idempotent_retries,
           S.pending_groups_seen, S.power_cuts, S.power_cut_bytes, S.torn_tails, S.torn_bytes);
    if (failed == 0) rmrf(base);
    else printf("store kept for inspection: %s\n", base);
    free(S.parts);
    if (g_mnemo[0]) printf("mnemo check: %" PRIu64 " runs (%s)\n", g_mnemo_runs, g_mnemo);
    else printf("mnemo check: skipped (no build/mnemo next to this program; MN_MNEMO=path to set it)\n");
    printf("crash_kill9: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
