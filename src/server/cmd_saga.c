/*
 * cmd_saga.c — SAGA.DEFINE SAGA.START SAGA.STATUS SAGA.LIST SAGA.ABORT, the
 * saga runtime's start and stop, and its INFO section.
 *
 * The runtime (src/saga) runs on its own thread. DEFINE, START and ABORT
 * are requests to it: the handler defers the reply, the runtime answers on
 * its thread once what was asked is durable, and the answer is posted to
 * the loop (server_post) to be replied. STATUS and LIST only read: STATUS
 * folds the saga's stream with the runtime's own fold (saga_fold_stream),
 * so it shows exactly what is durable; LIST reads the runtime's table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "saga/saga.h"
#include "server.h"
#include "util/json.h"

static saga_rt *rt; /* NULL until saga_module_init */

static void saga_log(int warn, const char *msg)
{
    server_log(warn ? LL_WARNING : LL_NOTICE, "%s", msg);
}

int saga_module_init(void)
{
    char err[SAGA_ERR_MAX];
    if (saga_rt_open(server.store, server.cfg.sagas, saga_log, &rt, err, sizeof err) < 0) {
        server_log(LL_WARNING, "Sagas: %s", err);
        return -1;
    }
    return 0;
}

void saga_module_shutdown(void)
{
    saga_rt_close(rt);
    rt = NULL;
}

void saga_module_info(char *out, size_t cap)
{
    saga_counts n;
    memset(&n, 0, sizeof n);
    if (rt)
        saga_get_counts(rt, &n);
    snprintf(out, cap, "# Sagas\r\n"
                 "sagas_defined:%llu\r\n"
                 "sagas_running:%llu\r\n"
                 "sagas_compensating:%llu\r\n"
                 "sagas_completed:%llu\r\n"
                 "sagas_compensated:%llu\r\n"
                 "sagas_failed:%llu\r\n"
                 "sagas_started:%llu\r\n"
                 "saga_trigger_errors:%llu\r\n",
              (unsigned long long)n.defined, (unsigned long long)n.by_state[SAGA_RUNNING],
              (unsigned long long)n.by_state[SAGA_COMPENSATING],
              (unsigned long long)n.by_state[SAGA_COMPLETED],
              (unsigned long long)n.by_state[SAGA_COMPENSATED],
              (unsigned long long)n.by_state[SAGA_FAILED], (unsigned long long)n.started,
              (unsigned long long)n.trigger_errors);
}

/* ---- requests answered by the runtime thread ---- */

typedef struct pending {
    server_post_item post;  /* to the loop */
    deferred *d;            /* the client's reply slot */
    int rc;                 /* the runtime's answer */
    long long value;
    char msg[SAGA_ERR_MAX];
} pending;

static void pending_reply(void *arg)
{
    pending *p = arg;
    client *c = deferred_client(p->d);
    if (c) {
        if (p->rc == 0)
            reply_long(c, p->value);
        else
            reply_errorf(c, "-%s", p->msg);
    }
    deferred_done(p->d);
    free(p);
}

/* Runtime thread. */
static void pending_done(void *ud, int rc, long long value, const char *msg)
{
    pending *p = ud;
    p->rc = rc;
    p->value = value;
    snprintf(p->msg, sizeof p->msg, "%s", msg ? msg : "ERR unknown error");
    p->post.fn = pending_reply;
    p->post.arg = p;
    server_post_submit(&p->post);
}

/* Defers c and returns the pending answer, or NULL after replying. */
static pending *defer(client *c)
{
    if (!rt) {
        reply_error(c, "-ERR sagas are not running");
        return NULL;
    }
    pending *p = calloc(1, sizeof(*p));
    if (!p || !(p->d = client_defer(c))) {
        free(p);
        reply_error(c, "-OOM out of memory");
        return NULL;
    }
    return p;
}

static void request_failed(pending *p)
{
    p->rc = -1;
    snprintf(p->msg, sizeof p->msg, "OOM out of memory");
    pending_reply(p);
}

