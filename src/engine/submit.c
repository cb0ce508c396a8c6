/*
 * submit.c — the public append and delete calls: check the arguments that
 * need no state (names, sizes), copy what an asynchronous caller may free,
 * queue to the writer, and for the synchronous calls wait for the result.
 *
 * Why check here: a bad argument is answered at once on the caller's thread
 * and never costs the writer (or the batch) anything.
 */
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/store.h"
#include "util/error.h"

static int cmp_id(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 16);
}

/* The same client id twice in one append would make the retry rule
 * ambiguous: refuse it. Sorting pointers keeps this O(n log n). */
static int check_unique_ids(const mn_append_part *parts, size_t nparts)
{
    static const uint8_t zero[16];
    size_t n = 0, total = 0;
    int rc = MN_OK;
    for (size_t i = 0; i < nparts; i++)
        for (size_t j = 0; j < parts[i].count; j++)
            total += memcmp(parts[i].events[j].id, zero, 16) != 0;
    if (total < 2) return MN_OK; /* the common case: no ids, or one */
    const uint8_t **ids = malloc(total * sizeof *ids);
    if (!ids) return error_set(MN_ENOMEM, "out of memory");
    for (size_t i = 0; i < nparts; i++)
        for (size_t j = 0; j < parts[i].count; j++)
            if (memcmp(parts[i].events[j].id, zero, 16) != 0) ids[n++] = parts[i].events[j].id;
    qsort(ids, n, sizeof *ids, cmp_id);
    for (size_t i = 1; i < n; i++)
        if (memcmp(ids[i - 1], ids[i], 16) == 0) {
            rc = error_set(MN_EINVAL, "the same event id appears twice in one append");
            break;
        }
    free(ids);
    return rc;
}

static int check_parts(mn_store *s, const mn_append_part *parts, size_t nparts)
{
    if (!s) return error_set(MN_EINVAL, "no store");
    if (!parts || nparts == 0) return error_set(MN_EINVAL, "an append needs at least one stream");
    if (s->opts.read_only) return error_set(MN_EREADONLY, "the store is open read-only");
    if (s->log->failed) return error_set(MN_EREADONLY, "%s", s->log->failed_why);
    for (size_t i = 0; i < nparts; i++) {
        const mn_append_part *p = &parts[i];
        int rc = store_validate_name(p->stream, p->stream_len);
        if (rc != MN_OK) return rc;
        if (p->expected < MN_EXPECT_EXISTS || p->expected == -3)
            return error_set(MN_EINVAL, "bad expected version %lld", (long long)p->expected);
        if (!p->events || p->count == 0)
            return error_set(MN_EINVAL, "an append needs at least one event");
        for (size_t k = 0; k < i; k++)
            if (parts[k].stream_len == p->stream_len &&
                memcmp(parts[k].stream, p->stream, p->stream_len) == 0)
                return error_set(MN_EINVAL, "stream '%.*s' appears twice in one append",
                                 (int)p->stream_len, p->stream);
        for (size_t j = 0; j < p->count; j++) {
            const mn_event *e = &p->events[j];
            if (!e->type || e->type_len == 0 || e->type_len > MN_MAX_TYPE_LEN)
                return error_set(MN_EINVAL, "event type must be 1..%u bytes", MN_MAX_TYPE_LEN);
            if ((e->data_len && !e->data) || (e->meta_len && !e->meta))
                return error_set(MN_EINVAL, "event data or meta length without a pointer");
            uint64_t size = (uint64_t)e->type_len + e->data_len + e->meta_len;
            if (size > s->opts.max_event_size)
                return error_set(MN_ETOOBIG, "event of %llu bytes is over the limit of %u "
                                 "(max_event_size)", (unsigned long long)size,
                                 s->opts.max_event_size);
            if ((e->flags & ~MN_EVENT_FIELDS) != 0)
                return error_set(MN_EINVAL, "unknown event flags 0x%x", e->flags);
            if ((e->flags & MN_EVENT_FIELDS) && mn_fields_count(e->data, e->data_len) < 0)
                return error_set(MN_EINVAL, "event data is not a valid field list");
            if (e->entry_id_mode < MN_ID_AUTO || e->entry_id_mode > MN_ID_AUTO_SEQ)
                return error_set(MN_EINVAL, "bad entry id mode %d", e->entry_id_mode);
        }
    }
    return check_unique_ids(parts, nparts);
}

/* ---- asynchronous ---- */

/* Copies the parts, events and every byte they point to into one block after
 * the request, so the caller can free its own at once. */
