/*
 * ops.c — operations other than appends: the dispatcher for mn_op requests
 * (writer thread), the helper that stages operation records, and the
 * stream-level operations — create an empty stream, delete entries (XDEL),
 * trim (XTRIM), set ids (XSETID). Consumer groups are in group.c.
 *
 * Every operation decides its effects while staging (which versions go,
 * which ids, what time) and writes them into its record; apply only replays
 * those effects. So the index after a restart, or after a rebuild, is the
 * one the running store had.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/event.h"
#include "engine/ops.h"
#include "engine/store.h"
#include "util/clock.h"
#include "util/error.h"

/* ---- shared helpers ---- */

int stream_seek(mn_store *s, MDB_txn *txn, uint64_t stream_id, uint64_t v, uint64_t *found,
                event_loc *loc)
{
    MDB_cursor *c;
    uint8_t key[16];
    int rc = mdb_cursor_open(txn, s->ix.events, &c);
    if (rc) return index_error(rc, "cursor");
    event_key(key, stream_id, v);
    MDB_val k = {16, key}, d;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    int ok = rc == 0 && be64_get(k.mv_data) == stream_id;
    if (ok) {
        *found = be64_get((uint8_t *)k.mv_data + 8);
        memcpy(loc, d.mv_data, sizeof *loc);
    }
    mdb_cursor_close(c);
    return ok;
}

static int id_less(uint64_t ams, uint64_t aseq, mn_entry_id b)
{
    return ams < b.ms || (ams == b.ms && aseq < b.seq);
}

int stream_lower_bound(mn_store *s, MDB_txn *txn, const stream_state *st, mn_entry_id target,
                       uint64_t *version, event_loc *loc)
{
    uint64_t lo = 0, hi = (uint64_t)(st->version + 1), found;
    event_loc l;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int rc = stream_seek(s, txn, st->stream_id, mid, &found, &l);
        if (rc < 0) return rc;
        if (!rc) {
            hi = mid;
            continue;
        }
        if (id_less(l.ms, l.seq, target)) lo = found + 1;
        else hi = mid;
    }
    if (lo > (uint64_t)st->version) return 0;
    return stream_seek(s, txn, st->stream_id, lo, version, loc);
}

int op_stage_records(mn_store *s, MDB_txn *txn, request *r, size_t n, const uint8_t *kinds,
                     const op_decoded *recs)
{
    uint64_t bytes = 0, pos;
    for (size_t i = 0; i < n; i++) bytes += rec_space(op_payload_size(&recs[i]));
    uint8_t *out = log_batch_reserve(s->log, bytes, &pos);
    if (!out) return error_set(MN_ENOMEM, "out of memory");
    r->staged = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t plen = op_payload_size(&recs[i]);
        op_encode(out + REC_HDR_SIZE, &recs[i]);
        rec_seal(out, pos, kinds[i], i == n - 1 ? REC_TXN_END : 0, (uint32_t)plen);
        log_rec lr = {(const rec_hdr *)out, out + REC_HDR_SIZE, (uint32_t)plen, pos};
        int rc = apply_group(s, txn, &lr, 1);
        if (rc != MN_OK) return rc;
        out += rec_space(plen);
        pos += rec_space(plen);
    }
    return MN_OK;
}

void op_base(op_decoded *o, const mn_op *op, uint64_t stream_id)
{
    memset(o, 0, sizeof *o);
    o->stream_id = stream_id;
    o->time_ms = clock_wall_ms();
    o->stream = op->stream;
    o->stream_len = (uint32_t)op->stream_len;
}

int op_stream(mn_store *s, MDB_txn *txn, const mn_op *op, stream_state *st)
{
    int rc = stream_get(s, txn, op->stream, op->stream_len, st);
    if (rc == MN_ENOTFOUND)
        return error_set(MN_ENOTFOUND, "no such key '%.*s'", (int)op->stream_len, op->stream);
    if (rc != MN_OK) return rc;
    if (st->flags & STREAM_TOMBSTONE)
        return error_set(MN_EDELETED, "stream '%.*s' is deleted", (int)op->stream_len, op->stream);
    return MN_OK;
}

