/*
 * vgroup.c — consumer groups on the virtual streams ($all, $ce-<category>,
 * $et-<type>): persistent subscriptions, as EventStoreDB calls them.
 *
 * Where a virtual stream's groups live. A virtual stream owns no events,
 * but its groups need everything a group on an ordinary stream has: a
 * place in the `groups` database (key: stream id ‖ name), consumers, a PEL,
 * and records in the log. So the first XGROUP CREATE on "$ce-order" creates
 * a *holder*: an ordinary, empty stream state under the name "$ce-order"
 * (REC_STREAM_CREATE, like MKSTREAM). Nothing else can write to it — every
 * name starting with '$' is refused by appends and the server's write
 * commands — so it never gets events, and group.c's records, apply code,
 * recovery and index rebuild work for it unchanged. A separate key space
 * would have needed new record kinds, a new LMDB database and its own
 * rebuild path for the same result. The holder is hidden from KEYS/SCAN.
 *
 * Invariants:
 *   1. A virtual stream's entry ids are <position>-0 (docs §13); the PEL and
 *      the last-delivered id of its groups hold those ids.
 *   2. A delivery records the positions it delivered (the items of its
 *      REC_DELIVER), not a query: replaying the log gives the same PEL even
 *      though the views kept growing after the record was written.
 *   3. Everything here reads through the public view iterators
 *      (mn_read_view) in their own read transactions (the index is opened
 *      MDB_NOTLS, so the writer may hold one while staging): only what was
 *      readable when the op was staged is delivered.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/ops.h"
#include "engine/store.h"
#include "util/error.h"

int mn_virtual_parse(const char *name, size_t len, int *view, const char **key, size_t *key_len)
{
    if (!name) return 0;
    if (len == 4 && memcmp(name, "$all", 4) == 0) {
        *view = MN_VIEW_ALL;
        *key = NULL;
        *key_len = 0;
        return 1;
    }
    if (len > 4 && (memcmp(name, "$ce-", 4) == 0 || memcmp(name, "$et-", 4) == 0)) {
        *view = name[1] == 'c' ? MN_VIEW_CATEGORY : MN_VIEW_TYPE;
        *key = name + 4;
        *key_len = len - 4;
        return 1;
    }
    return 0;
}

int vgroup_of(const char *name, size_t len, vview *v)
{
    return mn_virtual_parse(name, len, &v->view, &v->key, &v->key_len);
}

static int open_after(mn_store *s, const vview *v, uint64_t after, uint64_t limit, mn_iter **it)
{
    if (after == UINT64_MAX) return mn_read_view(s, v->view, v->key, v->key_len, 1, 0, 1, 0, it);
    return mn_read_view(s, v->view, v->key, v->key_len, after + 1, UINT64_MAX, limit, 0, it);
}

int vgroup_scan(mn_store *s, const vview *v, uint64_t after, uint64_t limit, mn_entry_id **ids,
                size_t *n)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    int rc = open_after(s, v, after, limit, &it);
    if (rc != MN_OK) goto fail;
    while ((rc = mn_iter_next(it, &ev)) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            mn_entry_id *p = realloc(*ids, cap * sizeof *p);
            if (!p) {
                rc = error_set(MN_ENOMEM, "out of memory");
                goto fail;
            }
            *ids = p;
        }
        (*ids)[*n].ms = ev.position;
        (*ids)[(*n)++].seq = 0;
    }
    if (rc < 0) goto fail;
    mn_iter_free(it);
    return MN_OK;
fail:
    mn_iter_free(it);
    free(*ids);
    *ids = NULL;
    *n = 0;
    return rc;
}

int vgroup_count_after(mn_store *s, const vview *v, uint64_t after, uint64_t *n)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    *n = 0;
    if (after == UINT64_MAX) return MN_OK;
    if (v->view != MN_VIEW_ALL) return view_count_from(s, v->view, v->key, v->key_len, after + 1, n);
    int rc = open_after(s, v, after, 0, &it);
    if (rc == MN_OK)
        while ((rc = mn_iter_next(it, &ev)) == 1) (*n)++;
    mn_iter_free(it);
    return rc < 0 ? rc : MN_OK;
}

/* The last event of $all. The log can only be walked forward, so read the
 * last window of it, doubling the window until an event turns up: the tail
 * is almost always events, so one small read usually does. */
static int all_last(mn_store *s, uint64_t *pos)
{
    mn_store_info si;
    mn_store_info_get(s, &si);
    *pos = 0;
    for (uint64_t win = 64 * 1024;; win *= 2) {
        uint64_t from = si.end_position > si.first_position + win ? si.end_position - win
                                                                  : si.first_position;
        mn_iter *it = NULL;
        mn_event_view ev;
        int rc = mn_read_view(s, MN_VIEW_ALL, NULL, 0, from, si.end_position, 0, 0, &it);
        if (rc == MN_OK)
            while ((rc = mn_iter_next(it, &ev)) == 1) *pos = ev.position;
        mn_iter_free(it);
        if (rc < 0) return rc;
        if (*pos || from == si.first_position) return MN_OK;
    }
}

int vgroup_last(mn_store *s, const vview *v, uint64_t *pos)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    *pos = 0;
    if (v->view == MN_VIEW_ALL) return all_last(s, pos);
    int rc = mn_read_view(s, v->view, v->key, v->key_len, 0, UINT64_MAX, 1, MN_READ_BACKWARD, &it);
    if (rc == MN_OK && (rc = mn_iter_next(it, &ev)) == 1) *pos = ev.position;
    mn_iter_free(it);
    return rc < 0 ? rc : MN_OK;
}

int vgroup_has(mn_store *s, const vview *v, uint64_t pos)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    int rc = mn_read_view(s, v->view, v->key, v->key_len, pos, pos, 1, 0, &it);
    if (rc == MN_OK) rc = mn_iter_next(it, &ev);
    mn_iter_free(it);
    return rc == 1 ? ev.position == pos : rc;
}

int vgroup_read_entry(mn_store *s, const vview *v, mn_entry_id id, mn_iter **out)
{
    /* An id with a sequence is no position: an empty read (from > to). */
    uint64_t from = id.seq ? 1 : id.ms, to = id.seq ? 0 : id.ms;
    return mn_read_view(s, v->view, v->key, v->key_len, from, to, 1, MN_READ_POSITION_IDS, out);
}

int mn_virtual_info(mn_store *s, const char *name, size_t len, mn_stream_info *out)
{
    vview v;
    mn_iter *it = NULL;
    mn_event_view ev;
    memset(out, 0, sizeof *out);
    out->version = out->first_version = MN_NO_VERSION;
    if (!vgroup_of(name, len, &v)) return error_set(MN_EINVAL, "not a virtual stream");
    int rc = mn_view_count(s, v.view, v.key, v.key_len, &out->length);
    if (rc == MN_OK) rc = mn_read_view(s, v.view, v.key, v.key_len, 0, UINT64_MAX, 1, 0, &it);
    if (rc == MN_OK && (rc = mn_iter_next(it, &ev)) == 1) {
        out->first_position = ev.position;
        out->first_id.ms = ev.position;
    }
    mn_iter_free(it);
    if (rc < 0) return rc;
    if ((rc = vgroup_last(s, &v, &out->last_position)) != MN_OK) return rc;
    out->last_id.ms = out->last_position;
    out->entries_added = out->length;
    /* The groups are the holder's (see the top of this file). */
    mn_stream_info holder;
    if (mn_stream_info_get(s, name, len, &holder) == MN_OK) {
        out->groups = holder.groups;
        out->created_us = holder.created_us;
    }
    return MN_OK;
}
