/*
 * cmd_queue.c — the work-queue commands: QUEUE.POLICY (a consumer group's
 * visibility timeout, maximum deliveries and dead-letter stream) and
 * QUEUE.REPLAY (dead letters back to their source streams), plus the
 * timer that lets a blocked XREADGROUP see entries become due again.
 *
 * The semantics live in the engine (src/engine/queue.c): redelivery and
 * dead-lettering happen inside the group's DELIVER op, so what a consumer
 * is sent is what the log says. This file parses, runs ops with deferred
 * replies (nothing is acknowledged before it is durable), and writes the
 * replies.
 *
 * Why a timer: a parked XREADGROUP is retried when the store advances, but
 * an entry becoming due again is the passing of time, not a write. While
 * some parked XREADGROUP reads a group with a visibility timeout, blocked
 * clients are retried every QUEUE_POLL_MS (so a due entry reaches a blocked
 * consumer at most that late); with none, the timer stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "stream_util.h"

#define QUEUE_POLL_MS 100

/* ------------------------------------------------------------------ */
/* Polling for blocked consumers                                        */
/* ------------------------------------------------------------------ */

static loop_timer *poll_timer; /* running while poll_holders > 0 (stops itself after) */
static int poll_holders;       /* parked XREADGROUPs on groups with a visibility timeout */
static uint64_t policy_epoch;  /* successful QUEUE.POLICY sets so far */

uint64_t queue_policy_epoch(void) { return policy_epoch; }

static int64_t poll_fire(loop *l, loop_timer *t, void *ud)
{
    if (poll_holders == 0) {
        poll_timer = NULL;
        return LOOP_TIMER_STOP;
    }
    server_retry_blocked();
    return QUEUE_POLL_MS;
}

int queue_poll_hold(const char *key, size_t klen, const char *group, size_t glen)
{
    mn_queue_policy p;
    if (!server.store || mn_queue_policy_get(server.store, key, klen, group, glen, &p) != MN_OK ||
        p.visibility_ms == 0)
        return 0;
    if (!poll_timer) {
        poll_timer = loop_add_timer(server.el, QUEUE_POLL_MS, poll_fire, NULL);
        if (!poll_timer)
            return 0; /* OOM: the consumer still wakes on the next write */
    }
    poll_holders++;
    return 1;
}

void queue_poll_release(void)
{
    if (poll_holders > 0)
        poll_holders--;
}