/* ---- create ---- */

static int stage_create(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    int rc = stream_get(s, txn, op->stream, op->stream_len, &st);
    if (rc == MN_OK) {
        if (st.flags & STREAM_TOMBSTONE)
            return error_set(MN_EDELETED, "stream '%.*s' is deleted", (int)op->stream_len,
                             op->stream);
        op->n = 0;
        return MN_OK;
    }
    if (rc != MN_ENOTFOUND) return rc;
    return ops_create_stream(s, txn, r, op->stream, op->stream_len);
}

int ops_create_stream(mn_store *s, MDB_txn *txn, request *r, const char *name, size_t len)
{
    op_decoded o;
    uint8_t kind = REC_STREAM_CREATE;
    memset(&o, 0, sizeof o);
    o.stream_id = s->next_stream_id;
    o.time_ms = clock_wall_ms();
    o.stream = name;
    o.stream_len = (uint32_t)len;
    if (r->op) r->op->n = 1;
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

/* ---- XDEL ---- */

static int stage_entries_delete(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    int rc = op_stream(s, txn, op, &st);
    if (rc != MN_OK) return rc;
    uint64_t *versions = malloc((op->nids ? op->nids : 1) * sizeof *versions);
    if (!versions) return error_set(MN_ENOMEM, "out of memory");
    size_t n = 0;
    mn_entry_id maxdel = {st.max_del_ms, st.max_del_seq};
    for (size_t i = 0; i < op->nids; i++) {
        uint64_t v;
        event_loc loc;
        rc = stream_lower_bound(s, txn, &st, op->ids[i], &v, &loc);
        if (rc < 0) goto done;
        if (rc == 0 || loc.ms != op->ids[i].ms || loc.seq != op->ids[i].seq) continue;
        int dup = 0;
        for (size_t k = 0; k < n; k++) dup |= versions[k] == v;
        if (dup) continue;
        versions[n++] = v;
        if (id_less(maxdel.ms, maxdel.seq, op->ids[i])) maxdel = op->ids[i];
    }
    op->n = n;
    rc = MN_OK;
    if (n) {
        op_decoded o;
        uint8_t kind = REC_ENTRIES_DELETE;
        op_base(&o, op, st.stream_id);
        o.a = maxdel.ms;
        o.b = maxdel.seq;
        o.items = (const uint8_t *)versions;
        o.n_items = (uint32_t)n;
        o.item_size = sizeof(uint64_t);
        rc = op_stage_records(s, txn, r, 1, &kind, &o);
    }
done:
    free(versions);
    return rc;
}

/* ---- XTRIM ---- */

/* Walks existing versions from the start: the version below which `k`
 * entries lie (all of them if fewer), and the id of the last of them. */
static int versions_after_k(mn_store *s, MDB_txn *txn, uint64_t stream_id, uint64_t k,
                            uint64_t limit_version, uint64_t *below, uint64_t *removed,
                            mn_entry_id *last_removed)
{
    MDB_cursor *c;
    uint8_t key[16];
    int rc = mdb_cursor_open(txn, s->ix.events, &c);
    if (rc) return index_error(rc, "cursor");
    event_key(key, stream_id, 0);
    MDB_val kv = {16, key}, d;
    *removed = 0;
    *below = 0;
    rc = mdb_cursor_get(c, &kv, &d, MDB_SET_RANGE);
    while (rc == 0 && be64_get(kv.mv_data) == stream_id && *removed < k) {
        uint64_t v = be64_get((uint8_t *)kv.mv_data + 8);
        if (v >= limit_version) break;
        event_loc loc;
        memcpy(&loc, d.mv_data, sizeof loc);
        last_removed->ms = loc.ms;
        last_removed->seq = loc.seq;
        (*removed)++;
        *below = v + 1;
        rc = mdb_cursor_get(c, &kv, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return MN_OK;
}

int ops_trim(mn_store *s, MDB_txn *txn, request *r, const mn_op *op, const stream_state *st,
             const mn_trim *t, uint64_t *removed)
{
    uint64_t k = 0, limit_version = UINT64_MAX, below = 0;
    mn_entry_id last = {0, 0};
    int rc;
    *removed = 0;
    if (t->mode == MN_TRIM_MAXLEN) {
        if (st->length <= t->maxlen) return MN_OK;
        k = st->length - t->maxlen;
    } else if (t->mode == MN_TRIM_MINID) {
        uint64_t v;
        event_loc loc;
        rc = stream_lower_bound(s, txn, st, t->minid, &v, &loc);
        if (rc < 0) return rc;
        limit_version = rc ? v : UINT64_MAX;
        k = UINT64_MAX;
    } else {
        return MN_OK;
    }
    if (t->limit && k > t->limit) k = t->limit;
    if ((rc = versions_after_k(s, txn, st->stream_id, k, limit_version, &below, removed, &last)) !=
        MN_OK)
        return rc;
    if (*removed == 0) return MN_OK;
    op_decoded o;
    uint8_t kind = REC_STREAM_TRIM;
    op_base(&o, op, st->stream_id);
    o.a = below;
    o.b = last.ms;
    o.c = last.seq;
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

static int stage_trim(mn_store *s, MDB_txn *txn, request *r)
{
    stream_state st;
    int rc = op_stream(s, txn, r->op, &st);
    if (rc != MN_OK) return rc;
    return ops_trim(s, txn, r, r->op, &st, &r->op->trim, &r->op->n);
}

/* ---- XSETID ---- */

static int stage_setid(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    stream_state st;
    int rc = op_stream(s, txn, op, &st);
    if (rc != MN_OK) return rc;
    /* The top item is the largest id still in the stream. */
    mn_entry_id top = {0, 0};
    if (st.length > 0 && st.version >= 0) {
        uint8_t key[16];
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, s->ix.events, &c)) != 0) return index_error(rc, "cursor");
        event_key(key, st.stream_id + 1, 0);
        MDB_val k = {16, key}, d;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        rc = rc == 0 ? mdb_cursor_get(c, &k, &d, MDB_PREV) : mdb_cursor_get(c, &k, &d, MDB_LAST);
        if (rc == 0 && be64_get(k.mv_data) == st.stream_id) {
            event_loc loc;
            memcpy(&loc, d.mv_data, sizeof loc);
            top.ms = loc.ms;
            top.seq = loc.seq;
        }
        mdb_cursor_close(c);
    }
    if (id_less(op->id.ms, op->id.seq, top))
        return error_set(MN_EIDORDER, "The ID specified in XSETID is smaller than the target "
                         "stream top item");
    mn_entry_id maxdel = {st.max_del_ms, st.max_del_seq};
    if (!op->max_deleted_set && id_less(op->id.ms, op->id.seq, maxdel))
        return error_set(MN_EIDORDER, "The ID specified in XSETID is smaller than current "
                         "max_deleted_entry_id");
    if (op->entries_added >= 0 && (uint64_t)op->entries_added < st.length)
        return error_set(MN_EINVAL, "The entries_added specified in XSETID is smaller than the "
                         "target stream length");
    if (op->max_deleted_set && id_less(op->id.ms, op->id.seq, op->max_deleted))
        return error_set(MN_EINVAL, "The ID specified in XSETID is smaller than the provided "
                         "max_deleted_entry_id");
    op_decoded o;
    uint8_t kind = REC_STREAM_SETID;
    op_base(&o, op, st.stream_id);
    o.a = op->id.ms;
    o.b = op->id.seq;
    o.c = op->entries_added >= 0 ? (uint64_t)op->entries_added : st.entries_added;
    o.d = op->max_deleted_set ? op->max_deleted.ms : st.max_del_ms;
    o.e = op->max_deleted_set ? op->max_deleted.seq : st.max_del_seq;
    return op_stage_records(s, txn, r, 1, &kind, &o);
}

/* ---- dispatch ---- */

int op_stage(mn_store *s, MDB_txn *txn, request *r)
{
    mn_op *op = r->op;
    switch (op->kind) {
    case MN_OP_STREAM_CREATE: return stage_create(s, txn, r);
    case MN_OP_ENTRIES_DELETE: return stage_entries_delete(s, txn, r);
    case MN_OP_TRIM: return stage_trim(s, txn, r);
    case MN_OP_SETID: return stage_setid(s, txn, r);
    case MN_OP_QUEUE_POLICY:
    case MN_OP_QUEUE_REPLAY: return queue_stage(s, txn, r);
    default: return group_stage(s, txn, r);
    }
}

/* ---- apply ---- */

static int drop_versions_below(mn_store *s, MDB_txn *txn, uint64_t stream_id, uint64_t below,
                               uint64_t *dropped)
{
    MDB_cursor *c;
    uint8_t key[16];
    int rc = mdb_cursor_open(txn, s->ix.events, &c);
    if (rc) return index_error(rc, "cursor");
    event_key(key, stream_id, 0);
    MDB_val k = {16, key}, d;
    *dropped = 0;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && be64_get(k.mv_data) == stream_id && be64_get((uint8_t *)k.mv_data + 8) < below) {
        if ((rc = mdb_cursor_del(c, 0)) != 0) break;
        (*dropped)++;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) return index_error(rc, "trim");
    return MN_OK;
}

