/*
 * queue.c — work-queue policies of consumer groups: visibility timeout,
 * maximum deliveries and the dead-letter stream (QUEUE.POLICY), and the
 * replay of dead letters (QUEUE.REPLAY).
 *
 * Invariants:
 *   1. A policy is group state like any other: set by a log record
 *      (REC_QUEUE_POLICY), applied to the index (meta, key "qpol" ‖ be64
 *      group_id), dropped with its group. A group destroyed and created again
 *      is a new group (new id) without a policy, as in Redis.
 *   2. Redelivery happens inside the group's DELIVER (XREADGROUP '>'): the
 *      due entries, the dead letters and the new entries are one atomic group
 *      of records — CLAIM (redelivered), PEL_REMOVE (dead-lettered, gone),
 *      EVENT (one per dead letter, in the dead-letter stream), DELIVER — so a
 *      dead letter is never both in the PEL and in the dead-letter stream,
 *      nor in neither, whatever crashes when.
 *   3. Every effect (which entries, at what time, with what count, the dead
 *      letter's entry id and fields) is decided while staging and written into
 *      the records; apply only replays them (DESIGN §2).
 *   4. A replay is one atomic group too: the events appended to the source
 *      streams and the removal (REC_ENTRIES_DELETE) of the dead letters.
 *
 * Dead letters are built from the log records of the original entries; a
 * record is readable once visible, so an entry appended in the very batch
 * that would dead-letter it waits for the next delivery (it cannot be due
 * yet under any sane visibility anyway).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/event.h"
#include "engine/ops.h"
#include "engine/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/uuid.h"

const char *const mn_dlq_fields[MN_DLQ_NFIELDS] = {
    "dlq-source", "dlq-id", "dlq-group", "dlq-deliveries", "dlq-consumer", "dlq-reason",
};

#define DLQ_REASON_MAXDELIVER "maxdeliver"
#define MAX_GROUP_NAME 400u /* as group.c */

/* ---- policy storage ---- */

/* The value under "qpol" ‖ be64 group_id in meta, followed by the name. */
typedef struct qpol_value {
    uint64_t visibility_ms;
    uint64_t maxdeliver;
    uint32_t deadletter_len;
    uint32_t zero;
} qpol_value;

static void qpol_key(uint8_t k[12], uint64_t group_id)
{
    memcpy(k, "qpol", 4);
    be64_put(k + 4, group_id);
}

/* Loads group_id's policy into *p (all zero if none). */
static int policy_load(mn_store *s, MDB_txn *txn, uint64_t group_id, mn_queue_policy *p)
{
    uint8_t k[12];
    qpol_value v;
    qpol_key(k, group_id);
    MDB_val kv = {sizeof k, k}, dv;
    memset(p, 0, sizeof *p);
    int rc = mdb_get(txn, s->ix.meta, &kv, &dv);
    if (rc == MDB_NOTFOUND) return MN_OK;
    if (rc) return index_error(rc, "queue policy lookup");
    if (dv.mv_size < sizeof v) return error_set(MN_ECORRUPT, "index: bad queue policy size");
    memcpy(&v, dv.mv_data, sizeof v);
    if (v.deadletter_len > MN_MAX_STREAM_NAME || dv.mv_size != sizeof v + v.deadletter_len)
        return error_set(MN_ECORRUPT, "index: bad queue policy");
    p->visibility_ms = v.visibility_ms;
    p->maxdeliver = v.maxdeliver;
    p->deadletter_len = v.deadletter_len;
    memcpy(p->deadletter, (const uint8_t *)dv.mv_data + sizeof v, v.deadletter_len);
    return MN_OK;
}

int queue_drop(mn_store *s, MDB_txn *txn, uint64_t group_id)
{
    uint8_t k[12];
    qpol_key(k, group_id);
    MDB_val kv = {sizeof k, k};
    int rc = mdb_del(txn, s->ix.meta, &kv, NULL);
    return rc && rc != MDB_NOTFOUND ? index_error(rc, "queue policy del") : MN_OK;
}

int queue_apply(mn_store *s, MDB_txn *txn, const log_rec *r)
{
    op_decoded o;
    group_state g;
    const char *why = op_decode(r->hdr->kind, r->payload, r->payload_len, &o);
    if (!why && (o.group_len > MAX_GROUP_NAME || o.consumer_len > MN_MAX_STREAM_NAME))
        why = "name too long";
    if (why)
        return error_set(MN_ECORRUPT, "queue policy record at %llu is inconsistent: %s",
                         (unsigned long long)r->pos, why);
    int rc = group_get(s, txn, o.stream_id, o.group, o.group_len, &g);
    if (rc == MN_ENOGROUP) return MN_OK; /* destroyed since */
    if (rc != MN_OK) return rc;
    if (o.a == 0 && o.b == 0 && o.consumer_len == 0) return queue_drop(s, txn, g.group_id);
    uint8_t k[12], v[sizeof(qpol_value) + MN_MAX_STREAM_NAME];
    qpol_value qv = {o.a, o.b, o.consumer_len, 0};
    qpol_key(k, g.group_id);
    memcpy(v, &qv, sizeof qv);
    memcpy(v + sizeof qv, o.consumer, o.consumer_len);
    MDB_val kv = {sizeof k, k}, dv = {sizeof qv + o.consumer_len, v};
    rc = mdb_put(txn, s->ix.meta, &kv, &dv, 0);
    return rc ? index_error(rc, "queue policy put") : MN_OK;
}

