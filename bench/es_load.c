/*
 * es_load.c — load generator for ES.APPEND (not a test): C connections
 * (hiredis, one thread each, one request in flight per connection, as
 * redis-benchmark -P 1), each appending one event per request, and one
 * RESULT line per figure: ops/s, p50 and p99 latency, errors.
 *
 *   es_load [-h host] [-p port] [-c conns] [-n requests] [-s streams]
 *           [-m exact|any] [--prefix P] [--type T] [--data JSON]
 *
 * Modes:
 *   exact  Connection k owns streams k*S .. k*S+S-1 (S = streams / conns):
 *          nobody else writes them, so it knows each one's version and
 *          sends it as the exact expected version (NOSTREAM for the first
 *          event). Its i-th request goes to its stream i mod S, whose
 *          version is then i / S: round-robin, so every stream grows
 *          evenly. A reply with another version, or an error, is counted
 *          as an error (there must be none).
 *   any    Every request picks one of the streams at random, expected ANY
 *          (what redis-benchmark's __rand_int__ case does; here as a check
 *          of the generator against redis-benchmark).
 * Stream names are P%012d, the shape redis-benchmark gives __rand_int__.
 *
 * Latency is taken per request (send to reply) with CLOCK_MONOTONIC; the
 * throughput is requests / wall time from the moment every connection is
 * open (a barrier) to the last reply.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct worker {
    int k;                 /* connection number, 0-based */
    long n;                /* requests this connection sends */
    uint64_t *lat_ns;      /* latency of each request */
    long errors;           /* error replies or wrong versions */
    char first_error[256]; /* the first one, for the report */
    redisContext *rc;      /* the connection */
    unsigned seed;         /* rand_r state (mode any) */
} worker;

static const char *host = "127.0.0.1";
static int port = 6379;
static int conns = 50;
static long requests = 100000;
static int streams = 1000;
static int exact = 1;
static const char *prefix = "acct-";
static const char *etype = "Deposited";
static const char *data =
    "{\"amount\":12345,\"currency\":\"EUR\",\"account\":\"a-000001\",\"note\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
static pthread_barrier_t start;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void note_error(worker *w, const char *fmt, const char *detail)
{
    if (w->errors++ == 0)
        snprintf(w->first_error, sizeof w->first_error, fmt, detail);
}

