/*
 * io.h — every byte the storage layer writes to or syncs on disk goes through
 * here, so that tests can inject the failures real disks produce: short
 * writes, ENOSPC, EIO on fdatasync. Reads of the log go through mmap and are
 * not wrapped.
 *
 * Invariant: io_write_all either writes all n bytes or returns a negative
 * errno; a short write is retried until done or an error occurs, so callers
 * never see a partial success (they truncate back on error).
 */
#ifndef MN_STORAGE_IO_H
#define MN_STORAGE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* pwrite all of buf at off. 0 or -errno. */
int io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);
/* fdatasync. 0 or -errno. */
int io_fdatasync(int fd);
/* fsync of a directory (after creating or removing files in it). 0 or -errno. */
int io_fsync_dir(const char *dir);
/* ftruncate. 0 or -errno. */
int io_ftruncate(int fd, uint64_t len);
/* Replaces dir/name with n bytes of buf, atomically and durably: written to
 * dir/name.new, synced, renamed over, the directory synced. 0 or -errno. */
int io_replace_file(const char *dir, const char *name, const void *buf, size_t n);

/* Fault injection for tests. After `after` more successful calls of the given
 * kind, calls fail with err (e.g. ENOSPC) — `times` times (or forever if < 0). */
enum io_fault_kind { IO_FAULT_WRITE = 0, IO_FAULT_SYNC = 1, IO_FAULT_KINDS = 2 };
void io_fault_set(int kind, long after, int err, long times);
void io_fault_clear(void);

#endif
