/*
 * read.c — iterators over a stream (by version or by entry id) and over $all,
 * stream info and the stream list.
 *
 * A stream read is an LMDB range scan over (stream_id, version) keys plus,
 * per event, one record read from the log's mapping: O(log S) to find the
 * start, O(1) per event, nothing copied (views point into the mapping).
 * A $all read walks the log itself from a position, record by record, up to
 * the visible end.
 *
 * Each iterator owns one LMDB read transaction (a consistent snapshot of the
 * index for its lifetime) and pins the segment its current view points into.
 * Records are CRC-checked as they are read: damage is reported, not served.
 *
 * The index may be ahead of what readers may see: the writer commits a
 * batch's index a moment before it publishes the batch (writer.c). So
 * every iterator takes the published end (log->visible) before its snapshot
 * and serves nothing at or past it: a forward scan stops there, a backward
 * one skips what lies beyond, and stream counters are reported as of it
 * (published_state).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/event.h"
#include "engine/store.h"
#include "util/error.h"

enum { IT_STREAM = 1, IT_ALL = 2, IT_VIEW = 3 };

struct mn_iter {
    mn_store *s;            /* the store */
    int kind;               /* IT_STREAM / IT_ALL */
    MDB_txn *txn;           /* read snapshot (stream reads) */
    MDB_cursor *cur;        /* over `events` */
    uint64_t stream_id;     /* stream reads */
    int backward;           /* direction */
    int started;            /* 0 before the first step */
    uint64_t remaining;     /* events still allowed (UINT64_MAX: no limit) */
    uint64_t first_version; /* where a forward stream read starts */
    int64_t from_version;   /* where a backward one starts (-1: last) */
    int ranged;             /* stop at entry ids outside [lo, hi] */
    mn_entry_id lo, hi;
    uint64_t pos;           /* $all: next position to look at */
    uint64_t end;           /* the published end when the iterator started:
                               nothing at or past it is served */
    int synced;             /* $all: pos is known to be a record boundary */
    int view;               /* views: MN_VIEW_* */
    char *key;              /* views: the full key (owned) */
    size_t key_len;
    uint64_t lo_pos, hi_pos;/* views (and a bounded $all): the position range */
    int pos_ids;            /* report entry ids as {position, 0} */
    segment *seg;           /* pins the current view's bytes */
    uint64_t seg_end;       /* how far seg may be read without the log's lock */
    /* $all backward: the log has no back pointers, so it is read forward
     * in windows ending where the previous window began, and each window's
     * positions are served last to first */
    uint64_t *win;          /* positions of the current window's events */
    size_t win_len, win_cap;
    uint64_t win_hi;        /* exclusive: the next window ends here */
    uint64_t win_bytes;     /* the next window's size (doubles when short) */
};

static int id_cmp(mn_entry_id a, mn_entry_id b)
{
    return a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq;
}

static mn_iter *iter_new(mn_store *s, int kind, uint64_t max_count)
{
    mn_iter *it = calloc(1, sizeof *it);
    if (!it) return NULL;
    it->s = s;
    it->kind = kind;
    it->remaining = max_count ? max_count : UINT64_MAX;
    it->hi_pos = UINT64_MAX;
    return it;
}

void mn_iter_free(mn_iter *it)
{
    if (!it) return;
    if (it->seg) seg_unref(it->seg);
    if (it->cur) mdb_cursor_close(it->cur);
    if (it->txn) mdb_txn_abort(it->txn);
    free(it->key);
    free(it->win);
    free(it);
}