/* ---- one atomic group of mixed records ---- */

/* Records of one request, staged together (TXN_END on the last). */
typedef struct rec_list {
    struct rec_item {
        uint8_t kind;         /* REC_EVENT or an op record kind */
        ev_decoded ev;        /* REC_EVENT */
        op_decoded op;        /* the others */
    } *v;
    size_t n, cap;
    void **bufs;              /* memory the records point into (dead-letter data...) */
    size_t nbufs, bufs_cap;
} rec_list;

static struct rec_item *rl_add(rec_list *l, uint8_t kind)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct rec_item *v = realloc(l->v, cap * sizeof *v);
        if (!v) return NULL;
        l->v = v;
        l->cap = cap;
    }
    struct rec_item *it = &l->v[l->n++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    return it;
}

/* Allocates n bytes that live as long as the list. */
static void *rl_alloc(rec_list *l, size_t n)
{
    if (l->nbufs == l->bufs_cap) {
        size_t cap = l->bufs_cap ? l->bufs_cap * 2 : 8;
        void **b = realloc(l->bufs, cap * sizeof *b);
        if (!b) return NULL;
        l->bufs = b;
        l->bufs_cap = cap;
    }
    void *p = malloc(n ? n : 1);
    if (p) l->bufs[l->nbufs++] = p;
    return p;
}

