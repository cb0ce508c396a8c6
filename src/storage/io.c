/*
 * io.c — the storage layer's write/sync calls, with fault injection.
 *
 * The injection state is process-global and atomic: tests set it, the
 * writer thread consumes it. In production nothing is set and the cost is one
 * relaxed atomic load per call.
 */
#include "storage/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

typedef struct fault {
    atomic_long after; /* successful calls still allowed before failing */
    atomic_long times; /* failures still to inject; < 0 = forever */
    atomic_int err;    /* errno to fail with; 0 = no fault armed */
} fault;

static fault faults[IO_FAULT_KINDS];

void io_fault_set(int kind, long after, int err, long times)
{
    if (kind < 0 || kind >= IO_FAULT_KINDS) return;
    atomic_store(&faults[kind].after, after);
    atomic_store(&faults[kind].times, times);
    atomic_store(&faults[kind].err, err);
}

void io_fault_clear(void)
{
    for (int k = 0; k < IO_FAULT_KINDS; k++) atomic_store(&faults[k].err, 0);
}

/* 0 if the call may proceed, else the errno to fail it with. */
static int fault_check(int kind)
{
    fault *f = &faults[kind];
    int err = atomic_load_explicit(&f->err, memory_order_relaxed);
    if (err == 0) return 0;
    if (atomic_fetch_sub(&f->after, 1) > 0) return 0;
    long t = atomic_load(&f->times);
    if (t == 0) return 0;
    if (t > 0 && atomic_fetch_sub(&f->times, 1) == 1) atomic_store(&f->err, 0);
    return err;
}

int io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    int err = fault_check(IO_FAULT_WRITE);
    if (err) {
        /* A failing disk often writes part before failing: simulate it, so
         * the callers' truncate-back path is exercised too. */
        if (n > 1) (void)!pwrite(fd, p, n / 2, (off_t)off);
        return -err;
    }
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (w == 0) return -EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int io_fdatasync(int fd)
{
    int err = fault_check(IO_FAULT_SYNC);
    if (err) return -err;
    return fdatasync(fd) == 0 ? 0 : -errno;
}

int io_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int io_ftruncate(int fd, uint64_t len)
{
    return ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
}

int io_replace_file(const char *dir, const char *name, const void *buf, size_t n)
{
    char path[4352], tmp[4352];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/%s.new", dir, name) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int e = io_pwrite_all(fd, buf, n, 0);
    if (e == 0) e = io_fdatasync(fd);
    close(fd);
    if (e == 0 && rename(tmp, path) < 0) e = -errno;
    if (e == 0) e = io_fsync_dir(dir);
    if (e < 0) unlink(tmp);
    return e;
}