/* Opens the snapshot and finds the stream; MN_ENOTFOUND / MN_EDELETED. */
static int open_stream(mn_iter *it, const char *name, size_t len, stream_state *st)
{
    int rc = store_validate_name(name, len);
    if (rc != MN_OK) return rc;
    it->end = atomic_load(&it->s->log->visible); /* before the snapshot: it holds all of this */
    if ((rc = mdb_txn_begin(it->s->ix.env, NULL, MDB_RDONLY, &it->txn)) != 0)
        return index_error(rc, "begin read");
    rc = stream_get(it->s, it->txn, name, len, st);
    if (rc == MN_ENOTFOUND)
        return error_set(MN_ENOTFOUND, "no such stream '%.*s'", (int)len, name);
    if (rc != MN_OK) return rc;
    if (st->flags & STREAM_TOMBSTONE)
        return error_set(MN_EDELETED, "stream '%.*s' is deleted", (int)len, name);
    if ((rc = mdb_cursor_open(it->txn, it->s->ix.events, &it->cur)) != 0)
        return index_error(rc, "cursor");
    it->stream_id = st->stream_id;
    return MN_OK;
}

int mn_read_stream(mn_store *s, const char *stream, size_t stream_len, int64_t from,
                   uint64_t max_count, int backward, mn_iter **out)
{
    stream_state st;
    int rc;
    *out = NULL;
    if (from < -1 || (from == -1 && !backward))
        return error_set(MN_EINVAL, "bad start version %lld", (long long)from);
    mn_iter *it = iter_new(s, IT_STREAM, max_count);
    if (!it) return error_set(MN_ENOMEM, "out of memory");
    if ((rc = open_stream(it, stream, stream_len, &st)) != MN_OK) goto fail;
    it->backward = backward;
    it->first_version = backward ? 0 : (uint64_t)from;
    it->from_version = backward ? from : 0;
    *out = it;
    return MN_OK;
fail:
    mn_iter_free(it);
    return rc;
}

/* Positions the cursor at the stream's first key at or after version v;
 * MDB_NOTFOUND-like 0 if there is none in this stream. */
static int seek_version(mn_iter *it, uint64_t v, MDB_val *k, MDB_val *d)
{
    uint8_t key[16];
    event_key(key, it->stream_id, v);
    k->mv_size = 16;
    k->mv_data = key;
    int rc = mdb_cursor_get(it->cur, k, d, MDB_SET_RANGE);
    return rc == 0 && be64_get(k->mv_data) == it->stream_id;
}

static event_loc loc_of(const MDB_val *d)
{
    event_loc loc;
    memcpy(&loc, d->mv_data, sizeof loc);
    return loc;
}

/* The first version whose entry id is >= target (binary search over
 * versions, which entry ids follow in order). Returns 1 and *v, or 0. */
static int lower_bound_id(mn_iter *it, const stream_state *st, mn_entry_id target, uint64_t *v)
{
    MDB_val k, d;
    uint64_t lo = 0, hi = (uint64_t)(st->version + 1); /* answer in [lo, hi]; hi = none */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (!seek_version(it, mid, &k, &d)) {
            hi = mid;
            continue;
        }
        uint64_t found = be64_get((uint8_t *)k.mv_data + 8);
        event_loc loc = loc_of(&d);
        mn_entry_id id = {loc.ms, loc.seq};
        if (id_cmp(id, target) >= 0) hi = mid;
        else lo = found + 1;
    }
    if (lo > (uint64_t)st->version || !seek_version(it, lo, &k, &d)) return 0;
    *v = be64_get((uint8_t *)k.mv_data + 8);
    return 1;
}

int mn_read_stream_range(mn_store *s, const char *stream, size_t stream_len, mn_entry_id start,
                         mn_entry_id end, uint64_t max_count, int backward, mn_iter **out)
{
    stream_state st;
    int rc;
    *out = NULL;
    mn_iter *it = iter_new(s, IT_STREAM, max_count);
    if (!it) return error_set(MN_ENOMEM, "out of memory");
    if ((rc = open_stream(it, stream, stream_len, &st)) != MN_OK) goto fail;
    it->backward = backward;
    it->ranged = 1;
    it->lo = start;
    it->hi = end;
    uint64_t v;
    if (id_cmp(start, end) > 0 || st.version < 0) {
        it->remaining = 0;
    } else if (!backward) {
        if (lower_bound_id(it, &st, start, &v)) it->first_version = v;
        else it->remaining = 0;
    } else {
        /* The last version with entry id <= end: one before the first > end. */
        mn_entry_id after = end;
        if (after.seq == UINT64_MAX) {
            after.ms++;
            after.seq = 0;
        } else {
            after.seq++;
        }
        if (end.ms == UINT64_MAX && end.seq == UINT64_MAX) it->from_version = -1;
        else if (lower_bound_id(it, &st, after, &v)) {
            if (v == 0) it->remaining = 0;
            else it->from_version = (int64_t)v - 1;
        } else {
            it->from_version = -1;
        }
    }
    *out = it;
    return MN_OK;
fail:
    mn_iter_free(it);
    return rc;
}

