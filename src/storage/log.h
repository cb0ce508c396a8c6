/*
 * log.h — the segmented, append-only log: the source of truth.
 *
 * Positions are global byte offsets: segment i covers [base_i, base_i+size_i)
 * and base_{i+1} == base_i + size_i, so a position names exactly one byte of
 * one file. Segment headers take positions too (the first record of a
 * segment is at base + SEG_HDR_SIZE).
 *
 * DURABILITY RULES (the writer thread follows them in this order)
 *   1. A batch of records is staged in memory, then written with pwrite to the
 *      active segment (one write per segment touched).
 *   2. An atomic group (txn) never spans two segments: the log rolls before a
 *      group that does not fit, never inside one.
 *   3. On roll, the full segment is fdatasync'ed before the new one is
 *      created (whatever the policy), so only the last segment can be torn.
 *   4. Under MN_FSYNC_ALWAYS the batch is fdatasync'ed before log_batch_write
 *      returns; the caller acknowledges only after that.
 *   5. A failed write truncates the segment back to where the batch began:
 *      nothing half-written stays behind. A failed fdatasync latches the log
 *      read-only for good (the kernel may have dropped the dirty pages; a
 *      retry could report success for data that is gone).
 *
 * THREADS: one writer thread calls the batch/sync/retain functions; any
 * thread may read (log_read_at, log_next_pos) concurrently.
 */
#ifndef MN_STORAGE_LOG_H
#define MN_STORAGE_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "storage/record.h"
#include "storage/segment.h"
#include "util/buf.h"

typedef struct log_opts {
    uint64_t segment_size; /* roll past this many bytes */
    uint64_t max_record;   /* a record longer than this is damage, not data */
    int read_only;         /* open files read-only; no writes */
} log_opts;

/* Where a staged batch rolls to a new segment. */
typedef struct log_roll {
    uint64_t staged_off; /* offset in the staging buffer where the new segment's data begins */
    uint64_t base;       /* the new segment's base position */
} log_roll;

struct log {
    char dir[4096];               /* DIR/log */
    log_opts opts;                /* as opened */
    pthread_rwlock_t segs_lock;   /* segs/nsegs: readers vs roll and retention */
    segment **segs;               /* ascending base; the last is active */
    size_t nsegs, segs_cap;
    uint64_t end;                 /* one past the last written byte (writer's) */
    _Atomic uint64_t visible;     /* one past the last record readers may see */
    _Atomic uint64_t durable;     /* one past the last fdatasync'ed byte */
    _Atomic uint64_t first;       /* position of the first retained record */
    _Atomic int failed;           /* latched after a failed fdatasync or truncate
                                     (read by any thread) */
    char failed_why[512];         /* why, for every later error message */
    /* staging of the current batch (writer only) */
    buf staged;                   /* the batch's bytes, contiguous */
    uint64_t staged_end;          /* position after the last reserved byte */
    uint64_t staged_seg_base;     /* base of the segment the next reservation lands in */
    log_roll *rolls;              /* planned rolls, in order */
    size_t nrolls, rolls_cap;
    /* the last batch written, until published (log_batch_undo) */
    segment *batch_first;         /* the segment it began in; NULL: nothing to undo */
    size_t batch_nsegs;           /* segments before it */
    uint64_t batch_first_size;    /* the size of batch_first before it */
};

/* Opens DIR/log (creating it and a first segment if there is none and not
 * read_only). Does not scan records: call log_recover next. */
int log_open(const char *logdir, const log_opts *o, struct log **out);
void log_close(struct log *l);

/* What recovery found. */
typedef struct log_recovery {
    uint64_t records;         /* whole records scanned (applied) */
    uint64_t events;          /* of which REC_EVENT */
    uint64_t truncated_bytes; /* dropped from the end */
    uint64_t dropped_events;  /* event records in what was dropped */
    int torn;                 /* 1 if a torn tail was dropped */
} log_recovery;

/* Called once per whole atomic group, in log order, with its records. The
 * pointers are into the log's mapping and stay valid while the log is open. */
