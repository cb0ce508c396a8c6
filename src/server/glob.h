/*
 * glob.h — Redis-style glob matching for PSUBSCRIBE, KEYS, SCAN MATCH,
 * PUBSUB CHANNELS and CONFIG GET: `*` any run, `?` any byte, `[abc]`,
 * `[^a-z]` (negation is `^` only, as in Redis), ranges in either order,
 * `\x` escapes x. Binary-safe; iterative (no recursion), O(plen * slen)
 * at worst, so a hostile pattern cannot blow the stack.
 */
#ifndef MN_SERVER_GLOB_H
#define MN_SERVER_GLOB_H

#include <stddef.h>

/* 1 if str matches pattern. nocase: ASCII case-insensitive. */
int glob_match(const char *pat, size_t plen, const char *str, size_t slen, int nocase);

#endif