static void rl_free(rec_list *l)
{
    for (size_t i = 0; i < l->nbufs; i++) free(l->bufs[i]);
    free(l->bufs);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static uint64_t item_payload(const struct rec_item *it)
{
    if (it->kind != REC_EVENT) return op_payload_size(&it->op);
    return ev_payload_size(it->ev.stream_len, it->ev.type_len, it->ev.meta_len, it->ev.data_len);
}

/* Encodes, seals and applies the list as one atomic group. */
static int rl_stage(mn_store *s, MDB_txn *txn, request *r, const rec_list *l)
{
    uint64_t bytes = 0, pos;
    if (l->n == 0) return MN_OK;
    for (size_t i = 0; i < l->n; i++) bytes += rec_space(item_payload(&l->v[i]));
    log_rec *recs = malloc(l->n * sizeof *recs);
    if (!recs) return error_set(MN_ENOMEM, "out of memory");
    uint8_t *out = log_batch_reserve(s->log, bytes, &pos);
    if (!out) {
        free(recs);
        return error_set(MN_ENOMEM, "out of memory staging %llu bytes", (unsigned long long)bytes);
    }
    r->staged = 1;
    for (size_t i = 0; i < l->n; i++) {
        const struct rec_item *it = &l->v[i];
        uint64_t plen = item_payload(it);
        if (it->kind == REC_EVENT) ev_encode(out + REC_HDR_SIZE, &it->ev);
        else op_encode(out + REC_HDR_SIZE, &it->op);
        rec_seal(out, pos, it->kind, i == l->n - 1 ? REC_TXN_END : 0, (uint32_t)plen);
        recs[i].hdr = (const rec_hdr *)out;
        recs[i].payload = out + REC_HDR_SIZE;
        recs[i].payload_len = (uint32_t)plen;
        recs[i].pos = pos;
        out += rec_space(plen);
        pos += rec_space(plen);
    }
    int rc = apply_group(s, txn, recs, l->n);
    free(recs);
    return rc;
}

/* ---- appending to a stream from inside a staging ---- */

/* A stream the request appends to: its state as the request leaves it. */
typedef struct target {
    const char *name;
    size_t len;
    stream_state st;          /* stream_id assigned for a new stream */
    int usable;               /* 0: tombstoned, nothing may be appended */
} target;

/* Loads a target's state; a missing (or soft-deleted) stream gets the next
 * stream id, as an append would give it. *next_new counts ids handed out. */
static int target_load(mn_store *s, MDB_txn *txn, const char *name, size_t len, uint64_t *next_new,
                       target *t)
{
    t->name = name;
    t->len = len;
    int rc = stream_get(s, txn, name, len, &t->st);
    if (rc == MN_ENOTFOUND) {
        memset(&t->st, 0, sizeof t->st);
        t->st.version = MN_NO_VERSION;
        t->st.stream_id = s->next_stream_id + (*next_new)++;
        t->usable = 1;
        return MN_OK;
    }
    if (rc != MN_OK) return rc;
    t->usable = !(t->st.flags & STREAM_TOMBSTONE);
    return MN_OK;
}

/* Adds an event to t with the next auto entry id (never below the top, as
 * XADD '*'), a fresh event id, and type/meta/fields as given. */
static int target_append(rec_list *l, target *t, uint64_t now_us, const char *type, size_t type_len,
                         const void *meta, size_t meta_len, const void *data, size_t data_len)
{
    struct rec_item *it = rl_add(l, REC_EVENT);
    if (!it) return error_set(MN_ENOMEM, "out of memory");
    mn_entry_id id, top = {t->st.last_ms, t->st.last_seq};
    int rc = append_auto_id(top, now_us / 1000, &id);
    if (rc != MN_OK) {
        l->n--;
        return rc;
    }
    ev_decoded *e = &it->ev;
    e->stream_id = t->st.stream_id;
    e->version = ++t->st.version;
    e->timestamp_us = now_us;
    e->entry_id = id;
    e->flags = EV_FIELDS;
    uuid_v7(e->id);
    e->stream = t->name;
    e->stream_len = (uint32_t)t->len;
    e->type = type;
    e->type_len = (uint32_t)type_len;
    e->meta = meta;
    e->meta_len = (uint32_t)meta_len;
    e->data = data;
    e->data_len = (uint32_t)data_len;
    t->st.last_ms = id.ms;
    t->st.last_seq = id.seq;
    return MN_OK;
}

/* ---- QUEUE.POLICY ---- */

static int stage_policy(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    mn_queue_policy p;
    int rc = stream_get(s, txn, op->stream, op->stream_len, &st);
    if (rc == MN_OK && (st.flags & STREAM_TOMBSTONE)) rc = MN_ENOTFOUND;
    if (rc == MN_OK) rc = group_get(s, txn, st.stream_id, op->group, op->group_len, &g);
    if (rc == MN_ENOTFOUND || rc == MN_ENOGROUP)
        return error_set(MN_ENOGROUP, "No such key '%.*s' or consumer group '%.*s'",
                         (int)op->stream_len, op->stream, (int)op->group_len, op->group);
    if (rc != MN_OK) return rc;
    if ((rc = policy_load(s, txn, g.group_id, &p)) != MN_OK) return rc;
    mn_queue_policy old = p;
    if (op->visibility_ms >= 0) p.visibility_ms = (uint64_t)op->visibility_ms;
    if (op->maxdeliver >= 0) p.maxdeliver = (uint64_t)op->maxdeliver;
    if (op->deadletter_set) {
        if (op->deadletter_len > MN_MAX_STREAM_NAME)
            return error_set(MN_EINVAL, "dead-letter stream name must be 1..%u bytes",
                             MN_MAX_STREAM_NAME);
        if (op->deadletter_len && op->deadletter[0] == '$')
            return error_set(MN_EINVAL, "the dead-letter stream cannot be a virtual stream "
                             "(names starting with '$' are read-only)");
        if (op->deadletter_len == op->stream_len &&
            memcmp(op->deadletter, op->stream, op->stream_len) == 0)
            return error_set(MN_EINVAL, "the dead-letter stream must not be the group's own stream");
        p.deadletter_len = op->deadletter_len;
        if (op->deadletter_len) memcpy(p.deadletter, op->deadletter, op->deadletter_len);
    }
    /* As SQS's maxReceiveCount needs a dead-letter queue: an entry that has
     * used up its deliveries must go somewhere a human can look at it, never
     * silently away. */
    if (p.maxdeliver > 0 && p.deadletter_len == 0)
        return error_set(MN_EINVAL, "MAXDELIVER needs a DEADLETTER stream");
    if (p.deadletter_len) {
        stream_state dst;
        rc = stream_get(s, txn, p.deadletter, p.deadletter_len, &dst);
        if (rc == MN_OK && (dst.flags & STREAM_TOMBSTONE))
            return error_set(MN_EDELETED, "dead-letter stream '%.*s' is deleted",
                             (int)p.deadletter_len, p.deadletter);
        if (rc != MN_OK && rc != MN_ENOTFOUND) return rc;
    }
    if (old.visibility_ms == p.visibility_ms && old.maxdeliver == p.maxdeliver &&
        old.deadletter_len == p.deadletter_len &&
        memcmp(old.deadletter, p.deadletter, p.deadletter_len) == 0)
        return MN_OK; /* nothing changes: nothing to write */
    op_decoded o;
    uint8_t kind = REC_QUEUE_POLICY;
    op_base(&o, op, st.stream_id);
    o.group = op->group;
    o.group_len = (uint32_t)op->group_len;
    o.a = p.visibility_ms;
    o.b = p.maxdeliver;
    o.consumer = p.deadletter;
    o.consumer_len = (uint32_t)p.deadletter_len;
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

/* ---- redelivery and dead letters (inside a DELIVER) ---- */

struct queue_plan {
    rec_list recs;            /* CLAIM, PEL_REMOVE, dead-letter events */
    mn_entry_id *redelivered; /* ids delivered again, in PEL (id) order */
    size_t nredelivered;
    size_t ndead;             /* entries dead-lettered */
};

void queue_plan_free(queue_plan *qp)
{
    if (!qp) return;
    rl_free(&qp->recs);
    free(qp->redelivered);
    free(qp);
}

size_t queue_plan_redelivered(const queue_plan *qp) { return qp ? qp->nredelivered : 0; }

/* A PEL entry found due. */
typedef struct due_entry {
    mn_entry_id id;
    uint64_t deliveries;
    char consumer[MAX_GROUP_NAME];
    size_t consumer_len;
} due_entry;

/* The dead-letter data of the event at loc: the dlq-* fields, then the
 * original's fields (for an event that is not a field list, the fields the
 * X* commands show for it: id, type, data[, meta]). Adds the event to t.
 * *skipped = 1 when the original cannot be read yet (not visible). */
static int add_dead_letter(mn_store *s, rec_list *l, target *t, const mn_op *op, const due_entry *d,
                           const event_loc *loc, uint64_t now_us, int *skipped)
{
    segment *seg = NULL;
    log_rec rec;
    ev_decoded e;
    *skipped = 0;
    if (loc->pos >= atomic_load(&s->log->visible)) {
        *skipped = 1;
        return MN_OK;
    }
    int rc = log_read_at(s->log, loc->pos, &seg, &rec);
    if (rc != MN_OK) return rc;
    if (ev_decode(rec.payload, rec.payload_len, &e) != 0) {
        rc = error_set(MN_ECORRUPT, "event record at %llu is inconsistent",
                       (unsigned long long)loc->pos);
        goto done;
    }
    char idtxt[48], cnt[24], uuid[37];
    size_t idn = (size_t)snprintf(idtxt, sizeof idtxt, "%llu-%llu", (unsigned long long)d->id.ms,
                                  (unsigned long long)d->id.seq);
    size_t cntn = (size_t)snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)d->deliveries);
    long norig = (e.flags & EV_FIELDS) ? mn_fields_count(e.data, e.data_len)
                                       : (e.meta_len ? 4 : 3);
    if (norig < 0) {
        rc = error_set(MN_ECORRUPT, "entry %s has a damaged field list", idtxt);
        goto done;
    }
    size_t npairs = MN_DLQ_NFIELDS + (size_t)norig, k = 0;
    const void **ptrs = malloc(2 * npairs * sizeof *ptrs);
    size_t *lens = malloc(2 * npairs * sizeof *lens);
    if (!ptrs || !lens) {
        free(ptrs);
        free(lens);
        rc = error_set(MN_ENOMEM, "out of memory");
        goto done;
    }
    const void *vals[MN_DLQ_NFIELDS] = {op->stream, idtxt, op->group, cnt, d->consumer,
                                        DLQ_REASON_MAXDELIVER};
    size_t vlens[MN_DLQ_NFIELDS] = {op->stream_len, idn, op->group_len, cntn, d->consumer_len,
                                    sizeof DLQ_REASON_MAXDELIVER - 1};
    for (int i = 0; i < MN_DLQ_NFIELDS; i++) {
        ptrs[k] = mn_dlq_fields[i];
        lens[k++] = strlen(mn_dlq_fields[i]);
        ptrs[k] = vals[i];
        lens[k++] = vlens[i];
    }
    if (e.flags & EV_FIELDS) {
        size_t off = 0;
        const void *f, *v;
        size_t fl, vl;
        while (mn_fields_next(e.data, e.data_len, &off, &f, &fl, &v, &vl) == 1) {
            ptrs[k] = f;
            lens[k++] = fl;
            ptrs[k] = v;
            lens[k++] = vl;
        }
    } else {
        mn_uuid_format(e.id, uuid);
        const void *p4[8] = {"id", uuid, "type", e.type, "data", e.data, "meta", e.meta};
        size_t l4[8] = {2, 36, 4, e.type_len, 4, e.data_len, 4, e.meta_len};
        for (long i = 0; i < 2 * norig; i++) {
            ptrs[k] = p4[i];
            lens[k++] = l4[i];
        }
    }
    size_t dlen = mn_fields_size(npairs, lens);
    /* The dead letter, its type and meta live in one block: the log mapping
     * is released below. */
    uint8_t *blk = rl_alloc(l, dlen + e.type_len + e.meta_len);
    if (!blk) {
        rc = error_set(MN_ENOMEM, "out of memory");
    } else {
        mn_fields_encode(blk, npairs, ptrs, lens);
        memcpy(blk + dlen, e.type, e.type_len);
        if (e.meta_len) memcpy(blk + dlen + e.type_len, e.meta, e.meta_len);
        uint64_t size = ev_payload_size(t->len, e.type_len, e.meta_len, dlen) + REC_HDR_SIZE;
        if (size > s->log->opts.max_record) *skipped = 1; /* cannot be stored: stays pending */
        else
            rc = target_append(l, t, now_us, (const char *)blk + dlen, e.type_len,
                               e.meta_len ? blk + dlen + e.type_len : NULL, e.meta_len, blk, dlen);
    }
    free(ptrs);
    free(lens);
done:
    seg_unref(seg);
    return rc;
}