typedef struct log_rec {
    const rec_hdr *hdr;       /* the record's header (in the mapping) */
    const uint8_t *payload;   /* hdr->len - REC_HDR_SIZE bytes */
    uint32_t payload_len;
    uint64_t pos;             /* == hdr->pos */
} log_rec;
typedef int (*log_group_fn)(void *ud, const log_rec *recs, size_t n);

/* Scans from position `from` (a record boundary, or the end) to the end of the
 * log, handing every whole group to fn (fn returning non-zero stops and is
 * returned). A torn tail (damage in the last segment with no valid record
 * after it) is truncated away — unless check_only, then it is an error.
 * Damage anywhere else is MN_ECORRUPT with the position in the message;
 * with repair the log is truncated there instead (and later segments removed),
 * and rep says what was dropped. On success the log's end is set. */
int log_recover(struct log *l, uint64_t from, int repair, int check_only, log_group_fn fn,
                void *ud, log_recovery *rep, uint64_t *bad_pos);

/* --- the write path (writer thread only) --- */

/* Starts a batch. */
void log_batch_begin(struct log *l);
/* Reserves len bytes (rec_space sums of one whole group) for one group and
 * returns where to encode it (*where) and its first position (*pos). Plans a
 * roll first if the group does not fit the active segment. NULL on oom. */
uint8_t *log_batch_reserve(struct log *l, uint64_t len, uint64_t *pos);
/* 1 if anything was reserved since log_batch_begin. */
int log_batch_pending(const struct log *l);
/* Writes the batch (rolling as planned) and, if sync, fdatasyncs it.
 * MN_OK, or MN_ENOSPC / MN_EIO / MN_EREADONLY with nothing of the batch left
 * in the files. */
int log_batch_write(struct log *l, int sync);
/* Drops the staged batch. */
void log_batch_abort(struct log *l);
/* Takes back the batch log_batch_write wrote last (before it is published):
 * truncates it away and syncs. For when the index cannot record it. MN_OK,
 * or MN_EREADONLY (latched) if the truncation failed. */
int log_batch_undo(struct log *l);

/* fdatasyncs the active segment if anything is unsynced. MN_OK or MN_EIO
 * (and the log latches read-only). */
int log_sync(struct log *l);

/* Makes records below `end` visible to readers (after the index commit).
 * Never moves the visible end back. */
void log_publish(struct log *l, uint64_t end);

/* Drops whole oldest segments (never the active one) while the total size
 * exceeds max_bytes (0 = no limit) or their newest write is older than
 * max_age_ms (0 = no limit). Returns how many were dropped. */
int log_retain(struct log *l, uint64_t max_bytes, uint64_t max_age_ms);

/* --- reading (any thread) --- */

/* The record at position pos (< visible): verifies framing and CRC. On
 * success *seg holds a reference the caller drops with seg_unref, and *rec
 * points into its mapping. MN_ENOTFOUND if pos is below the retained log,
 * MN_ECORRUPT if the bytes there are not a valid record. */
int log_read_at(struct log *l, uint64_t pos, segment **seg, log_rec *rec);

/* Like log_read_at, for iterators: *seg is the segment pinned by the
 * previous call (or NULL) and *safe_end how far it may be read without the
 * lock; consecutive reads in one segment take no lock and no reference.
 * The caller drops *seg with seg_unref when done. */
int log_read_pinned(struct log *l, uint64_t pos, segment **seg, uint64_t *safe_end, log_rec *rec);

/* The position of the record after the one at pos of length len: skips the
 * next segment's header when pos+len ends a segment. Returns the position. */
uint64_t log_next_pos(struct log *l, uint64_t pos, uint32_t len);

/* The first record position at or after p (skips a segment header, clamps
 * below the retained log up to its first record). */
uint64_t log_seek(struct log *l, uint64_t p);

/* Drops this process's mappings of the segments' pages (MADV_DONTNEED on
 * the read-only shared maps; the page cache keeps them), so the resident
 * set holds what readers touched lately, not every page ever read. */
void log_release_pages(struct log *l);

/* Totals for info. */
void log_stats(struct log *l, uint64_t *segments, uint64_t *bytes);

#endif