static void *run(void *arg)
{
    worker *w = arg;
    int per = streams / conns;
    char stream[64], expected[32];
    pthread_barrier_wait(&start);
    for (long i = 0; i < w->n; i++) {
        long version = -1;
        if (exact) {
            version = i / per;
            snprintf(stream, sizeof stream, "%s%012d", prefix, w->k * per + (int)(i % per));
            if (version == 0)
                snprintf(expected, sizeof expected, "NOSTREAM");
            else
                snprintf(expected, sizeof expected, "%ld", version - 1);
        } else {
            snprintf(stream, sizeof stream, "%s%012d", prefix, (int)(rand_r(&w->seed) % (unsigned)streams));
            snprintf(expected, sizeof expected, "ANY");
        }
        uint64_t t0 = now_ns();
        redisReply *r = redisCommand(w->rc, "ES.APPEND %s %s EVENT * %s %s", stream, expected, etype, data);
        w->lat_ns[i] = now_ns() - t0;
        if (!r) {
            note_error(w, "connection: %s", w->rc->errstr);
            w->n = i + 1; /* the context is unusable: stop this connection */
            break;
        }
        if (r->type == REDIS_REPLY_ERROR)
            note_error(w, "%s", r->str);
        else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                 r->element[0]->type != REDIS_REPLY_INTEGER)
            note_error(w, "%s", "unexpected reply shape");
        else if (exact && r->element[0]->integer != version)
            note_error(w, "%s", "reply with another version");
        freeReplyObject(r);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: es_load [-h host] [-p port] [-c conns] [-n requests] [-s streams] "
                    "[-m exact|any] [--prefix P] [--type T] [--data JSON]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int rc = 1;
    worker *ws = NULL;
    pthread_t *th = NULL;
    uint64_t *all = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "-h")) host = v;
        else if (!strcmp(a, "-p")) port = atoi(v);
        else if (!strcmp(a, "-c")) conns = atoi(v);
        else if (!strcmp(a, "-n")) requests = atol(v);
        else if (!strcmp(a, "-s")) streams = atoi(v);
        else if (!strcmp(a, "-m")) exact = !strcmp(v, "exact") ? 1 : !strcmp(v, "any") ? 0 : (usage(), 0);
        else if (!strcmp(a, "--prefix")) prefix = v;
        else if (!strcmp(a, "--type")) etype = v;
        else if (!strcmp(a, "--data")) data = v;
        else usage();
    }
    if (conns < 1 || requests < conns || streams < conns || (exact && streams % conns)) {
        fprintf(stderr, "es_load: need 1 <= conns <= requests, conns <= streams%s\n",
                exact ? ", and streams a multiple of conns (mode exact)" : "");
        return 2;
    }
    ws = calloc((size_t)conns, sizeof *ws);
    th = calloc((size_t)conns, sizeof *th);
    all = malloc((size_t)requests * sizeof *all);
    if (!ws || !th || !all) {
        fprintf(stderr, "es_load: out of memory\n");
        goto out;
    }
    pthread_barrier_init(&start, NULL, (unsigned)conns + 1);
    long off = 0;
    for (int k = 0; k < conns; k++) {
        worker *w = &ws[k];
        w->k = k;
        w->n = requests / conns + (k < requests % conns);
        w->lat_ns = all + off;
        w->seed = 0x9e3779b9u * (unsigned)(k + 1);
        off += w->n;
        w->rc = redisConnect(host, port);
        if (!w->rc || w->rc->err) {
            fprintf(stderr, "es_load: connect %s:%d: %s\n", host, port, w->rc ? w->rc->errstr : "out of memory");
            exit(1); /* threads already started wait on the barrier forever */
        }
        if (pthread_create(&th[k], NULL, run, w) != 0) {
            fprintf(stderr, "es_load: pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = now_ns();
    long errors = 0, done = 0;
    const char *first = NULL;
    for (int k = 0; k < conns; k++) {
        pthread_join(th[k], NULL);
        errors += ws[k].errors;
        if (ws[k].errors && !first)
            first = ws[k].first_error;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    /* gather the latencies of the requests actually sent */
    off = 0;
    for (int k = 0; k < conns; k++) {
        memmove(all + done, ws[k].lat_ns, (size_t)ws[k].n * sizeof *all);
        done += ws[k].n;
        redisFree(ws[k].rc);
    }
    qsort(all, (size_t)done, sizeof *all, cmp_u64);
    double ops = (double)done / secs;
    double p50 = (double)all[done / 2] / 1e6, p99 = (double)all[(done * 99) / 100] / 1e6;
    printf("RESULT name=ops_per_s value=%.0f unit=ops/s\n", ops);
    printf("RESULT name=p50_ms value=%.3f unit=ms\n", p50);
    printf("RESULT name=p99_ms value=%.3f unit=ms\n", p99);
    printf("RESULT name=requests value=%ld unit=requests\n", done);
    printf("RESULT name=errors value=%ld unit=requests\n", errors);
    fprintf(stderr, "es_load: %s, %d connections, %d streams: %ld requests in %.2f s = %.0f ops/s, "
                    "p50 %.3f ms, p99 %.3f ms, %ld errors%s%s\n",
            exact ? "exact versions" : "ANY", conns, streams, done, secs, ops, p50, p99, errors,
            first ? "; first: " : "", first ? first : "");
    rc = errors ? 1 : 0;
out:
    free(ws);
    free(th);
    free(all);
    return rc;
}
