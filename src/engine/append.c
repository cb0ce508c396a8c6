/*
 * append.c — staging one request into the writer's current batch: check its
 * conditions, encode its records into the log's staging buffer, apply them to
 * the batch's index transaction.
 *
 * Order inside append_stage (all of it on the writer thread):
 *   1. idempotency: if every event carries a client id already stored for
 *      the same stream, answer with the original result and stage nothing;
 *   2. conditions of every part (tombstone, expected version, entry ids) —
 *      all checked before anything is staged, so a failing request leaves
 *      no trace;
 *   3. one reservation for the whole request (one atomic group, TXN_END on
 *      its last record), encode, seal, apply.
 * The request's outcome is final only when the batch is written: the writer
 * fails every staged request if the write fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/event.h"
#include "engine/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/uuid.h"

static int is_zero_id(const uint8_t id[16]) { return uuid_is_zero(id); }

static int name_error(const mn_append_part *p)
{
    return error_set(MN_EINVAL, "stream name must be 1..%u bytes (got %zu)", MN_MAX_STREAM_NAME,
                     p->stream_len);
}

/* Looks up the request's client ids. Returns MN_OK with *all_found set when
 * every event has a stored id for its own stream (then the parts' out fields
 * are filled with the original result), MN_OK with *all_found = 0 when none
 * is stored, MN_EDUPLICATE when some are. */
static int check_idempotent(mn_store *s, MDB_txn *txn, request *r, int *all_found)
{
    size_t given = 0, found = 0, total = 0;
    *all_found = 0;
    /* Fast path: appends without client ids (most) cannot be retries. */
    for (size_t i = 0; i < r->nparts && !given; i++)
        for (size_t j = 0; j < r->parts[i].count && !given; j++)
            given += !is_zero_id(r->parts[i].events[j].id);
    if (!given) return MN_OK;
    given = 0;
    for (size_t i = 0; i < r->nparts; i++) {
        mn_append_part *p = &r->parts[i];
        stream_state st;
        int have_stream = stream_get(s, txn, p->stream, p->stream_len, &st) == MN_OK;
        for (size_t j = 0; j < p->count; j++) {
            const mn_event *e = &p->events[j];
            total++;
            if (is_zero_id(e->id)) continue;
            given++;
            MDB_val k = {16, (void *)e->id}, v;
            int rc = mdb_get(txn, s->ix.ids, &k, &v);
            if (rc == MDB_NOTFOUND) continue;
            if (rc) return index_error(rc, "id lookup");
            id_loc il;
            memcpy(&il, v.mv_data, sizeof il);
            /* An id whose stream was deleted since is free again. */
            if (!have_stream || st.stream_id != il.stream_id) {
                char text[37];
                mn_uuid_format(e->id, text);
                int live = 0;
                uint8_t nk[8];
                be64_put(nk, il.stream_id);
                MDB_val kk = {8, nk}, vv;
                live = mdb_get(txn, s->ix.names, &kk, &vv) == 0;
                if (!live) continue;
                return error_set(MN_EDUPLICATE, "event id %s is already stored in another stream",
                                 text);
            }
            found++;
            if (j == p->count - 1) {
                uint8_t key[16];
                event_key(key, il.stream_id, (uint64_t)il.version);
                MDB_val ek = {16, key}, ev;
                p->version = il.version;
                p->position = il.pos;
                p->actual = st.version;
                if (mdb_get(txn, s->ix.events, &ek, &ev) == 0) {
                    event_loc loc;
                    memcpy(&loc, ev.mv_data, sizeof loc);
                    p->last_id.ms = loc.ms;
                    p->last_id.seq = loc.seq;
                }
            }
        }
    }
    if (found == 0) return MN_OK;
    if (found == total && given == total) {
        *all_found = 1;
        return MN_OK;
    }
    return error_set(MN_EDUPLICATE, "%zu of the %zu events' ids are already stored: a retry must "
                     "carry exactly the ids of the original append", found, total);
}

/* Checks one part's conditions against the stream's state; fills *st (a
 * fresh state for a new stream) and the entry ids into ids[]. */
