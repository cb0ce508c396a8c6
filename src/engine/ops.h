/*
 * ops.h — helpers shared by the operation files (ops.c, group.c, queue.c).
 */
#ifndef MN_ENGINE_OPS_H
#define MN_ENGINE_OPS_H

#include "engine/event.h"
#include "engine/store.h"

/* Stages n operation records as one atomic group (TXN_END on the last) and
 * applies each to txn. Marks r staged. */
int op_stage_records(mn_store *s, MDB_txn *txn, request *r, size_t n, const uint8_t *kinds,
                     const op_decoded *recs);
/* An op record for op's stream with the current time. */
void op_base(op_decoded *o, const mn_op *op, uint64_t stream_id);
/* The op's stream, or MN_ENOTFOUND ("no such key") / MN_EDELETED. */
int op_stream(mn_store *s, MDB_txn *txn, const mn_op *op, stream_state *st);
/* Stages an empty stream's creation. */
int ops_create_stream(mn_store *s, MDB_txn *txn, request *r, const char *name, size_t len);
/* Stages a trim of st by t; *removed gets the count. */
int ops_trim(mn_store *s, MDB_txn *txn, request *r, const mn_op *op, const stream_state *st,
             const mn_trim *t, uint64_t *removed);
/* Group operations (group.c). */
int group_stage(mn_store *s, MDB_txn *txn, request *r);
/* A group by stream id and name: MN_OK, or MN_ENOGROUP. */
int group_get(mn_store *s, MDB_txn *txn, uint64_t stream_id, const char *name, size_t len,
              group_state *g);

/* A PEL entry (re)assigned by a CLAIM record: one item of its payload. */
typedef struct claim_item {
    uint64_t ms, seq;         /* entry id */
    uint64_t delivered_ms;    /* new delivery time */
    uint64_t deliveries;      /* new delivery count */
} claim_item;

/* Queue policies (queue.c). */
int queue_stage(mn_store *s, MDB_txn *txn, request *r); /* QUEUE_POLICY, QUEUE_REPLAY */
/* What a DELIVER does before its new entries under a visibility timeout:
 * redeliveries and dead letters. NULL when there is nothing to do. */
typedef struct queue_plan queue_plan;
int queue_plan_deliver(mn_store *s, MDB_txn *txn, const mn_op *op, const stream_state *st,
                       const group_state *g, queue_plan **out);
/* How many entries the plan delivers again (they count against COUNT). */
size_t queue_plan_redelivered(const queue_plan *qp);
/* Stages the plan's records and then rec (kind 0: none) as one atomic
 * group, sets op's out_ids / deleted_n; frees the plan (may be NULL). */
int queue_stage_deliver(mn_store *s, MDB_txn *txn, request *r, queue_plan *qp, uint8_t kind,
                        const op_decoded *rec);
void queue_plan_free(queue_plan *qp);

/* Virtual streams' groups (vgroup.c). A view named by a virtual stream. */
typedef struct vview {
    int view;             /* MN_VIEW_ALL / _CATEGORY / _TYPE */
    const char *key;      /* the category or type (borrowed from the name) */
    size_t key_len;
} vview;
/* 1 and *v if name is a virtual stream's, else 0. */
int vgroup_of(const char *name, size_t len, vview *v);
/* The view's positions after `after`, at most limit (0 = all), as entry
 * ids <position>-0 in *ids (malloc'ed; NULL when none). */
int vgroup_scan(mn_store *s, const vview *v, uint64_t after, uint64_t limit, mn_entry_id **ids,
                size_t *n);
/* How many of the view's events lie after `after`. */
int vgroup_count_after(mn_store *s, const vview *v, uint64_t after, uint64_t *n);
/* The position of the view's last event (0 if it has none). */
int vgroup_last(mn_store *s, const vview *v, uint64_t *pos);
/* 1 if the view still has an event at pos, 0 if not, or an error. */
int vgroup_has(mn_store *s, const vview *v, uint64_t pos);
/* An iterator over the one event with entry id `id` (<position>-0). */
int vgroup_read_entry(mn_store *s, const vview *v, mn_entry_id id, mn_iter **out);

#endif