static void raise_max_deleted(stream_state *st, uint64_t ms, uint64_t seq)
{
    if (st->max_del_ms < ms || (st->max_del_ms == ms && st->max_del_seq < seq)) {
        st->max_del_ms = ms;
        st->max_del_seq = seq;
    }
}

int ops_apply(mn_store *s, MDB_txn *txn, const log_rec *r)
{
    op_decoded o;
    stream_state st;
    int rc;
    const char *why = op_decode(r->hdr->kind, r->payload, r->payload_len, &o);
    if (why)
        return error_set(MN_ECORRUPT, "operation record (kind %u) at %llu is inconsistent: %s",
                         (unsigned)r->hdr->kind, (unsigned long long)r->pos, why);
    if (r->hdr->kind == REC_STREAM_CREATE) {
        memset(&st, 0, sizeof st);
        st.stream_id = o.stream_id;
        st.version = MN_NO_VERSION;
        st.created_us = o.time_ms * 1000;
        uint8_t key[8];
        be64_put(key, o.stream_id);
        MDB_val nk = {8, key}, nv = {o.stream_len, (void *)o.stream};
        if ((rc = mdb_put(txn, s->ix.names, &nk, &nv, 0)) != 0) return index_error(rc, "names put");
        if (o.stream_id >= s->next_stream_id) s->next_stream_id = o.stream_id + 1;
        atomic_fetch_add(&s->live_streams, 1);
        return stream_put(s, txn, o.stream, o.stream_len, &st);
    }
    rc = stream_get(s, txn, o.stream, o.stream_len, &st);
    if (rc == MN_ENOTFOUND || (rc == MN_OK && st.stream_id != o.stream_id)) return MN_OK;
    if (rc != MN_OK) return rc;
    switch (r->hdr->kind) {
    case REC_ENTRIES_DELETE:
        for (uint32_t i = 0; i < o.n_items; i++) {
            uint64_t v;
            uint8_t key[16];
            memcpy(&v, o.items + (size_t)i * sizeof v, sizeof v);
            event_key(key, st.stream_id, v);
            MDB_val k = {16, key};
            rc = mdb_del(txn, s->ix.events, &k, NULL);
            if (rc == 0 && st.length > 0) st.length--;
            else if (rc != MDB_NOTFOUND && rc != 0) return index_error(rc, "xdel");
        }
        raise_max_deleted(&st, o.a, o.b);
        break;
    case REC_STREAM_TRIM: {
        uint64_t dropped = 0;
        if ((rc = drop_versions_below(s, txn, st.stream_id, o.a, &dropped)) != MN_OK) return rc;
        /* As in Redis, trimming the head moves the first entry, not the
         * max-deleted id (which marks holes that XDEL leaves). */
        st.length = st.length > dropped ? st.length - dropped : 0;
        break;
    }
    case REC_STREAM_SETID:
        st.last_ms = o.a;
        st.last_seq = o.b;
        st.entries_added = o.c;
        st.max_del_ms = o.d;
        st.max_del_seq = o.e;
        break;
    default: return MN_OK;
    }
    return stream_put(s, txn, o.stream, o.stream_len, &st);
}