/* An op record for op's group. */
static struct rec_item *group_rec(rec_list *l, uint8_t kind, const mn_op *op, uint64_t stream_id,
                                  uint64_t now_ms)
{
    struct rec_item *it = rl_add(l, kind);
    if (!it) return NULL;
    op_base(&it->op, op, stream_id);
    it->op.time_ms = now_ms;
    it->op.group = op->group;
    it->op.group_len = (uint32_t)op->group_len;
    return it;
}

/* A group record whose items are a copy of items[n] (item_size bytes each). */
static int group_items_rec(rec_list *l, uint8_t kind, const mn_op *op, uint64_t stream_id,
                           uint64_t now_ms, const void *items, size_t n, size_t item_size)
{
    struct rec_item *it = group_rec(l, kind, op, stream_id, now_ms);
    void *copy = it ? rl_alloc(l, n * item_size) : NULL;
    if (!copy) return error_set(MN_ENOMEM, "out of memory");
    memcpy(copy, items, n * item_size);
    it->op.items = copy;
    it->op.n_items = (uint32_t)n;
    it->op.item_size = (uint32_t)item_size;
    if (kind == REC_CLAIM) {
        it->op.consumer = op->consumer;
        it->op.consumer_len = (uint32_t)op->consumer_len;
    }
    return MN_OK;
}

