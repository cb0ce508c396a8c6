/*
 * apply.c — turning log records into index entries.
 *
 * The single place where the index learns what the log says. The writer calls
 * apply_group on the records it has just staged (in the batch's LMDB write
 * transaction, before the batch is written, so later requests of the same
 * batch see earlier ones); recovery and rebuilds call it on records read back
 * from the log. Same code, same result: a rebuilt index equals the one built
 * while running.
 *
 * Invariant: apply trusts the record (its conditions were checked when it was
 * staged); it never fails for a semantic reason, only for LMDB errors.
 */
#include <string.h>

#include "engine/event.h"
#include "engine/store.h"
#include "util/error.h"

int stream_get(mn_store *s, MDB_txn *txn, const char *name, size_t len, stream_state *out)
{
    MDB_val k = {len, (void *)name}, v;
    int rc = mdb_get(txn, s->ix.streams, &k, &v);
    if (rc == MDB_NOTFOUND) return MN_ENOTFOUND;
    if (rc) return index_error(rc, "stream lookup");
    if (v.mv_size != sizeof *out) return error_set(MN_ECORRUPT, "index: bad stream state size");
    memcpy(out, v.mv_data, sizeof *out);
    return MN_OK;
}

int stream_put(mn_store *s, MDB_txn *txn, const char *name, size_t len, const stream_state *st)
{
    MDB_val k = {len, (void *)name}, v = {sizeof *st, (void *)st};
    int rc = mdb_put(txn, s->ix.streams, &k, &v, 0);
    return rc ? index_error(rc, "stream put") : MN_OK;
}

/* The stream state the events of one group are applied to: read once,
 * written back once when the group moves to another stream or ends, instead
 * of a get and a put per event (an append of 100 events is one stream). */
typedef struct state_cache {
    int valid;            /* st is loaded */
    int dirty;            /* st must be written back */
    const char *name;     /* the stream's name (points into a record) */
    uint32_t name_len;
    stream_state st;
} state_cache;

static int cache_flush(mn_store *s, MDB_txn *txn, state_cache *c)
{
    int rc = MN_OK;
    if (c->valid && c->dirty) rc = stream_put(s, txn, c->name, c->name_len, &c->st);
    c->valid = c->dirty = 0;
    return rc;
}

static int apply_event(mn_store *s, MDB_txn *txn, const log_rec *r, state_cache *c)
{
    ev_decoded e;
    int rc;
    uint8_t key[16];
    if (ev_decode(r->payload, r->payload_len, &e) != 0)
        return error_set(MN_ECORRUPT,
                         "event record at %llu is inconsistent: lengths, or a stream name "
                         "empty or too long",
                         (unsigned long long)r->pos);
    if (!c->valid || c->name_len != e.stream_len || memcmp(c->name, e.stream, e.stream_len) != 0) {
        if ((rc = cache_flush(s, txn, c)) != MN_OK) return rc;
        rc = stream_get(s, txn, e.stream, e.stream_len, &c->st);
        if (rc != MN_OK && rc != MN_ENOTFOUND) return rc;
        c->valid = 1;
        c->name = e.stream;
        c->name_len = e.stream_len;
        if (rc == MN_ENOTFOUND) c->st.stream_id = 0; /* ids start at 1: never matches */
    }
    stream_state *st = &c->st;
    if (st->stream_id != e.stream_id) {
        /* First event of a (re)created stream. */
        memset(st, 0, sizeof *st);
        st->stream_id = e.stream_id;
        st->version = MN_NO_VERSION;
        st->created_us = e.timestamp_us;
        be64_put(key, e.stream_id);
        MDB_val nk = {8, key}, nv = {e.stream_len, (void *)e.stream};
        if ((rc = mdb_put(txn, s->ix.names, &nk, &nv, 0)) != 0) return index_error(rc, "names put");
        atomic_fetch_add(&s->live_streams, 1);
    }
    st->version = e.version;
    st->length++;
    st->entries_added++;
    st->last_pos = r->pos;
    st->last_ms = e.entry_id.ms;
    st->last_seq = e.entry_id.seq;
    c->dirty = 1;

    event_loc loc = {r->pos, r->hdr->len, 0, e.entry_id.ms, e.entry_id.seq};
    event_key(key, e.stream_id, (uint64_t)e.version);
    MDB_val ek = {16, key}, ev = {sizeof loc, &loc};
    /* Versions only grow within a stream: MDB_APPEND when this is the
     * stream's newest key would need knowing that; LMDB's ordinary put is
     * a descent to the rightmost leaf, cheap enough. */
    if ((rc = mdb_put(txn, s->ix.events, &ek, &ev, 0)) != 0) return index_error(rc, "events put");

    if ((rc = views_apply_event(s, txn, e.stream, e.stream_len, e.type, e.type_len, e.meta,
                                e.meta_len, r->pos)) != MN_OK)
        return rc;
    if (e.flags & EV_CLIENT_ID) {
        id_loc il = {e.stream_id, e.version, r->pos};
        MDB_val ik = {16, e.id}, iv = {sizeof il, &il};
        if ((rc = mdb_put(txn, s->ix.ids, &ik, &iv, 0)) != 0) return index_error(rc, "ids put");
    }
    if (e.stream_id >= s->next_stream_id) s->next_stream_id = e.stream_id + 1;
    s->events_total++;
    return MN_OK;
}

