/*
 * writer.c — the writer thread and group commit.
 *
 * Every append and delete of a store passes through one thread. It takes
 * everything queued since its last pass as one batch, and commit_batch does,
 * top to bottom:
 *
 *   1. stage: check each request's conditions and encode its records into
 *      the log's staging buffer, applying them to one LMDB write transaction
 *      (so request k sees requests 1..k-1 of the same batch);
 *   2. write: one pwrite per segment touched; under MN_FSYNC_ALWAYS one
 *      fdatasync for the whole batch (group commit);
 *   3. index: record the checkpoint (the log end) and commit the transaction;
 *   4. publish: readers may now see the new end; blocked readers wake;
 *   5. reply: every request's callback runs, in arrival order.
 *
 * Why this order: nothing is acknowledged (5) before it is durable (2);
 * nothing is visible to readers (4) before it is durable, so no reader acts
 * on an event a crash could take back; the index never points past the log
 * (3 after 2). While the writer is in fdatasync the network thread keeps
 * accepting requests, which form the next batch: the sync of one batch
 * overlaps the arrival of the next. Readers still stop at the published end
 * rather than trusting the index alone (read.c): between 3 and 4 the index
 * is a batch ahead.
 *
 * Why no separate sync thread (so that batch k+1 is staged while batch k
 * syncs): it was built and measured (2026-11-27, docs/benchmarks.md) and
 * gave nothing. With clients that wait for each reply, a request that
 * arrives during a sync waits for it and then for its own either way; the
 * staging and index work it would overlap is small next to a flush; and on
 * two CPUs the extra thread hand-offs cost more than they saved.
 *
 * Submissions: an event loop holds its pass's requests (mn_submit_hold) and
 * hands them over at once, so the queue lock and the wake-up are paid once
 * per pass, not once per request.
 *
 * Failure: if the write or sync fails, the transaction is aborted and every
 * staged request gets the error; the log has truncated its partial write
 * (log.c rule 5) or latched read-only after a failed fdatasync.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "engine/store.h"
#include "util/clock.h"
#include "util/error.h"

/* How often housekeeping (retention) runs when the writer is idle. */
#define INDEX_SYNC_MS 2000u

/* Pages are also released after the index grew this much: under a steady
 * stream of appends the resident set stays near this, not near two
 * seconds' worth of appends. */
#define RELEASE_GROWTH (8u << 20)

