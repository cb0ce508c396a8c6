/*
 * views.c — the virtual streams: $ce-<category> (every event of the streams
 * whose name starts with "<category>-"), $et-<type> (every event of a type),
 * and the correlation index behind TRACE.
 *
 * Each is a list of global positions in the `views` database, kept by
 * apply_event in the same transaction as the event itself, so a view is
 * never behind or ahead of the log and is rebuilt with the rest of the
 * index. Keys longer than VIEW_KEY_MAX are indexed under their prefix; a
 * read compares the full key of each event it finds, so a shared prefix
 * never leaks events into another view.
 *
 * $all needs no index: it is the log itself (read.c).
 */
#include <string.h>

#include "engine/event.h"
#include "engine/store.h"
#include "util/error.h"
#include "util/json.h"

#define VIEW_KEY_MAX 480u

/* The category of a stream: its name up to the first '-' (the whole name if
 * it has none). */
size_t view_category_len(const char *stream, size_t len)
{
    const char *dash = memchr(stream, '-', len);
    return dash ? (size_t)(dash - stream) : len;
}

static size_t view_key(uint8_t *k, int view, const char *key, size_t len, uint64_t pos)
{
    if (len > VIEW_KEY_MAX) len = VIEW_KEY_MAX;
    k[0] = (uint8_t)view;
    k[1] = (uint8_t)(len >> 8);
    k[2] = (uint8_t)len;
    memcpy(k + 3, key, len);
    be64_put(k + 3 + len, pos);
    return 3 + len + 8;
}

static int put_view(mn_store *s, MDB_txn *txn, int view, const char *key, size_t len, uint64_t pos)
{
    uint8_t k[3 + VIEW_KEY_MAX + 8];
    MDB_val kv = {view_key(k, view, key, len, pos), k}, v = {0, NULL};
    int rc = mdb_put(txn, s->ix.views, &kv, &v, 0);
    return rc ? index_error(rc, "views put") : MN_OK;
}

int views_apply_event(mn_store *s, MDB_txn *txn, const char *stream, size_t stream_len,
                      const char *type, size_t type_len, const void *meta, size_t meta_len,
                      uint64_t pos)
{
    int rc;
    const char *corr;
    size_t corr_len;
    if ((rc = put_view(s, txn, MN_VIEW_CATEGORY, stream, view_category_len(stream, stream_len),
                       pos)) != MN_OK ||
        (rc = put_view(s, txn, MN_VIEW_TYPE, type, type_len, pos)) != MN_OK)
        return rc;
    if (meta_len && json_get_string(meta, meta_len, "correlation_id", &corr, &corr_len) &&
        corr_len > 0)
        return put_view(s, txn, MN_VIEW_CORRELATION, corr, corr_len, pos);
    return MN_OK;
}

/* 1 if the event belongs to the view under its full key. */
int view_matches(int view, const char *key, size_t len, const mn_event_view *e)
{
    switch (view) {
    case MN_VIEW_CATEGORY:
        return view_category_len(e->stream, e->stream_len) == len &&
               memcmp(e->stream, key, len) == 0;
    case MN_VIEW_TYPE:
        return e->type_len == len && memcmp(e->type, key, len) == 0;
    case MN_VIEW_CORRELATION: {
        const char *c;
        size_t cl;
        return e->meta && json_get_string(e->meta, e->meta_len, "correlation_id", &c, &cl) &&
               cl == len && memcmp(c, key, len) == 0;
    }
    default: return 0;
    }
}

/* Positions the cursor on the view's first key >= pos (forward) or last
 * key <= pos (backward). 1 and *found, or 0 if none. */
int view_seek(MDB_cursor *cur, int view, const char *key, size_t len, uint64_t pos, int backward,
              uint64_t *found)
{
    uint8_t k[3 + VIEW_KEY_MAX + 8];
    size_t klen = view_key(k, view, key, len, pos);
    size_t plen = klen - 8;
    MDB_val kv = {klen, k}, d;
    int rc = mdb_cursor_get(cur, &kv, &d, MDB_SET_RANGE);
    if (backward) {
        if (rc == 0 && !(kv.mv_size == klen && memcmp(kv.mv_data, k, klen) == 0))
            rc = mdb_cursor_get(cur, &kv, &d, MDB_PREV);
        else if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &kv, &d, MDB_LAST);
    }
    if (rc != 0 || kv.mv_size != klen || memcmp(kv.mv_data, k, plen) != 0) return 0;
    *found = be64_get((uint8_t *)kv.mv_data + plen);
    return 1;
}

/* Steps the cursor; 1 and *found while still in the view. */
int view_step(MDB_cursor *cur, int view, const char *key, size_t len, int backward, uint64_t *found)
{
    uint8_t k[3 + VIEW_KEY_MAX + 8];
    size_t plen = view_key(k, view, key, len, 0) - 8;
    MDB_val kv, d;
    if (mdb_cursor_get(cur, &kv, &d, backward ? MDB_PREV : MDB_NEXT) != 0) return 0;
    if (kv.mv_size != plen + 8 || memcmp(kv.mv_data, k, plen) != 0) return 0;
    *found = be64_get((uint8_t *)kv.mv_data + plen);
    return 1;
}

int view_count_keys(MDB_cursor *cur, int view, const char *key, size_t len, uint64_t from,
                    uint64_t end, uint64_t *n)
{
    uint64_t pos;
    *n = 0;
    /* A longer key shares its index entries with every key of that prefix:
     * only the events themselves can tell them apart. */
    if (len > VIEW_KEY_MAX) return 0;
    for (int ok = view_seek(cur, view, key, len, from, 0, &pos); ok && pos < end;
         ok = view_step(cur, view, key, len, 0, &pos))
        (*n)++;
    return 1;
}