int mn_read_all(mn_store *s, uint64_t from, uint64_t max_count, mn_iter **out)
{
    *out = NULL;
    mn_iter *it = iter_new(s, IT_ALL, max_count);
    if (!it) return error_set(MN_ENOMEM, "out of memory");
    it->end = atomic_load(&s->log->visible);
    it->pos = log_seek(s->log, from);
    *out = it;
    return MN_OK;
}

static void fill_view(mn_event_view *v, const ev_decoded *e, uint64_t pos)
{
    v->stream = e->stream;
    v->stream_len = e->stream_len;
    v->version = e->version;
    v->position = pos;
    memcpy(v->id, e->id, 16);
    v->timestamp_us = e->timestamp_us;
    v->entry_id = e->entry_id;
    v->type = e->type;
    v->type_len = e->type_len;
    v->data = e->data;
    v->data_len = e->data_len;
    v->meta = e->meta_len ? e->meta : NULL;
    v->meta_len = e->meta_len;
    v->flags = e->flags & MN_EVENT_FIELDS;
}

/* Reads and decodes the event record at pos into *e, pinning its segment.
 * MN_OK, NOT_EVENT for a record of another kind, or an error. */
#define NOT_EVENT 1
static int load_event(mn_iter *it, uint64_t pos, log_rec *rec, ev_decoded *e)
{
    int rc = log_read_pinned(it->s->log, pos, &it->seg, &it->seg_end, rec);
    if (rc != MN_OK) return rc;
    if (rec->hdr->kind != REC_EVENT) return NOT_EVENT;
    if (ev_decode(rec->payload, rec->payload_len, e) != 0)
        return error_set(MN_ECORRUPT, "event record at %llu is inconsistent", (unsigned long long)pos);
    return MN_OK;
}

/* load_event, then the view of it. */
static int load_view(mn_iter *it, uint64_t pos, mn_event_view *view)
{
    log_rec rec;
    ev_decoded e;
    int rc = load_event(it, pos, &rec, &e);
    if (rc == MN_OK) fill_view(view, &e, pos);
    return rc;
}