/* SAGA.DEFINE <name> <lua source> */
static void cmd_saga_define(client *c)
{
    pending *p = defer(c);
    if (p && saga_request_define(rt, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2],
                                 pending_done, p) < 0)
        request_failed(p);
}

/* SAGA.START <name> <id> <json> */
static void cmd_saga_start(client *c)
{
    if (!json_is_valid(c->argv[3], c->argvlen[3])) {
        reply_error(c, "-ERR the saga data must be JSON");
        return;
    }
    pending *p = defer(c);
    if (p && saga_request_start(rt, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2],
                                c->argv[3], c->argvlen[3], pending_done, p) < 0)
        request_failed(p);
}

static int arg_is(client *c, int i, const char *word)
{
    return strlen(word) == c->argvlen[i] && strncasecmp(c->argv[i], word, c->argvlen[i]) == 0;
}

/* [NAME <saga>] after the id: the name, or NULL; -1 after a syntax error. */
static int parse_name(client *c, const char **name, size_t *len)
{
    *name = NULL;
    *len = 0;
    if (c->argc == 2)
        return 0;
    if (c->argc == 4 && arg_is(c, 2, "name")) {
        *name = c->argv[3];
        *len = c->argvlen[3];
        return 0;
    }
    reply_error_syntax(c);
    return -1;
}

/* SAGA.ABORT <id> [NAME <saga>] */
static void cmd_saga_abort(client *c)
{
    const char *name;
    size_t nl;
    if (parse_name(c, &name, &nl) < 0)
        return;
    pending *p = defer(c);
    if (p && saga_request_abort(rt, c->argv[1], c->argvlen[1], name, nl, pending_done, p) < 0)
        request_failed(p);
}

/* ---- reads ---- */

static void reply_status(client *c, const char *name, const char *id, size_t id_len)
{
    saga_fold f;
    char sname[MN_MAX_STREAM_NAME + 1];
    saga_fold_init(&f);
    int rc = saga_fold_stream(server.store, name, id, id_len, &f);
    if (rc != 0) {
        if (rc < 0)
            reply_error(c, "-ERR cannot read the saga's stream");
        else
            reply_null(c);
        saga_fold_free(&f);
        return;
    }
    int sl = saga_stream_name(name, id, id_len, sname);
    reply_map(c, 11);
    reply_bulk_cstr(c, "name");
    reply_bulk_cstr(c, name);
    reply_bulk_cstr(c, "id");
    reply_bulk(c, id, id_len);
    reply_bulk_cstr(c, "stream");
    reply_bulk(c, sname, (size_t)sl);
    reply_bulk_cstr(c, "state");
    reply_bulk_cstr(c, saga_state_name(f.state));
    reply_bulk_cstr(c, "step");
    if (f.step_name[0])
        reply_bulk_cstr(c, f.step_name);
    else
        reply_null(c);
    reply_bulk_cstr(c, "attempt");
    reply_long(c, f.attempt);
    reply_bulk_cstr(c, "completed-steps");
    reply_long(c, f.completed);
    reply_bulk_cstr(c, "reason");
    if (f.reason[0])
        reply_bulk_cstr(c, f.reason);
    else
        reply_null(c);
    reply_bulk_cstr(c, "data");
    reply_bulk(c, f.data.data ? f.data.data : "null", f.data.data ? f.data.len : 4);
    reply_bulk_cstr(c, "updated");
    reply_long(c, (long long)f.updated_ms);
    saga_fold_free(&f);
    /* the history: the saga stream's events, oldest first */
    mn_iter *it = NULL;
    mn_event_view e;
    reply_bulk_cstr(c, "history");
    if (mn_read_stream(server.store, sname, (size_t)sl, 0, 0, 0, &it) != MN_OK) {
        reply_array(c, 0);
        return;
    }
    void *h = reply_deferred_len(c);
    long n = 0;
    while (mn_iter_next(it, &e) == 1) {
        reply_map(c, 3);
        reply_bulk_cstr(c, "type");
        reply_bulk(c, e.type, e.type_len);
        reply_bulk_cstr(c, "timestamp");
        reply_long(c, (long long)(e.timestamp_us / 1000));
        reply_bulk_cstr(c, "data");
        reply_bulk(c, e.data, e.data_len);
        n++;
    }
    reply_set_array_len(c, h, n);
    mn_iter_free(it);
}