/* Walks the PEL for entries whose last delivery is visibility_ms old or
 * more, in id order, until `limit` are taken for redelivery. */
static int collect_due(mn_store *s, MDB_txn *txn, const group_state *g, uint64_t vis,
                       uint64_t now, uint64_t limit, due_entry **out, size_t *n)
{
    MDB_cursor *cur;
    size_t cap = 0;
    uint8_t key[24];
    *out = NULL;
    *n = 0;
    int rc = mdb_cursor_open(txn, s->ix.pel, &cur);
    if (rc) return index_error(rc, "cursor");
    be64_put(key, g->group_id);
    memset(key + 8, 0, 16);
    MDB_val k = {24, key}, d;
    int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    rc = MN_OK;
    while (mrc == 0 && be64_get(k.mv_data) == g->group_id && *n < limit) {
        pel_entry p;
        memcpy(&p, d.mv_data, sizeof p);
        if (now >= p.delivered_ms && now - p.delivered_ms >= vis) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                due_entry *v = realloc(*out, cap * sizeof *v);
                if (!v) {
                    rc = error_set(MN_ENOMEM, "out of memory");
                    break;
                }
                *out = v;
            }
            due_entry *de = &(*out)[(*n)++];
            de->id.ms = be64_get((uint8_t *)k.mv_data + 8);
            de->id.seq = be64_get((uint8_t *)k.mv_data + 16);
            de->deliveries = p.deliveries;
            de->consumer_len = d.mv_size - sizeof p;
            if (de->consumer_len > sizeof de->consumer) de->consumer_len = sizeof de->consumer;
            memcpy(de->consumer, (const uint8_t *)d.mv_data + sizeof p, de->consumer_len);
        }
        mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == MN_OK && mrc != 0 && mrc != MDB_NOTFOUND) rc = index_error(mrc, "pel walk");
    return rc;
}

/* Sorts the due entries into redeliveries (*claims), removals (*gone) and
 * dead letters (events in qp->recs); fills qp->redelivered. */
static int plan_due(mn_store *s, MDB_txn *txn, const mn_op *op, const stream_state *st,
                    const mn_queue_policy *pol, const due_entry *due, size_t ndue, uint64_t now_us,
                    queue_plan *qp, claim_item *claims, size_t *nclaims, mn_entry_id *gone,
                    size_t *ngone)
{
    target dl;
    uint64_t next_new = 0;
    int have_dl = 0, rc = MN_OK;
    for (size_t i = 0; i < ndue && rc == MN_OK; i++) {
        const due_entry *d = &due[i];
        uint64_t v;
        event_loc loc;
        rc = stream_lower_bound(s, txn, st, d->id, &v, &loc);
        if (rc < 0) break;
        if (rc == 0 || loc.ms != d->id.ms || loc.seq != d->id.seq) {
            gone[(*ngone)++] = d->id; /* deleted from the stream: nothing to deliver */
            rc = MN_OK;
            continue;
        }
        rc = MN_OK;
        if (pol->maxdeliver && pol->deadletter_len && d->deliveries >= pol->maxdeliver) {
            int skipped = 0;
            if (!have_dl) {
                /* the records outlive pol: they get their own copy of the name */
                char *name = rl_alloc(&qp->recs, pol->deadletter_len);
                if (!name) {
                    rc = error_set(MN_ENOMEM, "out of memory");
                    break;
                }
                memcpy(name, pol->deadletter, pol->deadletter_len);
                rc = target_load(s, txn, name, pol->deadletter_len, &next_new, &dl);
                if (rc != MN_OK) break;
                have_dl = 1;
            }
            /* A deleted dead-letter stream takes nothing: the entry stays
             * pending (not delivered again) until the policy is fixed. */
            if (!dl.usable) continue;
            rc = add_dead_letter(s, &qp->recs, &dl, op, d, &loc, now_us, &skipped);
            if (rc == MN_OK && !skipped) {
                gone[(*ngone)++] = d->id;
                qp->ndead++;
            }
            continue;
        }
        claim_item it = {d->id.ms, d->id.seq, now_us / 1000, d->deliveries + 1};
        if (op->noack) gone[(*ngone)++] = d->id; /* NOACK: delivered = acknowledged */
        else claims[(*nclaims)++] = it;
        qp->redelivered[qp->nredelivered++] = d->id;
    }
    return rc;
}

