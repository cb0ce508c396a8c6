/*
 * ops.h — helpers shared by the operation files (ops.c, group.c).
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

#endif
