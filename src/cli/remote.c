/*
 * remote.c — mnemo's connection to a running mnemosyned: connect, AUTH,
 * send one command and read its reply (hiredis, blocking, RESP2), and turn
 * what comes back into messages, exit codes and event views.
 *
 * Invariants: every failure is one line on stderr prefixed "mnemo: " and a
 * non-zero exit code — no server, a wrong password, a dropped connection, an
 * error reply, a reply of an unexpected shape — never a crash. Arguments go
 * out binary-safe (redisCommandArgv with lengths): stream names and JSON are
 * never interpolated into a format string.
 */
#include <stdio.h>
#include <string.h>

#include "cli/remote.h"

/* A server that is not there must not hang a script: connecting gives up
 * after this long. Replies have no timeout (tail -f blocks for good). */
#define CONNECT_TIMEOUT_S 10

void rcmd_init(rcmd *m, const char *name)
{
    m->argc = 0;
    rcmd_str(m, name);
}

void rcmd_mem(rcmd *m, const char *p, size_t n)
{
    /* the commands mnemo builds are fixed in shape: overflowing is a bug */
    if (m->argc >= REMOTE_MAX_ARGS) return;
    m->argv[m->argc] = p;
    m->lens[m->argc] = n;
    m->argc++;
}

void rcmd_str(rcmd *m, const char *s)
{
    rcmd_mem(m, s, strlen(s));
}

void rcmd_u64(rcmd *m, uint64_t v)
{
    if (m->argc >= REMOTE_MAX_ARGS) return;
    snprintf(m->num[m->argc], sizeof m->num[0], "%llu", (unsigned long long)v);
    rcmd_str(m, m->num[m->argc]);
}

void rcmd_i64(rcmd *m, int64_t v)
{
    if (m->argc >= REMOTE_MAX_ARGS) return;
    snprintf(m->num[m->argc], sizeof m->num[0], "%lld", (long long)v);
    rcmd_str(m, m->num[m->argc]);
}

/* Says why the connection failed, naming the server. */
static int conn_error(const cli *c, const redisContext *ctx)
{
    fprintf(stderr, "mnemo: cannot talk to mnemosyned at %s:%d: %s\n", c->host, c->port,
            ctx != NULL && ctx->errstr[0] != '\0' ? ctx->errstr : "out of memory");
    return CLI_EXIT_RUNTIME;
}

redisReply *remote_call(redisContext *ctx, const rcmd *m)
{
    const char *argv[REMOTE_MAX_ARGS]; /* hiredis takes them non-const */
    redisReply *r;

    memcpy(argv, m->argv, sizeof argv);
    r = redisCommandArgv(ctx, m->argc, argv, m->lens);

    if (r == NULL && !remote_stop)
        fprintf(stderr, "mnemo: connection to the server lost during %.*s: %s\n",
                (int)m->lens[0], m->argv[0], ctx->errstr[0] != '\0' ? ctx->errstr : "no reply");
    return r;
}

redisReply *remote_call_array(redisContext *ctx, const rcmd *m, int *rc)
{
    char what[32];
    redisReply *r = remote_call(ctx, m);

    *rc = CLI_EXIT_RUNTIME;
    if (r == NULL) return NULL;
    snprintf(what, sizeof what, "%.*s", (int)m->lens[0], m->argv[0]);
    *rc = remote_error(r, what);
    if (*rc == 0 && r->type != REDIS_REPLY_ARRAY) *rc = remote_bad_reply(what);
    if (*rc == 0) return r;
    freeReplyObject(r);
    return NULL;
}

int remote_error(const redisReply *r, const char *what)
{
    if (r->type != REDIS_REPLY_ERROR) return 0;
    fputs("mnemo: ", stderr);
    if (what != NULL) fprintf(stderr, "%s: ", what);
    fprintf(stderr, "%.*s\n", (int)r->len, r->str);
    if (strncmp(r->str, "NOAUTH", 6) == 0)
        fputs("mnemo: the server wants a password: -a PASSWORD or $MNEMO_AUTH\n", stderr);
    return strncmp(r->str, "WRONGVERSION", 12) == 0 ? CLI_EXIT_VERSION : CLI_EXIT_RUNTIME;
}

