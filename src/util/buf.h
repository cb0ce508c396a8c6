/*
 * buf.h — a growable byte buffer, the one way the code builds variable-size
 * output (encoded records, replies, JSON). Growth doubles, so appending is
 * amortized O(1). A failed allocation latches `oom`: later appends are no-ops
 * and the owner checks buf->oom once at the end instead of after every call.
 *
 * After every buf_* call that leaves data non-NULL, data[len] is a NUL byte
 * (room for it is always reserved, not counted in len), so text built with
 * buf_printf/buf_append_str can be used as a C string. Code that writes into
 * the reserved space itself and bumps len must write that NUL too.
 */
#ifndef MN_UTIL_BUF_H
#define MN_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data;   /* bytes [0, len) are valid; NULL until the first append */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated */
    int oom;      /* 1 once an allocation failed; contents then incomplete */
} buf;

void buf_init(buf *b);
void buf_free(buf *b);                   /* frees and re-inits; NULL-safe */
void buf_reset(buf *b);                  /* len = 0 and oom = 0, keeps the memory */
int buf_reserve(buf *b, size_t extra);   /* 0, or -1 (and oom) */
void buf_append(buf *b, const void *p, size_t n);
void buf_append_str(buf *b, const char *s);
void buf_append_byte(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends n zero bytes and returns a pointer to them (NULL on oom). */
void *buf_append_zeros(buf *b, size_t n);

#endif