static request *copy_request(const mn_append_part *parts, size_t nparts)
{
    size_t nev = 0, bytes = 0;
    for (size_t i = 0; i < nparts; i++) {
        nev += parts[i].count;
        bytes += parts[i].stream_len;
        for (size_t j = 0; j < parts[i].count; j++) {
            const mn_event *e = &parts[i].events[j];
            bytes += e->type_len + e->data_len + e->meta_len;
        }
    }
    size_t size = sizeof(request) + nparts * sizeof(mn_append_part) + nev * sizeof(mn_event) + bytes;
    request *r = calloc(1, size);
    if (!r) return NULL;
    mn_append_part *pc = (mn_append_part *)(r + 1);
    mn_event *ec = (mn_event *)(pc + nparts);
    char *b = (char *)(ec + nev);
    r->parts = pc;
    r->nparts = nparts;
    for (size_t i = 0; i < nparts; i++) {
        pc[i] = parts[i];
        memcpy(b, parts[i].stream, parts[i].stream_len);
        pc[i].stream = b;
        b += parts[i].stream_len;
        pc[i].events = ec;
        for (size_t j = 0; j < parts[i].count; j++, ec++) {
            *ec = parts[i].events[j];
            memcpy(b, ec->type, ec->type_len);
            ec->type = b;
            b += ec->type_len;
            if (ec->data_len) memcpy(b, ec->data, ec->data_len);
            ec->data = b;
            b += ec->data_len;
            if (ec->meta_len) memcpy(b, ec->meta, ec->meta_len);
            ec->meta = ec->meta_len ? b : NULL;
            b += ec->meta_len;
        }
    }
    return r;
}

int mn_append_async(mn_store *s, const mn_append_part *parts, size_t nparts, mn_append_cb cb,
                    void *ud)
{
    int rc = check_parts(s, parts, nparts);
    if (rc != MN_OK) return rc;
    if (!cb) return error_set(MN_EINVAL, "mn_append_async needs a callback");
    request *r = copy_request(parts, nparts);
    if (!r) return error_set(MN_ENOMEM, "out of memory");
    r->kind = REQ_APPEND;
    r->cb = cb;
    r->ud = ud;
    r->owned = 1;
    if ((rc = writer_submit(s, r)) != MN_OK) free(r);
    return rc;
}

/* ---- synchronous: a request on the stack and a semaphore ---- */

typedef struct waiter {
    sem_t done;             /* posted by the writer after the result is copied */
    int rc;
    int idempotent;
    char errmsg[512];
} waiter;

static void sync_done(void *ud, const mn_append_result *res)
{
    waiter *w = ud;
    w->rc = res->rc;
    w->idempotent = res->idempotent;
    snprintf(w->errmsg, sizeof w->errmsg, "%s", res->errmsg ? res->errmsg : "");
    sem_post(&w->done);
}

static int submit_and_wait(mn_store *s, request *r, int *idempotent)
{
    waiter w;
    memset(&w, 0, sizeof w);
    sem_init(&w.done, 0, 0);
    r->cb = sync_done;
    r->ud = &w;
    int rc = writer_submit(s, r);
    if (rc == MN_OK) {
        while (sem_wait(&w.done) != 0) {
        }
        rc = w.rc;
        if (rc != MN_OK) error_set(rc, "%s", w.errmsg);
        if (idempotent) *idempotent = w.idempotent;
    }
    sem_destroy(&w.done);
    return rc;
}

int mn_append(mn_store *s, mn_append_part *parts, size_t nparts, int *idempotent)
{
    request r;
    int rc = check_parts(s, parts, nparts);
    if (idempotent) *idempotent = 0;
    if (rc != MN_OK) return rc;
    memset(&r, 0, sizeof r);
    r.kind = REQ_APPEND;
    r.parts = parts;
    r.nparts = nparts;
    return submit_and_wait(s, &r, idempotent);
}

int mn_append_one(mn_store *s, const char *stream, size_t stream_len, int64_t expected,
                  const mn_event *events, size_t count, int64_t *version_out,
                  uint64_t *position_out)
{
    mn_append_part p;
    memset(&p, 0, sizeof p);
    p.stream = stream;
    p.stream_len = stream_len;
    p.expected = expected;
    p.events = events;
    p.count = count;
    int rc = mn_append(s, &p, 1, NULL);
    if (rc == MN_OK) {
        if (version_out) *version_out = p.version;
        if (position_out) *position_out = p.position;
    }
    return rc;
}

int mn_delete_stream(mn_store *s, const char *stream, size_t stream_len, int64_t expected, int flags)
{
    request r;
    int rc;
    if (!s) return error_set(MN_EINVAL, "no store");
    if ((rc = store_validate_name(stream, stream_len)) != MN_OK) return rc;
    if (s->opts.read_only) return error_set(MN_EREADONLY, "the store is open read-only");
    if (expected < MN_EXPECT_EXISTS || expected == -3 || expected == MN_EXPECT_NOSTREAM)
        return error_set(MN_EINVAL, "bad expected version %lld for a delete", (long long)expected);
    memset(&r, 0, sizeof r);
    r.kind = REQ_DELETE;
    r.stream = stream;
    r.stream_len = stream_len;
    r.expected = expected;
    r.flags = flags;
    return submit_and_wait(s, &r, NULL);
}