/* 1 if the filesystem of dir has (almost) no space left for us. */
static int disk_nearly_full(const char *dir)
{
    struct statvfs v;
    return statvfs(dir, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < (1u << 20);
}

static void complete(request *list)
{
    while (list) {
        request *next = list->next;
        int owned = list->owned; /* read first: a synchronous caller's request
                                    lives on its stack and is gone after cb */
        if (list->kind == REQ_OP) {
            mn_op_result res = {list->rc, list->errmsg, list->op};
            list->op_cb(list->ud, &res);
            if (owned) mn_op_free(list->op);
        } else {
            mn_append_result res;
            res.rc = list->rc;
            res.errmsg = list->errmsg;
            res.idempotent = list->idempotent;
            res.nparts = list->nparts;
            res.parts = list->parts;
            list->cb(list->ud, &res);
        }
        if (owned) free(list);
        list = next;
    }
}

static void fail_staged(request *list, int rc, const char *msg, int staged_only)
{
    for (request *r = list; r; r = r->next) {
        if (r->rc != MN_OK || (staged_only && !r->staged && !r->idempotent)) continue;
        r->rc = rc;
        r->idempotent = 0;
        snprintf(r->errmsg, sizeof r->errmsg, "%s", msg);
    }
}

static void commit_batch(mn_store *s, request *list)
{
    MDB_txn *txn = NULL;
    char msg[512];
    int rc = mdb_txn_begin(s->ix.env, NULL, 0, &txn);
    if (rc) {
        rc = index_error(rc, "begin write");
        snprintf(msg, sizeof msg, "%s", mn_errmsg());
        fail_staged(list, rc, msg, 0);
        return;
    }
    log_batch_begin(s->log);

    /* 1. stage */
    for (request *r = list; r; r = r->next) {
        error_clear();
        rc = r->kind == REQ_APPEND   ? append_stage(s, txn, r)
             : r->kind == REQ_DELETE ? delete_stage(s, txn, r)
                                     : op_stage(s, txn, r);
        if (rc == MN_OK) continue;
        r->rc = rc;
        snprintf(r->errmsg, sizeof r->errmsg, "%s", mn_errmsg());
        if (r->staged) {
            /* Only an index (LMDB) failure gets here after staging: the
             * transaction is unusable, so the whole batch fails. */
            fail_staged(list, rc, r->errmsg, 0);
            goto abort;
        }
    }
    if (!log_batch_pending(s->log)) {
        mdb_txn_abort(txn);
        return;
    }

    /* 2. write (+ sync) */
    rc = log_batch_write(s->log, atomic_load(&s->fsync_policy) == MN_FSYNC_ALWAYS);
    if (rc != MN_OK) {
        snprintf(msg, sizeof msg, "%s", mn_errmsg());
        fail_staged(list, rc, msg, 1);
        goto abort;
    }

    /* 3. index */
    uint64_t end = s->log->end;
    if ((rc = store_save_counters(s, txn, end)) != MN_OK) goto index_failed;
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        rc = index_error(rc, "commit");
        goto index_failed;
    }

    /* 4. publish */
    s->log->batch_first = NULL; /* committed: no longer undoable */
    log_publish(s->log, end);
    wait_advance(s, end);
    return;

index_failed:
    /* The index could not record a batch the log holds (disk full under
     * LMDB, say). Nothing was acknowledged or published yet: take the
     * batch back out of the log, and the requests fail cleanly. Only if
     * that truncation fails does the store latch read-only. */
    snprintf(msg, sizeof msg, "%s", mn_errmsg());
    if (txn) mdb_txn_abort(txn);
    txn = NULL;
    if (rc != MN_ENOSPC && disk_nearly_full(s->dir)) {
        /* LMDB reports a short write on a full disk as EIO. */
        rc = MN_ENOSPC;
        snprintf(msg, sizeof msg, "No space left on device (the index could not be written)");
    }
    if (log_batch_undo(s->log) == MN_OK) {
        fail_staged(list, rc == MN_ENOSPC ? MN_ENOSPC : MN_EIO, msg, 1);
    } else {
        fail_staged(list, MN_EREADONLY, s->log->failed_why, 1);
    }
    {
        MDB_txn *rt;
        if (mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &rt) == 0) {
            store_load_counters(s, rt);
            mdb_txn_abort(rt);
        }
    }
    return;
abort:
    log_batch_abort(s->log);
    mdb_txn_abort(txn);
    /* The transaction's effects on the writer's counters are undone by
     * reloading them from the index. */
    {
        MDB_txn *rt;
        if (mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &rt) == 0) {
            store_load_counters(s, rt);
            mdb_txn_abort(rt);
        }
    }
}

/* Periodic work between batches: interval fsync, retention, and dropping
 * the mappings of index and log pages (page cache stays; VmRSS stays flat
 * as the store grows). */
static void housekeeping(mn_store *s)
{
    uint64_t now = clock_mono_ms();
    int policy = atomic_load(&s->fsync_policy);
    if ((policy == MN_FSYNC_INTERVAL && now - s->last_sync_ms >= atomic_load(&s->fsync_interval_ms)) ||
        policy == MN_FSYNC_ALWAYS) {
        /* Under always this syncs only after a switch from a laxer policy
         * (mn_set_fsync) left written bytes unsynced; else it is a no-op. */
        log_sync(s->log);
        s->last_sync_ms = now;
    }
    uint64_t index_bytes = index_used_bytes(&s->ix);
    int timed = now - s->last_index_sync_ms >= INDEX_SYNC_MS;
    if (timed) {
        /* The index is not synced here: after a process crash the page
         * cache has it, after a machine crash it is rebuilt (store.c). */
        s->last_index_sync_ms = now;
        log_retain(s->log, s->opts.retention_bytes, s->opts.retention_ms);
        log_release_pages(s->log);
    }
    if (timed || index_bytes - s->released_index_bytes >= RELEASE_GROWTH) {
        /* Resident memory: only what was touched since the last release. */
        index_release_pages(&s->ix);
        s->released_index_bytes = index_bytes;
    }
}

