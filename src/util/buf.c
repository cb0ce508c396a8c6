/*
 * buf.c — the growable byte buffer (see buf.h).
 *
 * Invariants:
 *   1. data == NULL  <=>  cap == 0; otherwise len < cap and data[len] == '\0'
 *      (one byte of capacity is always kept for the terminator).
 *   2. oom is sticky until buf_reset/buf_free: once an allocation failed,
 *      every append is a no-op, so the owner can build a whole message and
 *      check once. Bytes already in the buffer stay valid and terminated.
 *   3. Capacity doubles (starting at 64), so n appends cost O(n) copies in
 *      total; sizes are checked for overflow before any arithmetic.
 *   4. Appending bytes that live inside the buffer itself is allowed
 *      (buf_append(b, b->data, b->len) doubles the content): the source is
 *      re-based after a realloc moves it.
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 64

void buf_init(buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}

void buf_free(buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    buf_init(b);
}

void buf_reset(buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int buf_reserve(buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->oom)
        return -1;
    if (extra > SIZE_MAX - 1 - b->len)
        goto fail;
    need = b->len + extra + 1; /* + the NUL */
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL)
        goto fail;
    if (b->data == NULL)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;

fail:
    b->oom = 1;
    return -1;
}

void buf_append(buf *b, const void *p, size_t n)
{
    const char *src = p;
    uintptr_t s = (uintptr_t)p, d = (uintptr_t)b->data;
    int inside;

    if (n == 0 || b->oom)
        return;
    /* Invariant 4: remember where the source was if it is our own memory
     * (compared as integers: relational operators on pointers into
     * different objects are undefined). */
    inside = b->data != NULL && s >= d && s - d < b->cap;
    if (buf_reserve(b, n) != 0)
        return;
    if (inside)
        src = b->data + (s - d);
    memmove(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_append_str(buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_append_byte(buf *b, char c)
{
    if (buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    /* First try in the space already there; most messages fit. */
    va_start(ap, fmt);
    n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) { /* an encoding error: nothing sensible to append */
        if (b->data != NULL)
            b->data[b->len] = '\0';
        return;
    }
    if (b->data == NULL || (size_t)n >= b->cap - b->len) {
        if (buf_reserve(b, (size_t)n) != 0) {
            if (b->data != NULL)
                b->data[b->len] = '\0'; /* undo the truncated attempt */
            return;
        }
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void *buf_append_zeros(buf *b, size_t n)
{
    char *p;

    /* buf_reserve always allocates the terminator's byte, even for n == 0,
     * so success always has a non-NULL answer. */
    if (buf_reserve(b, n) != 0)
        return NULL;
    p = b->data + b->len;
    memset(p, 0, n);
    b->len += n;
    b->data[b->len] = '\0';
    return p;
}