/* ---- operations ---- */

void mn_op_init(mn_op *op, int kind)
{
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->entries_read = -1;
    op->entries_added = -1;
    op->idle_ms = -1;
    op->time_ms = -1;
    op->retrycount = -1;
    op->visibility_ms = op->maxdeliver = -1;
    op->from_version = op->to_version = -1;
}

void mn_op_free(mn_op *op)
{
    if (!op) return;
    free(op->out_ids);
    free(op->deleted_ids);
    op->out_ids = op->deleted_ids = NULL;
    op->out_n = op->deleted_n = 0;
}

static int check_op(mn_store *s, const mn_op *op)
{
    if (!s || !op) return error_set(MN_EINVAL, "no store or operation");
    if (op->kind < MN_OP_STREAM_CREATE || op->kind > MN_OP_QUEUE_REPLAY)
        return error_set(MN_EINVAL, "unknown operation %d", op->kind);
    if (s->opts.read_only) return error_set(MN_EREADONLY, "the store is open read-only");
    if (s->log->failed) return error_set(MN_EREADONLY, "%s", s->log->failed_why);
    if (op->nids && !op->ids) return error_set(MN_EINVAL, "ids count without ids");
    if (op->deadletter_set && op->deadletter_len && !op->deadletter)
        return error_set(MN_EINVAL, "dead-letter length without a name");
    return store_validate_name(op->stream, op->stream_len);
}

/* One block: request, the op, then its strings and ids. */
static request *copy_op(const mn_op *op)
{
    size_t dl = op->deadletter_set ? op->deadletter_len : 0;
    size_t bytes = op->stream_len + op->group_len + op->consumer_len + dl +
                   op->nids * sizeof(mn_entry_id);
    request *r = calloc(1, sizeof *r + sizeof(mn_op) + bytes + 16);
    if (!r) return NULL;
    mn_op *c = (mn_op *)(r + 1);
    *c = *op;
    c->out_ids = c->deleted_ids = NULL;
    c->out_n = c->deleted_n = 0;
    char *b = (char *)(c + 1);
    /* ids first: they want alignment */
    if (op->nids) {
        memcpy(b, op->ids, op->nids * sizeof(mn_entry_id));
        c->ids = (const mn_entry_id *)b;
        b += op->nids * sizeof(mn_entry_id);
    }
    memcpy(b, op->stream, op->stream_len);
    c->stream = b;
    b += op->stream_len;
    if (op->group_len) memcpy(b, op->group, op->group_len);
    c->group = b;
    b += op->group_len;
    if (op->consumer_len) memcpy(b, op->consumer, op->consumer_len);
    c->consumer = b;
    b += op->consumer_len;
    if (dl) memcpy(b, op->deadletter, dl);
    c->deadletter = b;
    r->op = c;
    return r;
}

int mn_op_async(mn_store *s, const mn_op *op, void (*cb)(void *ud, mn_op_result *res), void *ud)
{
    int rc = check_op(s, op);
    if (rc != MN_OK) return rc;
    if (!cb) return error_set(MN_EINVAL, "mn_op_async needs a callback");
    request *r = copy_op(op);
    if (!r) return error_set(MN_ENOMEM, "out of memory");
    r->kind = REQ_OP;
    r->op_cb = cb;
    r->ud = ud;
    r->owned = 1;
    if ((rc = writer_submit(s, r)) != MN_OK) free(r);
    return rc;
}

static void op_done(void *ud, mn_op_result *res)
{
    waiter *w = ud;
    w->rc = res->rc;
    snprintf(w->errmsg, sizeof w->errmsg, "%s", res->errmsg ? res->errmsg : "");
    sem_post(&w->done);
}

int mn_op_run(mn_store *s, mn_op *op)
{
    request r;
    waiter w;
    int rc = check_op(s, op);
    if (rc != MN_OK) return rc;
    memset(&r, 0, sizeof r);
    memset(&w, 0, sizeof w);
    mn_op_free(op);
    r.kind = REQ_OP;
    r.op = op;
    r.op_cb = op_done;
    r.ud = &w;
    sem_init(&w.done, 0, 0);
    rc = writer_submit(s, &r);
    if (rc == MN_OK) {
        while (sem_wait(&w.done) != 0) {
        }
        rc = w.rc;
        if (rc != MN_OK) error_set(rc, "%s", w.errmsg);
    }
    sem_destroy(&w.done);
    return rc;
}
