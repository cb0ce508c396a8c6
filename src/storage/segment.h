/*
 * segment.h — one file of the log: DIR/log/<base>.seg, where <base> is the
 * 20-digit global position of the file's first byte.
 *
 * A segment starts with a 32-byte header (magic "MNEMOSEG", format version,
 * base position, CRC32C of the header) and then records (record.h). It is
 * written with pwrite through io.h and read through a read-only shared
 * mapping that is larger than the file, so that bytes appended later become
 * readable without remapping. Only bytes below the log's visible end are ever
 * touched through the mapping (past EOF would be SIGBUS).
 *
 * Lifetime: a segment is reference counted. The log holds one reference;
 * an iterator that points into its mapping holds another, so retention can
 * drop a segment from the log while a reader still finishes with it.
 */
#ifndef MN_STORAGE_SEGMENT_H
#define MN_STORAGE_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SEG_HDR_SIZE 32u
#define SEG_MAGIC "MNEMOSEG"
#define SEG_FORMAT 1u

typedef struct segment {
    uint64_t base;         /* global position of the file's byte 0 */
    uint64_t size;         /* bytes in the file (the writer's view) */
    int fd;                /* open read-write (read-only for a read-only store) */
    const uint8_t *map;    /* read-only mapping of map_len bytes */
    uint64_t map_len;      /* >= size; bytes past EOF must not be touched */
    const uint8_t *old_map;/* the mapping before the last seg_remap (readers may use it) */
    uint64_t old_len;      /* its length */
    atomic_int refs;       /* the log's reference + readers' */
    char path[4096];       /* for messages and unlink */
} segment;

/* Makes DIR/log/<base>.seg with its header, synced (file and directory).
 * map_len: how far the mapping reaches (segment_size or more). 0 or MN_E*. */
int seg_create(const char *logdir, uint64_t base, uint64_t map_len, segment **out);

/* Opens an existing segment file and checks its header. MN_EFORMAT on a bad
 * magic/version, MN_ECORRUPT on a bad header CRC or base. */
int seg_open(const char *path, uint64_t base, uint64_t map_len, int read_only, segment **out);

/* Grows the mapping to at least len bytes (after a write past map_len). */
int seg_remap(segment *s, uint64_t len);

void seg_ref(segment *s);
/* Drops a reference; the last one unmaps and closes (and unlinks if
 * seg_unlink_on_release was called). */
void seg_unref(segment *s);

/* The path a segment with this base has. */
void seg_path(char *out, size_t cap, const char *logdir, uint64_t base);

/* Parses "<20 digits>.seg"; 1 and *base on success. */
int seg_parse_name(const char *name, uint64_t *base);

#endif