int queue_plan_deliver(mn_store *s, MDB_txn *txn, const mn_op *op, const stream_state *st,
                       const group_state *g, queue_plan **out)
{
    mn_queue_policy pol;
    due_entry *due = NULL;
    claim_item *claims = NULL;
    mn_entry_id *gone = NULL;
    size_t ndue = 0, nclaims = 0, ngone = 0;
    queue_plan *qp = NULL;
    *out = NULL;
    int rc = policy_load(s, txn, g->group_id, &pol);
    if (rc != MN_OK || pol.visibility_ms == 0 || g->pending == 0) return rc;
    uint64_t now_us = clock_wall_us(), now = now_us / 1000;
    rc = collect_due(s, txn, g, pol.visibility_ms, now, op->count ? op->count : UINT64_MAX, &due,
                     &ndue);
    if (rc != MN_OK || ndue == 0) goto done;
    qp = calloc(1, sizeof *qp);
    if (qp) qp->redelivered = malloc(ndue * sizeof *qp->redelivered);
    claims = malloc(ndue * sizeof *claims);
    gone = malloc(ndue * sizeof *gone);
    if (!qp || !qp->redelivered || !claims || !gone) {
        rc = error_set(MN_ENOMEM, "out of memory");
        goto done;
    }
    /* Dead-letter events are added to qp->recs first; the CLAIM and
     * PEL_REMOVE records go in front of them below (the order of invariant 2
     * is not needed for correctness, only for reading the log). */
    rc = plan_due(s, txn, op, st, &pol, due, ndue, now_us, qp, claims, &nclaims, gone, &ngone);
    if (rc != MN_OK) goto done;
    size_t nev = qp->recs.n;
    if (nclaims && (rc = group_items_rec(&qp->recs, REC_CLAIM, op, st->stream_id, now, claims,
                                         nclaims, sizeof *claims)) != MN_OK)
        goto done;
    if (ngone && (rc = group_items_rec(&qp->recs, REC_PEL_REMOVE, op, st->stream_id, now, gone,
                                       ngone, sizeof *gone)) != MN_OK)
        goto done;
    /* rotate: the group records first, then the events */
    size_t nops = qp->recs.n - nev;
    if (nev && nops) {
        struct rec_item tmp[2];
        memcpy(tmp, qp->recs.v + nev, nops * sizeof *tmp);
        memmove(qp->recs.v + nops, qp->recs.v, nev * sizeof *tmp);
        memcpy(qp->recs.v, tmp, nops * sizeof *tmp);
    }
done:
    free(due);
    free(claims);
    free(gone);
    if (rc != MN_OK || (qp && qp->recs.n == 0)) {
        queue_plan_free(qp);
        qp = NULL;
    }
    *out = qp;
    return rc;
}

int queue_stage_deliver(mn_store *s, MDB_txn *txn, request *r, queue_plan *qp, uint8_t kind,
                        const op_decoded *rec)
{
    mn_op *op = r->op;
    int rc = MN_OK;
    if (!qp) {
        if (kind) rc = op_stage_records(s, txn, r, 1, &kind, rec);
        return rc;
    }
    if (kind) {
        struct rec_item *it = rl_add(&qp->recs, kind);
        if (!it) {
            rc = error_set(MN_ENOMEM, "out of memory");
            goto done;
        }
        it->op = *rec;
    }
    if ((rc = rl_stage(s, txn, r, &qp->recs)) != MN_OK) goto done;
    if (qp->nredelivered) {
        op->out_ids = qp->redelivered;
        op->out_n = qp->nredelivered;
        qp->redelivered = NULL;
    }
    op->deleted_n = qp->ndead;
done:
    queue_plan_free(qp);
    return rc;
}

/* ---- QUEUE.REPLAY ---- */

/* The fields of a dead letter, if it is one: its source stream and where
 * the original fields begin (*body_off, with *body_pairs pairs). 0 if not. */
static int parse_dead_letter(const ev_decoded *e, const void **src, size_t *src_len,
                             size_t *body_off, long *body_pairs)
{
    if (!(e->flags & EV_FIELDS)) return 0;
    long total = mn_fields_count(e->data, e->data_len);
    if (total < MN_DLQ_NFIELDS) return 0;
    size_t off = 0;
    const void *f, *v;
    size_t fl, vl;
    for (int i = 0; i < MN_DLQ_NFIELDS; i++) {
        if (mn_fields_next(e->data, e->data_len, &off, &f, &fl, &v, &vl) != 1) return 0;
        if (fl != strlen(mn_dlq_fields[i]) || memcmp(f, mn_dlq_fields[i], fl) != 0) return 0;
        if (i == 0) {
            *src = v;
            *src_len = vl;
        }
    }
    *body_off = off;
    *body_pairs = total - MN_DLQ_NFIELDS;
    return 1;
}

