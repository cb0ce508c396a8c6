/*
 * append_bench.c — in-process benchmark of the Mnemosyne engine (not a test).
 *
 * Measures, through the public API only (include/mnemosyne.h):
 *   append  mn_append of 100-byte events, B events per call, under one fsync
 *           policy, by T threads for a fixed time: events/s, ns/event, MiB/s
 *           (payload and log bytes), p50/p99 latency per mn_append call, and
 *           fdatasync calls (counted, see below) -> appends per fdatasync,
 *           and bytes passed to write(2) per event (log + index pages).
 *   fill    the memory check: 1M events (fsync=never, batches of 100, 1000
 *           streams); VmRSS/RssAnon/RssFile at 0, 100k, 250k, 500k, 1M and
 *           the on-disk bytes per event.
 *   scan    mn_read_all over the whole store: events/s and MiB/s.
 *   reads   mn_read_stream of 100 events from random streams: reads/s.
 *   suite   the append matrix run-foundation.sh uses: batch 1/10/100/1000 x
 *           fsync always/interval:1000/never with one thread, then 4/16/64
 *           threads of batch=1 under fsync=always (group commit), and 4
 *           threads of batch=1000 under fsync=always (bandwidth). fill, scan
 *           and reads run as separate processes, so that the RSS figures are
 *           those of a process that did nothing else.
 *
 * Every figure is printed as one machine-readable line
 *   RESULT name=<metric> value=<number> unit=<unit>
 * and the suite ends with a human table. Each append case runs in a fresh
 * store directory that is removed (and the filesystem synced) afterwards, so
 * one case's dirty pages do not land in the next one's fdatasyncs.
 *
 * Counting fdatasync: this program defines fdatasync() itself; the linker
 * resolves the static library's calls (and liblmdb's, through the PLT) to
 * it, and it forwards to the system call. The count therefore includes the
 * index flush the writer does every ~2 s and segment seals (a handful per
 * case), not only the group commits.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mnemosyne.h"

#define EVENT_DATA 100u     /* payload bytes per event */
#define NSTREAMS 1000u      /* streams the appends are spread over */
#define READ_COUNT 100u     /* events per stream read */

/* ------------------------------------------------------------------------ */
/* Instrumentation                                                           */
/* ------------------------------------------------------------------------ */

static atomic_ulong g_fdatasyncs; /* fdatasync calls by anyone in the process */