/* SAGA.STATUS <id> [NAME <saga>] */
static void cmd_saga_status(client *c)
{
    const char *name;
    size_t nl;
    char names[8][SAGA_MAX_NAME + 1];
    if (parse_name(c, &name, &nl) < 0)
        return;
    if (!rt) {
        reply_error(c, "-ERR sagas are not running");
        return;
    }
    if (name) {
        char nm[SAGA_MAX_NAME + 1];
        if (nl == 0 || nl > SAGA_MAX_NAME) {
            reply_null(c);
            return;
        }
        memcpy(nm, name, nl);
        nm[nl] = '\0';
        reply_status(c, nm, c->argv[1], c->argvlen[1]);
        return;
    }
    int n = saga_find(rt, c->argv[1], c->argvlen[1], names, 8);
    if (n == 0)
        reply_null(c);
    else if (n > 1)
        reply_errorf(c, "-ERR %d sagas have the id '%s': say which with NAME <saga>", n,
                     c->argv[1]);
    else
        reply_status(c, names[0], c->argv[1], c->argvlen[1]);
}

typedef struct list_ctx {
    client *c;
    long n;
} list_ctx;

static int list_one(void *ud, const saga_summary *s)
{
    list_ctx *x = ud;
    reply_array(x->c, 4);
    reply_bulk_cstr(x->c, s->name);
    reply_bulk(x->c, s->id, s->id_len);
    reply_bulk_cstr(x->c, saga_state_name(s->state));
    if (s->step[0])
        reply_bulk_cstr(x->c, s->step);
    else
        reply_null(x->c);
    x->n++;
    return 0;
}

/* SAGA.LIST [STATE <state>] */
static void cmd_saga_list(client *c)
{
    int state = -1;
    if (c->argc == 3 && arg_is(c, 1, "state")) {
        state = saga_state_parse(c->argv[2]);
        if (state < 0) {
            reply_error(c, "-ERR STATE must be running, compensating, completed, compensated "
                           "or failed");
            return;
        }
    } else if (c->argc != 1) {
        reply_error_syntax(c);
        return;
    }
    if (!rt) {
        reply_error(c, "-ERR sagas are not running");
        return;
    }
    list_ctx x = {c, 0};
    void *h = reply_deferred_len(c);
    saga_list(rt, state, list_one, &x);
    reply_set_array_len(c, h, x.n);
}

#define SG "saga"
const cmd_def saga_commands[] = {
    {"saga.define", cmd_saga_define, 3, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, SG, "mnemosyne 0.1",
     "Defines (or redefines) a saga from its Lua source.", "O(1)", NULL},
    {"saga.start", cmd_saga_start, 4, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, SG, "mnemosyne 0.1",
     "Starts an instance of a saga with an id and data, unless the id exists.", "O(1)", NULL},
    {"saga.status", cmd_saga_status, -2, CMD_READONLY, 0, 0, 0, SG, "mnemosyne 0.1",
     "A saga instance's state, current step and history.", "O(N) in its history", NULL},
    {"saga.list", cmd_saga_list, -1, CMD_READONLY, 0, 0, 0, SG, "mnemosyne 0.1",
     "Every saga instance, or those in one state.", "O(N)", NULL},
    {"saga.abort", cmd_saga_abort, -2, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, SG, "mnemosyne 0.1",
     "Aborts a running saga: its completed steps are compensated.", "O(1)", NULL},
    CMD_END,
};
