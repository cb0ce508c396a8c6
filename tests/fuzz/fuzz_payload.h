/*
 * fuzz_payload.h — checks of the payload decoders shared by fuzz_record.c
 * and fuzz_recovery.c: whatever the bytes, a decoder that accepts them
 * hands out pointers and lengths inside them, and what it decoded encodes
 * back to the same bytes (except fields the encoders write as zero).
 */
#ifndef MN_TEST_FUZZ_PAYLOAD_H
#define MN_TEST_FUZZ_PAYLOAD_H

#include <string.h>

#include "engine/event.h"
#include "fuzz.h"
#include "storage/record.h"

static inline void check_fields(const uint8_t *d, size_t len)
{
    size_t off = 0, fl, vl;
    const void *f, *v;
    long n = 0;
    int rc;
    while ((rc = mn_fields_next(d, len, &off, &f, &fl, &v, &vl)) == 1) {
        FUZZ_CHECK(fuzz_within(f, fl, d, len));
        FUZZ_CHECK(fuzz_within(v, vl, d, len));
        FUZZ_CHECK(off <= len);
        n++;
    }
    FUZZ_CHECK(rc == 0 || rc == -1);
    long c = mn_fields_count(d, len);
    if (c >= 0) {
        uint32_t declared;
        memcpy(&declared, d, 4);
        FUZZ_CHECK(rc == 0 && c == n && (uint32_t)c == declared);
    } else if (len >= 4 && rc == 0) {
        uint32_t declared;
        memcpy(&declared, d, 4);
        FUZZ_CHECK((uint32_t)n != declared); /* whole list, so only the count can differ */
    }
}

static inline void check_event(const uint8_t *p, uint32_t len)
{
    ev_decoded e;
    if (ev_decode(p, len, &e) != 0) return;
    FUZZ_CHECK(len >= EV_FIXED);
    FUZZ_CHECK(e.stream_len >= 1 && e.stream_len <= MN_MAX_STREAM_NAME);
    FUZZ_CHECK(fuzz_within(e.stream, e.stream_len, p, len));
    FUZZ_CHECK(fuzz_within(e.type, e.type_len, p, len));
    FUZZ_CHECK(fuzz_within(e.meta, e.meta_len, p, len));
    FUZZ_CHECK(fuzz_within(e.data, e.data_len, p, len));
    FUZZ_CHECK(ev_payload_size(e.stream_len, e.type_len, e.meta_len, e.data_len) == len);
    uint8_t *q = malloc(len);
    FUZZ_CHECK(q != NULL);
    ev_encode(q, &e);
    FUZZ_CHECK(memcmp(q, p, 76) == 0);               /* 76..79 is written as zero */
    FUZZ_CHECK(memcmp(q + EV_FIXED, p + EV_FIXED, len - EV_FIXED) == 0);
    free(q);
    if (e.flags & EV_FIELDS) check_fields(e.data, e.data_len);
}

static inline void check_delete(const uint8_t *p, uint32_t len)
{
    del_decoded d;
    if (del_decode(p, len, &d) != 0) return;
    FUZZ_CHECK(d.name_len >= 1 && d.name_len <= MN_MAX_STREAM_NAME);
    FUZZ_CHECK(fuzz_within(d.name, d.name_len, p, len));
    FUZZ_CHECK((uint64_t)DEL_FIXED + d.name_len == len);
    uint8_t *q = malloc(len);
    FUZZ_CHECK(q != NULL);
    del_encode(q, &d);
    FUZZ_CHECK(memcmp(q, p, len) == 0);
    free(q);
}

static inline void check_op(uint8_t kind, const uint8_t *p, uint32_t len)
{
    op_decoded o;
    if (op_decode(kind, p, len, &o) != NULL) return;
    /* items are read by the size of the kind's item (ops.c, group.c) */
    if (o.n_items) FUZZ_CHECK(o.item_size == op_item_size(kind) && o.item_size != 0);
    FUZZ_CHECK(o.stream_len >= 1 && o.stream_len <= MN_MAX_STREAM_NAME);
    FUZZ_CHECK(len >= OP_FIXED);
    FUZZ_CHECK(fuzz_within(o.stream, o.stream_len, p, len));
    FUZZ_CHECK(fuzz_within(o.group, o.group_len, p, len));
    FUZZ_CHECK(fuzz_within(o.consumer, o.consumer_len, p, len));
    /* the items: n_items * item_size bytes, computed without overflow */
    FUZZ_CHECK(o.item_size == 0 || o.n_items <= len / o.item_size);
    FUZZ_CHECK(fuzz_within(o.items, (uint64_t)o.n_items * o.item_size, p, len));
    uint8_t *q = malloc(len);
    FUZZ_CHECK(q != NULL);
    op_encode(q, &o);
    FUZZ_CHECK(memcmp(q, p, 84) == 0);               /* 84..87 is written as zero */
    FUZZ_CHECK(memcmp(q + OP_FIXED, p + OP_FIXED, len - OP_FIXED) == 0);
    free(q);
}

static inline void check_payload(int kind, const uint8_t *p, uint32_t len)
{
    if (kind == REC_EVENT) check_event(p, len);
    else if (kind == REC_STREAM_DELETE) check_delete(p, len);
    else check_op((uint8_t)kind, p, len);
}

#endif