static int next_stream(mn_iter *it, mn_event_view *view)
{
    MDB_val k, d;
    int rc;
    if (it->remaining == 0) return 0;
    if (!it->started) {
        it->started = 1;
        if (!it->backward) {
            if (!seek_version(it, it->first_version, &k, &d)) return 0;
        } else {
            uint64_t from = it->from_version < 0 ? UINT64_MAX : (uint64_t)it->from_version;
            /* The largest key <= (stream, from). */
            if (from != UINT64_MAX && seek_version(it, from + 1, &k, &d)) {
                rc = mdb_cursor_get(it->cur, &k, &d, MDB_PREV);
            } else {
                uint8_t key[16];
                event_key(key, it->stream_id + 1, 0);
                k.mv_size = 16;
                k.mv_data = key;
                rc = mdb_cursor_get(it->cur, &k, &d, MDB_SET_RANGE);
                rc = rc == 0 ? mdb_cursor_get(it->cur, &k, &d, MDB_PREV)
                             : mdb_cursor_get(it->cur, &k, &d, MDB_LAST);
            }
            if (rc != 0 || be64_get(k.mv_data) != it->stream_id) return 0;
        }
    } else {
        rc = mdb_cursor_get(it->cur, &k, &d, it->backward ? MDB_PREV : MDB_NEXT);
        if (rc != 0 || be64_get(k.mv_data) != it->stream_id) return 0;
    }
    event_loc loc = loc_of(&d);
    /* Retention dropped the segment this event was in: it is gone from the
     * stream, as it is from $all. Skip to the first retained one. Events
     * not yet published end a forward read and are skipped by a backward
     * one (a stream's events are in log order). */
    for (;;) {
        if (loc.pos >= it->end) {
            if (!it->backward) return 0;
        } else if (loc.pos >= atomic_load(&it->s->log->first)) {
            break;
        }
        rc = mdb_cursor_get(it->cur, &k, &d, it->backward ? MDB_PREV : MDB_NEXT);
        if (rc != 0 || be64_get(k.mv_data) != it->stream_id) return 0;
        loc = loc_of(&d);
    }
    if (it->ranged) {
        mn_entry_id id = {loc.ms, loc.seq};
        if (it->backward ? id_cmp(id, it->lo) < 0 : id_cmp(id, it->hi) > 0) return 0;
    }
    log_rec rec;
    ev_decoded e;
    if ((rc = load_event(it, loc.pos, &rec, &e)) != MN_OK) {
        if (rc == NOT_EVENT)
            return error_set(MN_ECORRUPT, "index entry points at a non-event record (%llu)",
                             (unsigned long long)loc.pos);
        return rc;
    }
    /* The record must be the one the index says: a damaged index must not
     * serve another stream's event. */
    if (e.stream_id != it->stream_id || (uint64_t)e.version != be64_get((uint8_t *)k.mv_data + 8))
        return error_set(MN_ECORRUPT, "index entry for version %llu points at another event "
                         "(position %llu): the index is damaged; run mnemo reindex",
                         (unsigned long long)be64_get((uint8_t *)k.mv_data + 8),
                         (unsigned long long)loc.pos);
    fill_view(view, &e, loc.pos);
    it->remaining--;
    return 1;
}

static int next_all(mn_iter *it, mn_event_view *view)
{
    while (it->remaining > 0 && it->pos < it->end && it->pos <= it->hi_pos) {
        log_rec rec;
        ev_decoded e;
        uint64_t pos = it->pos;
        if (pos < atomic_load(&it->s->log->first)) {
            it->pos = log_seek(it->s->log, pos); /* retention passed us */
            continue;
        }
        int rc = load_event(it, pos, &rec, &e);
        if (rc == MN_ECORRUPT && !it->synced) {
            /* The caller's position need not be a record boundary: step to
             * the next place where a valid record (CRC and its own position
             * inside) starts. Only the first step searches; after that a
             * bad record is damage. */
            error_clear();
            it->pos = log_seek(it->s->log, pos + REC_ALIGN);
            continue;
        }
        if (rc < 0) return rc;
        it->synced = 1;
        /* Inside the pinned segment the next record follows directly;
         * only at its end is the next segment's first record looked up. */
        uint64_t next = pos + rec_align(rec.hdr->len);
        it->pos = next < it->seg_end ? next : log_next_pos(it->s->log, pos, rec.hdr->len);
        if (rc == NOT_EVENT) continue;
        fill_view(view, &e, pos);
        it->remaining--;
        return 1;
    }
    return 0;
}

/* Fills it->win with the positions of the events in the window that ends
 * (exclusive) at it->win_hi, reading forward from win_hi - win_bytes (the
 * forward reader finds the first record boundary there). Returns MN_OK
 * (win_len 0 and win_hi unchanged at the log's start: nothing left). */