/* Removes every events entry of a stream. */
static int drop_stream_events(mn_store *s, MDB_txn *txn, uint64_t stream_id)
{
    MDB_cursor *c;
    uint8_t key[16];
    int rc = mdb_cursor_open(txn, s->ix.events, &c);
    if (rc) return index_error(rc, "cursor");
    event_key(key, stream_id, 0);
    MDB_val k = {16, key}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 16 && be64_get(k.mv_data) == stream_id) {
        if ((rc = mdb_cursor_del(c, 0)) != 0) break;
        /* After a delete, LMDB's MDB_NEXT yields the entry that followed. */
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND) return index_error(rc, "drop stream events");
    return MN_OK;
}

static int apply_delete(mn_store *s, MDB_txn *txn, const log_rec *r)
{
    del_decoded d;
    stream_state st;
    int rc;
    if (del_decode(r->payload, r->payload_len, &d) != 0)
        return error_set(MN_ECORRUPT,
                         "delete record at %llu is inconsistent: lengths, or a stream name "
                         "empty or too long",
                         (unsigned long long)r->pos);
    rc = stream_get(s, txn, d.name, d.name_len, &st);
    if (rc == MN_ENOTFOUND || (rc == MN_OK && st.stream_id != d.stream_id)) return MN_OK;
    if (rc != MN_OK) return rc;
    if ((rc = drop_stream_events(s, txn, st.stream_id)) != MN_OK) return rc;
    if ((rc = group_drop_all(s, txn, st.stream_id)) != MN_OK) return rc;
    if (d.flags & DEL_TOMBSTONE) {
        if (!(st.flags & STREAM_TOMBSTONE)) atomic_fetch_sub(&s->live_streams, 1);
        st.flags |= STREAM_TOMBSTONE;
        st.length = 0;
        return stream_put(s, txn, d.name, d.name_len, &st);
    }
    MDB_val k = {d.name_len, (void *)d.name};
    if ((rc = mdb_del(txn, s->ix.streams, &k, NULL)) != 0) return index_error(rc, "streams del");
    uint8_t key[8];
    be64_put(key, st.stream_id);
    MDB_val nk = {8, key};
    if ((rc = mdb_del(txn, s->ix.names, &nk, NULL)) != 0 && rc != MDB_NOTFOUND)
        return index_error(rc, "names del");
    atomic_fetch_sub(&s->live_streams, 1);
    return MN_OK;
}

int apply_group(mn_store *s, MDB_txn *txn, const log_rec *recs, size_t n)
{
    state_cache cache = {0};
    for (size_t i = 0; i < n; i++) {
        int rc = MN_OK;
        /* Other kinds read and write stream states themselves. */
        if (recs[i].hdr->kind != REC_EVENT && (rc = cache_flush(s, txn, &cache)) != MN_OK) return rc;
        switch (recs[i].hdr->kind) {
        case REC_EVENT: rc = apply_event(s, txn, &recs[i], &cache); break;
        case REC_STREAM_DELETE: rc = apply_delete(s, txn, &recs[i]); break;
        case REC_STREAM_CREATE:
        case REC_ENTRIES_DELETE:
        case REC_STREAM_TRIM:
        case REC_STREAM_SETID: rc = ops_apply(s, txn, &recs[i]); break;
        case REC_GROUP_CREATE:
        case REC_GROUP_SETID:
        case REC_GROUP_DESTROY:
        case REC_CONSUMER_CREATE:
        case REC_CONSUMER_DELETE:
        case REC_DELIVER:
        case REC_PEL_REMOVE:
        case REC_CLAIM: rc = group_apply(s, txn, &recs[i]); break;
        case REC_QUEUE_POLICY: rc = queue_apply(s, txn, &recs[i]); break;
        default:
            /* The segment format version admits only the kinds above. */
            return error_set(MN_ECORRUPT, "record of unknown kind %u at %llu", recs[i].hdr->kind,
                             (unsigned long long)recs[i].pos);
        }
        if (rc != MN_OK) return rc;
    }
    return cache_flush(s, txn, &cache);
}