/* Stages the replay of one dead letter (record rec) into l: the event for
 * its source stream. *replayed = 0 when it is left where it is. */
static int replay_one(mn_store *s, MDB_txn *txn, rec_list *l, target **tg, size_t *ntg,
                      uint64_t *next_new, const mn_op *op, const log_rec *rec, uint64_t now_us,
                      int *replayed)
{
    ev_decoded e;
    const void *src = NULL;
    size_t src_len = 0, body_off;
    long pairs;
    *replayed = 0;
    if (ev_decode(rec->payload, rec->payload_len, &e) != 0)
        return error_set(MN_ECORRUPT, "event record at %llu is inconsistent",
                         (unsigned long long)rec->pos);
    if (!parse_dead_letter(&e, &src, &src_len, &body_off, &pairs)) return MN_OK;
    if (src_len == 0 || src_len > MN_MAX_STREAM_NAME || ((const char *)src)[0] == '$' ||
        (src_len == op->stream_len && memcmp(src, op->stream, src_len) == 0))
        return MN_OK; /* not a stream we may append to: leave it for a human */
    /* The source's name and the original fields, copied: the record's
     * mapping is released by the caller. */
    size_t body_len = e.data_len - body_off + 4;
    uint8_t *blk = rl_alloc(l, src_len + body_len + e.type_len + e.meta_len);
    if (!blk) return error_set(MN_ENOMEM, "out of memory");
    char *name = (char *)blk;
    memcpy(name, src, src_len);
    uint8_t *body = blk + src_len;
    uint32_t np = (uint32_t)pairs;
    memcpy(body, &np, 4); /* the field list's pair count (little-endian) */
    memcpy(body + 4, e.data + body_off, e.data_len - body_off);
    char *type = (char *)body + body_len;
    memcpy(type, e.type, e.type_len);
    uint8_t *meta = (uint8_t *)type + e.type_len;
    if (e.meta_len) memcpy(meta, e.meta, e.meta_len);
    target *t = NULL;
    for (size_t i = 0; i < *ntg && !t; i++)
        if ((*tg)[i].len == src_len && memcmp((*tg)[i].name, name, src_len) == 0) t = &(*tg)[i];
    if (!t) {
        target *v = realloc(*tg, (*ntg + 1) * sizeof *v);
        if (!v) return error_set(MN_ENOMEM, "out of memory");
        *tg = v;
        t = &v[*ntg];
        int rc = target_load(s, txn, name, src_len, next_new, t);
        if (rc != MN_OK) return rc;
        (*ntg)++;
    }
    if (!t->usable) return MN_OK; /* the source is deleted for good: keep the dead letter */
    int rc = target_append(l, t, now_us, type, e.type_len, e.meta_len ? meta : NULL, e.meta_len,
                           body, body_len);
    *replayed = rc == MN_OK;
    return rc;
}

static int stage_replay(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    rec_list l = {0};
    target *tg = NULL;
    size_t ntg = 0, nver = 0, capver = 0;
    uint64_t *versions = NULL, next_new = 0, left = op->count ? op->count : UINT64_MAX;
    uint64_t now_us = clock_wall_us();
    mn_entry_id maxdel = {0, 0};
    MDB_cursor *cur = NULL;
    op->n = 0;
    int rc = stream_get(s, txn, op->stream, op->stream_len, &st);
    if (rc == MN_ENOTFOUND || (rc == MN_OK && (st.flags & STREAM_TOMBSTONE)))
        return MN_OK; /* no dead letters: nothing replayed */
    if (rc != MN_OK) return rc;
    maxdel.ms = st.max_del_ms;
    maxdel.seq = st.max_del_seq;
    if ((rc = mdb_cursor_open(txn, s->ix.events, &cur)) != 0) {
        cur = NULL;
        rc = index_error(rc, "cursor");
        goto done;
    }
    uint8_t key[16];
    event_key(key, st.stream_id, 0);
    MDB_val k = {16, key}, d;
    uint64_t visible = atomic_load(&s->log->visible);
    int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (mrc == 0 && be64_get(k.mv_data) == st.stream_id && left > 0) {
        event_loc loc;
        memcpy(&loc, d.mv_data, sizeof loc);
        if (loc.pos >= visible) break; /* appended in this batch: next time */
        segment *seg = NULL;
        log_rec rec;
        int replayed = 0;
        if ((rc = log_read_at(s->log, loc.pos, &seg, &rec)) != MN_OK) goto done;
        rc = replay_one(s, txn, &l, &tg, &ntg, &next_new, op, &rec, now_us, &replayed);
        seg_unref(seg);
        if (rc != MN_OK) goto done;
        if (replayed) {
            if (nver == capver) {
                capver = capver ? capver * 2 : 16;
                uint64_t *v = realloc(versions, capver * sizeof *v);
                if (!v) {
                    rc = error_set(MN_ENOMEM, "out of memory");
                    goto done;
                }
                versions = v;
            }
            versions[nver++] = be64_get((uint8_t *)k.mv_data + 8);
            if (loc.ms > maxdel.ms || (loc.ms == maxdel.ms && loc.seq > maxdel.seq)) {
                maxdel.ms = loc.ms;
                maxdel.seq = loc.seq;
            }
            left--;
        }
        mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    cur = NULL;
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = index_error(mrc, "dead-letter walk");
        goto done;
    }
    if (nver == 0) goto done;
    struct rec_item *it = rl_add(&l, REC_ENTRIES_DELETE);
    if (!it) {
        rc = error_set(MN_ENOMEM, "out of memory");
        goto done;
    }
    /* The dead letters leave as XDEL would take them (max-deleted-id moves). */
    op_base(&it->op, op, st.stream_id);
    it->op.a = maxdel.ms;
    it->op.b = maxdel.seq;
    it->op.items = (const uint8_t *)versions;
    it->op.n_items = (uint32_t)nver;
    it->op.item_size = sizeof *versions;
    if ((rc = rl_stage(s, txn, r, &l)) == MN_OK) op->n = nver;
done:
    if (cur) mdb_cursor_close(cur);
    free(versions);
    free(tg);
    rl_free(&l);
    return rc;
}

