/*
 * runtime.c — the saga orchestrator's thread: triggers, replies, timers and
 * the appends that move instances on.
 *
 * Invariants:
 *  1. One transition at a time per instance (`busy`): the next is decided
 *     only once the previous append is durable and folded in. A transition
 *     is one atomic append: the state event (expected version = the
 *     instance's; a step's StepSucceeded may precede the next StepSent in
 *     it) plus at most one command. So the saga stream is always exactly
 *     what went out.
 *  2. Ids are derived, never random: state event v of saga-<n>-<id> is
 *     H(n, id, 's', v), the command of step i attempt a is H(n, id, 'c', i,
 *     a), its compensation H(n, id, 'k', i). After a crash the same decision
 *     produces the same ids, and the store's idempotent append turns a
 *     resend of something that did go out into a no-op.
 *  3. What an instance does next is a function of its fold (state.c) and
 *     the clock only: recovery and live running share `advance`.
 *  4. A reply is looked for in two places, so none is lost: the per-type
 *     cursors (new events of every ok/fail type) and, after each durable
 *     transition that leaves the instance waiting, its correlation index from
 *     the current step's first send (a reply read by a cursor while the
 *     instance was busy is dropped there and found here). A reply counts
 *     only if the instance waits for exactly it (step, type, causation);
 *     anything else — twice, late, unknown — is ignored.
 *  5. Fields read by other threads (fold state/step, the instance table,
 *     counts, the slots) change only under `mu`.
 *  6. The thread exits only when no append of its is in flight: the
 *     callbacks touch instances, which close frees.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "saga/internal.h"
#include "util/clock.h"
#include "util/json.h"

#define BATCH 512          /* events read per view read */
#define RETRY_MS 1000      /* after a transient append failure (disk full...) */
#define IDLE_MS 1000       /* longest sleep without a wake-up */

typedef struct request request;

/* A definition's name and its trigger position (survives redefinitions). */
typedef struct slot {
    char name[SAGA_MAX_NAME + 1];
    saga_def *d;            /* current definition */
    uint64_t trig_pos;      /* trigger events at positions <= this are handled */
    int64_t trig_version;   /* plain-stream triggers: next version to read (-1: find) */
    struct slot *next;
} slot;

typedef struct inst {
    struct saga_rt *rt;     /* its runtime (for the append callback) */
    slot *s;                /* its definition */
    char *id;               /* saga id (NUL-terminated copy) */
    size_t id_len;
    saga_fold f;            /* where it stands (durable) */
    int busy;               /* a transition is in flight (invariant 1) */
    int dead;               /* its state stream cannot be written: left alone */
    int gone;               /* its start failed: out of the id table (forget) */
    uint64_t retry_at;      /* after a transient failure: try again then (wall ms) */
    int abort_req;          /* SAGA.ABORT asked; SagaAborted not yet written */
    int start_retry;        /* SagaStarted failed transiently: resend it at retry_at */
    /* the transition in flight */
    char ptype[32];         /* state event type */
    buf pdata;              /* its data */
    uint8_t pid[16];        /* its id */
    int pcmd;               /* 1 if it carries a command (StepSent, CompensationSent) */
    int has_pre;            /* a StepSucceeded goes first, in the same append */
    char pre_type[32];      /* its type, data and id */
    buf pre_data;
    uint8_t pre_id[16];
    int pstart;             /* 1 if it is SagaStarted (expected NOSTREAM) */
    /* its completion (writer thread -> runtime thread, under mu) */
    int crc;
    char cerr[200];
    uint64_t cpos;
    struct inst *cnext;     /* completion queue */
    /* the request waiting for this transition (START, ABORT) */
    saga_done_fn done;
    void *done_ud;
    struct inst *hnext;     /* hash chain (by id) */
    struct inst *lnext;     /* every instance, start order */
} inst;

struct request {
    int kind;               /* 'D'efine, 'S'tart, 'A'bort */
    char *name;
    size_t name_len;
    char *id;
    size_t id_len;
    char *body;             /* source / json */
    size_t body_len;
    saga_done_fn done;
    void *ud;
    request *next;
};

typedef struct rcursor {
    char *type;             /* an ok or fail type */
    uint64_t pos;           /* next position to read */
    struct rcursor *next;
} rcursor;

struct saga_rt {
    mn_store *store;
    void (*log)(int warn, const char *msg);
    pthread_mutex_t mu;     /* invariant 5; also the queues below */
    pthread_cond_t cv;      /* the runtime thread sleeps here */
    pthread_t th, waiter;   /* runtime thread; thread turning mn_wait into cv wake-ups */
    int started;
    int stop;
    int wake;               /* the store advanced */
    request *rq_head, *rq_tail;
    inst *done_head, *done_tail;
    int inflight;           /* appends in flight (invariant 6) */
    slot *slots;
    inst **tab;             /* hash by id */
    size_t tabcap, ninst;
    inst *all_head, *all_tail;
    uint64_t next_due;      /* wall ms when some instance's timer may be due */
    rcursor *rcurs;
    saga_counts counts;
    buf scratch, scratch2;  /* runtime-thread buffers: command data, meta */
    buf scratch3;           /* the saga data after on_ok */
};

/* ---- small helpers ---- */

static void logf_(saga_rt *rt, int warn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(saga_rt *rt, int warn, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rt->log)
        rt->log(warn, msg);
}

static uint64_t hash_id(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h;
}

static slot *find_slot(saga_rt *rt, const char *name, size_t len)
{
    for (slot *s = rt->slots; s; s = s->next)
        if (strlen(s->name) == len && !memcmp(s->name, name, len))
            return s;
    return NULL;
}

static inst *find_inst(saga_rt *rt, const slot *s, const char *id, size_t len)
{
    if (!rt->tabcap)
        return NULL;
    for (inst *i = rt->tab[hash_id(id, len) & (rt->tabcap - 1)]; i; i = i->hnext)
        if (i->id_len == len && !memcmp(i->id, id, len) && (!s || i->s == s))
            return i;
    return NULL;
}

/* Saga ids go into stream names and, as correlation ids, into JSON that the
 * correlation index reads only when unescaped: no quotes, backslashes or
 * control bytes. */
static int valid_id(const char *name, const char *id, size_t len, char *err, size_t cap)
{
    if (len == 0 || len > SAGA_MAX_ID) {
        snprintf(err, cap, "ERR saga id must be 1..%d bytes", SAGA_MAX_ID);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            snprintf(err, cap,
                     "ERR saga id may not hold quotes, backslashes or control characters");
            return 0;
        }
    }
    if (5 + strlen(name) + 1 + len > MN_MAX_STREAM_NAME) {
        snprintf(err, cap, "ERR saga id too long for the stream name saga-%s-<id>", name);
        return 0;
    }
    return 1;
}

static int add_inst(saga_rt *rt, inst *i)
{
    if (rt->ninst + 1 > rt->tabcap / 2) {
        size_t cap = rt->tabcap ? rt->tabcap * 2 : 1024;
        inst **t = calloc(cap, sizeof(*t));
        if (!t)
            return -1;
        for (inst *x = rt->all_head; x; x = x->lnext) {
            if (x->gone)
                continue;
            size_t h = hash_id(x->id, x->id_len) & (cap - 1);
            x->hnext = t[h];
            t[h] = x;
        }
        free(rt->tab);
        rt->tab = t;
        rt->tabcap = cap;
    }
    size_t h = hash_id(i->id, i->id_len) & (rt->tabcap - 1);
    i->hnext = rt->tab[h];
    rt->tab[h] = i;
    if (rt->all_tail)
        rt->all_tail->lnext = i;
    else
        rt->all_head = i;
    rt->all_tail = i;
    rt->ninst++;
    rt->counts.by_state[i->f.state]++;
    return 0;
}