int queue_due_now(const char *key, size_t klen, const char *group, size_t glen)
{
    uint64_t due = 0;
    if (!server.store ||
        mn_queue_next_due(server.store, key, klen, group, glen, &due) != MN_OK || due == 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    return due <= now;
}

/* ------------------------------------------------------------------ */
/* QUEUE.POLICY                                                         */
/* ------------------------------------------------------------------ */

/* What the reply needs: the names, for the NOGROUP text. */
typedef struct qctx {
    size_t key_len, group_len;
    char *key, *group;        /* point into buf, NUL-terminated */
    char buf[];
} qctx;

static qctx *qctx_new(const client *c)
{
    size_t kl = c->argvlen[1], gl = c->argc > 2 ? c->argvlen[2] : 0;
    qctx *q = calloc(1, sizeof(*q) + kl + gl + 2);
    if (!q)
        return NULL;
    q->key = q->buf;
    q->key_len = kl;
    memcpy(q->key, c->argv[1], kl);
    q->group = q->buf + kl + 1;
    q->group_len = gl;
    if (gl)
        memcpy(q->group, c->argv[2], gl);
    return q;
}

static void reply_nogroup(client *c, const char *key, size_t klen, const char *group, size_t glen)
{
    reply_errorf(c, "-NOGROUP No such key '%.*s' or consumer group '%.*s'", (int)klen, key,
                 (int)glen, group);
}

static void retry_blocked(void *arg) { server_retry_blocked(); }

static void policy_set_reply(client *c, stream_op_res *res, void *ud)
{
    qctx *q = ud;
    if (c) {
        if (res->rc == MN_ENOGROUP || res->rc == MN_ENOTFOUND)
            reply_nogroup(c, q->key, q->key_len, q->group, q->group_len);
        else if (res->rc != MN_OK)
            stream_reply_mn_error(c, res->rc, res->errmsg);
        else
            reply_ok(c);
    }
    if (res->rc == MN_OK) {
        /* Parked readers of this group may now have due entries and need
         * the timer: have them look again, from the loop, after this reply. */
        policy_epoch++;
        server_post(retry_blocked, NULL);
    }
    free(q);
}

/* A non-negative integer option value; replies the error and returns -1. */
static int parse_nonneg(client *c, int i, const char *opt, long long *out)
{
    if (!resp_str2ll(c->argv[i], c->argvlen[i], out) || *out < 0) {
        reply_errorf(c, "%s must be a non-negative integer", opt);
        return -1;
    }
    return 0;
}

static void policy_show(client *c)
{
    mn_queue_policy p;
    int rc = server.store ? mn_queue_policy_get(server.store, c->argv[1], c->argvlen[1],
                                                c->argv[2], c->argvlen[2], &p)
                          : MN_ECLOSED;
    if (rc == MN_ENOGROUP || rc == MN_ENOTFOUND || rc == MN_EINVAL) {
        reply_nogroup(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
        return;
    }
    if (rc != MN_OK) {
        stream_reply_mn_error(c, rc, mn_errmsg());
        return;
    }
    /* Unset reads as 0 (visibility off, unlimited deliveries) and a null
     * dead-letter stream: the values that mean "no policy". */
    reply_map(c, 3);
    reply_bulk_cstr(c, "visibility");
    reply_long(c, (long long)p.visibility_ms);
    reply_bulk_cstr(c, "maxdeliver");
    reply_long(c, (long long)p.maxdeliver);
    reply_bulk_cstr(c, "deadletter");
    if (p.deadletter_len)
        reply_bulk(c, p.deadletter, p.deadletter_len);
    else
        reply_null(c);
}

/* QUEUE.POLICY key group [VISIBILITY ms] [MAXDELIVER n] [DEADLETTER stream] */
static void cmd_queue_policy(client *c)
{
    mn_op op;
    long long v;
    if (c->argc == 3) {
        policy_show(c);
        return;
    }
    mn_op_init(&op, MN_OP_QUEUE_POLICY);
    for (int i = 3; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_error_syntax(c);
            return;
        }
        if (strcasecmp(c->argv[i], "VISIBILITY") == 0) {
            if (parse_nonneg(c, i + 1, "VISIBILITY", &v) < 0)
                return;
            op.visibility_ms = v;
        } else if (strcasecmp(c->argv[i], "MAXDELIVER") == 0) {
            if (parse_nonneg(c, i + 1, "MAXDELIVER", &v) < 0)
                return;
            op.maxdeliver = v;
        } else if (strcasecmp(c->argv[i], "DEADLETTER") == 0) {
            op.deadletter = c->argv[i + 1];
            op.deadletter_len = c->argvlen[i + 1];
            op.deadletter_set = 1;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    /* Checked here too (the engine does it as well) so the error does not
     * depend on whether the group exists. */
    if (op.deadletter_set && op.deadletter_len && stream_name_reserved(op.deadletter, op.deadletter_len)) {
        reply_error(c, "the dead-letter stream cannot be a virtual stream (names starting with "
                       "'$' are read-only)");
        return;
    }
    if (op.deadletter_set && op.deadletter_len > MN_MAX_STREAM_NAME) {
        reply_errorf(c, "the dead-letter stream name must be 1..%u bytes", MN_MAX_STREAM_NAME);
        return;
    }
    if (stream_name_reserved(c->argv[1], c->argvlen[1]) || c->argvlen[1] > MN_MAX_STREAM_NAME) {
        reply_nogroup(c, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2]);
        return;
    }
    qctx *q = qctx_new(c);
    if (!q) {
        reply_error(c, "-OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    op.stream = q->key;
    op.stream_len = q->key_len;
    op.group = q->group;
    op.group_len = q->group_len;
    if (stream_op_async(c, &op, policy_set_reply, q) < 0)
        free(q);
}

/* ------------------------------------------------------------------ */
/* QUEUE.REPLAY                                                         */
/* ------------------------------------------------------------------ */

static void replay_reply(client *c, stream_op_res *res, void *ud)
{
    if (c) {
        if (res->rc != MN_OK)
            stream_reply_mn_error(c, res->rc, res->errmsg);
        else
            reply_long(c, (long long)res->op.n);
    }
}

/* QUEUE.REPLAY dead-letter-stream [COUNT n] */
static void cmd_queue_replay(client *c)
{
    long long count = 0;
    mn_op op;
    if (c->argc != 2 && c->argc != 4) {
        reply_error_syntax(c);
        return;
    }
    if (c->argc == 4) {
        if (strcasecmp(c->argv[2], "COUNT") != 0) {
            reply_error_syntax(c);
            return;
        }
        if (!resp_str2ll(c->argv[3], c->argvlen[3], &count) || count <= 0) {
            reply_error(c, "COUNT must be a positive integer");
            return;
        }
    }
    if (stream_name_reserved(c->argv[1], c->argvlen[1])) {
        reply_error(c, "a virtual stream holds no dead letters (names starting with '$' are "
                       "read-only)");
        return;
    }
    if (c->argvlen[1] > MN_MAX_STREAM_NAME) {
        reply_long(c, 0); /* no such stream can exist: nothing to replay */
        return;
    }
    mn_op_init(&op, MN_OP_QUEUE_REPLAY);
    op.stream = c->argv[1];
    op.stream_len = c->argvlen[1];
    op.count = (uint64_t)count;
    stream_op_async(c, &op, replay_reply, NULL);
}

const cmd_def queue_commands[] = {
    {"queue.policy", cmd_queue_policy, -3, CMD_WRITE, 1, 1, 1, "stream", "mnemosyne 0.1",
     "Shows or sets a consumer group's visibility timeout, maximum deliveries and dead-letter "
     "stream.",
     "O(1)", NULL},
    {"queue.replay", cmd_queue_replay, -2, CMD_WRITE, 1, 1, 1, "stream", "mnemosyne 0.1",
     "Appends dead letters back to their source streams and removes them from the dead-letter "
     "stream.",
     "O(N) in the dead letters replayed", NULL},
    CMD_END,
};