int queue_stage(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    if (op->kind == MN_OP_QUEUE_REPLAY) return stage_replay(s, txn, r);
    if (!op->group || op->group_len == 0 || op->group_len > MAX_GROUP_NAME)
        return error_set(MN_EINVAL, "group name must be 1..%u bytes", MAX_GROUP_NAME);
    return stage_policy(s, txn, r);
}

/* ---- reading ---- */

/* Opens a read snapshot on stream/group; *txn is the caller's to abort. */
static int read_group(mn_store *s, const char *stream, size_t stream_len, const char *group,
                      size_t group_len, MDB_txn **txn, group_state *g)
{
    stream_state st;
    int rc = store_validate_name(stream, stream_len);
    *txn = NULL;
    if (rc != MN_OK) return rc;
    if ((rc = mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, txn)) != 0) {
        *txn = NULL;
        return index_error(rc, "begin read");
    }
    rc = stream_get(s, *txn, stream, stream_len, &st);
    if (rc == MN_ENOTFOUND || (rc == MN_OK && (st.flags & STREAM_TOMBSTONE)))
        return error_set(MN_ENOTFOUND, "no such key '%.*s'", (int)stream_len, stream);
    if (rc != MN_OK) return rc;
    if (group_len == 0 || group_len > MAX_GROUP_NAME) rc = MN_ENOGROUP;
    else rc = group_get(s, *txn, st.stream_id, group, group_len, g);
    if (rc == MN_ENOGROUP)
        return error_set(MN_ENOGROUP, "No such key '%.*s' or consumer group '%.*s'",
                         (int)stream_len, stream, (int)group_len, group);
    return rc;
}

int mn_queue_policy_get(mn_store *s, const char *stream, size_t stream_len, const char *group,
                        size_t group_len, mn_queue_policy *out)
{
    MDB_txn *txn;
    group_state g;
    memset(out, 0, sizeof *out);
    int rc = read_group(s, stream, stream_len, group, group_len, &txn, &g);
    if (rc == MN_OK) rc = policy_load(s, txn, g.group_id, out);
    if (txn) mdb_txn_abort(txn);
    return rc;
}

int mn_queue_next_due(mn_store *s, const char *stream, size_t stream_len, const char *group,
                      size_t group_len, uint64_t *due_ms)
{
    MDB_txn *txn;
    group_state g;
    mn_queue_policy pol;
    MDB_cursor *cur = NULL;
    *due_ms = 0;
    int rc = read_group(s, stream, stream_len, group, group_len, &txn, &g);
    if (rc == MN_OK) rc = policy_load(s, txn, g.group_id, &pol);
    if (rc != MN_OK || pol.visibility_ms == 0 || g.pending == 0) goto done;
    if ((rc = mdb_cursor_open(txn, s->ix.pel, &cur)) != 0) {
        cur = NULL;
        rc = index_error(rc, "cursor");
        goto done;
    }
    uint8_t key[24];
    be64_put(key, g.group_id);
    memset(key + 8, 0, 16);
    MDB_val k = {24, key}, d;
    uint64_t oldest = UINT64_MAX, now = clock_wall_ms();
    int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (mrc == 0 && be64_get(k.mv_data) == g.group_id) {
        pel_entry p;
        memcpy(&p, d.mv_data, sizeof p);
        if (p.delivered_ms < oldest) oldest = p.delivered_ms;
        /* one due entry is enough to say "due now" */
        if (now >= oldest && now - oldest >= pol.visibility_ms) break;
        mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    if (oldest != UINT64_MAX)
        *due_ms = oldest > UINT64_MAX - pol.visibility_ms ? UINT64_MAX : oldest + pol.visibility_ms;
done:
    if (cur) mdb_cursor_close(cur);
    if (txn) mdb_txn_abort(txn);
    return rc;
}