static inst *new_inst(saga_rt *rt, slot *s, const char *id, size_t len)
{
    inst *i = calloc(1, sizeof(*i));
    if (!i)
        return NULL;
    i->rt = rt;
    i->id = malloc(len + 1);
    if (!i->id) {
        free(i);
        return NULL;
    }
    memcpy(i->id, id, len);
    i->id[len] = '\0';
    i->id_len = len;
    i->s = s;
    saga_fold_init(&i->f);
    buf_init(&i->pdata);
    buf_init(&i->pre_data);
    return i;
}

static void free_inst(inst *i)
{
    saga_fold_free(&i->f);
    buf_free(&i->pdata);
    buf_free(&i->pre_data);
    free(i->id);
    free(i);
}

/* A finished instance keeps only what SAGA.LIST and the id table need; its
 * data and transition buffers go (SAGA.STATUS folds the stream itself), so
 * what stays per finished saga is the fixed-size record, not its payloads. */
static void release_finished(inst *i)
{
    if (i->f.phase != SAGA_PH_DONE || i->busy) return;
    buf_free(&i->f.data);
    buf_free(&i->pdata);
    buf_free(&i->pre_data);
}

static int add_rcursor(saga_rt *rt, const char *type, uint64_t pos)
{
    for (rcursor *c = rt->rcurs; c; c = c->next)
        if (!strcmp(c->type, type))
            return 0;
    rcursor *c = calloc(1, sizeof(*c));
    if (!c || !(c->type = strdup(type))) {
        free(c);
        return -1;
    }
    c->pos = pos;
    c->next = rt->rcurs;
    rt->rcurs = c;
    return 0;
}

static int add_def_cursors(saga_rt *rt, const saga_def *d, uint64_t pos)
{
    for (int k = 0; k < d->nsteps; k++)
        if (add_rcursor(rt, d->steps[k].ok, pos) < 0 ||
            (d->steps[k].fail && add_rcursor(rt, d->steps[k].fail, pos) < 0))
            return -1;
    return 0;
}

static uint64_t store_end(saga_rt *rt)
{
    mn_store_info si;
    mn_store_info_get(rt->store, &si);
    return si.end_position;
}

/* The data of an event as JSON: fields as an object, JSON as it is, other
 * bytes as a JSON string. */
static void event_data_json(const mn_event_view *e, buf *out)
{
    if (e->flags & MN_EVENT_FIELDS) {
        const void *f, *v;
        size_t fl, vl, off = 0;
        int first = 1;
        buf_append_byte(out, '{');
        while (mn_fields_next(e->data, e->data_len, &off, &f, &fl, &v, &vl) == 1) {
            if (!first)
                buf_append_byte(out, ',');
            first = 0;
            json_append_string(out, f, fl);
            buf_append_byte(out, ':');
            json_append_string(out, v, vl);
        }
        buf_append_byte(out, '}');
    } else if (e->data_len && json_is_valid(e->data, e->data_len)) {
        buf_append(out, e->data, e->data_len);
    } else {
        json_append_string(out, e->data, e->data_len);
    }
}

/* ---- transitions ---- */

