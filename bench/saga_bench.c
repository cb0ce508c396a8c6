/*
 * saga_bench.c — sagas completed per second through mnemosyned.
 *
 * A C client (hiredis): defines a three-step saga (reserve, charge, ship;
 * each with a compensation), runs the three participants as threads — each a
 * consumer group on its command stream, answering every command with an
 * ES.APPEND of the ok type (correlation_id = the saga id, causation_id = the
 * command's id) and an XACK, pipelined per batch — then starts N sagas with
 * pipelined SAGA.START and measures the time until INFO sagas says all N are
 * completed.
 *
 *   saga_bench HOST PORT N
 *
 * Prints one line: "sagas=N seconds=S sagas_per_sec=R commands_per_sec=C".
 * The server's fsync policy is the caller's (bench/run-sagas.sh: always).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

static const char *host;
static int port;
static volatile int stop_flag;

static const char *const SAGA_DEF =
    "return {\n"
    "  trigger = { stream = \"bench-never\" },\n"
    "  id = function(e) return nil end,\n"
    "  steps = {\n"
    "    { name = \"reserve\", send = { stream = \"sb-inventory\", type = \"ReserveStock\" },\n"
    "      ok = \"StockReserved\", fail = \"StockUnavailable\",\n"
    "      compensate = { stream = \"sb-inventory\", type = \"ReleaseStock\" } },\n"
    "    { name = \"charge\", send = { stream = \"sb-payment\", type = \"ChargePayment\" },\n"
    "      ok = \"PaymentProcessed\", fail = \"PaymentDeclined\",\n"
    "      compensate = { stream = \"sb-payment\", type = \"RefundPayment\" } },\n"
    "    { name = \"ship\", send = { stream = \"sb-shipping\", type = \"ShipOrder\" },\n"
    "      ok = \"OrderShipped\", fail = \"ShippingFailed\" },\n"
    "  },\n"
    "}\n";

typedef struct role {
    const char *stream;
    const char *ok;
} role;

static const role roles[] = {
    {"sb-inventory", "StockReserved"},
    {"sb-payment", "PaymentProcessed"},
    {"sb-shipping", "OrderShipped"},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static redisContext *connect_or_die(void)
{
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) {
        fprintf(stderr, "saga_bench: cannot connect to %s:%d: %s\n", host, port,
                c ? c->errstr : "out of memory");
        exit(1);
    }
    return c;
}

/* The value of field name in an entry's flat field array, or NULL. */
static const char *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (!strcmp(f->element[i]->str, name))
            return f->element[i + 1]->str;
    return NULL;
}

/* Copies the correlation_id of a command's meta (our own simple JSON). */
static int correlation(const char *meta, char *out, size_t cap)
{
    const char *p = meta ? strstr(meta, "\"correlation_id\":\"") : NULL;
    if (!p)
        return -1;
    p += strlen("\"correlation_id\":\"");
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= cap)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

static void *participant(void *arg)
{
    const role *r = arg;
    redisContext *c = connect_or_die();
    redisReply *rep = redisCommand(c, "XGROUP CREATE %s svc 0 MKSTREAM", r->stream);
    freeReplyObject(rep);
    while (!stop_flag) {
        rep = redisCommand(c, "XREADGROUP GROUP svc w COUNT 1000 BLOCK 100 STREAMS %s >",
                           r->stream);
        if (!rep) {
            fprintf(stderr, "saga_bench: %s: connection lost\n", r->stream);
            exit(1);
        }
        size_t pipelined = 0;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
            redisReply *entries = rep->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                redisReply *entry = entries->element[i];
                redisReply *f = entry->element[1];
                char corr[256], meta[512];
                const char *id = field(f, "id"), *type = field(f, "type");
                if (id && type && strncmp(type, "Release", 7) && strncmp(type, "Refund", 6) &&
                    correlation(field(f, "meta"), corr, sizeof corr) == 0) {
                    snprintf(meta, sizeof meta,
                             "{\"correlation_id\":\"%s\",\"causation_id\":\"%s\"}", corr, id);
                    redisAppendCommand(c, "ES.APPEND sb-replies ANY EVENT * %s {} META %s", r->ok,
                                       meta);
                    pipelined++;
                }
                redisAppendCommand(c, "XACK %s svc %s", r->stream, entry->element[0]->str);
                pipelined++;
            }
        }
        freeReplyObject(rep);
        for (size_t i = 0; i < pipelined; i++) {
            redisReply *x = NULL;
            if (redisGetReply(c, (void **)&x) != REDIS_OK) {
                fprintf(stderr, "saga_bench: %s: connection lost\n", r->stream);
                exit(1);
            }
            if (x->type == REDIS_REPLY_ERROR)
                fprintf(stderr, "saga_bench: %s: %s\n", r->stream, x->str);
            freeReplyObject(x);
        }
    }
    redisFree(c);
    return NULL;
}

static long long info_completed(redisContext *c)
{
    redisReply *rep = redisCommand(c, "INFO sagas");
    long long n = -1;
    const char *p = rep && rep->str ? strstr(rep->str, "sagas_completed:") : NULL;
    if (p)
        n = atoll(p + strlen("sagas_completed:"));
    freeReplyObject(rep);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: saga_bench HOST PORT N\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    long n = atol(argv[3]);
    redisContext *c = connect_or_die();
    redisReply *rep = redisCommand(c, "SAGA.DEFINE bench %s", SAGA_DEF);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "saga_bench: SAGA.DEFINE: %s\n", rep ? rep->str : c->errstr);
        return 1;
    }
    freeReplyObject(rep);
    long long base = info_completed(c);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, participant, (void *)&roles[i]);
    usleep(200 * 1000); /* the groups exist before the first command */
    char run[32];
    snprintf(run, sizeof run, "%lx", (unsigned long)time(NULL));
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%ld", run, i);
        redisAppendCommand(c, "SAGA.START bench %s {\"n\":%ld}", id, i);
    }
    for (long i = 0; i < n; i++) {
        if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
            fprintf(stderr, "saga_bench: connection lost\n");
            return 1;
        }
        if (rep->type == REDIS_REPLY_ERROR)
            fprintf(stderr, "saga_bench: SAGA.START: %s\n", rep->str);
        freeReplyObject(rep);
    }
    long long done = 0;
    while ((done = info_completed(c) - base) < n) {
        if (now_s() - t0 > 600) {
            fprintf(stderr, "saga_bench: only %lld of %ld completed after 600 s\n", done, n);
            return 1;
        }
        usleep(2000);
    }
    double secs = now_s() - t0;
    stop_flag = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    printf("sagas=%ld seconds=%.2f sagas_per_sec=%.0f commands_per_sec=%.0f\n", n, secs,
           (double)n / secs, 3.0 * (double)n / secs);
    redisFree(c);
    return 0;
}
