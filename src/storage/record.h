/*
 * record.h — the framing of every record in the log.
 *
 *   offset  size  field
 *   0       4     crc     CRC32C of bytes [4, len): everything after this field
 *   4       4     len     header + payload, in bytes (padding not included)
 *   8       8     pos     the record's own global position
 *   16      1     kind    what the payload is (REC_* below; the engine's business)
 *   17      1     flags   REC_TXN_END on the last record of an atomic group
 *   18      6     zero
 *   24      len-24        payload
 *
 * Records start at 8-byte aligned positions; the gap after one is zero bytes.
 * All integers are little-endian (the code requires a little-endian host).
 *
 * Why the position inside the record: a record is valid only where it was
 * written. Stale bytes — an old segment's content, a misdirected write, the
 * zeros of a file extended but never written — cannot pass for a record, and
 * a scan that resynchronises after damage cannot be fooled by them.
 *
 * Why TXN_END: one append of several events (or several streams) is several
 * records; recovery keeps a group only if its last record is there, so an
 * atomic append is never half-recovered.
 */
#ifndef MN_STORAGE_RECORD_H
#define MN_STORAGE_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/crc32c.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the log format is little-endian");

#define REC_HDR_SIZE 24u
#define REC_ALIGN 8u
#define REC_TXN_END 0x01u

/* Record kinds. 1..63 are the engine's: events and stream changes; the
 * storage layer only frames them. */
enum {
    REC_EVENT = 1,         /* one event appended to a stream */
    REC_STREAM_DELETE = 2, /* a stream deleted (soft) or tombstoned */
    REC_STREAM_CREATE = 3, /* an empty stream created (XGROUP CREATE MKSTREAM) */
    REC_ENTRIES_DELETE = 4,/* entries removed by id (XDEL) */
    REC_STREAM_TRIM = 5,   /* the oldest entries removed (XTRIM, XADD MAXLEN/MINID) */
    REC_STREAM_SETID = 6,  /* last id / entries-added / max-deleted set (XSETID) */
    REC_GROUP_CREATE = 16, /* consumer group created */
    REC_GROUP_SETID = 17,  /* its last delivered id set */
    REC_GROUP_DESTROY = 18,
    REC_CONSUMER_CREATE = 19,
    REC_CONSUMER_DELETE = 20,
    REC_DELIVER = 21,      /* entries delivered to a consumer (XREADGROUP >) */
    REC_PEL_REMOVE = 22,   /* PEL entries removed (XACK, or gone from the stream) */
    REC_CLAIM = 23,        /* PEL entries (re)assigned (XCLAIM, XAUTOCLAIM) */
    REC_QUEUE_POLICY = 24, /* a group's queue policy set (QUEUE.POLICY) */
};

typedef struct rec_hdr {
    uint32_t crc;  /* CRC32C of the record after this field */
    uint32_t len;  /* header + payload bytes */
    uint64_t pos;  /* global position of the record */
    uint8_t kind;  /* REC_* */
    uint8_t flags; /* REC_TXN_END */
    uint8_t zero[6];
} rec_hdr;

_Static_assert(sizeof(rec_hdr) == REC_HDR_SIZE, "record header is 24 bytes");

static inline uint64_t rec_align(uint64_t n) { return (n + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1); }

/* Bytes a record with a payload of n bytes takes in the log, padding included. */
static inline uint64_t rec_space(uint64_t payload) { return rec_align(REC_HDR_SIZE + payload); }

/* Writes the header for a payload already at p + REC_HDR_SIZE and computes the
 * CRC; zeroes the padding. p must have rec_space(payload_len) bytes. */
static inline void rec_seal(uint8_t *p, uint64_t pos, uint8_t kind, uint8_t flags,
                            uint32_t payload_len)
{
    rec_hdr h;
    memset(&h, 0, sizeof h);
    h.len = REC_HDR_SIZE + payload_len;
    h.pos = pos;
    h.kind = kind;
    h.flags = flags;
    memcpy(p, &h, sizeof h);
    size_t pad = rec_space(payload_len) - h.len;
    if (pad) memset(p + h.len, 0, pad);
    uint32_t crc = crc32c(p + 4, h.len - 4);
    memcpy(p, &crc, 4);
}

/* Result of looking at the bytes at one position. */
enum { REC_OK = 0, REC_SHORT = 1, REC_BAD = 2 };

/* Checks the record at p (avail bytes readable from p, expected position pos):
 * REC_OK and *h filled; REC_SHORT if the header or the record runs past
 * avail; REC_BAD if it is not a valid record for that position. max_len
 * bounds len, so garbage cannot claim gigabytes. */
static inline int rec_check(const uint8_t *p, uint64_t avail, uint64_t pos, uint64_t max_len,
                            rec_hdr *h)
{
    if (avail < REC_HDR_SIZE) return REC_SHORT;
    memcpy(h, p, sizeof *h);
    if (h->len < REC_HDR_SIZE || h->len > max_len || h->pos != pos || h->kind == 0)
        return REC_BAD;
    if (h->len > avail) return REC_SHORT;
    if (crc32c(p + 4, h->len - 4) != h->crc) return REC_BAD;
    return REC_OK;
}

#endif