static int fill_window(mn_iter *it)
{
    uint64_t first = atomic_load(&it->s->log->first);
    uint64_t lo = it->lo_pos > first ? it->lo_pos : first;
    it->win_len = 0;
    while (it->win_hi > lo) {
        if (it->win_bytes == 0) it->win_bytes = 64u << 10;
        uint64_t start = it->win_hi - lo > it->win_bytes ? it->win_hi - it->win_bytes : lo;
        mn_iter *fw;
        int rc = mn_read_all(it->s, start, 0, &fw);
        if (rc != MN_OK) return rc;
        fw->end = it->win_hi;
        uint64_t first_found = it->win_hi;
        mn_event_view v;
        while ((rc = next_all(fw, &v)) == 1) {
            if (first_found == it->win_hi) first_found = v.position;
            if (v.position < it->lo_pos) continue;
            if (it->win_len == it->win_cap) {
                size_t cap = it->win_cap ? it->win_cap * 2 : 256;
                uint64_t *w = realloc(it->win, cap * sizeof *w);
                if (!w) {
                    mn_iter_free(fw);
                    return error_set(MN_ENOMEM, "out of memory");
                }
                it->win = w;
                it->win_cap = cap;
            }
            it->win[it->win_len++] = v.position;
        }
        /* Where a record boundary was found: the next window ends there. A
         * window with no event in it (one long event, or other records)
         * moves the end to its start and grows. */
        uint64_t next_hi = first_found < it->win_hi ? first_found : start;
        mn_iter_free(fw);
        if (rc < 0) return rc;
        it->win_hi = next_hi;
        if (it->win_len > 0) return MN_OK;
        if (it->win_bytes < (1u << 30)) it->win_bytes *= 2;
    }
    return MN_OK;
}

static int prev_all(mn_iter *it, mn_event_view *view)
{
    while (it->remaining > 0) {
        if (it->win_len == 0) {
            int rc = fill_window(it);
            if (rc != MN_OK) return rc;
            if (it->win_len == 0) return 0;
        }
        uint64_t pos = it->win[--it->win_len];
        if (pos < atomic_load(&it->s->log->first)) return 0; /* retention passed us */
        int rc = load_view(it, pos, view);
        if (rc < 0) return rc;
        if (rc == NOT_EVENT) continue;
        it->remaining--;
        return 1;
    }
    return 0;
}

int mn_read_view(mn_store *s, int view, const char *key, size_t key_len, uint64_t from,
                 uint64_t to, uint64_t max_count, int flags, mn_iter **out)
{
    int rc;
    *out = NULL;
    if (view == MN_VIEW_ALL) {
        if ((rc = mn_read_all(s, from, max_count, out)) != MN_OK) return rc;
        (*out)->hi_pos = to;
        (*out)->lo_pos = from;
        (*out)->pos_ids = (flags & MN_READ_POSITION_IDS) != 0;
        if (flags & MN_READ_BACKWARD) {
            (*out)->backward = 1;
            (*out)->win_hi = to < (*out)->end ? to + 1 : (*out)->end;
            if (from > to) (*out)->remaining = 0;
        }
        return MN_OK;
    }
    if (view != MN_VIEW_CATEGORY && view != MN_VIEW_TYPE && view != MN_VIEW_CORRELATION)
        return error_set(MN_EINVAL, "unknown view %d", view);
    if (!key || key_len == 0 || key_len > 65535)
        return error_set(MN_EINVAL, "a view key must be 1..65535 bytes");
    mn_iter *it = iter_new(s, IT_VIEW, max_count);
    if (!it || !(it->key = malloc(key_len))) {
        mn_iter_free(it);
        return error_set(MN_ENOMEM, "out of memory");
    }
    memcpy(it->key, key, key_len);
    it->key_len = key_len;
    it->view = view;
    it->backward = (flags & MN_READ_BACKWARD) != 0;
    it->pos_ids = (flags & MN_READ_POSITION_IDS) != 0;
    it->lo_pos = from;
    it->hi_pos = to;
    it->end = atomic_load(&s->log->visible); /* before the snapshot */
    if ((rc = mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &it->txn)) != 0) {
        it->txn = NULL;
        rc = index_error(rc, "begin read");
        goto fail;
    }
    if ((rc = mdb_cursor_open(it->txn, s->ix.views, &it->cur)) != 0) {
        rc = index_error(rc, "cursor");
        goto fail;
    }
    if (from > to) it->remaining = 0;
    *out = it;
    return MN_OK;