static int check_part(mn_store *s, MDB_txn *txn, mn_append_part *p, stream_state *st, int *is_new,
                      mn_entry_id *ids, uint64_t now_ms)
{
    int rc = stream_get(s, txn, p->stream, p->stream_len, st);
    if (rc != MN_OK && rc != MN_ENOTFOUND) return rc;
    *is_new = rc == MN_ENOTFOUND;
    if (*is_new) {
        memset(st, 0, sizeof *st);
        st->version = MN_NO_VERSION;
    }
    p->actual = st->version;
    if (st->flags & STREAM_TOMBSTONE)
        return error_set(MN_EDELETED, "stream '%.*s' is deleted", (int)p->stream_len, p->stream);
    int64_t e = p->expected;
    int ok = e == MN_EXPECT_ANY || (e == MN_EXPECT_NOSTREAM && st->version == MN_NO_VERSION) ||
             (e == MN_EXPECT_EXISTS && st->version != MN_NO_VERSION) || (e >= 0 && st->version == e);
    if (!ok) {
        char want[32];
        if (e == MN_EXPECT_NOSTREAM) snprintf(want, sizeof want, "no stream");
        else if (e == MN_EXPECT_EXISTS) snprintf(want, sizeof want, "an existing stream");
        else snprintf(want, sizeof want, "%lld", (long long)e);
        if (st->version == MN_NO_VERSION)
            return error_set(MN_EWRONGVERSION, "expected %s, stream '%.*s' does not exist", want,
                             (int)p->stream_len, p->stream);
        return error_set(MN_EWRONGVERSION, "expected %s, stream is at %lld", want,
                         (long long)st->version);
    }
    /* Entry ids: strictly increasing within the stream. */
    mn_entry_id top = {st->last_ms, st->last_seq};
    for (size_t j = 0; j < p->count; j++) {
        const mn_event *ev = &p->events[j];
        mn_entry_id id;
        switch (ev->entry_id_mode) {
        case MN_ID_EXPLICIT:
            id = ev->entry_id;
            if (id.ms < top.ms || (id.ms == top.ms && id.seq <= top.seq))
                return error_set(MN_EIDORDER, "The ID specified in XADD is equal or smaller than "
                                 "the target stream top item");
            break;
        case MN_ID_AUTO_SEQ:
            id.ms = ev->entry_id.ms;
            if (id.ms < top.ms || (id.ms == top.ms && top.seq == UINT64_MAX))
                return error_set(MN_EIDORDER, "The ID specified in XADD is equal or smaller than "
                                 "the target stream top item");
            id.seq = id.ms == top.ms ? top.seq + 1 : 0;
            if (id.ms == 0 && id.seq == 0) id.seq = 1;
            break;
        default:
            if (append_auto_id(top, now_ms, &id) != MN_OK) return MN_EIDORDER;
            break;
        }
        if (id.ms == 0 && id.seq == 0)
            return error_set(MN_EIDORDER, "The ID specified in XADD must be greater than 0-0");
        ids[j] = id;
        top = id;
    }
    return MN_OK;
}

int append_auto_id(mn_entry_id top, uint64_t now_ms, mn_entry_id *id)
{
    /* The clock may go back: never go below the stream's top. */
    if (now_ms > top.ms) {
        id->ms = now_ms;
        id->seq = 0;
    } else if (top.seq != UINT64_MAX) {
        id->ms = top.ms;
        id->seq = top.seq + 1;
    } else {
        if (top.ms == UINT64_MAX)
            return error_set(MN_EIDORDER, "The stream has exhausted the last possible ID, "
                             "unable to add more items");
        id->ms = top.ms + 1;
        id->seq = 0;
    }
    return MN_OK;
}

