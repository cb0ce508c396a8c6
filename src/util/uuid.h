/*
 * uuid.h — event ids. Generated ids are UUIDv7 (RFC 9562): 48 bits of Unix
 * milliseconds then random bits, so ids made later sort later and index
 * inserts stay local. Randomness from getrandom(2), buffered.
 * Parsing and formatting are public (mn_uuid_parse / mn_uuid_format).
 */
#ifndef MN_UTIL_UUID_H
#define MN_UTIL_UUID_H

#include <stdint.h>

void uuid_v7(uint8_t out[16]);
int uuid_is_zero(const uint8_t id[16]);

#endif
