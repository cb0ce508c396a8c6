/*
 * stream_util.h — helpers shared by the stream commands (cmd_stream.c) and
 * the consumer-group commands (cmd_group.c): entry-id arguments, entry
 * replies, engine errors as Redis error lines, and engine operations
 * (mn_op) answered through a deferred reply.
 *
 * Everything here runs on the loop thread, except the engine callbacks
 * inside stream_op_submit(), which only copy the result and post it back.
 *
 * One model, two views. Every stream entry is an engine event; the X*
 * commands show it as a Redis entry [id, [field, value, ...]]:
 *   - an event written by XADD (flag MN_EVENT_FIELDS) shows its stored
 *     field list exactly as it was given (order, duplicates, bytes);
 *   - any other event (written by ES.* commands, the CLI or the C API)
 *     shows the fields  id <event UUID>  type <type>  data <data bytes>
 *     and, only when the event has metadata,  meta <meta bytes>.
 * The entry id is the event's mn_entry_id in both cases.
 */
#ifndef MN_SERVER_STREAM_UTIL_H
#define MN_SERVER_STREAM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mnemosyne.h"
#include "server.h"

/* Redis's reply to any malformed id argument (without the "ERR " prefix,
 * which reply_error adds). */
#define STREAM_ERR_INVALID_ID "Invalid stream ID specified as stream command argument"

/* "18446744073709551615-18446744073709551615" plus the NUL. */
#define STREAM_ID_STR_MAX 42

/* ------------------------------------------------------------------ */
/* Entry ids                                                            */
/* ------------------------------------------------------------------ */

/* -1, 0, 1 as a <, ==, > b. */
int stream_id_cmp(mn_entry_id a, mn_entry_id b);
/* The next / previous id; -1 (id unchanged) at UINT64_MAX-UINT64_MAX / 0-0. */
int stream_id_incr(mn_entry_id *id);
int stream_id_decr(mn_entry_id *id);
/* 1 if id is 0-0. */
int stream_id_is_zero(mn_entry_id id);

/* Writes "ms-seq" and a NUL into buf (STREAM_ID_STR_MAX bytes); returns
 * the length without the NUL. */
size_t stream_format_id(mn_entry_id id, char *buf);

/* Parses an id argument exactly as Redis 7 (streamGenericParseIDOrReply):
 *   "-"        0-0            (refused when strict)
 *   "+"        max-max        (refused when strict)
 *   "ms"       ms-missing_seq (0 for starts, UINT64_MAX for range ends)
 *   "ms-seq"   as given
 *   "ms-*"     only when seq_given != NULL (XADD): ms-0 and *seq_given = 0
 * Numbers are unsigned 64-bit decimals as Redis's string2ull reads them.
 * *seq_given (if not NULL) is set to 1 for every other accepted form.
 * Returns 0, or -1 for a malformed argument (nothing replied). */
int stream_parse_id(const char *s, size_t len, uint64_t missing_seq, int strict, int *seq_given,
                    mn_entry_id *out);

/* The same, replying "ERR Invalid stream ID ..." on failure (-1). */
int stream_parse_id_or_reply(client *c, const char *s, size_t len, uint64_t missing_seq,
                             int strict, int *seq_given, mn_entry_id *out);

/* An XRANGE / XPENDING / XAUTOCLAIM interval bound: like
 * stream_parse_id_or_reply (not strict), plus the exclusive form "(id"
 * (itself strict: "(-" and "(+" are invalid). *exclude (if not NULL) says
 * whether '(' was given; with exclude == NULL the '(' form is not accepted.
 * The caller then moves an exclusive start up (stream_id_incr) and an
 * exclusive end down (stream_id_decr) and replies Redis's "invalid start
 * ID for the interval" / "invalid end ID for the interval" if it cannot. */
int stream_parse_interval_or_reply(client *c, const char *s, size_t len, uint64_t missing_seq,
                                   int *exclude, mn_entry_id *out);

/* A non-negative 64-bit integer option (COUNT ...): replies Redis's "value
 * is not an integer or out of range" and returns -1 on a malformed one. */
int stream_parse_ll_or_reply(client *c, const char *s, size_t len, long long *out);

/* A COUNT argument (XRANGE, XREAD, XREADGROUP, XPENDING): as
 * stream_parse_ll_or_reply, with a negative count read as 0. */
int stream_parse_count_or_reply(client *c, const char *s, size_t len, long long *out);

/* XREAD / XREADGROUP: the keys, then as many ids, from argv[first] to the
 * end. Sets *nkeys; on an odd number of arguments replies Redis's
 * "Unbalanced '<cmd>' list of streams: for each stream key an ID or
 * '<id_hint>' must be specified." and returns -1. */
int stream_parse_streams_or_reply(client *c, int first, const char *cmd, char id_hint,
                                  int *nkeys);

/* ------------------------------------------------------------------ */
/* Entry replies                                                        */
/* ------------------------------------------------------------------ */

/* The id as a bulk string. */
void stream_reply_id(client *c, mn_entry_id id);

/* One entry: [id, [field, value, ...]] per the "one model, two views" rule
 * above. A damaged field list (cannot happen unless the log is damaged) is
 * answered with the pairs that could be decoded. */
void stream_reply_entry(client *c, const mn_event_view *ev);