static void *writer_main(void *arg)
{
    mn_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->q_head && !s->closing) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t wait_ms = atomic_load(&s->fsync_policy) == MN_FSYNC_INTERVAL
                                   ? atomic_load(&s->fsync_interval_ms) : INDEX_SYNC_MS;
            if (wait_ms > INDEX_SYNC_MS) wait_ms = INDEX_SYNC_MS;
            ts.tv_sec += (time_t)(wait_ms / 1000);
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&s->wake_writer, &s->mu, &ts) == ETIMEDOUT) break;
        }
        request *list = s->q_head;
        s->q_head = s->q_tail = NULL;
        int closing = s->closing;
        pthread_mutex_unlock(&s->mu);

        if (list) {
            commit_batch(s, list);
            complete(list);
        }
        housekeeping(s);

        pthread_mutex_lock(&s->mu);
        if (closing && !s->q_head) break;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The calling thread's held submissions (mn_submit_hold): an event loop
 * queues the requests of one pass here, without a lock, and hands them to
 * the writer at once. One store per thread at a time. */
static _Thread_local struct {
    mn_store *s;
    request *head, *tail;
} held;

int mn_set_fsync(mn_store *s, int policy, uint32_t interval_ms)
{
    if (!s) return error_set(MN_EINVAL, "no store");
    if (policy < MN_FSYNC_ALWAYS || policy > MN_FSYNC_NEVER)
        return error_set(MN_EINVAL, "bad fsync policy %d", policy);
    if (policy == MN_FSYNC_INTERVAL && interval_ms == 0)
        return error_set(MN_EINVAL, "an fsync interval must be at least 1 ms");
    if (s->opts.read_only) return error_set(MN_EREADONLY, "the store is open read-only");
    atomic_store(&s->fsync_interval_ms, interval_ms);
    atomic_store(&s->fsync_policy, policy);
    /* The writer may sleep up to its old interval: wake it to apply this. */
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->wake_writer);
    pthread_mutex_unlock(&s->mu);
    return MN_OK;
}

int writer_start(mn_store *s)
{
    s->last_sync_ms = s->last_index_sync_ms = clock_mono_ms();
    atomic_store(&s->fsync_policy, s->opts.fsync_policy);
    atomic_store(&s->fsync_interval_ms, s->opts.fsync_interval_ms);
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return error_set(MN_EIO, "cannot start the writer thread: %s", strerror(errno));
    s->writer_started = 1;
    return MN_OK;
}

void writer_stop(mn_store *s)
{
    if (held.s == s) mn_submit_flush(s); /* this thread's held requests go first */
    if (!s->writer_started) return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_signal(&s->wake_writer);
    pthread_cond_broadcast(&s->advanced);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    s->writer_started = 0;
    log_sync(s->log);
}

/* Appends list..tail to the writer's queue and wakes it once. */
static int enqueue(mn_store *s, request *head, request *tail)
{
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        pthread_mutex_unlock(&s->mu);
        return error_set(MN_ECLOSED, "the store is closing");
    }
    if (s->q_tail) s->q_tail->next = head;
    else s->q_head = head;
    s->q_tail = tail;
    pthread_cond_signal(&s->wake_writer);
    pthread_mutex_unlock(&s->mu);
    return MN_OK;
}

int writer_submit(mn_store *s, request *r)
{
    r->next = NULL;
    if (held.s == s && r->owned) {
        /* Async (store-owned) requests wait for mn_submit_flush. */
        if (held.tail) held.tail->next = r;
        else held.head = r;
        held.tail = r;
        return MN_OK;
    }
    if (held.s == s) mn_submit_flush(s); /* a synchronous call: keep the order */
    return enqueue(s, r, r);
}

void mn_submit_hold(mn_store *s)
{
    if (held.s && held.s != s) mn_submit_flush(held.s);
    held.s = s;
}

void mn_submit_flush(mn_store *s)
{
    if (!s || held.s != s) return;
    request *head = held.head, *tail = held.tail;
    held.s = NULL;
    held.head = held.tail = NULL;
    if (!head) return;
    if (enqueue(s, head, tail) != MN_OK) {
        /* Closing: each held request fails as a direct submit would have,
         * but through its callback, since its submit already returned. */
        for (request *r = head; r; r = r->next) {
            r->rc = MN_ECLOSED;
            snprintf(r->errmsg, sizeof r->errmsg, "the store is closing");
        }
        complete(head);
    }
}
