/*
 * fields.c — the field/value list encoding of Redis stream entries
 * (MN_EVENT_FIELDS data): u32 count, then u32 length + bytes for each field
 * and value. Decoding checks every length against the buffer.
 */
#include <stdint.h>
#include <string.h>

#include "mnemosyne.h"

size_t mn_fields_size(size_t n, const size_t *lens)
{
    size_t total = 4;
    for (size_t i = 0; i < 2 * n; i++) total += 4 + lens[i];
    return total;
}

void mn_fields_encode(void *out, size_t n, const void *const *ptrs, const size_t *lens)
{
    uint8_t *p = out;
    uint32_t c = (uint32_t)n;
    memcpy(p, &c, 4);
    p += 4;
    for (size_t i = 0; i < 2 * n; i++) {
        uint32_t l = (uint32_t)lens[i];
        memcpy(p, &l, 4);
        p += 4;
        if (l) memcpy(p, ptrs[i], l);
        p += l;
    }
}

static int take(const uint8_t *d, size_t len, size_t *off, const void **ptr, size_t *plen)
{
    uint32_t l;
    if (len - *off < 4) return -1;
    memcpy(&l, d + *off, 4);
    *off += 4;
    if (len - *off < l) return -1;
    *ptr = d + *off;
    *plen = l;
    *off += l;
    return 0;
}

int mn_fields_next(const void *data, size_t len, size_t *off, const void **field,
                   size_t *field_len, const void **value, size_t *value_len)
{
    const uint8_t *d = data;
    if (*off == 0) {
        if (len < 4) return -1;
        *off = 4;
    }
    if (*off == len) return 0;
    if (*off > len) return -1;
    if (take(d, len, off, field, field_len) < 0 || take(d, len, off, value, value_len) < 0) return -1;
    return 1;
}

long mn_fields_count(const void *data, size_t len)
{
    uint32_t c;
    size_t off = 0, fl, vl;
    const void *f, *v;
    long n = 0;
    int rc;
    if (len < 4) return -1;
    memcpy(&c, data, 4);
    while ((rc = mn_fields_next(data, len, &off, &f, &fl, &v, &vl)) == 1) n++;
    if (rc < 0 || (uint32_t)n != c) return -1;
    return n;
}
