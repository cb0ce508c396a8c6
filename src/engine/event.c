/*
 * event.c — encoding and decoding event, delete and operation payloads
 * (event.h). Decoding checks every length against the payload size, every
 * stream name against 1..MN_MAX_STREAM_NAME and an operation's item size
 * against its kind: a record passed its CRC, but a bug or a hostile file
 * must still not make us read past it or hand the index a key it refuses.
 */
#include "engine/event.h"

#include <string.h>

#include "storage/record.h"

#define PUT(off, v) memcpy(p + (off), &(v), sizeof(v))
#define GET(off, v) memcpy(&(v), p + (off), sizeof(v))

void ev_encode(uint8_t *p, const ev_decoded *e)
{
    uint32_t zero = 0;
    PUT(0, e->stream_id);
    PUT(8, e->version);
    PUT(16, e->timestamp_us);
    PUT(24, e->entry_id.ms);
    PUT(32, e->entry_id.seq);
    memcpy(p + 40, e->id, 16);
    PUT(56, e->flags);
    PUT(60, e->stream_len);
    PUT(64, e->type_len);
    PUT(68, e->meta_len);
    PUT(72, e->data_len);
    PUT(76, zero);
    uint8_t *q = p + EV_FIXED;
    memcpy(q, e->stream, e->stream_len);
    q += e->stream_len;
    memcpy(q, e->type, e->type_len);
    q += e->type_len;
    if (e->meta_len) memcpy(q, e->meta, e->meta_len);
    q += e->meta_len;
    if (e->data_len) memcpy(q, e->data, e->data_len);
}

int ev_decode(const uint8_t *p, uint32_t len, ev_decoded *e)
{
    if (len < EV_FIXED) return -1;
    GET(0, e->stream_id);
    GET(8, e->version);
    GET(16, e->timestamp_us);
    GET(24, e->entry_id.ms);
    GET(32, e->entry_id.seq);
    memcpy(e->id, p + 40, 16);
    GET(56, e->flags);
    GET(60, e->stream_len);
    GET(64, e->type_len);
    GET(68, e->meta_len);
    GET(72, e->data_len);
    uint64_t total = (uint64_t)EV_FIXED + e->stream_len + e->type_len + e->meta_len + e->data_len;
    if (total != len || !ev_name_ok(e->stream_len)) return -1;
    const uint8_t *q = p + EV_FIXED;
    e->stream = (const char *)q;
    q += e->stream_len;
    e->type = (const char *)q;
    q += e->type_len;
    e->meta = q;
    q += e->meta_len;
    e->data = q;
    return 0;
}

void del_encode(uint8_t *p, const del_decoded *d)
{
    PUT(0, d->stream_id);
    PUT(8, d->version);
    PUT(16, d->timestamp_us);
    PUT(24, d->flags);
    PUT(28, d->name_len);
    memcpy(p + DEL_FIXED, d->name, d->name_len);
}

int del_decode(const uint8_t *p, uint32_t len, del_decoded *d)
{
    if (len < DEL_FIXED) return -1;
    GET(0, d->stream_id);
    GET(8, d->version);
    GET(16, d->timestamp_us);
    GET(24, d->flags);
    GET(28, d->name_len);
    if ((uint64_t)DEL_FIXED + d->name_len != len || !ev_name_ok(d->name_len)) return -1;
    d->name = (const char *)p + DEL_FIXED;
    return 0;
}

void op_encode(uint8_t *p, const op_decoded *o)
{
    uint32_t zero = 0;
    PUT(0, o->stream_id);
    PUT(8, o->time_ms);
    PUT(16, o->a);
    PUT(24, o->b);
    PUT(32, o->c);
    PUT(40, o->d);
    PUT(48, o->e);
    PUT(56, o->f);
    PUT(64, o->stream_len);
    PUT(68, o->group_len);
    PUT(72, o->consumer_len);
    PUT(76, o->n_items);
    PUT(80, o->item_size);
    PUT(84, zero);
    uint8_t *q = p + OP_FIXED;
    memcpy(q, o->stream, o->stream_len);
    q += o->stream_len;
    if (o->group_len) memcpy(q, o->group, o->group_len);
    q += o->group_len;
    if (o->consumer_len) memcpy(q, o->consumer, o->consumer_len);
    q += o->consumer_len;
    if (o->n_items) memcpy(q, o->items, (size_t)o->n_items * o->item_size);
}

uint32_t op_item_size(uint8_t kind)
{
    switch (kind) {
    case REC_ENTRIES_DELETE: return 8;  /* versions (ops.c) */
    case REC_PEL_REMOVE: return 16;     /* entry ids (group.c) */
    case REC_CLAIM: return 32;          /* claim items (group.c) */
    case REC_DELIVER: return 16;        /* virtual streams' delivered ids (vgroup.c) */
    default: return 0;
    }
}

const char *op_decode(uint8_t kind, const uint8_t *p, uint32_t len, op_decoded *o)
{
    if (len < OP_FIXED) return "shorter than its fixed part";
    GET(0, o->stream_id);
    GET(8, o->time_ms);
    GET(16, o->a);
    GET(24, o->b);
    GET(32, o->c);
    GET(40, o->d);
    GET(48, o->e);
    GET(56, o->f);
    GET(64, o->stream_len);
    GET(68, o->group_len);
    GET(72, o->consumer_len);
    GET(76, o->n_items);
    GET(80, o->item_size);
    /* The appliers step through items by the size of their kind's item, not
     * by item_size: a size that differs would make them read past the
     * record. An empty list may carry any size (the encoders set it anyway). */
    uint32_t want = op_item_size(kind);
    if (o->n_items && (want == 0 || o->item_size != want))
        return want ? "item size does not match its kind" : "items on a kind that has none";
    if (o->item_size && o->n_items > (len - OP_FIXED) / o->item_size)
        return "item count past its end"; /* no overflow below */
    if (op_payload_size(o) != len) return "lengths do not add up to its size";
    if (!ev_name_ok(o->stream_len)) return "stream name empty or too long";
    const uint8_t *q = p + OP_FIXED;
    o->stream = (const char *)q;
    q += o->stream_len;
    o->group = (const char *)q;
    q += o->group_len;
    o->consumer = (const char *)q;
    q += o->consumer_len;
    o->items = q;
    return NULL;
}

const char *rec_payload_problem(uint8_t kind, const uint8_t *p, uint32_t len)
{
    ev_decoded e;
    del_decoded d;
    op_decoded o;
    if (kind == REC_EVENT)
        return ev_decode(p, len, &e) ? "event lengths, or a stream name empty or too long" : NULL;
    if (kind == REC_STREAM_DELETE)
        return del_decode(p, len, &d) ? "delete lengths, or a stream name empty or too long" : NULL;
    /* Every other kind the format admits is an operation record: the stream
     * changes (3..6) and the group and queue changes (16..24). */
    if ((kind >= REC_STREAM_CREATE && kind <= REC_STREAM_SETID) ||
        (kind >= REC_GROUP_CREATE && kind <= REC_QUEUE_POLICY))
        return op_decode(kind, p, len, &o);
    return "unknown record kind";
}
