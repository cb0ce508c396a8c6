/*
 * event.h — the payloads of the engine's records: events and stream deletes.
 *
 * Event payload (little-endian), then the variable parts in this order:
 *   0  u64 stream_id      8  i64 version       16 u64 timestamp_us
 *   24 u64 entry_ms       32 u64 entry_seq     40 u8[16] event id
 *   56 u32 flags (EV_CLIENT_ID)  60 u32 stream_len  64 u32 type_len
 *   68 u32 meta_len       72 u32 data_len      76 u32 zero
 *   80 stream name, type, meta, data
 *
 * Every event carries its stream's name as well as its id, so the log alone
 * says everything (a rebuild needs nothing else) and $all readers need no
 * lookup to name an event's stream.
 *
 * Stream delete payload:
 *   0 u64 stream_id  8 i64 version  16 u64 timestamp_us  24 u32 flags  28 u32 name_len  32 name
 */
#ifndef MN_ENGINE_EVENT_H
#define MN_ENGINE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "mnemosyne.h"

#define EV_FIXED 80u
#define EV_CLIENT_ID 0x1u   /* the event id was given by the client (dedup-indexed) */
#define EV_FIELDS 0x2u      /* == MN_EVENT_FIELDS: data is a field list */
#define DEL_FIXED 32u
#define DEL_TOMBSTONE 0x1u

/* A decoded event: fields, and pointers into the payload. */
typedef struct ev_decoded {
    uint64_t stream_id;
    int64_t version;
    uint64_t timestamp_us;
    mn_entry_id entry_id;
    uint8_t id[16];
    uint32_t flags;
    const char *stream; uint32_t stream_len;
    const char *type; uint32_t type_len;
    const uint8_t *meta; uint32_t meta_len;
    const uint8_t *data; uint32_t data_len;
} ev_decoded;

typedef struct del_decoded {
    uint64_t stream_id;
    int64_t version;
    uint64_t timestamp_us;
    uint32_t flags;
    const char *name; uint32_t name_len;
} del_decoded;

/* Every stream name the engine writes is 1..MN_MAX_STREAM_NAME bytes
 * (append.c checks it) and the index takes it as an LMDB key, which cannot
 * be empty: a decoded record with another length is damage, not data. */
static inline int ev_name_ok(uint32_t len) { return len >= 1 && len <= MN_MAX_STREAM_NAME; }

/* Payload size of an event. */
static inline uint64_t ev_payload_size(size_t stream_len, size_t type_len, size_t meta_len,
                                       size_t data_len)
{
    return EV_FIXED + stream_len + type_len + meta_len + data_len;
}

/* Encodes an event payload at p (ev_payload_size bytes). */
void ev_encode(uint8_t *p, const ev_decoded *e);
/* Decodes; 0, or -1 if the payload is inconsistent (lengths past its end,
 * a stream name outside 1..MN_MAX_STREAM_NAME). */
int ev_decode(const uint8_t *p, uint32_t len, ev_decoded *e);

void del_encode(uint8_t *p, const del_decoded *d);
int del_decode(const uint8_t *p, uint32_t len, del_decoded *d);

/*
 * Operation records (every kind but events and stream deletes): one layout
 * whose numbers mean what each kind says (ops.c, group.c). Records carry
 * the effects decided when they were staged (which versions, which times),
 * never the intent, so applying them again gives the same index.
 *
 *   0 u64 stream_id   8 u64 time_ms   16..63 u64 a..f
 *   64 u32 stream_len 68 u32 group_len 72 u32 consumer_len 76 u32 n_items
 *   80 u32 item_size  84 u32 zero     88 stream, group, consumer, items
 */
#define OP_FIXED 88u

typedef struct op_decoded {
    uint64_t stream_id;
    uint64_t time_ms;
    uint64_t a, b, c, d, e, f;   /* kind-specific numbers */
    const char *stream; uint32_t stream_len;
    const char *group; uint32_t group_len;
    const char *consumer; uint32_t consumer_len;
    const uint8_t *items; uint32_t n_items, item_size;
} op_decoded;

static inline uint64_t op_payload_size(const op_decoded *o)
{
    return (uint64_t)OP_FIXED + o->stream_len + o->group_len + o->consumer_len +
           (uint64_t)o->n_items * o->item_size;
}
/* Encodes at p (op_payload_size bytes); items are copied from o->items. */
void op_encode(uint8_t *p, const op_decoded *o);
/* The size of one item in an operation record of that kind (REC_*), 0 for
 * kinds that carry none. */
uint32_t op_item_size(uint8_t kind);
/* Decodes an operation record of that kind; NULL, or what is wrong with it
 * (a static string: lengths past its end, an item size other than its
 * kind's, a stream name outside 1..MN_MAX_STREAM_NAME). */
const char *op_decode(uint8_t kind, const uint8_t *p, uint32_t len, op_decoded *o);

/* What is wrong with a record's payload for its kind (REC_*), as the decoder
 * of that kind sees it; NULL if it is well formed. mn_check uses it so that a
 * log it calls clean is one recovery can apply (a CRC only proves the bytes
 * are the ones written, not that the writer wrote a sound record). */
const char *rec_payload_problem(uint8_t kind, const uint8_t *p, uint32_t len);

#endif
