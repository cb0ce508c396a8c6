/*
 * json.h — the little JSON the engine, CLI and server need: a strict RFC 8259
 * validator (is this payload JSON, so it can be embedded as-is?) and a string
 * escaper. No tree is built: nothing here allocates except through buf.
 */
#ifndef MN_UTIL_JSON_H
#define MN_UTIL_JSON_H

#include <stddef.h>
#include "buf.h"

/* 1 if p[0..n) is exactly one valid JSON value (surrounding white space
 * allowed), else 0. Nesting deeper than 512 is treated as invalid.
 *
 * Strict means RFC 8259 plus the I-JSON (RFC 7493) rule on text: strings must
 * be well-formed UTF-8 (no overlong forms, no encoded surrogates, nothing
 * above U+10FFFF) and a \u escape of a surrogate must be a high one followed
 * at once by a \u escaped low one. Lone surrogates are rejected because
 * common decoders (lua-cjson in our scripts, Rust's serde_json) refuse them,
 * and a payload we accept as JSON must decode everywhere. Duplicate object
 * keys are not detected (no tree is built). Numbers are checked only for
 * syntax ("-0", "1e999" are valid; "01", "1.", ".5", "+1" are not). */
int json_is_valid(const void *p, size_t n);

/* 1 if p[0..n) is valid JSON whose top level is an object. */
int json_is_object(const void *p, size_t n);

/* If p[0..n) is a JSON object with a top-level member `key` whose value is a
 * string without escape sequences, points val and len at its characters and
 * returns 1; else 0. (For ids in metadata: correlation_id, causation_id.) */
int json_get_string(const void *p, size_t n, const char *key, const char **val, size_t *len);

/* If p[0..n) is a JSON object with a top-level member `key`, points val and
 * len at the text of its value (any JSON value, as written) and returns 1;
 * else 0. */
int json_get_value(const void *p, size_t n, const char *key, const char **val, size_t *len);
/* Appends p[0..n) as a JSON string literal, quotes included. Bytes that are
 * not valid UTF-8 are written as \u00XX of the byte (so the output is always
 * valid JSON). */
void json_append_string(buf *b, const void *p, size_t n);

#endif