fail:
    mn_iter_free(it);
    return rc;
}

static int next_view(mn_iter *it, mn_event_view *view)
{
    while (it->remaining > 0) {
        uint64_t pos;
        int ok = it->started ? view_step(it->cur, it->view, it->key, it->key_len, it->backward, &pos)
                             : view_seek(it->cur, it->view, it->key, it->key_len,
                                         it->backward ? it->hi_pos : it->lo_pos, it->backward, &pos);
        it->started = 1;
        if (!ok || (it->backward ? pos < it->lo_pos : pos > it->hi_pos) ||
            (!it->backward && pos >= it->end)) {
            it->remaining = 0;
            return 0;
        }
        if (pos >= it->end) continue;                        /* not yet published */
        if (pos < atomic_load(&it->s->log->first)) continue; /* dropped by retention */
        int rc = load_view(it, pos, view);
        if (rc < 0) return rc;
        if (rc == NOT_EVENT) continue;
        if (!view_matches(it->view, it->key, it->key_len, view)) continue;
        it->remaining--;
        return 1;
    }
    return 0;
}

int view_count_from(mn_store *s, int view, const char *key, size_t key_len, uint64_t from,
                    uint64_t *n)
{
    mn_iter *it;
    mn_event_view ev;
    int rc = mn_read_view(s, view, key, key_len, from, UINT64_MAX, 0, 0, &it);
    *n = 0;
    if (rc != MN_OK) return rc;
    /* The iterator's snapshot and published end; retention's first position
     * read after them can only be later, so nothing dropped is counted. */
    uint64_t first = atomic_load(&s->log->first);
    if (view_count_keys(it->cur, view, key, key_len, from > first ? from : first, it->end, n)) {
        mn_iter_free(it);
        return MN_OK;
    }
    while ((rc = mn_iter_next(it, &ev)) == 1) (*n)++;
    mn_iter_free(it);
    return rc < 0 ? rc : MN_OK;
}

int mn_view_count(mn_store *s, int view, const char *key, size_t key_len, uint64_t *count)
{
    *count = 0;
    if (view == MN_VIEW_ALL) {
        mn_store_info si;
        mn_store_info_get(s, &si);
        *count = si.events;
        return MN_OK;
    }
    return view_count_from(s, view, key, key_len, 0, count);
}

int mn_iter_next(mn_iter *it, mn_event_view *ev)
{
    int rc;
    if (!it || !ev) return error_set(MN_EINVAL, "no iterator");
    switch (it->kind) {
    case IT_ALL: rc = it->backward ? prev_all(it, ev) : next_all(it, ev); break;
    case IT_VIEW: rc = next_view(it, ev); break;
    default: rc = next_stream(it, ev); break;
    }
    if (rc == 1 && it->pos_ids) {
        ev->entry_id.ms = ev->position;
        ev->entry_id.seq = 0;
    }
    return rc;
}

/* The stream's counters as of the published end `visible`, when its state
 * in the index already counts events of a batch still being synced: those
 * events are the stream's last keys (appends go to the end), so step back
 * over them. c is a cursor over `events` in the same snapshot. */
