/*
 * group.c — consumer groups, as Redis 7 defines them, made durable.
 *
 * A group (per stream) has a last-delivered id, an entries-read counter,
 * consumers, and a pending entries list (PEL): delivered, unacknowledged
 * entries with their consumer, last delivery time and delivery count.
 * Every change — create, set id, destroy, consumers, deliveries, acks,
 * claims — is a log record (record.h kinds 16..23), so the whole state
 * survives a crash and is rebuilt from the log like everything else.
 *
 * Index layout (storage/index.h): groups (stream_id ‖ name), consumers
 * (group_id ‖ name), pel (group_id ‖ ms ‖ seq → pel_entry ‖ consumer).
 *
 * Staging decides the effects (which versions a delivery covers, which PEL
 * entries a claim takes, at what time) and writes them into the record;
 * apply replays them. A delivery stores a version range: the entries that
 * exist in it when the record is applied are the same at every replay,
 * because the log replays the same history up to that point.
 *
 * Groups on the virtual streams ($all, $ce-, $et-) are owned by a holder
 * stream state and deliver what their view holds: vgroup.c explains, the
 * hooks here are marked "virtual".
 */
#include <stdlib.h>
#include <string.h>

#include "engine/event.h"
#include "engine/ops.h"
#include "engine/store.h"
#include "util/clock.h"
#include "util/error.h"

#define MAX_NAME 400u /* group and consumer names: LMDB keys, with an 8-byte prefix */
/* At most this many entries per delivery on a virtual stream, COUNT or
 * not: the delivery record lists them, and a record must stay small. */
#define VDELIVER_MAX 10000u

/* ---- keys and lookups ---- */

static size_t name_key(uint8_t *k, uint64_t prefix, const char *name, size_t len)
{
    be64_put(k, prefix);
    memcpy(k + 8, name, len);
    return 8 + len;
}

static void pel_key(uint8_t k[24], uint64_t group_id, uint64_t ms, uint64_t seq)
{
    be64_put(k, group_id);
    be64_put(k + 8, ms);
    be64_put(k + 16, seq);
}

static int group_lookup(mn_store *s, MDB_txn *txn, uint64_t stream_id, const char *name, size_t len,
                        group_state *g)
{
    uint8_t k[8 + MAX_NAME];
    MDB_val kv = {name_key(k, stream_id, name, len), k}, v;
    int rc = mdb_get(txn, s->ix.groups, &kv, &v);
    if (rc == MDB_NOTFOUND) return MN_ENOGROUP;
    if (rc) return index_error(rc, "group lookup");
    memcpy(g, v.mv_data, sizeof *g);
    return MN_OK;
}

int group_get(mn_store *s, MDB_txn *txn, uint64_t stream_id, const char *name, size_t len,
              group_state *g)
{
    return group_lookup(s, txn, stream_id, name, len, g);
}

static int group_store(mn_store *s, MDB_txn *txn, uint64_t stream_id, const char *name, size_t len,
                       const group_state *g)
{
    uint8_t k[8 + MAX_NAME];
    MDB_val kv = {name_key(k, stream_id, name, len), k}, v = {sizeof *g, (void *)g};
    int rc = mdb_put(txn, s->ix.groups, &kv, &v, 0);
    return rc ? index_error(rc, "group put") : MN_OK;
}

static int consumer_lookup(mn_store *s, MDB_txn *txn, uint64_t group_id, const char *name,
                           size_t len, consumer_state *c)
{
    uint8_t k[8 + MAX_NAME];
    MDB_val kv = {name_key(k, group_id, name, len), k}, v;
    int rc = mdb_get(txn, s->ix.consumers, &kv, &v);
    if (rc == MDB_NOTFOUND) return MN_ENOTFOUND;
    if (rc) return index_error(rc, "consumer lookup");
    memcpy(c, v.mv_data, sizeof *c);
    return MN_OK;
}

static int consumer_store(mn_store *s, MDB_txn *txn, uint64_t group_id, const char *name,
                          size_t len, const consumer_state *c)
{
    uint8_t k[8 + MAX_NAME];
    MDB_val kv = {name_key(k, group_id, name, len), k}, v = {sizeof *c, (void *)c};
    int rc = mdb_put(txn, s->ix.consumers, &kv, &v, 0);
    return rc ? index_error(rc, "consumer put") : MN_OK;
}