int remote_bad_reply(const char *what)
{
    fprintf(stderr, "mnemo: unexpected reply to %s (is this a mnemosyned?)\n", what);
    return CLI_EXIT_RUNTIME;
}

int remote_connect(const cli *c, redisContext **out)
{
    struct timeval tv = {CONNECT_TIMEOUT_S, 0}, none = {0, 0};
    redisContext *ctx;
    redisReply *r = NULL;
    rcmd m;
    int rc;

    *out = NULL;
    ctx = redisConnectWithTimeout(c->host, c->port, tv);
    if (ctx == NULL || ctx->err) {
        rc = conn_error(c, ctx);
        goto fail;
    }
    /* the connect timeout also set one on reads: a blocking XREAD must wait
     * as long as it asks to */
    if (redisSetTimeout(ctx, none) != REDIS_OK) {
        rc = conn_error(c, ctx);
        goto fail;
    }
    if (c->auth != NULL) {
        rcmd_init(&m, "AUTH");
        rcmd_str(&m, c->auth);
        r = remote_call(ctx, &m);
        if (r == NULL) {
            rc = CLI_EXIT_RUNTIME;
            goto fail;
        }
        rc = remote_error(r, "AUTH");
        if (rc != 0) goto fail;
        freeReplyObject(r);
        r = NULL;
    }
    /* a PING proves the peer is a server that accepts us (NOAUTH shows here
     * rather than in the middle of a command) */
    rcmd_init(&m, "PING");
    r = remote_call(ctx, &m);
    if (r == NULL) {
        rc = CLI_EXIT_RUNTIME;
        goto fail;
    }
    rc = remote_error(r, NULL);
    if (rc != 0) goto fail;
    freeReplyObject(r);
    *out = ctx;
    return 0;

fail:
    remote_free(ctx, r);
    return rc;
}

void remote_free(redisContext *ctx, redisReply *r)
{
    if (r != NULL) freeReplyObject(r);
    if (ctx != NULL) redisFree(ctx);
}

/* 1 if r is the bulk or status string s. */
static int is_word(const redisReply *r, const char *s)
{
    size_t n = strlen(s);
    return (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && r->len == n &&
           memcmp(r->str, s, n) == 0;
}

static int int_value(const redisReply *r, int64_t *out)
{
    if (r->type != REDIS_REPLY_INTEGER) return -1;
    *out = (int64_t)r->integer;
    return 0;
}

int remote_event_parse(const redisReply *r, remote_event *out)
{
    int64_t v;
    int have = 0; /* bit per required field seen */

    memset(out, 0, sizeof *out);
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) goto bad;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *val = r->element[i + 1];
        int is_str = val->type == REDIS_REPLY_STRING;

        if (is_word(k, "stream") && is_str) {
            out->ev.stream = val->str;
            out->ev.stream_len = val->len;
            have |= 1;
        } else if (is_word(k, "version") && int_value(val, &v) == 0) {
            out->ev.version = v;
            have |= 2;
        } else if (is_word(k, "position") && int_value(val, &v) == 0 && v >= 0) {
            out->ev.position = (uint64_t)v;
            have |= 4;
        } else if (is_word(k, "id") && is_str) {
            if (mn_uuid_parse(val->str, val->len, out->ev.id) != MN_OK) goto bad;
            have |= 8;
        } else if (is_word(k, "type") && is_str) {
            out->ev.type = val->str;
            out->ev.type_len = val->len;
            have |= 16;
        } else if (is_word(k, "data") && is_str) {
            out->ev.data = val->str;
            out->ev.data_len = val->len;
            have |= 32;
        } else if (is_word(k, "meta")) {
            if (is_str) {
                out->ev.meta = val->str;
                out->ev.meta_len = val->len;
            }
        } else if (is_word(k, "timestamp") && int_value(val, &v) == 0 && v >= 0) {
            out->ev.timestamp_us = (uint64_t)v * 1000u;
            have |= 64;
        } else if (is_word(k, "causation_id")) {
            if (is_str) {
                out->causation = val->str;
                out->causation_len = val->len;
            }
        } else if (is_word(k, "depth") && int_value(val, &v) == 0) {
            out->depth = v;
        }
        /* other fields: a newer server's additions, ignored */
    }
    if (have == 127) return 0;

bad:
    fputs("mnemo: unexpected reply: not an event (is this a mnemosyned?)\n", stderr);
    return -1;
}