int append_stage(mn_store *s, MDB_txn *txn, request *r)
{
    enum { SMALL = 16 };
    int rc = MN_OK, all_found, heap = 0;
    size_t nevents = 0;
    stream_state small_states[SMALL], *states = NULL;
    int small_new[SMALL], *is_new = NULL;
    mn_entry_id small_ids[SMALL], *ids = NULL;
    log_rec small_recs[SMALL], *recs = NULL;

    for (size_t i = 0; i < r->nparts; i++) nevents += r->parts[i].count;
    if ((rc = check_idempotent(s, txn, r, &all_found)) != MN_OK) goto done;
    if (all_found) {
        r->idempotent = 1;
        goto done;
    }
    /* Small requests (the common case: one stream, a few events) use the
     * stack: no allocation on the hot path. */
    if (r->nparts <= SMALL && nevents <= SMALL) {
        states = small_states;
        is_new = small_new;
        ids = small_ids;
        recs = small_recs;
    } else {
        states = malloc(r->nparts * sizeof *states);
        is_new = malloc(r->nparts * sizeof *is_new);
        ids = malloc(nevents * sizeof *ids);
        recs = malloc(nevents * sizeof *recs);
        heap = 1;
    }
    if (!states || !is_new || !ids || !recs) {
        rc = error_set(MN_ENOMEM, "out of memory");
        goto done;
    }
    uint64_t now_us = clock_wall_us(), now_ms = now_us / 1000;
    uint64_t bytes = 0;
    for (size_t i = 0, k = 0; i < r->nparts; k += r->parts[i].count, i++) {
        mn_append_part *p = &r->parts[i];
        if ((rc = check_part(s, txn, p, &states[i], &is_new[i], ids + k, now_ms)) != MN_OK) goto done;
        for (size_t j = 0; j < p->count; j++) {
            const mn_event *e = &p->events[j];
            bytes += rec_space(ev_payload_size(p->stream_len, e->type_len, e->meta_len, e->data_len));
        }
    }

    /* Everything holds: stage one atomic group. */
    uint64_t pos;
    uint8_t *out = log_batch_reserve(s->log, bytes, &pos);
    if (!out) {
        rc = error_set(MN_ENOMEM, "out of memory staging %llu bytes", (unsigned long long)bytes);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0, k = 0; i < r->nparts; k += r->parts[i].count, i++) {
        mn_append_part *p = &r->parts[i];
        stream_state *st = &states[i];
        uint64_t stream_id = is_new[i] ? s->next_stream_id : st->stream_id;
        for (size_t j = 0; j < p->count; j++, n++) {
            const mn_event *e = &p->events[j];
            ev_decoded d;
            d.stream_id = stream_id;
            d.version = st->version + 1 + (int64_t)j;
            d.timestamp_us = now_us;
            d.entry_id = ids[k + j];
            d.flags = e->flags & MN_EVENT_FIELDS;
            if (is_zero_id(e->id)) {
                uuid_v7(d.id);
            } else {
                memcpy(d.id, e->id, 16);
                d.flags |= EV_CLIENT_ID;
            }
            d.stream = p->stream;
            d.stream_len = (uint32_t)p->stream_len;
            d.type = e->type;
            d.type_len = (uint32_t)e->type_len;
            d.meta = e->meta;
            d.meta_len = (uint32_t)e->meta_len;
            d.data = e->data;
            d.data_len = (uint32_t)e->data_len;
            uint64_t plen = ev_payload_size(p->stream_len, e->type_len, e->meta_len, e->data_len);
            ev_encode(out + REC_HDR_SIZE, &d);
            rec_seal(out, pos, REC_EVENT, n == nevents - 1 ? REC_TXN_END : 0, (uint32_t)plen);
            recs[n].hdr = (const rec_hdr *)out;
            recs[n].payload = out + REC_HDR_SIZE;
            recs[n].payload_len = (uint32_t)plen;
            recs[n].pos = pos;
            out += rec_space(plen);
            pos += rec_space(plen);
        }
        p->version = st->version + (int64_t)p->count;
        p->position = recs[n - 1].pos;
        p->last_id = ids[k + p->count - 1];
        if (is_new[i]) s->next_stream_id++;
    }
    r->staged = 1;
    rc = apply_group(s, txn, recs, n);
done:
    if (heap) {
        free(states);
        free(is_new);
        free(ids);
        free(recs);
    }
    return rc;
}

int delete_stage(mn_store *s, MDB_txn *txn, request *r)
{
    stream_state st;
    int rc = stream_get(s, txn, r->stream, r->stream_len, &st);
    if (rc == MN_ENOTFOUND)
        return error_set(MN_ENOTFOUND, "no such stream '%.*s'", (int)r->stream_len, r->stream);
    if (rc != MN_OK) return rc;
    if (st.flags & STREAM_TOMBSTONE)
        return error_set(MN_EDELETED, "stream '%.*s' is already deleted", (int)r->stream_len,
                         r->stream);
    if (r->expected != MN_EXPECT_ANY && r->expected != MN_EXPECT_EXISTS && st.version != r->expected)
        return error_set(MN_EWRONGVERSION, "expected %lld, stream is at %lld",
                         (long long)r->expected, (long long)st.version);
    uint64_t plen = DEL_FIXED + r->stream_len, pos;
    uint8_t *out = log_batch_reserve(s->log, rec_space(plen), &pos);
    if (!out) return error_set(MN_ENOMEM, "out of memory");
    del_decoded d = {st.stream_id, st.version, clock_wall_us(),
                     (r->flags & MN_DELETE_TOMBSTONE) ? DEL_TOMBSTONE : 0, r->stream,
                     (uint32_t)r->stream_len};
    del_encode(out + REC_HDR_SIZE, &d);
    rec_seal(out, pos, REC_STREAM_DELETE, REC_TXN_END, (uint32_t)plen);
    log_rec rec = {(const rec_hdr *)out, out + REC_HDR_SIZE, (uint32_t)plen, pos};
    r->staged = 1;
    return apply_group(s, txn, &rec, 1);
}

int store_validate_name(const char *name, size_t len)
{
    if (!name || len == 0 || len > MN_MAX_STREAM_NAME) {
        mn_append_part p = {0};
        p.stream_len = len;
        return name_error(&p);
    }
    return MN_OK;
}