/* Deletes every key of db that starts with be64 prefix. */
static int drop_prefix(MDB_txn *txn, MDB_dbi db, uint64_t prefix)
{
    MDB_cursor *c;
    uint8_t k[8];
    int rc = mdb_cursor_open(txn, db, &c);
    if (rc) return index_error(rc, "cursor");
    be64_put(k, prefix);
    MDB_val kv = {8, k}, v;
    rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
    while (rc == 0 && kv.mv_size >= 8 && be64_get(kv.mv_data) == prefix) {
        if ((rc = mdb_cursor_del(c, 0)) != 0) break;
        rc = mdb_cursor_get(c, &kv, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) return index_error(rc, "drop");
    return MN_OK;
}

static int id_cmp(uint64_t ams, uint64_t aseq, uint64_t bms, uint64_t bseq)
{
    return ams < bms ? -1 : ams > bms ? 1 : aseq < bseq ? -1 : aseq > bseq;
}

/* 1 if the stream has an entry with exactly this id (and its version).
 * A virtual stream's holder has no entries: ask its view. */
static int entry_exists(mn_store *s, MDB_txn *txn, const mn_op *op, const stream_state *st,
                        uint64_t ms, uint64_t seq)
{
    uint64_t v;
    event_loc loc;
    mn_entry_id id = {ms, seq};
    vview vv;
    if (vgroup_of(op->stream, op->stream_len, &vv)) return seq == 0 && vgroup_has(s, &vv, ms) == 1;
    int rc = stream_lower_bound(s, txn, st, id, &v, &loc);
    return rc == 1 && loc.ms == ms && loc.seq == seq;
}

/* ---- staging ---- */

static int check_names(const mn_op *op, int need_consumer)
{
    if (!op->group || op->group_len == 0 || op->group_len > MAX_NAME)
        return error_set(MN_EINVAL, "group name must be 1..%u bytes", MAX_NAME);
    if (need_consumer && (!op->consumer || op->consumer_len == 0 || op->consumer_len > MAX_NAME))
        return error_set(MN_EINVAL, "consumer name must be 1..%u bytes", MAX_NAME);
    return MN_OK;
}

static int no_group(const mn_op *op)
{
    return error_set(MN_ENOGROUP, "No such key '%.*s' or consumer group '%.*s'",
                     (int)op->stream_len, op->stream, (int)op->group_len, op->group);
}

static void op_for_group(op_decoded *o, const mn_op *op, uint64_t stream_id)
{
    op_base(o, op, stream_id);
    o->group = op->group;
    o->group_len = (uint32_t)op->group_len;
}

/* ---- virtual streams (vgroup.c) ---- */

/* group_position for a virtual stream: '$' is the view's last event, and
 * entries-read counts the view's events up to the group's id (so that
 * XINFO GROUPS has it from the start, as Redis has for '$' and 0). */
static int vgroup_position(mn_store *s, op_decoded *o, const mn_op *op, const vview *v)
{
    uint64_t total, after, last = op->id.ms;
    int rc = MN_OK;
    if (!op->id_set && (rc = vgroup_last(s, v, &last)) != MN_OK) return rc;
    o->b = last;
    o->c = op->id_set ? op->id.seq : 0;
    if (op->entries_read >= 0) {
        o->d = (uint64_t)op->entries_read;
        return MN_OK;
    }
    if ((rc = mn_view_count(s, v->view, v->key, v->key_len, &total)) != MN_OK ||
        (rc = vgroup_count_after(s, v, last, &after)) != MN_OK)
        return rc;
    o->d = total > after ? total - after : 0;
    return MN_OK;
}

/* XREADGROUP '>' on a virtual stream: the view's next entries after the
 * group's last-delivered position, listed in the DELIVER record's items
 * (vgroup.c, invariant 2). Out: n, and from_version/to_version hold the
 * first and last position delivered. */
static int stage_deliver_virtual(mn_store *s, MDB_txn *txn, request *r, const vview *v,
                                 const stream_state *st, const group_state *g, int have_consumer)
{
    mn_op *op = r->op;
    mn_entry_id *ids = NULL;
    size_t n = 0;
    op_decoded o;
    uint8_t kind = REC_DELIVER;
    int rc = MN_OK;
    /* <L>-<s> with s > 0 lies after position L as well. */
    uint64_t limit = op->count && op->count < VDELIVER_MAX ? op->count : VDELIVER_MAX;
    if (g->last_ms != UINT64_MAX && (rc = vgroup_scan(s, v, g->last_ms, limit, &ids, &n)) != MN_OK)
        return rc;
    op_for_group(&o, op, st->stream_id);
    o.consumer = op->consumer;
    o.consumer_len = (uint32_t)op->consumer_len;
    if (n == 0) {
        if (!have_consumer) { /* as stage_deliver: XREADGROUP creates the consumer */
            kind = REC_CONSUMER_CREATE;
            rc = op_stage_records(s, txn, r, 1, &kind, &o);
        }
        goto done;
    }
    /* a = 1, b = 0: an empty version range (the holder has no events). */
    o.a = 1;
    o.b = 0;
    o.c = ids[n - 1].ms;
    o.d = 0;
    o.e = g->entries_read >= 0 ? (uint64_t)g->entries_read + n : (uint64_t)-1;
    o.f = op->noack ? 1 : 0;
    if (!op->noack) {
        o.items = (const uint8_t *)ids;
        o.n_items = (uint32_t)n;
        o.item_size = sizeof *ids;
    }
    op->n = n;
    op->from_version = (int64_t)ids[0].ms;
    op->to_version = (int64_t)ids[n - 1].ms;
    rc = op_stage_records(s, txn, r, 1, &kind, &o);
done:
    free(ids);
    return rc;
}

/* The position a CREATE / SETID record gives the group: b-c its last
 * delivered id (op's, or for '$' the stream's last) and d its entries-read
 * (op's, else the stream's entries-added for '$', 0 for 0-0, else -1). */
static int group_position(mn_store *s, op_decoded *o, const mn_op *op, const stream_state *st)
{
    vview v;
    if (vgroup_of(op->stream, op->stream_len, &v)) return vgroup_position(s, o, op, &v);
    o->b = op->id_set ? op->id.ms : st->last_ms;
    o->c = op->id_set ? op->id.seq : st->last_seq;
    int64_t er = op->entries_read;
    if (er < 0 && !op->id_set) er = (int64_t)st->entries_added;
    if (er < 0 && op->id_set && op->id.ms == 0 && op->id.seq == 0) er = 0;
    o->d = (uint64_t)er;
    return MN_OK;
}

static int stage_group_create(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    vview v;
    int rc = stream_get(s, txn, op->stream, op->stream_len, &st);
    if (rc == MN_ENOTFOUND) {
        /* A virtual stream always exists: its first group creates the
         * holder that will own its groups (vgroup.c), MKSTREAM or not. */
        if (!op->mkstream && !vgroup_of(op->stream, op->stream_len, &v))
            return error_set(MN_ENOTFOUND, "The XGROUP subcommand requires the key to exist. Note "
                             "that for CREATE you may want to use the MKSTREAM option to create "
                             "an empty stream automatically.");
        if ((rc = ops_create_stream(s, txn, r, op->stream, op->stream_len)) != MN_OK) return rc;
        rc = stream_get(s, txn, op->stream, op->stream_len, &st);
    }
    if (rc != MN_OK) return rc;
    if (st.flags & STREAM_TOMBSTONE)
        return error_set(MN_EDELETED, "stream '%.*s' is deleted", (int)op->stream_len, op->stream);
    rc = group_lookup(s, txn, st.stream_id, op->group, op->group_len, &g);
    if (rc == MN_OK) return error_set(MN_EEXISTS, "Consumer Group name already exists");
    if (rc != MN_ENOGROUP) return rc;
    op_decoded o;
    uint8_t kind = REC_GROUP_CREATE;
    op_for_group(&o, op, st.stream_id);
    o.a = s->next_group_id;
    if ((rc = group_position(s, &o, op, &st)) != MN_OK) return rc;
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

static int stage_group_setid(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    int rc = op_stream(s, txn, op, &st);
    if (rc != MN_OK) return rc;
    if ((rc = group_lookup(s, txn, st.stream_id, op->group, op->group_len, &g)) != MN_OK)
        return rc == MN_ENOGROUP ? no_group(op) : rc;
    op_decoded o;
    uint8_t kind = REC_GROUP_SETID;
    op_for_group(&o, op, st.stream_id);
    if ((rc = group_position(s, &o, op, &st)) != MN_OK) return rc;
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

static int stage_group_destroy(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    vview v;
    int rc = op_stream(s, txn, op, &st);
    op->n = 0;
    if (rc == MN_ENOTFOUND && vgroup_of(op->stream, op->stream_len, &v)) return MN_OK;
    if (rc != MN_OK) return rc;
    rc = group_lookup(s, txn, st.stream_id, op->group, op->group_len, &g);
    op->n = rc == MN_OK;
    if (rc == MN_ENOGROUP) return MN_OK;
    if (rc != MN_OK) return rc;
    op_decoded o;
    uint8_t kind = REC_GROUP_DESTROY;
    op_for_group(&o, op, st.stream_id);
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

/* Looks up stream and group for a consumer-level op. */
static int stream_and_group(mn_store *s, MDB_txn *txn, const mn_op *op, stream_state *st,
                            group_state *g)
{
    int rc = stream_get(s, txn, op->stream, op->stream_len, st);
    if (rc == MN_ENOTFOUND) return no_group(op);
    if (rc != MN_OK) return rc;
    if (st->flags & STREAM_TOMBSTONE) return no_group(op);
    rc = group_lookup(s, txn, st->stream_id, op->group, op->group_len, g);
    if (rc == MN_ENOGROUP) return no_group(op);
    return rc;
}

static int stage_consumer(mn_store *s, MDB_txn *txn, request *r, int create)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    consumer_state c;
    int rc = stream_and_group(s, txn, op, &st, &g);
    if (rc != MN_OK) return rc;
    rc = consumer_lookup(s, txn, g.group_id, op->consumer, op->consumer_len, &c);
    if (rc != MN_OK && rc != MN_ENOTFOUND) return rc;
    op->n = create ? rc == MN_ENOTFOUND : (rc == MN_OK ? c.pending : 0);
    if (create ? rc == MN_OK : rc == MN_ENOTFOUND) return MN_OK;
    op_decoded o;
    uint8_t kind = create ? REC_CONSUMER_CREATE : REC_CONSUMER_DELETE;
    op_for_group(&o, op, st.stream_id);
    o.consumer = op->consumer;
    o.consumer_len = (uint32_t)op->consumer_len;
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

static int stage_deliver(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    consumer_state c;
    int rc = stream_and_group(s, txn, op, &st, &g);
    if (rc != MN_OK) return rc;
    int have_consumer = consumer_lookup(s, txn, g.group_id, op->consumer, op->consumer_len, &c) ==
                        MN_OK;
    op->n = 0;
    op->from_version = op->to_version = -1;
    vview vv;
    if (vgroup_of(op->stream, op->stream_len, &vv))
        return stage_deliver_virtual(s, txn, r, &vv, &st, &g, have_consumer);

    /* Under a visibility timeout, entries due again come first (queue.c);
     * they count against COUNT. */
    queue_plan *qp = NULL;
    if ((rc = queue_plan_deliver(s, txn, op, &st, &g, &qp)) != MN_OK) return rc;
    uint64_t again = queue_plan_redelivered(qp);

    /* New entries: those after the last delivered id. */
    mn_entry_id after = {g.last_ms, g.last_seq};
    if (after.seq == UINT64_MAX) {
        after.ms++;
        after.seq = 0;
    } else {
        after.seq++;
    }
    uint64_t v, n = 0, limit = op->count ? op->count - again : UINT64_MAX, from = 0, to = 0;
    event_loc loc, last_loc;
    memset(&last_loc, 0, sizeof last_loc);
    if (limit && (g.last_ms != UINT64_MAX || g.last_seq != UINT64_MAX)) {
        rc = stream_lower_bound(s, txn, &st, after, &v, &loc);
        if (rc < 0) {
            queue_plan_free(qp);
            return rc;
        }
        if (rc == 1) {
            MDB_cursor *cur;
            uint8_t key[16];
            if ((rc = mdb_cursor_open(txn, s->ix.events, &cur)) != 0) {
                queue_plan_free(qp);
                return index_error(rc, "cursor");
            }
            event_key(key, st.stream_id, v);
            MDB_val k = {16, key}, d;
            rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
            from = v;
            while (rc == 0 && be64_get(k.mv_data) == st.stream_id && n < limit) {
                to = be64_get((uint8_t *)k.mv_data + 8);
                memcpy(&last_loc, d.mv_data, sizeof last_loc);
                n++;
                rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
            }
            mdb_cursor_close(cur);
        }
    }
    op_decoded o;
    op_for_group(&o, op, st.stream_id);
    o.consumer = op->consumer;
    o.consumer_len = (uint32_t)op->consumer_len;
    if (n == 0) {
        /* Nothing new: only a new consumer is worth a record (Redis creates
         * the consumer on any XREADGROUP). */
        return queue_stage_deliver(s, txn, r, qp, have_consumer ? 0 : REC_CONSUMER_CREATE, &o);
    }
    uint8_t kind = REC_DELIVER;
    o.a = from;
    o.b = to;
    o.c = last_loc.ms;
    o.d = last_loc.seq;
    /* entries-read is the logical number of the last delivered entry:
     * its version + 1, shifted if XSETID raised entries-added. */
    o.e = (uint64_t)((int64_t)to + 1 + (int64_t)st.entries_added - (st.version + 1));
    o.f = op->noack ? 1 : 0;
    op->n = n;
    op->from_version = (int64_t)from;
    op->to_version = (int64_t)to;
    return queue_stage_deliver(s, txn, r, qp, kind, &o);
}

/* Reads the PEL entry for id; 1 if present (and *p, its consumer). */
static int pel_get(mn_store *s, MDB_txn *txn, uint64_t group_id, uint64_t ms, uint64_t seq,
                   pel_entry *p, const char **consumer, size_t *consumer_len)
{
    uint8_t k[24];
    pel_key(k, group_id, ms, seq);
    MDB_val kv = {24, k}, v;
    int rc = mdb_get(txn, s->ix.pel, &kv, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return index_error(rc, "pel lookup");
    memcpy(p, v.mv_data, sizeof *p);
    if (consumer) {
        *consumer = (const char *)v.mv_data + sizeof *p;
        *consumer_len = v.mv_size - sizeof *p;
    }
    return 1;
}

static int stage_ack(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    int rc = stream_and_group(s, txn, op, &st, &g);
    if (rc != MN_OK) return rc;
    mn_entry_id *ids = malloc((op->nids ? op->nids : 1) * sizeof *ids);
    if (!ids) return error_set(MN_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < op->nids; i++) {
        pel_entry p;
        rc = pel_get(s, txn, g.group_id, op->ids[i].ms, op->ids[i].seq, &p, NULL, NULL);
        if (rc < 0) goto done;
        int dup = 0;
        for (size_t k = 0; k < n && !dup; k++)
            dup = ids[k].ms == op->ids[i].ms && ids[k].seq == op->ids[i].seq;
        if (rc == 1 && !dup) ids[n++] = op->ids[i];
    }
    op->n = n;
    rc = MN_OK;
    if (n) {
        op_decoded o;
        uint8_t kind = REC_PEL_REMOVE;
        op_for_group(&o, op, st.stream_id);
        o.items = (const uint8_t *)ids;
        o.n_items = (uint32_t)n;
        o.item_size = sizeof *ids;
        rc = op_stage_records(s, txn, r, 1, &kind, &o);
    }
done:
    free(ids);
    return rc;
}

/* Stages a CLAIM record (items) and, if any, a PEL_REMOVE of deleted ids, as
 * one group; fills op's out arrays. */
static int stage_claim_records(mn_store *s, MDB_txn *txn, request *r, const stream_state *st,
                               claim_item *items, size_t n, mn_entry_id *gone, size_t ngone,
                               int lastid_set, mn_entry_id lastid)
{
    mn_op *op = r->op;
    op_decoded recs[2];
    uint8_t kinds[2];
    size_t nr = 0;
    if (n || lastid_set) {
        op_for_group(&recs[nr], op, st->stream_id);
        recs[nr].consumer = op->consumer;
        recs[nr].consumer_len = (uint32_t)op->consumer_len;
        recs[nr].a = lastid_set ? 1 : 0;
        recs[nr].b = lastid.ms;
        recs[nr].c = lastid.seq;
        recs[nr].items = (const uint8_t *)items;
        recs[nr].n_items = (uint32_t)n;
        recs[nr].item_size = sizeof *items;
        kinds[nr++] = REC_CLAIM;
    }
    if (ngone) {
        op_for_group(&recs[nr], op, st->stream_id);
        recs[nr].items = (const uint8_t *)gone;
        recs[nr].n_items = (uint32_t)ngone;
        recs[nr].item_size = sizeof *gone;
        kinds[nr++] = REC_PEL_REMOVE;
    }
    if (n) {
        op->out_ids = malloc(n * sizeof *op->out_ids);
        if (!op->out_ids) return error_set(MN_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            op->out_ids[i].ms = items[i].ms;
            op->out_ids[i].seq = items[i].seq;
        }
        op->out_n = n;
    }
    if (!nr) return MN_OK;
    return op_stage_records(s, txn, r, nr, kinds, recs);
}

static int stage_claim(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    int rc = stream_and_group(s, txn, op, &st, &g);
    if (rc != MN_OK) return rc;
    uint64_t now = clock_wall_ms();
    claim_item *items = malloc((op->nids ? op->nids : 1) * sizeof *items);
    mn_entry_id *gone = malloc((op->nids ? op->nids : 1) * sizeof *gone);
    size_t n = 0, ngone = 0;
    if (!items || !gone) {
        rc = error_set(MN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < op->nids; i++) {
        const mn_entry_id id = op->ids[i];
        pel_entry p;
        int dup = 0;
        for (size_t k = 0; k < n && !dup; k++) dup = items[k].ms == id.ms && items[k].seq == id.seq;
        for (size_t k = 0; k < ngone && !dup; k++) dup = gone[k].ms == id.ms && gone[k].seq == id.seq;
        if (dup) continue;
        rc = pel_get(s, txn, g.group_id, id.ms, id.seq, &p, NULL, NULL);
        if (rc < 0) goto done;
        int in_pel = rc == 1, exists = entry_exists(s, txn, op, &st, id.ms, id.seq);
        if (!exists) {
            if (in_pel) gone[ngone++] = id; /* deleted from the stream: drop it */
            continue;
        }
        if (!in_pel) {
            if (!op->force) continue;
            /* Redis creates the forced PEL entry with one delivery, then
             * counts this claim as another unless JUSTID. */
            p.delivered_ms = now;
            p.deliveries = 1;
        } else if (op->min_idle_ms && (now < p.delivered_ms || now - p.delivered_ms < op->min_idle_ms)) {
            continue;
        }
        claim_item it = {id.ms, id.seq, now, p.deliveries};
        /* As Redis: a delivery time in the future (or before the epoch) is now. */
        if (op->idle_ms >= 0) it.delivered_ms = now >= (uint64_t)op->idle_ms ? now - (uint64_t)op->idle_ms : now;
        if (op->time_ms >= 0) it.delivered_ms = (uint64_t)op->time_ms <= now ? (uint64_t)op->time_ms : now;
        if (op->retrycount >= 0) it.deliveries = (uint64_t)op->retrycount;
        else if (!op->justid) it.deliveries++;
        items[n++] = it;
    }
    int lastid_set = op->lastid_set && id_cmp(op->lastid.ms, op->lastid.seq, g.last_ms, g.last_seq) > 0;
    rc = stage_claim_records(s, txn, r, &st, items, n, gone, ngone, lastid_set, op->lastid);
    if (rc == MN_OK && n == 0 && !lastid_set && ngone == 0) {
        /* Nothing claimed: Redis still creates the consumer. */
        consumer_state c;
        if (consumer_lookup(s, txn, g.group_id, op->consumer, op->consumer_len, &c) == MN_ENOTFOUND) {
            op_decoded o;
            uint8_t kind = REC_CONSUMER_CREATE;
            op_for_group(&o, op, st.stream_id);
            o.consumer = op->consumer;
            o.consumer_len = (uint32_t)op->consumer_len;
            rc = op_stage_records(s, txn, r, 1, &kind, &o);
        }
    }
done:
    free(items);
    free(gone);
    return rc;
}

static int stage_autoclaim(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    group_state g;
    int rc = stream_and_group(s, txn, op, &st, &g);
    if (rc != MN_OK) return rc;
    uint64_t now = clock_wall_ms(), count = op->count ? op->count : 100;
    /* Redis scans at most count * 10 PEL entries per call. Buffers are sized
     * by what can actually be found (the PEL's size), never by the caller's
     * number, so a huge count cannot overflow them. */
    uint64_t attempts = count > UINT64_MAX / 10 ? UINT64_MAX : count * 10;
    uint64_t cap = g.pending < count ? g.pending : count;
    uint64_t gcap = g.pending < attempts ? g.pending : attempts;
    claim_item *items = malloc((cap ? cap : 1) * sizeof *items);
    mn_entry_id *gone = malloc((gcap ? gcap : 1) * sizeof *gone);
    size_t n = 0, ngone = 0;
    MDB_cursor *cur = NULL;
    if (!items || !gone) {
        rc = error_set(MN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = mdb_cursor_open(txn, s->ix.pel, &cur)) != 0) {
        rc = index_error(rc, "cursor");
        cur = NULL;
        goto done;
    }
    uint8_t key[24];
    pel_key(key, g.group_id, op->start.ms, op->start.seq);
    MDB_val k = {24, key}, d;
    int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    op->next.ms = op->next.seq = 0;
    while (mrc == 0 && be64_get(k.mv_data) == g.group_id) {
        if (n >= count || attempts == 0 || n >= cap + (cap == 0) || ngone >= gcap + (gcap == 0)) {
            op->next.ms = be64_get((uint8_t *)k.mv_data + 8);
            op->next.seq = be64_get((uint8_t *)k.mv_data + 16);
            break;
        }
        attempts--;
        pel_entry p;
        memcpy(&p, d.mv_data, sizeof p);
        uint64_t ms = be64_get((uint8_t *)k.mv_data + 8), seq = be64_get((uint8_t *)k.mv_data + 16);
        if (!entry_exists(s, txn, op, &st, ms, seq)) {
            gone[ngone].ms = ms;
            gone[ngone].seq = seq;
            ngone++;
        } else if (op->min_idle_ms == 0 ||
                   (now >= p.delivered_ms && now - p.delivered_ms >= op->min_idle_ms)) {
            claim_item it = {ms, seq, now, p.deliveries + (op->justid ? 0 : 1)};
            items[n++] = it;
        }
        mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    cur = NULL;
    if (ngone) {
        op->deleted_ids = malloc(ngone * sizeof *gone);
        if (!op->deleted_ids) {
            rc = error_set(MN_ENOMEM, "out of memory");
            goto done;
        }
        memcpy(op->deleted_ids, gone, ngone * sizeof *gone);
        op->deleted_n = ngone;
    }
    mn_entry_id none = {0, 0};
    rc = stage_claim_records(s, txn, r, &st, items, n, gone, ngone, 0, none);
done:
    if (cur) mdb_cursor_close(cur);
    free(items);
    free(gone);
    return rc;
}

int group_stage(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    int need_consumer = op->kind == MN_OP_CONSUMER_CREATE || op->kind == MN_OP_CONSUMER_DELETE ||
                        op->kind == MN_OP_DELIVER || op->kind == MN_OP_CLAIM ||
                        op->kind == MN_OP_AUTOCLAIM;
    int rc = check_names(op, need_consumer);
    if (rc != MN_OK) return rc;
    switch (op->kind) {
    case MN_OP_GROUP_CREATE: return stage_group_create(s, txn, r);
    case MN_OP_GROUP_SETID: return stage_group_setid(s, txn, r);
    case MN_OP_GROUP_DESTROY: return stage_group_destroy(s, txn, r);
    case MN_OP_CONSUMER_CREATE: return stage_consumer(s, txn, r, 1);
    case MN_OP_CONSUMER_DELETE: return stage_consumer(s, txn, r, 0);
    case MN_OP_DELIVER: return stage_deliver(s, txn, r);
    case MN_OP_ACK: return stage_ack(s, txn, r);
    case MN_OP_CLAIM: return stage_claim(s, txn, r);
    case MN_OP_AUTOCLAIM: return stage_autoclaim(s, txn, r);
    default: return error_set(MN_EINVAL, "unknown operation %d", op->kind);
    }
}

/* ---- apply ---- */

/* Gets (or, with create, makes) a consumer; *created tells. */
static int consumer_ensure(mn_store *s, MDB_txn *txn, group_state *g, const char *name, size_t len,
                           uint64_t now, consumer_state *c)
{
    int rc = consumer_lookup(s, txn, g->group_id, name, len, c);
    if (rc == MN_ENOTFOUND) {
        memset(c, 0, sizeof *c);
        c->seen_ms = now;
        g->consumers++;
        return MN_OK;
    }
    return rc;
}

/* Moves the PEL entry id to consumer `to` (creating it if absent) with the
 * given time and count; keeps the per-consumer and group counts right. */
static int pel_assign(mn_store *s, MDB_txn *txn, group_state *g, uint64_t ms, uint64_t seq,
                      const char *to, size_t to_len, consumer_state *to_state, uint64_t delivered_ms,
                      uint64_t deliveries)
{
    pel_entry p;
    const char *old;
    size_t old_len;
    int rc = pel_get(s, txn, g->group_id, ms, seq, &p, &old, &old_len);
    if (rc < 0) return rc;
    if (rc == 1) {
        if (old_len == to_len && memcmp(old, to, to_len) == 0) {
            to_state->pending--; /* re-added below */
        } else {
            consumer_state oc;
            char oldname[MAX_NAME];
            memcpy(oldname, old, old_len);
            if (consumer_lookup(s, txn, g->group_id, oldname, old_len, &oc) == MN_OK) {
                if (oc.pending) oc.pending--;
                if ((rc = consumer_store(s, txn, g->group_id, oldname, old_len, &oc)) != MN_OK)
                    return rc;
            }
        }
    } else {
        g->pending++;
    }
    uint8_t k[24], v[sizeof(pel_entry) + MAX_NAME];
    pel_key(k, g->group_id, ms, seq);
    p.delivered_ms = delivered_ms;
    p.deliveries = deliveries;
    memcpy(v, &p, sizeof p);
    memcpy(v + sizeof p, to, to_len);
    MDB_val kv = {24, k}, vv = {sizeof p + to_len, v};
    if ((rc = mdb_put(txn, s->ix.pel, &kv, &vv, 0)) != 0) return index_error(rc, "pel put");
    to_state->pending++;
    return MN_OK;
}

static int pel_remove(mn_store *s, MDB_txn *txn, group_state *g, uint64_t ms, uint64_t seq)
{
    pel_entry p;
    const char *who;
    size_t who_len;
    int rc = pel_get(s, txn, g->group_id, ms, seq, &p, &who, &who_len);
    if (rc <= 0) return rc;
    consumer_state c;
    char name[MAX_NAME];
    memcpy(name, who, who_len);
    if (consumer_lookup(s, txn, g->group_id, name, who_len, &c) == MN_OK) {
        if (c.pending) c.pending--;
        if ((rc = consumer_store(s, txn, g->group_id, name, who_len, &c)) != MN_OK) return rc;
    }
    uint8_t k[24];
    pel_key(k, g->group_id, ms, seq);
    MDB_val kv = {24, k};
    if ((rc = mdb_del(txn, s->ix.pel, &kv, NULL)) != 0) return index_error(rc, "pel del");
    if (g->pending) g->pending--;
    return MN_OK;
}

static int apply_deliver(mn_store *s, MDB_txn *txn, const op_decoded *o, group_state *g)
{
    consumer_state c;
    int rc = consumer_ensure(s, txn, g, o->consumer, o->consumer_len, o->time_ms, &c);
    if (rc != MN_OK) return rc;
    if (!o->f) {
        MDB_cursor *cur;
        uint8_t key[16];
        if ((rc = mdb_cursor_open(txn, s->ix.events, &cur)) != 0) return index_error(rc, "cursor");
        event_key(key, o->stream_id, o->a);
        MDB_val k = {16, key}, d;
        int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
        while (mrc == 0 && be64_get(k.mv_data) == o->stream_id &&
               be64_get((uint8_t *)k.mv_data + 8) <= o->b) {
            event_loc loc;
            memcpy(&loc, d.mv_data, sizeof loc);
            /* An entry delivered again (the group's id was moved back)
             * moves to this consumer with a fresh count of 1, as in Redis. */
            rc = pel_assign(s, txn, g, loc.ms, loc.seq, o->consumer, o->consumer_len, &c, o->time_ms,
                            1);
            if (rc != MN_OK) {
                mdb_cursor_close(cur);
                return rc;
            }
            mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        /* A virtual stream's delivery lists its entries (vgroup.c, 2). */
        for (uint32_t i = 0; i < o->n_items && rc == MN_OK; i++) {
            mn_entry_id id;
            memcpy(&id, o->items + (size_t)i * sizeof id, sizeof id);
            rc = pel_assign(s, txn, g, id.ms, id.seq, o->consumer, o->consumer_len, &c, o->time_ms,
                            1);
        }
        if (rc != MN_OK) return rc;
    }
    g->last_ms = o->c;
    g->last_seq = o->d;
    g->entries_read = (int64_t)o->e;
    c.seen_ms = c.active_ms = o->time_ms;
    return consumer_store(s, txn, g->group_id, o->consumer, o->consumer_len, &c);
}

static int apply_claim(mn_store *s, MDB_txn *txn, const op_decoded *o, group_state *g)
{
    consumer_state c;
    int rc = consumer_ensure(s, txn, g, o->consumer, o->consumer_len, o->time_ms, &c);
    if (rc != MN_OK) return rc;
    if (o->a && id_cmp(o->b, o->c, g->last_ms, g->last_seq) > 0) {
        g->last_ms = o->b;
        g->last_seq = o->c;
    }
    for (uint32_t i = 0; i < o->n_items; i++) {
        claim_item it;
        memcpy(&it, o->items + (size_t)i * sizeof it, sizeof it);
        if ((rc = pel_assign(s, txn, g, it.ms, it.seq, o->consumer, o->consumer_len, &c,
                             it.delivered_ms, it.deliveries)) != MN_OK)
            return rc;
    }
    c.seen_ms = o->time_ms;
    if (o->n_items) c.active_ms = o->time_ms;
    return consumer_store(s, txn, g->group_id, o->consumer, o->consumer_len, &c);
}

/* Removes a consumer and its PEL entries. */
static int apply_consumer_delete(mn_store *s, MDB_txn *txn, const op_decoded *o, group_state *g)
{
    MDB_cursor *cur;
    uint8_t key[24];
    int rc = mdb_cursor_open(txn, s->ix.pel, &cur);
    if (rc) return index_error(rc, "cursor");
    pel_key(key, g->group_id, 0, 0);
    MDB_val k = {24, key}, d;
    int mrc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (mrc == 0 && be64_get(k.mv_data) == g->group_id) {
        size_t len = d.mv_size - sizeof(pel_entry);
        if (len == o->consumer_len &&
            memcmp((uint8_t *)d.mv_data + sizeof(pel_entry), o->consumer, len) == 0) {
            if ((mrc = mdb_cursor_del(cur, 0)) != 0) break;
            if (g->pending) g->pending--;
        }
        mrc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (mrc != 0 && mrc != MDB_NOTFOUND) return index_error(mrc, "consumer delete");
    uint8_t ck[8 + MAX_NAME];
    MDB_val kv = {name_key(ck, g->group_id, o->consumer, o->consumer_len), ck};
    rc = mdb_del(txn, s->ix.consumers, &kv, NULL);
    if (rc == 0 && g->consumers) g->consumers--;
    else if (rc != 0 && rc != MDB_NOTFOUND) return index_error(rc, "consumer del");
    return MN_OK;
}

int group_apply(mn_store *s, MDB_txn *txn, const log_rec *r)
{
    op_decoded o;
    group_state g;
    int rc;
    const char *why = op_decode(r->hdr->kind, r->payload, r->payload_len, &o);
    if (!why && (o.group_len > MAX_NAME || o.consumer_len > MAX_NAME)) why = "name too long";
    if (why)
        return error_set(MN_ECORRUPT, "group record (kind %u) at %llu is inconsistent: %s",
                         (unsigned)r->hdr->kind, (unsigned long long)r->pos, why);
    if (r->hdr->kind == REC_GROUP_CREATE) {
        memset(&g, 0, sizeof g);
        g.group_id = o.a;
        g.last_ms = o.b;
        g.last_seq = o.c;
        g.entries_read = (int64_t)o.d;
        g.created_ms = o.time_ms;
        if (o.a >= s->next_group_id) s->next_group_id = o.a + 1;
        return group_store(s, txn, o.stream_id, o.group, o.group_len, &g);
    }
    rc = group_lookup(s, txn, o.stream_id, o.group, o.group_len, &g);
    if (rc == MN_ENOGROUP) return MN_OK; /* its stream was deleted since */
    if (rc != MN_OK) return rc;
    switch (r->hdr->kind) {
    case REC_GROUP_SETID:
        g.last_ms = o.b;
        g.last_seq = o.c;
        g.entries_read = (int64_t)o.d;
        break;
    case REC_GROUP_DESTROY: {
        uint8_t k[8 + MAX_NAME];
        MDB_val kv = {name_key(k, o.stream_id, o.group, o.group_len), k};
        if ((rc = drop_prefix(txn, s->ix.consumers, g.group_id)) != MN_OK ||
            (rc = drop_prefix(txn, s->ix.pel, g.group_id)) != MN_OK ||
            (rc = queue_drop(s, txn, g.group_id)) != MN_OK)
            return rc;
        rc = mdb_del(txn, s->ix.groups, &kv, NULL);
        return rc ? index_error(rc, "group del") : MN_OK;
    }
    case REC_CONSUMER_CREATE: {
        consumer_state c;
        if ((rc = consumer_ensure(s, txn, &g, o.consumer, o.consumer_len, o.time_ms, &c)) != MN_OK ||
            (rc = consumer_store(s, txn, g.group_id, o.consumer, o.consumer_len, &c)) != MN_OK)
            return rc;
        break;
    }
    case REC_CONSUMER_DELETE: rc = apply_consumer_delete(s, txn, &o, &g); break;
    case REC_DELIVER: rc = apply_deliver(s, txn, &o, &g); break;
    case REC_CLAIM: rc = apply_claim(s, txn, &o, &g); break;
    case REC_PEL_REMOVE:
        for (uint32_t i = 0; i < o.n_items && rc == MN_OK; i++) {
            mn_entry_id id;
            memcpy(&id, o.items + (size_t)i * sizeof id, sizeof id);
            rc = pel_remove(s, txn, &g, id.ms, id.seq);
        }
        break;
    default: return MN_OK;
    }
    if (rc != MN_OK) return rc;
    return group_store(s, txn, o.stream_id, o.group, o.group_len, &g);
}

int group_drop_all(mn_store *s, MDB_txn *txn, uint64_t stream_id)
{
    MDB_cursor *cur;
    uint8_t k[8];
    int rc = mdb_cursor_open(txn, s->ix.groups, &cur);
    if (rc) return index_error(rc, "cursor");
    be64_put(k, stream_id);
    MDB_val kv = {8, k}, d;
    int mrc = mdb_cursor_get(cur, &kv, &d, MDB_SET_RANGE);
    while (mrc == 0 && be64_get(kv.mv_data) == stream_id) {
        group_state g;
        memcpy(&g, d.mv_data, sizeof g);
        if ((rc = drop_prefix(txn, s->ix.consumers, g.group_id)) != MN_OK ||
            (rc = drop_prefix(txn, s->ix.pel, g.group_id)) != MN_OK ||
            (rc = queue_drop(s, txn, g.group_id)) != MN_OK) {
            mdb_cursor_close(cur);
            return rc;
        }
        if ((mrc = mdb_cursor_del(cur, 0)) != 0) break;
        mrc = mdb_cursor_get(cur, &kv, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (mrc != 0 && mrc != MDB_NOTFOUND) return index_error(mrc, "drop groups");
    return MN_OK;
}

/* ---- reading ---- */

typedef struct snapshot {
    MDB_txn *txn;
    stream_state st;
    mn_entry_id first;  /* the first entry still in the stream (0-0 if empty) */
    int virt;           /* a virtual stream (view below) */
    vview view;
} snapshot;

static int snap_open(mn_store *s, const char *stream, size_t len, snapshot *sn)
{
    int rc = store_validate_name(stream, len);
    if (rc != MN_OK) return rc;
    if ((rc = mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &sn->txn)) != 0) {
        sn->txn = NULL;
        return index_error(rc, "begin read");
    }
    rc = stream_get(s, sn->txn, stream, len, &sn->st);
    sn->virt = vgroup_of(stream, len, &sn->view);
    if (rc == MN_ENOTFOUND && sn->virt) {
        /* A virtual stream without groups yet: no holder, nothing listed. */
        memset(&sn->st, 0, sizeof sn->st);
        sn->st.stream_id = UINT64_MAX;
        rc = MN_OK;
    }
    if (rc == MN_ENOTFOUND || (rc == MN_OK && (sn->st.flags & STREAM_TOMBSTONE)))
        return error_set(MN_ENOTFOUND, "no such key '%.*s'", (int)len, stream);
    if (rc != MN_OK) return rc;
    uint64_t v;
    event_loc loc;
    sn->first.ms = sn->first.seq = 0;
    if (stream_seek(s, sn->txn, sn->st.stream_id, 0, &v, &loc) == 1) {
        sn->first.ms = loc.ms;
        sn->first.seq = loc.seq;
    }
    return MN_OK;
}

/* Redis 7's lag: entries-added minus entries-read when that can be known,
 * i.e. when no XDEL hole lies in the unread part. A hole below the first
 * entry still in the stream (trimmed away since) does not count. */
static int64_t group_lag(const stream_state *st, const group_state *g, mn_entry_id first)
{
    int holes = (st->max_del_ms || st->max_del_seq) && st->length > 0 &&
                id_cmp(st->max_del_ms, st->max_del_seq, first.ms, first.seq) >= 0;
    int deletions_after =
        holes && id_cmp(st->max_del_ms, st->max_del_seq, g->last_ms, g->last_seq) > 0;
    if (id_cmp(g->last_ms, g->last_seq, st->last_ms, st->last_seq) >= 0) return 0;
    if (g->entries_read >= 0 && !deletions_after)
        return (int64_t)st->entries_added - g->entries_read;
    if (g->last_ms == 0 && g->last_seq == 0 && !st->max_del_ms && !st->max_del_seq)
        return (int64_t)st->entries_added;
    return -1;
}

static void group_view(mn_store *s, const snapshot *sn, mn_group_info *gi, const MDB_val *k,
                       const group_state *g)
{
    const stream_state *st = &sn->st;
    mn_entry_id first = sn->first;
    gi->name = (const char *)k->mv_data + 8;
    gi->name_len = k->mv_size - 8;
    gi->last_delivered.ms = g->last_ms;
    gi->last_delivered.seq = g->last_seq;
    gi->entries_read = g->entries_read;
    gi->lag = group_lag(st, g, first);
    gi->pending = g->pending;
    gi->consumers = g->consumers;
    if (sn->virt) {
        /* A view has no XDEL holes: its lag is exactly the number of its
         * events past the group's position (retention does not make it
         * unknowable, unlike entries-added minus entries-read). */
        uint64_t n = 0;
        gi->lag = g->last_ms == UINT64_MAX ? 0
                  : vgroup_count_after(s, &sn->view, g->last_ms, &n) == MN_OK ? (int64_t)n
                                                                             : -1;
    }
}

int mn_list_groups(mn_store *s, const char *stream, size_t stream_len,
                   int (*fn)(void *ud, const mn_group_info *g), void *ud)
{
    snapshot sn = {0};
    MDB_cursor *cur = NULL;
    int rc = snap_open(s, stream, stream_len, &sn);
    if (rc != MN_OK) goto done;
    if ((rc = mdb_cursor_open(sn.txn, s->ix.groups, &cur)) != 0) {
        rc = index_error(rc, "cursor");
        cur = NULL;
        goto done;
    }
    uint8_t k[8];
    be64_put(k, sn.st.stream_id);
    MDB_val kv = {8, k}, d;
    int mrc = mdb_cursor_get(cur, &kv, &d, MDB_SET_RANGE);
    rc = MN_OK;
    while (mrc == 0 && be64_get(kv.mv_data) == sn.st.stream_id) {
        group_state g;
        mn_group_info gi;
        memcpy(&g, d.mv_data, sizeof g);
        group_view(s, &sn, &gi, &kv, &g);
        if ((rc = fn(ud, &gi)) != 0) break;
        mrc = mdb_cursor_get(cur, &kv, &d, MDB_NEXT);
    }
done:
    if (cur) mdb_cursor_close(cur);
    if (sn.txn) mdb_txn_abort(sn.txn);
    return rc;
}

int mn_group_get(mn_store *s, const char *stream, size_t stream_len, const char *group,
                 size_t group_len, int (*fn)(void *ud, const mn_group_info *g), void *ud)
{
    snapshot sn = {0};
    group_state g;
    int rc = snap_open(s, stream, stream_len, &sn);
    if (rc != MN_OK) goto done;
    if (group_len == 0 || group_len > MAX_NAME) {
        rc = error_set(MN_ENOGROUP, "no such consumer group");
        goto done;
    }
    if ((rc = group_lookup(s, sn.txn, sn.st.stream_id, group, group_len, &g)) != MN_OK) {
        if (rc == MN_ENOGROUP)
            rc = error_set(MN_ENOGROUP, "No such key '%.*s' or consumer group '%.*s'",
                           (int)stream_len, stream, (int)group_len, group);
        goto done;
    }
    uint8_t k[8 + MAX_NAME];
    MDB_val kv = {name_key(k, sn.st.stream_id, group, group_len), k};
    mn_group_info gi;
    group_view(s, &sn, &gi, &kv, &g);
    rc = fn(ud, &gi);
done:
    if (sn.txn) mdb_txn_abort(sn.txn);
    return rc;
}

int mn_list_consumers(mn_store *s, const char *stream, size_t stream_len, const char *group,
                      size_t group_len, int (*fn)(void *ud, const mn_consumer_info *c), void *ud)
{
    snapshot sn = {0};
    group_state g;
    MDB_cursor *cur = NULL;
    int rc = snap_open(s, stream, stream_len, &sn);
    if (rc != MN_OK) goto done;
    if (group_len == 0 || group_len > MAX_NAME ||
        (rc = group_lookup(s, sn.txn, sn.st.stream_id, group, group_len, &g)) != MN_OK) {
        rc = error_set(MN_ENOGROUP, "No such key '%.*s' or consumer group '%.*s'", (int)stream_len,
                       stream, (int)group_len, group);
        goto done;
    }
    if ((rc = mdb_cursor_open(sn.txn, s->ix.consumers, &cur)) != 0) {
        rc = index_error(rc, "cursor");
        cur = NULL;
        goto done;
    }
    uint8_t k[8];
    be64_put(k, g.group_id);
    MDB_val kv = {8, k}, d;
    int mrc = mdb_cursor_get(cur, &kv, &d, MDB_SET_RANGE);
    rc = MN_OK;
    while (mrc == 0 && be64_get(kv.mv_data) == g.group_id) {
        consumer_state c;
        memcpy(&c, d.mv_data, sizeof c);
        mn_consumer_info ci = {(const char *)kv.mv_data + 8, kv.mv_size - 8, c.pending, c.seen_ms,
                               c.active_ms};
        if ((rc = fn(ud, &ci)) != 0) break;
        mrc = mdb_cursor_get(cur, &kv, &d, MDB_NEXT);
    }
done:
    if (cur) mdb_cursor_close(cur);
    if (sn.txn) mdb_txn_abort(sn.txn);
    return rc;
}

int mn_list_pending(mn_store *s, const char *stream, size_t stream_len, const char *group,
                    size_t group_len, mn_entry_id start, mn_entry_id end, uint64_t count,
                    const char *consumer, size_t consumer_len, uint64_t min_idle_ms,
                    int (*fn)(void *ud, const mn_pending_entry *p), void *ud)
{
    snapshot sn = {0};
    group_state g;
    MDB_cursor *cur = NULL;
    int rc = snap_open(s, stream, stream_len, &sn);
    if (rc != MN_OK) goto done;
    if (group_len == 0 || group_len > MAX_NAME ||
        (rc = group_lookup(s, sn.txn, sn.st.stream_id, group, group_len, &g)) != MN_OK) {
        rc = error_set(MN_ENOGROUP, "No such key '%.*s' or consumer group '%.*s'", (int)stream_len,
                       stream, (int)group_len, group);
        goto done;
    }
    if ((rc = mdb_cursor_open(sn.txn, s->ix.pel, &cur)) != 0) {
        rc = index_error(rc, "cursor");
        cur = NULL;
        goto done;
    }
    uint64_t now = clock_wall_ms(), left = count ? count : UINT64_MAX;
    uint8_t k[24];
    pel_key(k, g.group_id, start.ms, start.seq);
    MDB_val kv = {24, k}, d;
    int mrc = mdb_cursor_get(cur, &kv, &d, MDB_SET_RANGE);
    rc = MN_OK;
    while (mrc == 0 && left > 0 && be64_get(kv.mv_data) == g.group_id) {
        uint64_t ms = be64_get((uint8_t *)kv.mv_data + 8), seq = be64_get((uint8_t *)kv.mv_data + 16);
        if (id_cmp(ms, seq, end.ms, end.seq) > 0) break;
        pel_entry p;
        memcpy(&p, d.mv_data, sizeof p);
        const char *who = (const char *)d.mv_data + sizeof p;
        size_t who_len = d.mv_size - sizeof p;
        int match = !consumer || (who_len == consumer_len && memcmp(who, consumer, who_len) == 0);
        int idle_ok = !min_idle_ms || (now >= p.delivered_ms && now - p.delivered_ms >= min_idle_ms);
        if (match && idle_ok) {
            mn_pending_entry pe = {{ms, seq}, who, who_len, p.delivered_ms, p.deliveries};
            if ((rc = fn(ud, &pe)) != 0) break;
            left--;
        }
        mrc = mdb_cursor_get(cur, &kv, &d, MDB_NEXT);
    }
done:
    if (cur) mdb_cursor_close(cur);
    if (sn.txn) mdb_txn_abort(sn.txn);
    return rc;
}

int mn_read_entry(mn_store *s, const char *stream, size_t stream_len, mn_entry_id id, mn_iter **out)
{
    vview v;
    if (vgroup_of(stream, stream_len, &v)) return vgroup_read_entry(s, &v, id, out);
    return mn_read_stream_range(s, stream, stream_len, id, id, 1, 0, out);
}

uint64_t group_count(mn_store *s, MDB_txn *txn, uint64_t stream_id)
{
    MDB_cursor *cur;
    uint64_t n = 0;
    uint8_t k[8];
    if (mdb_cursor_open(txn, s->ix.groups, &cur) != 0) return 0;
    be64_put(k, stream_id);
    MDB_val kv = {8, k}, d;
    int mrc = mdb_cursor_get(cur, &kv, &d, MDB_SET_RANGE);
    while (mrc == 0 && be64_get(kv.mv_data) == stream_id) {
        n++;
        mrc = mdb_cursor_get(cur, &kv, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return n;
}