static void published_state(MDB_cursor *c, uint64_t visible, stream_state *st)
{
    if (st->last_pos < visible || st->version < 0) return;
    uint8_t key[16];
    event_key(key, st->stream_id + 1, 0);
    MDB_val k = {16, key}, d;
    int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(c, &k, &d, MDB_PREV) : mdb_cursor_get(c, &k, &d, MDB_LAST);
    uint64_t unpublished = 0, oldest_unpublished = (uint64_t)st->version + 1;
    while (rc == 0 && be64_get(k.mv_data) == st->stream_id) {
        event_loc loc = loc_of(&d);
        if (loc.pos < visible) {
            st->last_pos = loc.pos;
            st->last_ms = loc.ms;
            st->last_seq = loc.seq;
            break;
        }
        unpublished++;
        oldest_unpublished = be64_get((uint8_t *)k.mv_data + 8);
        rc = mdb_cursor_get(c, &k, &d, MDB_PREV);
    }
    st->length -= unpublished <= st->length ? unpublished : st->length;
    st->entries_added -= unpublished <= st->entries_added ? unpublished : st->entries_added;
    st->version = (int64_t)oldest_unpublished - 1;
    if (st->version < 0) st->last_ms = st->last_seq = st->last_pos = 0;
}

int mn_stream_info_get(mn_store *s, const char *stream, size_t stream_len, mn_stream_info *out)
{
    stream_state st;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    int rc = store_validate_name(stream, stream_len);
    memset(out, 0, sizeof *out);
    if (rc != MN_OK) return rc;
    uint64_t visible = atomic_load(&s->log->visible); /* before the snapshot */
    if ((rc = mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &txn)) != 0) {
        rc = index_error(rc, "begin read");
        txn = NULL;
        goto done;
    }
    rc = stream_get(s, txn, stream, stream_len, &st);
    if (rc == MN_ENOTFOUND) {
        rc = error_set(MN_ENOTFOUND, "no such stream '%.*s'", (int)stream_len, stream);
        goto done;
    }
    if (rc != MN_OK) goto done;
    if ((rc = mdb_cursor_open(txn, s->ix.events, &c)) != 0) {
        rc = index_error(rc, "cursor");
        goto done;
    }
    published_state(c, visible, &st);
    out->version = st.version;
    out->length = st.length;
    out->last_position = st.last_pos;
    out->last_id.ms = st.last_ms;
    out->last_id.seq = st.last_seq;
    out->created_us = st.created_us;
    out->deleted = (st.flags & STREAM_TOMBSTONE) != 0;
    out->entries_added = st.entries_added;
    out->max_deleted_id.ms = st.max_del_ms;
    out->max_deleted_id.seq = st.max_del_seq;
    out->groups = group_count(s, txn, st.stream_id);
    out->first_version = -1;
    uint8_t key[16];
    event_key(key, st.stream_id, 0);
    MDB_val k = {16, key}, d;
    if (mdb_cursor_get(c, &k, &d, MDB_SET_RANGE) == 0 && be64_get(k.mv_data) == st.stream_id &&
        loc_of(&d).pos < visible) {
        event_loc loc = loc_of(&d);
        out->first_version = (int64_t)be64_get((uint8_t *)k.mv_data + 8);
        out->first_position = loc.pos;
        out->first_id.ms = loc.ms;
        out->first_id.seq = loc.seq;
    }
    rc = MN_OK;
done:
    if (c) mdb_cursor_close(c);
    if (txn) mdb_txn_abort(txn);
    return rc;
}

int mn_list_streams(mn_store *s, const char *after, size_t after_len,
                    int (*fn)(void *ud, const char *name, size_t len), void *ud)
{
    MDB_txn *txn;
    MDB_cursor *c;
    int rc = mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &txn);
    if (rc) return index_error(rc, "begin read");
    if ((rc = mdb_cursor_open(txn, s->ix.streams, &c)) != 0) {
        mdb_txn_abort(txn);
        return index_error(rc, "cursor");
    }
    MDB_val k = {after_len, (void *)after}, d;
    int op = MDB_FIRST;
    if (after && after_len) {
        rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == after_len && memcmp(k.mv_data, after, after_len) == 0)
            rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    } else {
        rc = mdb_cursor_get(c, &k, &d, op);
    }
    int ret = 0;
    while (rc == 0) {
        stream_state st;
        memcpy(&st, d.mv_data, sizeof st);
        if (!(st.flags & STREAM_TOMBSTONE) && (ret = fn(ud, k.mv_data, k.mv_size)) != 0) break;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return ret;
}