/* An entry that no longer exists (XREADGROUP history, XCLAIM): [id, nil]
 * with Redis's null array (RESP2 *-1, RESP3 _). */
void stream_reply_entry_deleted(client *c, mn_entry_id id);

/* Replies an array of the iterator's entries, at most `count` (0: all).
 * Returns how many were replied, or a negative engine error if the
 * iterator failed before the first entry (nothing replied then; the
 * caller replies the error). A failure after some entries ends the array
 * early (logged): the reply stays well-formed. */
long stream_reply_entries(client *c, mn_iter *it, uint64_t count);

/* The same when the caller already fetched the first entry (to learn
 * whether there is anything to reply, as XREAD does): the array starts
 * with *first, then continues with the iterator. Never fails. */
long stream_reply_entries_first(client *c, mn_iter *it, const mn_event_view *first,
                                uint64_t count);

/* XREAD / XREADGROUP replies: a map keyed by stream name in RESP3 (what
 * redis-py and Redis 7 expect), an array of [name, entries] pairs in RESP2.
 *     void *h = stream_read_reply_begin(c);
 *     for each stream with entries: stream_read_reply_key(c, name, len);
 *                                   <reply the entries array>
 *     stream_read_reply_end(c, h, nstreams);
 * With nothing to reply, do not begin: reply_null_array(c) instead. */
void *stream_read_reply_begin(client *c);
void stream_read_reply_key(client *c, const char *name, size_t len);
void stream_read_reply_end(client *c, void *h, long nstreams);

/* ------------------------------------------------------------------ */
/* Engine errors                                                        */
/* ------------------------------------------------------------------ */

/* Replies an engine error as a Redis error line:
 *   MN_ENOGROUP   "-NOGROUP <errmsg>" (or a generic text)
 *   MN_EEXISTS    "-BUSYGROUP Consumer Group name already exists"
 *   MN_ENOTFOUND  "-ERR no such key"
 *   MN_EIDORDER   "-ERR <errmsg>"
 *   anything else "-ERR <errmsg>", or "-ERR <mn_strerror(rc)>" without one.
 * Commands with a Redis text of their own for a code (XADD's "equal or
 * smaller than the target stream top item") check rc before calling this.
 * errmsg may be NULL (then mn_strerror is used). */
void stream_reply_mn_error(client *c, int rc, const char *errmsg);

/* ------------------------------------------------------------------ */
/* Engine operations with a deferred reply                              */
/* ------------------------------------------------------------------ */

/* The outcome of an mn_op, on the loop thread. */
typedef struct stream_op_res {
    int rc;               /* MN_OK or an MN_E* code */
    char errmsg[256];     /* the engine's detail when rc != MN_OK */
    mn_op op;             /* the op with its out fields; the `in` pointers
                             (stream, group, consumer, ids) are NULL; the
                             out arrays (out_ids, deleted_ids) belong to
                             this struct and are freed after the reply
                             function returns (take them by setting the
                             pointer to NULL) */
} stream_op_res;

/* Runs on the loop thread when the op is durable (or failed). c is the
 * client with its reply target set to the deferred slot: reply exactly
 * once. c is NULL if the client disconnected: only release ud then. */
typedef void stream_op_reply_fn(client *c, stream_op_res *res, void *ud);

/* Defers c's reply and queues op (the engine copies it: the caller's
 * strings and ids may go away on return). When the op is durable,
 * reply(c, res, ud) runs on the loop thread and then the deferred reply
 * is completed. Returns 0 when queued; -1 if the engine refused at once
 * or memory ran out: the error has then been replied to c (in place) and
 * reply is never called (ud stays the caller's to free). */
int stream_op_async(client *c, const mn_op *op, stream_op_reply_fn *reply, void *ud);

/* The same on a deferred reply the caller already holds (chains: XADD then
 * its trim). Returns MN_OK, and d is completed after reply runs; or the
 * engine's error (mn_errmsg() has the detail; MN_ENOMEM): nothing was
 * replied, reply is never called, and d is still the caller's. */
int stream_op_submit(deferred *d, const mn_op *op, stream_op_reply_fn *reply, void *ud);

/* ---- virtual streams: $all, $ce-<category>, $et-<type> ----
 * Read-only views over the log (the engine's mn_read_view). Their entry
 * ids are <global position>-0, so XRANGE/XREAD ids and ES positions are the
 * same numbers. Every name starting with '$' is reserved: writes to it are
 * refused. */

/* 1 if key names a virtual stream (and which view, with its key). */
int stream_virtual(const char *key, size_t len, int *view, const char **vkey, size_t *vlen);
/* 1 if key is reserved for virtual streams (starts with '$'). */
int stream_name_reserved(const char *key, size_t len);
/* Opens a read of key (real or virtual) over the entry-id range [start, end]. */
int stream_open_range(const char *key, size_t len, mn_entry_id start, mn_entry_id end,
                      uint64_t count, int backward, mn_iter **it);
/* For a virtual stream: 1 and its length in *n; 0 if key is not virtual. */
int stream_virtual_len(const char *key, size_t len, uint64_t *n);
/* Live streams that are keys: the store's, less the virtual streams' group
 * holders (engine/vgroup.c), which are none (DBSIZE, INFO keyspace). */
uint64_t stream_key_count(void);
/* The id '$' means for a virtual stream: just below the next position. */
mn_entry_id stream_virtual_last_id(void);

#endif