int fdatasync(int fd)
{
    atomic_fetch_add_explicit(&g_fdatasyncs, 1, memory_order_relaxed);
    return (int)syscall(SYS_fdatasync, fd);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One line of /proc/self/status ("VmRSS:", "RssAnon:", "RssFile:") in KiB. */
static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) {
            v = strtol(line + kl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Bytes this process has passed to write-type system calls so far (wchar in
 * /proc/self/io): the log's pwrites plus the index's (LMDB's) page writes. */
static uint64_t wchar_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[256];
    uint64_t v = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "wchar:", 6) == 0) {
            v = strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Results: RESULT lines now, a human table at the end                       */
/* ------------------------------------------------------------------------ */

static void result(const char *name, double value, const char *unit)
{
    printf("RESULT name=%s value=%.6g unit=%s\n", name, value, unit);
    fflush(stdout);
}

typedef struct row {
    char what[64];          /* case label */
    double ev_s, ns_ev, mib_s, p50_us, p99_us, per_sync;
} row;

static row g_rows[64];
static size_t g_nrows;

static void add_row(const char *what, double ev_s, double ns_ev, double mib_s, double p50,
                    double p99, double per_sync)
{
    if (g_nrows == sizeof g_rows / sizeof g_rows[0]) return;
    row *r = &g_rows[g_nrows++];
    snprintf(r->what, sizeof r->what, "%s", what);
    r->ev_s = ev_s;
    r->ns_ev = ns_ev;
    r->mib_s = mib_s;
    r->p50_us = p50;
    r->p99_us = p99;
    r->per_sync = per_sync;
}

static void print_rows(void)
{
    if (!g_nrows) return;
    printf("\n%-34s %12s %10s %9s %10s %10s %12s\n", "case", "events/s", "ns/event",
           "log MiB/s", "p50 us", "p99 us", "appends/sync");
    for (size_t i = 0; i < g_nrows; i++) {
        row *r = &g_rows[i];
        char ps[32] = "-";
        if (r->per_sync > 0) snprintf(ps, sizeof ps, "%.1f", r->per_sync);
        printf("%-34s %12.0f %10.0f %9.1f %10.1f %10.1f %12s\n", r->what, r->ev_s, r->ns_ev,
               r->mib_s, r->p50_us, r->p99_us, ps);
    }
}

/* ------------------------------------------------------------------------ */
/* Directories                                                               */
/* ------------------------------------------------------------------------ */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static uint64_t g_du_bytes; /* nftw has no user pointer */

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path; (void)ftw;
    if (flag == FTW_F) g_du_bytes += (uint64_t)st->st_blocks * 512u;
    return 0;
}

/* Allocated bytes under dir (what du reports). */
static uint64_t du(const char *dir)
{
    g_du_bytes = 0;
    nftw(dir, du_one, 16, FTW_PHYS);
    return g_du_bytes;
}

/* Writes back everything dirty so the next case starts from a quiet disk. */
static void settle(void) { sync(); }

static void die(const char *what, int rc)
{
    fprintf(stderr, "append_bench: %s: %s (%s)\n", what, mn_strerror(rc), mn_errmsg());
    exit(1);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct cfg {
    const char *dir;        /* base data directory; cases make subdirectories */
    double secs;            /* duration of each timed case */
    int policy;             /* MN_FSYNC_* */
    uint32_t interval_ms;   /* for MN_FSYNC_INTERVAL */
    size_t batch;           /* events per mn_append */
    int threads;            /* appender threads */
    uint64_t events;        /* fill: how many */
    int passes;             /* scan: how many passes */
    int keep;               /* fill: keep the store for scan/reads */
} cfg;

static const char *policy_tag(int p, uint32_t iv)
{
    static char b[32];
    if (p == MN_FSYNC_ALWAYS) return "always";
    if (p == MN_FSYNC_NEVER) return "never";
    snprintf(b, sizeof b, "interval%u", iv);
    return b;
}

static int parse_policy(const char *s, cfg *c)
{
    if (strcmp(s, "always") == 0) c->policy = MN_FSYNC_ALWAYS;
    else if (strcmp(s, "never") == 0) c->policy = MN_FSYNC_NEVER;
    else if (strncmp(s, "interval", 8) == 0) {
        c->policy = MN_FSYNC_INTERVAL;
        c->interval_ms = s[8] == ':' ? (uint32_t)strtoul(s + 9, NULL, 10) : 1000u;
    } else return -1;
    return 0;
}

static mn_store *open_store(const char *dir, int policy, uint32_t interval_ms, int read_only)
{
    mn_options o;
    mn_store *s = NULL;
    mn_options_init(&o);
    o.fsync_policy = policy;
    if (interval_ms) o.fsync_interval_ms = interval_ms;
    o.read_only = read_only;
    int rc = mn_open(dir, &o, &s);
    if (rc != MN_OK) die(dir, rc);
    return s;
}

/* ------------------------------------------------------------------------ */
/* append                                                                    */
/* ------------------------------------------------------------------------ */

static char g_payload[EVENT_DATA];

typedef struct worker {
    pthread_t th;
    mn_store *s;
    int index;              /* thread number */
    size_t batch;
    uint64_t deadline_ns;    /* stop issuing appends after this */
    pthread_barrier_t *go;
    /* out */
    uint64_t calls, events, end_ns;
    uint32_t *lat_ns;       /* per mn_append call (capped at ~4.29 s) */
    size_t nlat, lat_cap;
    int rc;
} worker;

static void *append_worker(void *arg)
{
    worker *w = arg;
    mn_event *ev = calloc(w->batch, sizeof *ev);
    char stream[32];
    if (!ev) {
        w->rc = MN_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < w->batch; i++) {
        ev[i].type = "BenchEvent";
        ev[i].type_len = 10;
        ev[i].data = g_payload;
        ev[i].data_len = EVENT_DATA;
    }
    pthread_barrier_wait(w->go);
    uint64_t i = (uint64_t)w->index * 7919u, t = now_ns();
    while (t < w->deadline_ns) {
        int n = snprintf(stream, sizeof stream, "s-%04u", (unsigned)(i++ % NSTREAMS));
        mn_append_part p;
        memset(&p, 0, sizeof p);
        p.stream = stream;
        p.stream_len = (size_t)n;
        p.expected = MN_EXPECT_ANY;
        p.events = ev;
        p.count = w->batch;
        uint64_t t0 = t;
        int rc = mn_append(w->s, &p, 1, NULL);
        t = now_ns();
        if (rc != MN_OK) {
            fprintf(stderr, "append_bench: mn_append: %s (%s)\n", mn_strerror(rc), mn_errmsg());
            w->rc = rc;
            break;
        }
        w->calls++;
        w->events += w->batch;
        if (w->nlat == w->lat_cap) {
            size_t cap = w->lat_cap ? w->lat_cap * 2 : 65536;
            uint32_t *nl = realloc(w->lat_ns, cap * sizeof *nl);
            if (!nl) {
                w->rc = MN_ENOMEM;
                break;
            }
            w->lat_ns = nl;
            w->lat_cap = cap;
        }
        uint64_t d = t - t0;
        w->lat_ns[w->nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    w->end_ns = t;
    free(ev);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint32_t *sorted, size_t n, double p)
{
    if (n == 0) return 0;
    size_t k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[k];
}

static void run_append(const cfg *c)
{
    char dir[4096], name[160], label[64];
    snprintf(dir, sizeof dir, "%s/append-%s-b%zu-t%d", c->dir, policy_tag(c->policy, c->interval_ms),
             c->batch, c->threads);
    rm_tree(dir);
    mn_store *s = open_store(dir, c->policy, c->interval_ms, 0);
    mn_store_info before, after;
    mn_store_info_get(s, &before);

    worker *w = calloc((size_t)c->threads, sizeof *w);
    pthread_barrier_t go;
    if (!w) die("calloc", MN_ENOMEM);
    pthread_barrier_init(&go, NULL, (unsigned)c->threads + 1);
    for (int k = 0; k < c->threads; k++) {
        w[k].s = s;
        w[k].index = k;
        w[k].batch = c->batch;
        w[k].go = &go;
    }
    for (int k = 0; k < c->threads; k++) {
        if (pthread_create(&w[k].th, NULL, append_worker, &w[k]) != 0) die("pthread_create", MN_EIO);
    }
    /* Every thread is created and waiting: the clock starts now; the
     * barrier publishes the deadlines. */
    unsigned long syncs0 = atomic_load(&g_fdatasyncs);
    uint64_t wchar0 = wchar_bytes();
    uint64_t start = now_ns();
    for (int k = 0; k < c->threads; k++) w[k].deadline_ns = start + (uint64_t)(c->secs * 1e9);
    pthread_barrier_wait(&go);

    uint64_t calls = 0, events = 0, end = start;
    size_t nlat = 0;
    for (int k = 0; k < c->threads; k++) {
        pthread_join(w[k].th, NULL);
        if (w[k].rc != MN_OK) die("append worker", w[k].rc);
        calls += w[k].calls;
        events += w[k].events;
        nlat += w[k].nlat;
        if (w[k].end_ns > end) end = w[k].end_ns;
    }
    unsigned long syncs = atomic_load(&g_fdatasyncs) - syncs0;
    uint64_t written = wchar_bytes() - wchar0;
    mn_store_info_get(s, &after);
    uint32_t *lat = malloc((nlat ? nlat : 1) * sizeof *lat);
    if (!lat) die("malloc", MN_ENOMEM);
    size_t off = 0;
    for (int k = 0; k < c->threads; k++) {
        memcpy(lat + off, w[k].lat_ns, w[k].nlat * sizeof *lat);
        off += w[k].nlat;
        free(w[k].lat_ns);
    }
    qsort(lat, nlat, sizeof *lat, cmp_u32);

    double secs = (double)(end - start) / 1e9;
    double ev_s = (double)events / secs;
    double log_mib_s = (double)(after.log_bytes - before.log_bytes) / secs / 1048576.0;
    double pay_mib_s = (double)events * EVENT_DATA / secs / 1048576.0;
    double p50 = pct(lat, nlat, 50) / 1000.0, p99 = pct(lat, nlat, 99) / 1000.0;
    double per_sync = syncs ? (double)calls / (double)syncs : 0;

    char pre[96];
    snprintf(pre, sizeof pre, "append.%s.b%zu.t%d", policy_tag(c->policy, c->interval_ms),
             c->batch, c->threads);
#define R(suffix, v, unit) (snprintf(name, sizeof name, "%s.%s", pre, suffix), result(name, v, unit))
    R("events_per_s", ev_s, "events/s");
    R("ns_per_event", 1e9 / ev_s, "ns");
    R("appends_per_s", (double)calls / secs, "appends/s");
    R("payload_MiB_per_s", pay_mib_s, "MiB/s");
    R("log_MiB_per_s", log_mib_s, "MiB/s");
    R("log_bytes_per_event", (double)(after.log_bytes - before.log_bytes) / (double)events, "B");
    /* everything written (log + index pages) per event: the write amplification */
    R("written_bytes_per_event", (double)written / (double)events, "B");
    R("p50_us", p50, "us");
    R("p99_us", p99, "us");
    R("fdatasyncs_per_s", (double)syncs / secs, "syncs/s");
    if (syncs) {
        R("appends_per_fdatasync", per_sync, "appends");
        R("events_per_fdatasync", (double)events / (double)syncs, "events");
    }
#undef R
    snprintf(label, sizeof label, "%s b=%zu t=%d", policy_tag(c->policy, c->interval_ms),
             c->batch, c->threads);
    add_row(label, ev_s, 1e9 / ev_s, log_mib_s, p50, p99, per_sync);

    free(lat);
    free(w);
    pthread_barrier_destroy(&go);
    mn_close(s);
    rm_tree(dir);
    settle();
}

/* ------------------------------------------------------------------------ */
/* fill (the RSS check)                                                      */
/* ------------------------------------------------------------------------ */

static void rss_report(const char *at)
{
    char name[96];
    snprintf(name, sizeof name, "fill.VmRSS_at_%s", at);
    result(name, (double)status_kib("VmRSS:") / 1024.0, "MiB");
    snprintf(name, sizeof name, "fill.RssAnon_at_%s", at);
    result(name, (double)status_kib("RssAnon:") / 1024.0, "MiB");
    snprintf(name, sizeof name, "fill.RssFile_at_%s", at);
    result(name, (double)status_kib("RssFile:") / 1024.0, "MiB");
}

static void run_fill(const cfg *c, char *dir, size_t dirlen)
{
    static const uint64_t marks[] = {100000, 250000, 500000, 1000000, 2000000, 5000000};
    static const char *mark_names[] = {"100k", "250k", "500k", "1M", "2M", "5M"};
    const size_t batch = 100;
    char stream[32], path[4200];
    snprintf(dir, dirlen, "%s/fill", c->dir);
    rm_tree(dir);
    rss_report("open_before");
    mn_store *s = open_store(dir, MN_FSYNC_NEVER, 0, 0);
    rss_report("0");
    mn_event *ev = calloc(batch, sizeof *ev);
    if (!ev) die("calloc", MN_ENOMEM);
    for (size_t i = 0; i < batch; i++) {
        ev[i].type = "BenchEvent";
        ev[i].type_len = 10;
        ev[i].data = g_payload;
        ev[i].data_len = EVENT_DATA;
    }
    uint64_t done = 0, t0 = now_ns();
    size_t m = 0;
    for (uint64_t b = 0; done < c->events; b++) {
        int n = snprintf(stream, sizeof stream, "s-%04u", (unsigned)(b % NSTREAMS));
        size_t cnt = c->events - done < batch ? (size_t)(c->events - done) : batch;
        int rc = mn_append_one(s, stream, (size_t)n, MN_EXPECT_ANY, ev, cnt, NULL, NULL);
        if (rc != MN_OK) die("mn_append_one", rc);
        done += cnt;
        if (m < sizeof marks / sizeof marks[0] && done >= marks[m]) rss_report(mark_names[m++]);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    result("fill.events_per_s", (double)done / secs, "events/s");
    mn_store_info si;
    mn_store_info_get(s, &si);
    mn_close(s);
    free(ev);
    snprintf(path, sizeof path, "%s/log", dir);
    uint64_t log_du = du(path);
    snprintf(path, sizeof path, "%s/index", dir);
    uint64_t ix_du = du(path);
    result("fill.events", (double)done, "events");
    result("fill.log_bytes_per_event", (double)si.log_bytes / (double)done, "B");
    result("fill.disk_log_bytes_per_event", (double)log_du / (double)done, "B");
    result("fill.disk_index_bytes_per_event", (double)ix_du / (double)done, "B");
    result("fill.disk_total_bytes_per_event", (double)(log_du + ix_du) / (double)done, "B");
    result("fill.disk_total_MiB", (double)(log_du + ix_du) / 1048576.0, "MiB");
}

/* ------------------------------------------------------------------------ */
/* scan and reads                                                            */
/* ------------------------------------------------------------------------ */

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run_scan(const cfg *c, const char *dir)
{
    mn_store *s = open_store(dir, MN_FSYNC_NEVER, 0, 1);
    mn_store_info si;
    mn_store_info_get(s, &si);
    int passes = c->passes > 0 ? c->passes : 3;
    double *ev_s = calloc((size_t)passes, sizeof *ev_s), *mib_s = calloc((size_t)passes, sizeof *mib_s);
    uint64_t n = 0;
    if (!ev_s || !mib_s) die("calloc", MN_ENOMEM);
    for (int p = 0; p < passes; p++) {
        mn_iter *it = NULL;
        mn_event_view v;
        uint64_t data = 0, t0 = now_ns();
        int rc = mn_read_all(s, 0, 0, &it);
        if (rc != MN_OK) die("mn_read_all", rc);
        n = 0;
        while ((rc = mn_iter_next(it, &v)) == 1) {
            n++;
            data += v.data_len;
        }
        if (rc < 0) die("mn_iter_next", rc);
        mn_iter_free(it);
        double secs = (double)(now_ns() - t0) / 1e9;
        ev_s[p] = (double)n / secs;
        mib_s[p] = (double)si.log_bytes / secs / 1048576.0;
        if (data != n * EVENT_DATA) fprintf(stderr, "append_bench: scan: unexpected data size\n");
    }
    qsort(ev_s, (size_t)passes, sizeof *ev_s, cmp_dbl);
    qsort(mib_s, (size_t)passes, sizeof *mib_s, cmp_dbl);
    result("scan.events", (double)n, "events");
    result("scan.events_per_s", ev_s[passes / 2], "events/s");
    result("scan.log_MiB_per_s", mib_s[passes / 2], "MiB/s");
    result("scan.payload_MiB_per_s", ev_s[passes / 2] * EVENT_DATA / 1048576.0, "MiB/s");
    result("scan.VmRSS_after", (double)status_kib("VmRSS:") / 1024.0, "MiB");
    result("scan.RssAnon_after", (double)status_kib("RssAnon:") / 1024.0, "MiB");
    result("scan.RssFile_after", (double)status_kib("RssFile:") / 1024.0, "MiB");
    add_row("scan $all (median of passes)", ev_s[passes / 2], 1e9 / ev_s[passes / 2],
            mib_s[passes / 2], 0, 0, 0);
    free(ev_s);
    free(mib_s);
    mn_close(s);
}

static void run_reads(const cfg *c, const char *dir)
{
    mn_store *s = open_store(dir, MN_FSYNC_NEVER, 0, 1);
    char stream[32];
    uint64_t rng = 0x9e3779b97f4a7c15u, reads = 0, events = 0;
    size_t nlat = 0, cap = 1 << 16;
    uint32_t *lat = malloc(cap * sizeof *lat);
    int64_t top[NSTREAMS];
    if (!lat) die("malloc", MN_ENOMEM);
    for (unsigned k = 0; k < NSTREAMS; k++) {
        mn_stream_info info;
        int n = snprintf(stream, sizeof stream, "s-%04u", k);
        top[k] = mn_stream_info_get(s, stream, (size_t)n, &info) == MN_OK ? info.version : -1;
    }
    uint64_t start = now_ns(), deadline = start + (uint64_t)(c->secs * 1e9), t = start;
    while (t < deadline) {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; /* xorshift64 */
        unsigned k = (unsigned)(rng % NSTREAMS);
        if (top[k] < 0) continue;
        int64_t span = top[k] + 1 - (int64_t)READ_COUNT;
        int64_t from = span > 0 ? (int64_t)((rng >> 20) % (uint64_t)(span + 1)) : 0;
        int n = snprintf(stream, sizeof stream, "s-%04u", k);
        mn_iter *it = NULL;
        mn_event_view v;
        uint64_t t0 = t;
        int rc = mn_read_stream(s, stream, (size_t)n, from, READ_COUNT, 0, &it);
        if (rc != MN_OK) die("mn_read_stream", rc);
        while ((rc = mn_iter_next(it, &v)) == 1) events++;
        if (rc < 0) die("mn_iter_next", rc);
        mn_iter_free(it);
        t = now_ns();
        reads++;
        if (nlat == cap) {
            uint32_t *nl = realloc(lat, cap * 2 * sizeof *nl);
            if (!nl) die("realloc", MN_ENOMEM);
            lat = nl;
            cap *= 2;
        }
        lat[nlat++] = (uint32_t)(t - t0 > UINT32_MAX ? UINT32_MAX : t - t0);
    }
    double secs = (double)(t - start) / 1e9;
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    result("reads.stream100.reads_per_s", (double)reads / secs, "reads/s");
    result("reads.stream100.events_per_s", (double)events / secs, "events/s");
    result("reads.stream100.p50_us", pct(lat, nlat, 50) / 1000.0, "us");
    result("reads.stream100.p99_us", pct(lat, nlat, 99) / 1000.0, "us");
    add_row("read_stream 100 ev (per read)", (double)events / secs, 1e9 * secs / (double)events,
            0, pct(lat, nlat, 50) / 1000.0, pct(lat, nlat, 99) / 1000.0, 0);
    free(lat);
    mn_close(s);
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: append_bench COMMAND [options]\n"
            "  suite    the append matrix (what bench/run-foundation.sh runs)\n"
            "  append   --fsync always|never|interval:MS --batch N --threads T --secs S\n"
            "  fill     --events N [--keep]   (RSS check; --keep leaves DIR/fill for scan/reads)\n"
            "  scan     [--passes P]          (mn_read_all over DIR/fill)\n"
            "  reads    [--secs S]            (mn_read_stream of 100 from random streams of DIR/fill)\n"
            "  version  the library's version\n"
            "options: --dir D (default /tmp/mn-bench), --secs S (default 2)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    cfg c = {.dir = "/tmp/mn-bench", .secs = 2, .policy = MN_FSYNC_ALWAYS, .batch = 1,
             .threads = 1, .events = 1000000, .passes = 3};
    char filldir[4096];
    if (argc < 2) usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0) {
        printf("%s\n", mn_version());
        return 0;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0) { c.keep = 1; continue; }
        if (!v) usage();
        if (strcmp(a, "--dir") == 0) c.dir = v;
        else if (strcmp(a, "--secs") == 0) c.secs = atof(v);
        else if (strcmp(a, "--fsync") == 0) { if (parse_policy(v, &c) != 0) usage(); }
        else if (strcmp(a, "--batch") == 0) c.batch = (size_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--threads") == 0) c.threads = atoi(v);
        else if (strcmp(a, "--events") == 0) c.events = strtoull(v, NULL, 10);
        else if (strcmp(a, "--passes") == 0) c.passes = atoi(v);
        else usage();
        i++;
    }
    if (c.batch == 0 || c.threads <= 0 || c.secs <= 0) usage();
    mkdir(c.dir, 0755);
    for (size_t i = 0; i < EVENT_DATA; i++) g_payload[i] = (char)('a' + i % 26);
    snprintf(filldir, sizeof filldir, "%s/fill", c.dir);
    printf("INFO mnemosyne=%s dir=%s secs=%g\n", mn_version(), c.dir, c.secs);

    if (strcmp(cmd, "append") == 0) {
        run_append(&c);
    } else if (strcmp(cmd, "fill") == 0) {
        run_fill(&c, filldir, sizeof filldir);
        if (!c.keep) rm_tree(filldir);
    } else if (strcmp(cmd, "scan") == 0) {
        run_scan(&c, filldir);
    } else if (strcmp(cmd, "reads") == 0) {
        run_reads(&c, filldir);
    } else if (strcmp(cmd, "suite") == 0) {
        static const int policies[] = {MN_FSYNC_ALWAYS, MN_FSYNC_INTERVAL, MN_FSYNC_NEVER};
        static const size_t batches[] = {1, 10, 100, 1000};
        static const int threads[] = {4, 16, 64};
        for (size_t p = 0; p < 3; p++)
            for (size_t b = 0; b < 4; b++) {
                c.policy = policies[p];
                c.interval_ms = 1000;
                c.batch = batches[b];
                c.threads = 1;
                run_append(&c);
            }
        for (size_t t = 0; t < 3; t++) {
            c.policy = MN_FSYNC_ALWAYS;
            c.batch = 1;
            c.threads = threads[t];
            run_append(&c);
        }
        /* The best case for bandwidth under fsync=always: big batches from
         * several appenders, so one batch's fdatasync overlaps the next's
         * staging. */
        c.batch = 1000;
        c.threads = 4;
        run_append(&c);
    } else {
        usage();
    }
    print_rows();
    return 0;
}
