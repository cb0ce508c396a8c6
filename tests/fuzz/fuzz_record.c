/*
 * fuzz_record.c — record framing (storage/record.h: rec_check, rec_seal)
 * and the payload decoders (engine/event.c: ev_decode, del_decode,
 * op_decode; engine/fields.c: mn_fields_next, mn_fields_count).
 *
 * Input: any bytes. Byte 0 picks max_len for rec_check; the whole input
 * is then used, in an allocation of exactly its size (ASan sees any read
 * past it), as:
 *   1. a log fragment: rec_check at every 8-aligned offset, with the
 *      position the header claims and with a wrong one; each valid record's
 *      payload goes through the decoder of its kind;
 *   2. a payload of each kind, whatever the bytes: ev_decode, del_decode,
 *      op_decode (as kinds with items of each size and one without),
 *      mn_fields_count/next;
 *   3. a payload sealed into a record (rec_seal) that rec_check must accept.
 *
 * Invariants: every decoded pointer and length lies inside the bytes
 * decoded; a decoded stream name is 1..MN_MAX_STREAM_NAME bytes and an
 * operation's items have its kind's size; a decoded payload encodes back to the same bytes (except the
 * fields the encoders write as zero); mn_fields_next never leaves the data
 * and agrees with mn_fields_count; rec_check never says REC_OK for a
 * length past what it was given, and always says REC_OK for a sealed record.
 */
#include <string.h>

#include "fuzz_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t max_lens[4] = {REC_HDR_SIZE, 256, 1u << 20, UINT32_MAX};
    if (size < 1) return 0;
    uint64_t max_len = max_lens[data[0] & 3];
    size_t n = size - 1;
    uint8_t *p = malloc(n ? n : 1);
    FUZZ_CHECK(p != NULL);
    memcpy(p, data + 1, n);

    /* 1. a log fragment: headers at every aligned offset */
    for (size_t off = 0; off < n; off += REC_ALIGN) {
        rec_hdr h, claimed;
        uint64_t avail = n - off;
        if (avail >= sizeof claimed) memcpy(&claimed, p + off, sizeof claimed);
        else memset(&claimed, 0, sizeof claimed);
        int st = rec_check(p + off, avail, claimed.pos, max_len, &h);
        FUZZ_CHECK(st == REC_OK || st == REC_SHORT || st == REC_BAD);
        if (avail < REC_HDR_SIZE) FUZZ_CHECK(st == REC_SHORT);
        if (st == REC_OK) {
            FUZZ_CHECK(h.len >= REC_HDR_SIZE && h.len <= avail && h.len <= max_len);
            FUZZ_CHECK(h.kind != 0 && h.pos == claimed.pos);
            check_payload(h.kind, p + off + REC_HDR_SIZE, h.len - REC_HDR_SIZE);
            /* the same bytes at another position are not a record */
            FUZZ_CHECK(rec_check(p + off, avail, claimed.pos + REC_ALIGN, max_len, &h) == REC_BAD);
        }
    }

    /* 2. the whole input as a payload of each kind */
    if (n <= UINT32_MAX) {
        check_event(p, (uint32_t)n);
        check_delete(p, (uint32_t)n);
        /* one kind without items and each item size */
        static const uint8_t op_kinds[] = {REC_STREAM_CREATE, REC_ENTRIES_DELETE, REC_PEL_REMOVE,
                                           REC_CLAIM};
        for (size_t k = 0; k < sizeof op_kinds; k++) check_op(op_kinds[k], p, (uint32_t)n);
        check_fields(p, n);
    }

    /* 3. sealed, it must pass: header + payload + padding */
    if (n <= (1u << 20)) {
        uint64_t space = rec_space(n);
        uint8_t *r = malloc(space);
        FUZZ_CHECK(r != NULL);
        memcpy(r + REC_HDR_SIZE, p, n);
        uint64_t pos = (uint64_t)size * REC_ALIGN;
        uint8_t kind = (uint8_t)(data[0] >> 2) ? (uint8_t)(data[0] >> 2) : REC_EVENT;
        rec_seal(r, pos, kind, data[0] & 1 ? REC_TXN_END : 0, (uint32_t)n);
        rec_hdr h;
        FUZZ_CHECK(rec_check(r, space, pos, UINT32_MAX, &h) == REC_OK);
        FUZZ_CHECK(h.len == REC_HDR_SIZE + n && h.kind == kind);
        for (uint64_t i = REC_HDR_SIZE + n; i < space; i++) FUZZ_CHECK(r[i] == 0);
        /* cut short, it is not whole */
        if (n > 0) FUZZ_CHECK(rec_check(r, REC_HDR_SIZE + n - 1, pos, UINT32_MAX, &h) == REC_SHORT);
        /* any one flipped bit after the CRC field is damage */
        if (n > 0) {
            uint64_t bit = (uint64_t)data[size - 1] * 131 % (8 * (REC_HDR_SIZE - 4 + n));
            r[4 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
            FUZZ_CHECK(rec_check(r, space, pos, UINT32_MAX, &h) != REC_OK);
        }
        free(r);
    }
    free(p);
    return 0;
}
