/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of every log record.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * run time), else a table-driven software version. Both give the same value
 * as iSCSI / ext4 / LevelDB CRC32C: crc32c("123456789") == 0xE3069283.
 */
#ifndef MN_UTIL_CRC32C_H
#define MN_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over len bytes of data. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len);

static inline uint32_t crc32c(const void *data, size_t len) { return crc32c_extend(0, data, len); }

/* The software version, always available (for tests that compare the two). */
uint32_t crc32c_extend_sw(uint32_t crc, const void *data, size_t len);

/* 1 if the hardware instruction is used. */
int crc32c_hw_available(void);

#endif