/* Queues i's completion for the runtime thread. Any thread. */
static void queue_done(saga_rt *rt, inst *i)
{
    pthread_mutex_lock(&rt->mu);
    i->cnext = NULL;
    if (rt->done_tail)
        rt->done_tail->cnext = i;
    else
        rt->done_head = i;
    rt->done_tail = i;
    pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

/* Writer thread: hand the result over (invariant 6 keeps i alive). */
static void append_cb(void *ud, const mn_append_result *res)
{
    inst *i = ud;
    i->crc = res->rc;
    snprintf(i->cerr, sizeof i->cerr, "%s", res->errmsg ? res->errmsg : "");
    i->cpos = res->nparts ? res->parts[0].position : 0;
    queue_done(i->rt, i);
}

/* State event members common to all: {"saga":..,"id":.., then the caller's. */
static void state_begin(buf *b, const inst *i)
{
    buf_reset(b);
    buf_append_str(b, "{\"saga\":");
    json_append_string(b, i->s->name, strlen(i->s->name));
    buf_append_str(b, ",\"id\":");
    json_append_string(b, i->id, i->id_len);
}

static void put_uuid(buf *b, const char *key, const uint8_t id[16])
{
    char u[37];
    mn_uuid_format(id, u);
    buf_printf(b, ",\"%s\":\"%s\"", key, u);
}

static void put_str(buf *b, const char *key, const char *s)
{
    buf_printf(b, ",\"%s\":", key);
    json_append_string(b, s, strlen(s));
}

static void fill_event(mn_event *e, const uint8_t id[16], const char *type, const buf *data,
                       const buf *meta)
{
    memcpy(e->id, id, 16);
    e->type = type;
    e->type_len = strlen(type);
    e->data = data->data;
    e->data_len = data->len;
    if (meta) {
        e->meta = meta->data;
        e->meta_len = meta->len;
    }
}

/* Issues the transition prepared in i->ptype/pdata, with an optional
 * command. On a synchronous refusal the completion path sees it the same
 * way as a failed append. */
static void submit(saga_rt *rt, inst *i, const char *cmd_stream, const char *cmd_type,
                   const uint8_t cmd_id[16], const buf *cmd_data, const buf *cmd_meta)
{
    char sname[MN_MAX_STREAM_NAME + 1];
    int sl = saga_stream_name(i->s->name, i->id, i->id_len, sname);
    mn_event ev[3];
    mn_append_part parts[2];
    size_t ne = 0, np = 1;
    memset(ev, 0, sizeof ev);
    memset(parts, 0, sizeof parts);
    if (i->has_pre) {
        saga_derive_id(i->s->name, i->id, i->id_len, 's', i->f.version + 1, 0, i->pre_id);
        fill_event(&ev[ne++], i->pre_id, i->pre_type, &i->pre_data, NULL);
    }
    saga_derive_id(i->s->name, i->id, i->id_len, 's', i->f.version + 1 + (int64_t)ne, 0, i->pid);
    fill_event(&ev[ne++], i->pid, i->ptype, &i->pdata, NULL);
    parts[0].stream = sname;
    parts[0].stream_len = (size_t)(sl < 0 ? 0 : sl);
    parts[0].expected = i->pstart ? MN_EXPECT_NOSTREAM : i->f.version;
    parts[0].events = &ev[0];
    parts[0].count = ne;
    if (cmd_stream) {
        fill_event(&ev[ne], cmd_id, cmd_type, cmd_data, cmd_meta);
        parts[1].stream = cmd_stream;
        parts[1].stream_len = strlen(cmd_stream);
        parts[1].expected = MN_EXPECT_ANY;
        parts[1].events = &ev[ne];
        parts[1].count = 1;
        np = 2;
    }
    i->pcmd = cmd_stream != NULL;
    i->busy = 1;
    rt->inflight++;
    int rc = i->pdata.oom || i->pre_data.oom
                 ? MN_ENOMEM
                 : mn_append_async(rt->store, parts, np, append_cb, i);
    if (rc != MN_OK) {
        i->crc = rc;
        snprintf(i->cerr, sizeof i->cerr, "%s", rc == MN_ENOMEM ? "out of memory" : mn_errmsg());
        queue_done(rt, i);
    }
}


/* Prepares i->ptype and starts i->pdata. */
static buf *begin(inst *i, const char *type)
{
    snprintf(i->ptype, sizeof i->ptype, "%s", type);
    state_begin(&i->pdata, i);
    return &i->pdata;
}

static void t_start(saga_rt *rt, inst *i, const buf *data, uint64_t trigger_pos,
                    const uint8_t *cause)
{
    buf *b = begin(i, "SagaStarted");
    buf_append_str(b, ",\"data\":");
    buf_append(b, data->data ? data->data : "null", data->data ? data->len : 4);
    buf_printf(b, ",\"trigger_position\":%llu", (unsigned long long)trigger_pos);
    if (cause)
        put_uuid(b, "cause", cause);
    buf_append_byte(b, '}');
    i->pstart = 1;
    submit(rt, i, NULL, NULL, NULL, NULL, NULL);
}

/* A plain state transition (no command): data members already in b. */
static void t_plain(saga_rt *rt, inst *i)
{
    buf_append_byte(&i->pdata, '}');
    submit(rt, i, NULL, NULL, NULL, NULL, NULL);
}

static void t_step_failed(saga_rt *rt, inst *i, const char *reason, const mn_event_view *reply)
{
    const saga_step *st = &i->s->d->steps[i->f.step];
    buf *b = begin(i, "StepFailed");
    buf_printf(b, ",\"step\":%d", i->f.step);
    put_str(b, "name", st->name);
    if (reply) {
        put_uuid(b, "reply_id", reply->id);
        buf_append_str(b, ",\"reply_type\":");
        json_append_string(b, reply->type, reply->type_len);
        put_uuid(b, "cause", reply->id);
    }
    put_str(b, "reason", reason);
    t_plain(rt, i);
}

/* Prepares StepSent of `step`, `attempt` (invariant 2 names the command)
 * in i->pdata, its command's data and meta in the scratch buffers. 0, or
 * -1 with the reason if the step's data() failed (nothing prepared). */
static int build_send(saga_rt *rt, inst *i, int step, int attempt, const uint8_t cause[16],
                      const buf *sdata, uint8_t cmd_id[16], char *reason, size_t cap)
{
    saga_def *d = i->s->d;
    const saga_step *st = &d->steps[step];
    char err[SAGA_ERR_MAX];
    buf *data = &rt->scratch, *meta = &rt->scratch2;
    if (sdef_command_data(d, &st->send, i->id, i->id_len, st->name, sdata, data, err,
                          sizeof err) < 0) {
        snprintf(reason, cap, "data() of step '%s' failed: %s", st->name, err);
        return -1;
    }
    buf_reset(meta);
    saga_command_meta(meta, d->name, i->id, i->id_len, cause, st->name);
    saga_derive_id(d->name, i->id, i->id_len, 'c', step, attempt, cmd_id);
    uint64_t deadline = st->timeout_ms ? clock_wall_ms() + st->timeout_ms : 0;
    buf *b = begin(i, "StepSent");
    buf_printf(b, ",\"step\":%d", step);
    put_str(b, "name", st->name);
    buf_printf(b, ",\"attempt\":%d", attempt);
    put_uuid(b, "command_id", cmd_id);
    put_str(b, "stream", st->send.stream);
    put_str(b, "type", st->send.type);
    buf_printf(b, ",\"deadline_ms\":%llu}", (unsigned long long)deadline);
    return 0;
}

/* Sends step f.step, attempt f.attempt. */
static void t_send(saga_rt *rt, inst *i)
{
    char reason[SAGA_ERR_MAX + 64];
    uint8_t cmd_id[16];
    if (build_send(rt, i, i->f.step, i->f.attempt, i->f.cause, &i->f.data, cmd_id, reason,
                   sizeof reason) < 0) {
        t_step_failed(rt, i, reason, NULL);
        return;
    }
    const saga_step *st = &i->s->d->steps[i->f.step];
    submit(rt, i, st->send.stream, st->send.type, cmd_id, &rt->scratch, &rt->scratch2);
}

/* Moves the prepared state event to the front slot (or back). */
static void swap_pre(inst *i)
{
    char t[32];
    buf b = i->pre_data;
    i->pre_data = i->pdata;
    i->pdata = b;
    memcpy(t, i->pre_type, sizeof t);
    memcpy(i->pre_type, i->ptype, sizeof t);
    memcpy(i->ptype, t, sizeof t);
}

/* Compensating: the next completed step with a compensation, or the end. */
static void t_compensate(saga_rt *rt, inst *i)
{
    saga_def *d = i->s->d;
    int k = i->f.comp_next < d->nsteps ? i->f.comp_next : d->nsteps - 1;
    while (k >= 0 && !d->steps[k].has_comp)
        k--;
    if (k < 0) {
        buf *b = begin(i, i->f.comp_failed ? "SagaFailed" : "SagaCompensated");
        if (i->f.comp_failed) {
            char r[128];
            snprintf(r, sizeof r, "%d compensation(s) could not be delivered", i->f.comp_failed);
            put_str(b, "reason", r);
        }
        t_plain(rt, i);
        return;
    }
    const saga_step *st = &d->steps[k];
    char err[SAGA_ERR_MAX], reason[SAGA_ERR_MAX + 64];
    uint8_t cmd_id[16];
    buf *data = &rt->scratch, *meta = &rt->scratch2;
    if (sdef_command_data(d, &st->comp, i->id, i->id_len, st->name, &i->f.data, data, err,
                          sizeof err) < 0) {
        snprintf(reason, sizeof reason, "compensate.data() of step '%s' failed: %s", st->name,
                 err);
        buf *b = begin(i, "CompensationFailed");
        buf_printf(b, ",\"step\":%d", k);
        put_str(b, "name", st->name);
        put_str(b, "reason", reason);
        t_plain(rt, i);
        return;
    }
    buf_reset(meta);
    saga_command_meta(meta, d->name, i->id, i->id_len, i->f.cause, st->name);
    saga_derive_id(d->name, i->id, i->id_len, 'k', k, 0, cmd_id);
    buf *b = begin(i, "CompensationSent");
    buf_printf(b, ",\"step\":%d", k);
    put_str(b, "name", st->name);
    put_uuid(b, "command_id", cmd_id);
    put_str(b, "stream", st->comp.stream);
    put_str(b, "type", st->comp.type);
    buf_append_byte(b, '}');
    submit(rt, i, st->comp.stream, st->comp.type, cmd_id, data, meta);
}

static void set_dead(saga_rt *rt, inst *i, const char *why)
{
    logf_(rt, 1, "saga %s '%s': %s; the instance is left as it is", i->s->name, i->id, why);
    pthread_mutex_lock(&rt->mu);
    i->dead = 1;
    pthread_mutex_unlock(&rt->mu);
}

static void scan_replies(saga_rt *rt, inst *i);

/* What the instance does next (invariant 3). */
static void advance(saga_rt *rt, inst *i, uint64_t now)
{
    saga_def *d = i->s->d;
    if (i->busy || i->dead || i->f.phase == SAGA_PH_DONE)
        return;
    if (i->retry_at) {
        if (now < i->retry_at)
            return;
        i->retry_at = 0;
        /* the failed transition may have been a reply's: find it again */
        if (i->f.state == SAGA_RUNNING &&
            (i->f.phase == SAGA_PH_AWAIT || i->f.phase == SAGA_PH_RETRY)) {
            scan_replies(rt, i);
            if (i->busy)
                return;
        }
    }
    if (i->f.version == MN_NO_VERSION) {
        if (i->start_retry) { /* i->ptype/pdata still hold the SagaStarted */
            i->start_retry = 0;
            i->pstart = 1;
            submit(rt, i, NULL, NULL, NULL, NULL, NULL);
        }
        return;
    }
    if (i->f.state == SAGA_RUNNING && i->f.step >= d->nsteps && i->f.phase != SAGA_PH_FINISH) {
        set_dead(rt, i, "its definition no longer has its current step");
        return;
    }
    if (i->abort_req && i->f.state == SAGA_RUNNING) {
        buf *b = begin(i, "SagaAborted");
        put_str(b, "reason", "aborted by SAGA.ABORT");
        t_plain(rt, i);
        return;
    }
    switch (i->f.phase) {
    case SAGA_PH_SEND:
        t_send(rt, i);
        break;
    case SAGA_PH_AWAIT:
        if (i->f.deadline_ms && now >= i->f.deadline_ms) {
            const saga_step *st = &d->steps[i->f.step];
            buf *b = begin(i, "StepTimedOut");
            buf_printf(b, ",\"step\":%d", i->f.step);
            put_str(b, "name", st->name);
            buf_printf(b, ",\"attempt\":%d", i->f.attempt);
            uint64_t at = 0;
            if (i->f.attempt < st->retries) {
                uint64_t back = st->backoff_ms;
                for (int k = 0; k < i->f.attempt && back < 3600 * 1000; k++)
                    back *= 2;
                at = now + back;
            }
            buf_printf(b, ",\"retry_at_ms\":%llu", (unsigned long long)at);
            t_plain(rt, i);
        }
        break;
    case SAGA_PH_RETRY:
        if (now >= i->f.deadline_ms)
            t_send(rt, i);
        break;
    case SAGA_PH_FINISH:
        begin(i, "SagaCompleted");
        t_plain(rt, i);
        break;
    case SAGA_PH_COMP:
        t_compensate(rt, i);
        break;
    default:
        break;
    }
}

/* ---- replies ---- */

/* Does reply e answer i's current step? (invariant 4) 1 ok, 2 fail, 0 no. */
static int matches(const inst *i, const mn_event_view *e)
{
    if (i->busy || i->dead || i->f.state != SAGA_RUNNING ||
        (i->f.phase != SAGA_PH_AWAIT && i->f.phase != SAGA_PH_RETRY) ||
        i->f.step >= i->s->d->nsteps)
        return 0;
    const saga_step *st = &i->s->d->steps[i->f.step];
    int kind = 0;
    if (e->type_len == strlen(st->ok) && !memcmp(e->type, st->ok, e->type_len))
        kind = 1;
    else if (st->fail && e->type_len == strlen(st->fail) && !memcmp(e->type, st->fail, e->type_len))
        kind = 2;
    if (!kind || !e->meta)
        return 0;
    const char *c;
    size_t cl;
    uint8_t cause[16];
    if (!json_get_string(e->meta, e->meta_len, "causation_id", &c, &cl) ||
        mn_uuid_parse(c, cl, cause) != MN_OK)
        return 0;
    /* in RETRY the resend has not gone out yet: attempts 0..attempt-1 */
    int sent = i->f.phase == SAGA_PH_AWAIT ? i->f.attempt : i->f.attempt - 1;
    for (int a = 0; a <= sent; a++) {
        uint8_t id[16];
        saga_derive_id(i->s->name, i->id, i->id_len, 'c', i->f.step, a, id);
        if (!memcmp(id, cause, 16))
            return kind;
    }
    return 0;
}

static void on_reply(saga_rt *rt, inst *i, const mn_event_view *e)
{
    int kind = matches(i, e);
    if (!kind)
        return;
    saga_def *d = i->s->d;
    const saga_step *st = &d->steps[i->f.step];
    if (kind == 2) {
        char reason[MN_MAX_TYPE_LEN + 96];
        snprintf(reason, sizeof reason, "step '%s' failed: %.*s", st->name, (int)e->type_len,
                 e->type);
        t_step_failed(rt, i, reason, e);
        return;
    }
    char err[SAGA_ERR_MAX];
    buf *nd = &rt->scratch3;
    if (sdef_on_ok(d, st, i->id, i->id_len, &i->f.data, e, nd, err, sizeof err) < 0) {
        char reason[SAGA_ERR_MAX + 64];
        snprintf(reason, sizeof reason, "on_ok() of step '%s' failed: %s", st->name, err);
        t_step_failed(rt, i, reason, e);
        return;
    }
    buf *b = begin(i, "StepSucceeded");
    buf_printf(b, ",\"step\":%d", i->f.step);
    put_str(b, "name", st->name);
    put_uuid(b, "reply_id", e->id);
    buf_append_str(b, ",\"reply_type\":");
    json_append_string(b, e->type, e->type_len);
    put_uuid(b, "cause", e->id);
    buf_printf(b, ",\"last\":%d,\"data\":", i->f.step + 1 >= d->nsteps);
    buf_append(b, nd->data ? nd->data : "null", nd->data ? nd->len : 4);
    buf_append_byte(b, '}');
    /* Why one append for the success and the next command: a step then
     * costs one durable write instead of two (half the fsyncs a saga waits
     * on). If the next command cannot be built, the success goes alone and
     * the next step fails the ordinary way. */
    char reason[SAGA_ERR_MAX + 64];
    uint8_t cmd_id[16];
    int next = i->f.step + 1;
    if (next < d->nsteps) {
        swap_pre(i);
        if (build_send(rt, i, next, 0, e->id, nd, cmd_id, reason, sizeof reason) == 0) {
            i->has_pre = 1;
            const saga_step *ns = &d->steps[next];
            submit(rt, i, ns->send.stream, ns->send.type, cmd_id, &rt->scratch, &rt->scratch2);
            return;
        }
        swap_pre(i);
    }
    submit(rt, i, NULL, NULL, NULL, NULL, NULL);
}

/* The instance's correlation index from its current step's first send. */
static void scan_replies(saga_rt *rt, inst *i)
{
    mn_iter *it = NULL;
    mn_event_view e;
    if (mn_read_view(rt->store, MN_VIEW_CORRELATION, i->id, i->id_len, i->f.step_from, UINT64_MAX,
                     0, 0, &it) != MN_OK)
        return;
    while (!i->busy && mn_iter_next(it, &e) == 1)
        on_reply(rt, i, &e);
    mn_iter_free(it);
}

/* New events of every ok/fail type. */
static void poll_replies(saga_rt *rt)
{
    for (rcursor *c = rt->rcurs; c; c = c->next) {
        for (;;) {
            mn_iter *it = NULL;
            mn_event_view e;
            uint64_t n = 0;
            if (mn_read_view(rt->store, MN_VIEW_TYPE, c->type, strlen(c->type), c->pos,
                             UINT64_MAX, BATCH, 0, &it) != MN_OK)
                break;
            while (mn_iter_next(it, &e) == 1) {
                n++;
                c->pos = e.position + 1;
                const char *cid;
                size_t cl;
                if (!e.meta || !json_get_string(e.meta, e.meta_len, "correlation_id", &cid, &cl))
                    continue;
                if (!rt->tabcap)
                    continue;
                for (inst *i = rt->tab[hash_id(cid, cl) & (rt->tabcap - 1)]; i; i = i->hnext)
                    if (i->id_len == cl && !memcmp(i->id, cid, cl))
                        on_reply(rt, i, &e);
            }
            mn_iter_free(it);
            if (n < BATCH)
                break;
        }
    }
}

/* ---- triggers ---- */

static inst *start_instance(saga_rt *rt, slot *s, const char *id, size_t id_len,
                            const buf *data, uint64_t trigger_pos, const uint8_t *cause)
{
    inst *i = new_inst(rt, s, id, id_len);
    if (!i)
        return NULL;
    pthread_mutex_lock(&rt->mu);
    int rc = add_inst(rt, i);
    if (rc == 0)
        rt->counts.started++;
    pthread_mutex_unlock(&rt->mu);
    if (rc < 0) {
        free_inst(i);
        return NULL;
    }
    t_start(rt, i, data, trigger_pos, cause);
    return i;
}

static void on_trigger(saga_rt *rt, slot *s, const mn_event_view *e)
{
    char err[SAGA_ERR_MAX];
    buf *id = &rt->scratch, *data = &rt->scratch2;
    /* the runtime's own streams never start sagas */
    if (e->stream_len >= 5 && !memcmp(e->stream, "saga-", 5))
        return;
    int rc = sdef_call_id(s->d, e, id, err, sizeof err);
    if (rc == 0)
        return;
    if (rc == 1 && !valid_id(s->name, id->data, id->len, err, sizeof err))
        rc = -1;
    if (rc < 0) {
        pthread_mutex_lock(&rt->mu);
        rt->counts.trigger_errors++;
        pthread_mutex_unlock(&rt->mu);
        logf_(rt, 1, "saga %s: id() of the event at position %llu: %s", s->name,
              (unsigned long long)e->position, err);
        return;
    }
    if (find_inst(rt, s, id->data, id->len))
        return; /* one instance per id */
    buf idcopy;
    buf_init(&idcopy);
    buf_append(&idcopy, id->data, id->len);
    buf_reset(data);
    event_data_json(e, data);
    if (!idcopy.oom && !data->oom)
        start_instance(rt, s, idcopy.data, idcopy.len, data, e->position, e->id);
    buf_free(&idcopy);
}

static void poll_trigger(saga_rt *rt, slot *s)
{
    saga_def *d = s->d;
    for (;;) {
        mn_iter *it = NULL;
        mn_event_view e;
        uint64_t n = 0;
        int rc;
        if (d->trig_kind == SAGA_TRIG_STREAM) {
            rc = mn_read_stream(rt->store, d->trig_key, strlen(d->trig_key),
                                s->trig_version < 0 ? 0 : s->trig_version, BATCH, 0, &it);
        } else {
            int view = d->trig_kind == SAGA_TRIG_ALL        ? MN_VIEW_ALL
                       : d->trig_kind == SAGA_TRIG_CATEGORY ? MN_VIEW_CATEGORY
                                                            : MN_VIEW_TYPE;
            rc = mn_read_view(rt->store, view, d->trig_key, strlen(d->trig_key), s->trig_pos + 1,
                              UINT64_MAX, BATCH, 0, &it);
        }
        if (rc != MN_OK)
            return; /* a plain stream that does not exist yet */
        while ((rc = mn_iter_next(it, &e)) == 1) {
            n++;
            if (d->trig_kind == SAGA_TRIG_STREAM)
                s->trig_version = e.version + 1;
            if (e.position <= s->trig_pos)
                continue;
            s->trig_pos = e.position;
            on_trigger(rt, s, &e);
        }
        mn_iter_free(it);
        if (n < BATCH)
            return;
    }
}

/* ---- completions ---- */

static void set_fold_state(saga_rt *rt, inst *i, int old)
{
    if (old != i->f.state) {
        rt->counts.by_state[old]--;
        rt->counts.by_state[i->f.state]++;
    }
}

static void answer(inst *i, int rc, long long v, const char *msg)
{
    if (i->done) {
        saga_done_fn fn = i->done;
        i->done = NULL;
        fn(i->done_ud, rc, v, msg);
    }
}

/* Re-reads the instance's stream (its version was not what we thought).
 * 0, or -1 if the stream is gone (DEL, FLUSHALL) or unreadable. */
static int reload(saga_rt *rt, inst *i)
{
    saga_fold f;
    saga_fold_init(&f);
    int rc = saga_fold_stream(rt->store, i->s->name, i->id, i->id_len, &f);
    pthread_mutex_lock(&rt->mu);
    int old = i->f.state;
    if (rc == 0) {
        saga_fold_free(&i->f);
        i->f = f;
        set_fold_state(rt, i, old);
    } else {
        saga_fold_free(&f);
    }
    pthread_mutex_unlock(&rt->mu);
    return rc == 0 ? 0 : -1;
}

static int transient(int rc)
{
    return rc == MN_ENOSPC || rc == MN_EIO || rc == MN_EREADONLY || rc == MN_ECLOSED ||
           rc == MN_ENOMEM;
}

/* Takes an instance that never started out of the id table (it stays on
 * the list, freed at close: the caller may still hold it). */
static void forget(saga_rt *rt, inst *i)
{
    pthread_mutex_lock(&rt->mu);
    inst **pp = &rt->tab[hash_id(i->id, i->id_len) & (rt->tabcap - 1)];
    while (*pp && *pp != i)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = i->hnext;
    rt->counts.by_state[i->f.state]--;
    i->dead = i->gone = 1;
    pthread_mutex_unlock(&rt->mu);
}

static void on_done(saga_rt *rt, inst *i, uint64_t now)
{
    char msg[SAGA_ERR_MAX];
    i->busy = 0;
    rt->inflight--;
    int was_start = i->pstart;
    i->pstart = 0;
    int had_pre = i->has_pre;
    i->has_pre = 0;
    if (i->crc == MN_OK) {
        pthread_mutex_lock(&rt->mu);
        int old = i->f.state;
        if (had_pre)
            saga_fold_apply(&i->f, i->pre_type, strlen(i->pre_type), i->pre_data.data,
                            i->pre_data.len, i->pre_id, i->cpos, now);
        saga_fold_apply(&i->f, i->ptype, strlen(i->ptype), i->pdata.data, i->pdata.len, i->pid,
                        i->cpos, now);
        set_fold_state(rt, i, old);
        pthread_mutex_unlock(&rt->mu);
        if (!strcmp(i->ptype, "SagaAborted"))
            i->abort_req = 0;
        answer(i, 0, 1, NULL);
        release_finished(i);
    } else if (i->crc == MN_EWRONGVERSION) {
        /* SagaStarted of an id the store has (our table missed it), or
         * someone else wrote to the saga stream: the stream is the truth */
        if (reload(rt, i) < 0) {
            /* its stream was deleted under it: writing again would fail forever */
            answer(i, -1, 0, "ERR the saga's stream was deleted");
            set_dead(rt, i, "its state stream was deleted");
            return;
        }
        answer(i, 0, 0, NULL);
    } else if (transient(i->crc)) {
        logf_(rt, 1, "saga %s '%s': %s (%s); retrying in %d ms", i->s->name, i->id,
              mn_strerror(i->crc), i->cerr, RETRY_MS);
        i->retry_at = now + RETRY_MS;
        if (was_start) {
            /* the instance stays and its SagaStarted (same data, same id) is
             * retried; a waiting SAGA.START is told so */
            snprintf(msg, sizeof msg, "ERR %s: %s (the saga starts when the store accepts "
                                      "writes again)", mn_strerror(i->crc), i->cerr);
            answer(i, -1, 0, msg);
            i->start_retry = 1;
        }
        return;
    } else if (i->pcmd && had_pre) {
        /* the next command cannot go out: record the success alone; the
         * next step then fails on its own when advance sends it */
        swap_pre(i);
        submit(rt, i, NULL, NULL, NULL, NULL, NULL);
        return;
    } else if (i->pcmd) {
        /* the command cannot be delivered (deleted stream, too big...) */
        char reason[400];
        snprintf(reason, sizeof reason, "cannot send to '%s': %s (%s)",
                 !strcmp(i->ptype, "StepSent") ? i->s->d->steps[i->f.step].send.stream
                                               : "its stream",
                 mn_strerror(i->crc), i->cerr);
        if (!strcmp(i->ptype, "StepSent")) {
            t_step_failed(rt, i, reason, NULL);
        } else {
            int64_t k = i->f.comp_next;
            saga_json_int(i->pdata.data, i->pdata.len, "step", &k);
            buf *b = begin(i, "CompensationFailed");
            buf_printf(b, ",\"step\":%d", (int)k);
            put_str(b, "name", i->s->d->steps[k].name);
            put_str(b, "reason", reason);
            t_plain(rt, i);
        }
        return;
    } else {
        snprintf(msg, sizeof msg, "ERR %s: %s", mn_strerror(i->crc), i->cerr);
        answer(i, -1, 0, msg);
        if (was_start)
            forget(rt, i); /* nothing of it was written: the id is free again */
        else
            set_dead(rt, i, msg);
        return;
    }
    if (!i->busy && (i->f.phase == SAGA_PH_AWAIT || i->f.phase == SAGA_PH_RETRY))
        scan_replies(rt, i);
    advance(rt, i, now);
}

/* ---- definitions ---- */

/* Defines name as src (runtime thread, or the opening thread before it
 * exists): checked, then durable in saga-definitions, then in force.
 * 1 defined/changed, 0 unchanged, -1 (err). */
static int define(saga_rt *rt, const char *name, size_t nlen, const char *src, size_t slen,
                  char *err, size_t cap)
{
    saga_def *d = NULL;
    if (sdef_load(name, nlen, src, slen, &d, err, cap) < 0)
        return -1;
    slot *s = find_slot(rt, name, nlen);
    if (s && s->d->src_len == slen && !memcmp(s->d->src, src, slen)) {
        sdef_free(d);
        return 0;
    }
    buf meta;
    buf_init(&meta);
    buf_append_str(&meta, "{\"saga\":");
    json_append_string(&meta, d->name, strlen(d->name));
    buf_append_byte(&meta, '}');
    mn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = "SagaDefined";
    ev.type_len = 11;
    ev.data = src;
    ev.data_len = slen;
    ev.meta = meta.data;
    ev.meta_len = meta.len;
    uint64_t pos = 0;
    int rc = meta.oom ? MN_ENOMEM
                      : mn_append_one(rt->store, SAGA_DEFS_STREAM, strlen(SAGA_DEFS_STREAM),
                                      MN_EXPECT_ANY, &ev, 1, NULL, &pos);
    buf_free(&meta);
    if (rc != MN_OK) {
        snprintf(err, cap, "ERR cannot store the definition: %s (%s)", mn_strerror(rc),
                 mn_errmsg());
        sdef_free(d);
        return -1;
    }
    if (add_def_cursors(rt, d, store_end(rt)) < 0) {
        snprintf(err, cap, "ERR out of memory");
        sdef_free(d);
        return -1;
    }
    pthread_mutex_lock(&rt->mu);
    if (s) {
        /* running instances go on with the new steps (docs: Sagas) */
        sdef_free(s->d);
        s->d = d;
    } else if ((s = calloc(1, sizeof(*s)))) {
        memcpy(s->name, d->name, sizeof s->name);
        s->d = d;
        s->trig_pos = pos; /* a new saga reacts to events from now on */
        s->trig_version = -1;
        s->next = rt->slots;
        rt->slots = s;
        rt->counts.defined++;
    }
    pthread_mutex_unlock(&rt->mu);
    if (!s) {
        snprintf(err, cap, "ERR out of memory");
        sdef_free(d);
        return -1;
    }
    return 1;
}

/* ---- requests ---- */

static void handle_request(saga_rt *rt, request *q, uint64_t now)
{
    char err[SAGA_ERR_MAX];
    if (q->kind == 'D') {
        int rc = define(rt, q->name, q->name_len, q->body, q->body_len, err, sizeof err);
        q->done(q->ud, rc < 0 ? -1 : 0, rc, rc < 0 ? err : NULL);
        return;
    }
    if (q->kind == 'S') {
        slot *s = find_slot(rt, q->name, q->name_len);
        if (!s) {
            snprintf(err, sizeof err, "NOSAGA no saga named '%.*s' is defined", (int)q->name_len,
                     q->name);
            q->done(q->ud, -1, 0, err);
            return;
        }
        if (!valid_id(s->name, q->id, q->id_len, err, sizeof err)) {
            q->done(q->ud, -1, 0, err);
            return;
        }
        if (find_inst(rt, s, q->id, q->id_len)) {
            q->done(q->ud, 0, 0, NULL);
            return;
        }
        buf data;
        buf_init(&data);
        buf_append(&data, q->body, q->body_len);
        inst *i = data.oom ? NULL : start_instance(rt, s, q->id, q->id_len, &data, 0, NULL);
        buf_free(&data);
        if (!i) {
            q->done(q->ud, -1, 0, "ERR out of memory");
            return;
        }
        if (!i->busy) { /* refused at once: on_done answers when it runs */
        }
        i->done = q->done;
        i->done_ud = q->ud;
        return;
    }
    /* 'A'bort */
    inst *found = NULL;
    int n = 0;
    slot *only = q->name ? find_slot(rt, q->name, q->name_len) : NULL;
    if (q->name && !only) {
        snprintf(err, sizeof err, "NOSAGA no saga named '%.*s' is defined", (int)q->name_len,
                 q->name);
        q->done(q->ud, -1, 0, err);
        return;
    }
    for (inst *i = rt->tabcap ? rt->tab[hash_id(q->id, q->id_len) & (rt->tabcap - 1)] : NULL; i;
         i = i->hnext)
        if (i->id_len == q->id_len && !memcmp(i->id, q->id, q->id_len) && (!only || i->s == only)) {
            found = i;
            n++;
        }
    if (!found) {
        snprintf(err, sizeof err, "NOSAGA no saga with id '%.*s'", (int)q->id_len, q->id);
        q->done(q->ud, -1, 0, err);
    } else if (n > 1) {
        snprintf(err, sizeof err, "ERR %d sagas have the id '%.*s': say which with NAME <saga>", n,
                 (int)q->id_len, q->id);
        q->done(q->ud, -1, 0, err);
    } else if (found->f.state != SAGA_RUNNING || found->abort_req || found->dead) {
        snprintf(err, sizeof err, "NOTRUNNING saga %s '%.*s' is %s; only a running saga can be "
                                  "aborted", found->s->name, (int)q->id_len, q->id,
                 found->dead ? "stuck" : found->abort_req ? "being aborted"
                                                          : saga_state_name(found->f.state));
        q->done(q->ud, -1, 0, err);
    } else if (found->done) {
        q->done(q->ud, -1, 0, "ERR the saga is still starting; try again");
    } else {
        found->abort_req = 1;
        found->done = q->done;
        found->done_ud = q->ud;
        advance(rt, found, now);
    }
}

static void free_request(request *q)
{
    free(q->name);
    free(q->id);
    free(q->body);
    free(q);
}

static char *memdup0(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static int enqueue(saga_rt *rt, int kind, const char *name, size_t nl, const char *id, size_t il,
                   const char *body, size_t bl, saga_done_fn done, void *ud)
{
    request *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    q->kind = kind;
    q->done = done;
    q->ud = ud;
    if ((name && !(q->name = memdup0(name, nl))) || (id && !(q->id = memdup0(id, il))) ||
        (body && !(q->body = memdup0(body, bl)))) {
        free_request(q);
        return -1;
    }
    q->name_len = nl;
    q->id_len = il;
    q->body_len = bl;
    pthread_mutex_lock(&rt->mu);
    if (rt->rq_tail)
        rt->rq_tail->next = q;
    else
        rt->rq_head = q;
    rt->rq_tail = q;
    pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    return 0;
}

int saga_request_define(saga_rt *rt, const char *name, size_t name_len, const char *src,
                        size_t src_len, saga_done_fn done, void *ud)
{
    return enqueue(rt, 'D', name, name_len, NULL, 0, src, src_len, done, ud);
}

int saga_request_start(saga_rt *rt, const char *name, size_t name_len, const char *id,
                       size_t id_len, const char *json, size_t json_len, saga_done_fn done,
                       void *ud)
{
    return enqueue(rt, 'S', name, name_len, id, id_len, json, json_len, done, ud);
}

int saga_request_abort(saga_rt *rt, const char *id, size_t id_len, const char *name,
                       size_t name_len, saga_done_fn done, void *ud)
{
    return enqueue(rt, 'A', name, name_len, id, id_len, NULL, 0, done, ud);
}

/* ---- the threads ---- */

/* Turns store advances into wake-ups of the runtime thread, which also has
 * requests and completions to wait for (mn_wait knows only the store). */
static void *waiter_main(void *arg)
{
    saga_rt *rt = arg;
    uint64_t after = store_end(rt);
    for (;;) {
        pthread_mutex_lock(&rt->mu);
        int stop = rt->stop;
        pthread_mutex_unlock(&rt->mu);
        if (stop)
            break;
        int rc = mn_wait(rt->store, after, 200);
        if (rc == MN_ECLOSED)
            break;
        if (rc == MN_OK) {
            after = store_end(rt);
            pthread_mutex_lock(&rt->mu);
            rt->wake = 1;
            pthread_cond_signal(&rt->cv);
            pthread_mutex_unlock(&rt->mu);
        }
    }
    return NULL;
}

/* When instance i next needs the clock (0: it does not). */
static uint64_t due_at(const inst *i)
{
    if (i->busy || i->dead || i->f.phase == SAGA_PH_DONE)
        return 0;
    if (i->retry_at)
        return i->retry_at;
    if (i->f.phase == SAGA_PH_AWAIT || i->f.phase == SAGA_PH_RETRY)
        return i->f.deadline_ms;
    return 0;
}

/* Why a due time and not a scan per pass: with thousands of instances the
 * scan would cost more than the work; it runs only when something is due
 * (and once a minute, in case). */
static void note_due(saga_rt *rt, const inst *i)
{
    uint64_t at = due_at(i);
    if (at && at < rt->next_due)
        rt->next_due = at;
}

static void run_timers(saga_rt *rt, uint64_t now)
{
    if (now < rt->next_due)
        return;
    rt->next_due = now + 60 * 1000;
    for (inst *i = rt->all_head; i; i = i->lnext) {
        if (i->busy || i->dead || i->f.phase == SAGA_PH_DONE)
            continue;
        uint64_t at = i->retry_at;
        if (!at && (i->f.phase == SAGA_PH_AWAIT || i->f.phase == SAGA_PH_RETRY))
            at = i->f.deadline_ms;
        if (!at)
            continue;
        if (at <= now)
            advance(rt, i, now);
        note_due(rt, i);
    }
}

static void *runtime_main(void *arg)
{
    saga_rt *rt = arg;
    uint64_t now = clock_wall_ms(), next = now;
    rt->next_due = now; /* a first scan: timers of the resumed instances */
    /* resume: replies that came while we were down, then what is due */
    for (inst *i = rt->all_head; i; i = i->lnext)
        if (i->f.state == SAGA_RUNNING &&
            (i->f.phase == SAGA_PH_AWAIT || i->f.phase == SAGA_PH_RETRY))
            scan_replies(rt, i);
    int poll = 1;
    pthread_mutex_lock(&rt->mu);
    for (;;) {
        if (rt->stop && !rt->inflight)
            break;
        if (!rt->wake && !poll && !rt->rq_head && !rt->done_head && clock_wall_ms() < next) {
            uint64_t wait = next - clock_wall_ms();
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            if (wait > IDLE_MS)
                wait = IDLE_MS;
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&rt->cv, &rt->mu, &ts);
            continue;
        }
        request *rq = rt->stop ? NULL : rt->rq_head;
        if (rq)
            rt->rq_head = rt->rq_tail = NULL;
        inst *dn = rt->done_head;
        rt->done_head = rt->done_tail = NULL;
        poll |= rt->wake;
        rt->wake = 0;
        int stopping = rt->stop;
        pthread_mutex_unlock(&rt->mu);

        now = clock_wall_ms();
        while (dn) {
            inst *x = dn;
            dn = dn->cnext;
            if (stopping) {
                x->busy = 0;
                rt->inflight--;
                answer(x, -1, 0, "ERR the server is shutting down");
            } else {
                on_done(rt, x, now);
                note_due(rt, x);
            }
        }
        while (rq) {
            request *q = rq;
            rq = rq->next;
            handle_request(rt, q, now);
            free_request(q);
        }
        if (!stopping) {
            if (poll) {
                for (slot *s = rt->slots; s; s = s->next)
                    poll_trigger(rt, s);
                poll_replies(rt);
                poll = 0;
            }
            now = clock_wall_ms();
            run_timers(rt, now);
            next = rt->next_due < now + IDLE_MS ? rt->next_due : now + IDLE_MS;
        } else {
            next = clock_wall_ms() + 50;
        }
        pthread_mutex_lock(&rt->mu);
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

/* ---- opening: definitions, instances, the DIR ---- */

typedef struct def_rec {
    char name[SAGA_MAX_NAME + 1];
    buf src;                /* latest source */
    uint64_t first_pos;     /* first SagaDefined */
    struct def_rec *next;
} def_rec;

static int load_definitions(saga_rt *rt, char *err, size_t cap)
{
    def_rec *recs = NULL;
    mn_iter *it = NULL;
    mn_event_view e;
    int rc = mn_read_stream(rt->store, SAGA_DEFS_STREAM, strlen(SAGA_DEFS_STREAM), 0, 0, 0, &it);
    if (rc == MN_ENOTFOUND)
        return 0;
    if (rc != MN_OK) {
        snprintf(err, cap, "cannot read %s: %s", SAGA_DEFS_STREAM, mn_strerror(rc));
        return -1;
    }
    while (mn_iter_next(it, &e) == 1) {
        const char *nm;
        size_t nl;
        if (!e.meta || !json_get_string(e.meta, e.meta_len, "saga", &nm, &nl) ||
            !sdef_valid_name(nm, nl))
            continue;
        def_rec *r = recs;
        while (r && !(strlen(r->name) == nl && !memcmp(r->name, nm, nl)))
            r = r->next;
        if (!r) {
            if (!(r = calloc(1, sizeof(*r))))
                break;
            memcpy(r->name, nm, nl);
            buf_init(&r->src);
            r->first_pos = e.position;
            r->next = recs;
            recs = r;
        }
        buf_reset(&r->src);
        buf_append(&r->src, e.data, e.data_len);
    }
    mn_iter_free(it);
    uint64_t end = store_end(rt);
    while (recs) {
        def_rec *r = recs;
        recs = r->next;
        saga_def *d = NULL;
        char msg[SAGA_ERR_MAX];
        slot *s = NULL;
        if (sdef_load(r->name, strlen(r->name), r->src.data ? r->src.data : "", r->src.len, &d,
                      msg, sizeof msg) < 0) {
            logf_(rt, 1, "saga %s: its stored definition does not load (%s); it is not run",
                  r->name, msg);
        } else if (!(s = calloc(1, sizeof(*s))) || add_def_cursors(rt, d, end) < 0) {
            free(s);
            sdef_free(d);
        } else {
            memcpy(s->name, r->name, sizeof s->name);
            s->d = d;
            s->trig_pos = r->first_pos;
            s->trig_version = -1;
            s->next = rt->slots;
            rt->slots = s;
            rt->counts.defined++;
        }
        buf_free(&r->src);
        free(r);
    }
    return 0;
}

typedef struct list_ctx {
    saga_rt *rt;
    slot *s;
    char prefix[SAGA_MAX_NAME + 8];
    size_t plen;
    int err;
} list_ctx;

static int recover_one(void *ud, const char *name, size_t len)
{
    list_ctx *x = ud;
    if (len < x->plen || memcmp(name, x->prefix, x->plen))
        return 1; /* past the prefix: done */
    const char *id = name + x->plen;
    size_t il = len - x->plen;
    inst *i = new_inst(x->rt, x->s, id, il);
    if (!i) {
        x->err = 1;
        return 1;
    }
    if (saga_fold_stream(x->rt->store, x->s->name, i->id, il, &i->f) != 0) {
        free_inst(i);
        return 0;
    }
    if (add_inst(x->rt, i) < 0) {
        free_inst(i);
        x->err = 1;
        return 1;
    }
    if (i->f.trigger_position > x->s->trig_pos)
        x->s->trig_pos = i->f.trigger_position;
    release_finished(i);
    return 0;
}

static int recover_instances(saga_rt *rt, char *err, size_t cap)
{
    for (slot *s = rt->slots; s; s = s->next) {
        list_ctx x = {.rt = rt, .s = s};
        x.plen = (size_t)snprintf(x.prefix, sizeof x.prefix, "saga-%s-", s->name);
        mn_list_streams(rt->store, x.prefix, x.plen, recover_one, &x);
        if (x.err) {
            snprintf(err, cap, "out of memory recovering saga %s", s->name);
            return -1;
        }
    }
    return 0;
}

static int read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;
    if (!f)
        return -1;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    int bad = ferror(f) || out->oom;
    fclose(f);
    return bad ? -1 : 0;
}

/* --sagas DIR: every DIR/<name>.lua, in name order; the first bad one
 * stops the start (as a bad config file does). */
static int define_dir(saga_rt *rt, const char *dir, char *err, size_t cap)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort), rc = 0;
    if (n < 0) {
        snprintf(err, cap, "cannot read the sagas directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const char *fn = ents[k]->d_name;
        size_t fl = strlen(fn);
        if (rc == 0 && fl > 4 && !strcmp(fn + fl - 4, ".lua")) {
            char path[4096], msg[SAGA_ERR_MAX];
            buf src;
            buf_init(&src);
            snprintf(path, sizeof path, "%s/%s", dir, fn);
            if (read_file(path, &src) < 0) {
                snprintf(err, cap, "cannot read %s: %s", path, strerror(errno));
                rc = -1;
            } else {
                int r = define(rt, fn, fl - 4, src.data ? src.data : "", src.len, msg, sizeof msg);
                if (r < 0) {
                    snprintf(err, cap, "%s: %s", path, msg);
                    rc = -1;
                } else {
                    logf_(rt, 0, "saga %.*s %s from %s", (int)(fl - 4), fn,
                          r ? "defined" : "unchanged", path);
                }
            }
            buf_free(&src);
        }
        free(ents[k]);
    }
    free(ents);
    return rc;
}

int saga_rt_open(mn_store *store, const char *defs_dir, void (*log_fn)(int warn, const char *msg),
                 saga_rt **out, char *err, size_t errcap)
{
    saga_rt *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    rt->store = store;
    rt->log = log_fn;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    buf_init(&rt->scratch);
    buf_init(&rt->scratch2);
    buf_init(&rt->scratch3);
    if (load_definitions(rt, err, errcap) < 0 || recover_instances(rt, err, errcap) < 0)
        goto fail;
    if (defs_dir && *defs_dir && define_dir(rt, defs_dir, err, errcap) < 0)
        goto fail;
    if (pthread_create(&rt->waiter, NULL, waiter_main, rt) != 0) {
        snprintf(err, errcap, "cannot start the saga thread");
        goto fail;
    }
    if (pthread_create(&rt->th, NULL, runtime_main, rt) != 0) {
        pthread_mutex_lock(&rt->mu);
        rt->stop = 1;
        pthread_mutex_unlock(&rt->mu);
        pthread_join(rt->waiter, NULL);
        snprintf(err, errcap, "cannot start the saga thread");
        goto fail;
    }
    rt->started = 1;
    uint64_t running = rt->counts.by_state[SAGA_RUNNING] + rt->counts.by_state[SAGA_COMPENSATING];
    logf_(rt, 0, "sagas: %llu defined, %llu instances, %llu to resume",
          (unsigned long long)rt->counts.defined, (unsigned long long)rt->ninst,
          (unsigned long long)running);
    *out = rt;
    return 0;
fail:
    saga_rt_close(rt);
    return -1;
}

void saga_rt_close(saga_rt *rt)
{
    if (!rt)
        return;
    if (rt->started) {
        pthread_mutex_lock(&rt->mu);
        rt->stop = 1;
        pthread_cond_broadcast(&rt->cv);
        pthread_mutex_unlock(&rt->mu);
        pthread_join(rt->th, NULL);
        pthread_join(rt->waiter, NULL);
    }
    while (rt->rq_head) {
        request *q = rt->rq_head;
        rt->rq_head = q->next;
        q->done(q->ud, -1, 0, "ERR the server is shutting down");
        free_request(q);
    }
    while (rt->all_head) {
        inst *i = rt->all_head;
        rt->all_head = i->lnext;
        free_inst(i);
    }
    while (rt->slots) {
        slot *s = rt->slots;
        rt->slots = s->next;
        sdef_free(s->d);
        free(s);
    }
    while (rt->rcurs) {
        rcursor *c = rt->rcurs;
        rt->rcurs = c->next;
        free(c->type);
        free(c);
    }
    free(rt->tab);
    buf_free(&rt->scratch);
    buf_free(&rt->scratch2);
    buf_free(&rt->scratch3);
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

/* ---- reads from other threads ---- */

int saga_find(saga_rt *rt, const char *id, size_t id_len, char (*names)[SAGA_MAX_NAME + 1],
              int cap)
{
    int n = 0;
    pthread_mutex_lock(&rt->mu);
    for (inst *i = rt->tabcap ? rt->tab[hash_id(id, id_len) & (rt->tabcap - 1)] : NULL; i;
         i = i->hnext)
        if (i->id_len == id_len && !memcmp(i->id, id, id_len) && i->f.version != MN_NO_VERSION) {
            if (n < cap)
                memcpy(names[n], i->s->name, SAGA_MAX_NAME + 1);
            n++;
        }
    pthread_mutex_unlock(&rt->mu);
    return n;
}

void saga_list(saga_rt *rt, int state, int (*fn)(void *ud, const saga_summary *s), void *ud)
{
    pthread_mutex_lock(&rt->mu);
    for (inst *i = rt->all_head; i; i = i->lnext) {
        if (i->f.version == MN_NO_VERSION || (state >= 0 && i->f.state != state))
            continue;
        saga_summary s = {.name = i->s->name, .id = i->id, .id_len = i->id_len,
                          .state = i->f.state, .step = i->f.step_name};
        if (fn(ud, &s))
            break;
    }
    pthread_mutex_unlock(&rt->mu);
}

void saga_get_counts(saga_rt *rt, saga_counts *out)
{
    pthread_mutex_lock(&rt->mu);
    *out = rt->counts;
    pthread_mutex_unlock(&rt->mu);
}
