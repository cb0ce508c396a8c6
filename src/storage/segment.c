/*
 * segment.c — creating, opening, mapping and releasing segment files.
 */
#include "storage/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mnemosyne.h"
#include "storage/io.h"
#include "util/crc32c.h"
#include "util/error.h"

void seg_path(char *out, size_t cap, const char *logdir, uint64_t base)
{
    snprintf(out, cap, "%s/%020llu.seg", logdir, (unsigned long long)base);
}

int seg_parse_name(const char *name, uint64_t *base)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    if (strcmp(name + 20, ".seg") != 0) return 0;
    *base = v;
    return 1;
}

static void header_encode(uint8_t h[SEG_HDR_SIZE], uint64_t base)
{
    uint32_t ver = SEG_FORMAT;
    memset(h, 0, SEG_HDR_SIZE);
    memcpy(h, SEG_MAGIC, 8);
    memcpy(h + 8, &ver, 4);
    memcpy(h + 16, &base, 8);
    uint32_t crc = crc32c(h, 28);
    memcpy(h + 28, &crc, 4);
}

static uint64_t round_map(uint64_t n)
{
    uint64_t page = 1u << 20; /* map in MiB steps */
    return (n + page - 1) / page * page;
}

static int map_segment(segment *s, uint64_t len)
{
    len = round_map(len < s->size ? s->size : len);
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, s->fd, 0);
    if (m == MAP_FAILED)
        return error_set(MN_EIO, "mmap %s: %s", s->path, strerror(errno));
    s->map = m;
    s->map_len = len;
    return MN_OK;
}

int seg_remap(segment *s, uint64_t len)
{
    if (len <= s->map_len) return MN_OK;
    /* Readers may still hold pointers into the current mapping, so it is
     * kept (as old_map) until the next remap or the release. Growth past the
     * mapping happens only for an append larger than the segment size, into
     * a segment that was empty, so no reader is in the previous-but-one. */
    void *m = mmap(NULL, round_map(len), PROT_READ, MAP_SHARED, s->fd, 0);
    if (m == MAP_FAILED)
        return error_set(MN_EIO, "mmap %s: %s", s->path, strerror(errno));
    if (s->old_map) munmap((void *)s->old_map, s->old_len);
    s->old_map = s->map;
    s->old_len = s->map_len;
    s->map = m;
    s->map_len = round_map(len);
    return MN_OK;
}

static segment *seg_alloc(const char *path, uint64_t base)
{
    segment *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base = base;
    s->fd = -1;
    atomic_init(&s->refs, 1);
    snprintf(s->path, sizeof s->path, "%s", path);
    return s;
}

int seg_create(const char *logdir, uint64_t base, uint64_t map_len, segment **out)
{
    char path[4096];
    uint8_t h[SEG_HDR_SIZE];
    int rc;
    seg_path(path, sizeof path, logdir, base);
    segment *s = seg_alloc(path, base);
    if (!s) return error_set(MN_ENOMEM, "out of memory");
    s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        rc = error_set(errno == ENOSPC ? MN_ENOSPC : MN_EIO, "create %s: %s", path, strerror(errno));
        goto fail;
    }
    header_encode(h, base);
    if ((rc = io_pwrite_all(s->fd, h, sizeof h, 0)) < 0 || (rc = io_fdatasync(s->fd)) < 0 ||
        (rc = io_fsync_dir(logdir)) < 0) {
        rc = error_set(rc == -ENOSPC ? MN_ENOSPC : MN_EIO, "write %s: %s", path, strerror(-rc));
        unlink(path);
        goto fail;
    }
    s->size = SEG_HDR_SIZE;
    if ((rc = map_segment(s, map_len)) != MN_OK) goto fail;
    *out = s;
    return MN_OK;
fail:
    if (s->fd >= 0) close(s->fd);
    free(s);
    return rc;
}

int seg_open(const char *path, uint64_t base, uint64_t map_len, int read_only, segment **out)
{
    struct stat st;
    uint8_t h[SEG_HDR_SIZE], want[SEG_HDR_SIZE];
    int rc;
    segment *s = seg_alloc(path, base);
    if (!s) return error_set(MN_ENOMEM, "out of memory");
    s->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &st) < 0) {
        rc = error_set(MN_EIO, "open %s: %s", path, strerror(errno));
        goto fail;
    }
    s->size = (uint64_t)st.st_size;
    if (s->size < SEG_HDR_SIZE || pread(s->fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
        rc = error_set(MN_ECORRUPT, "%s: segment header is torn (%llu bytes)", path,
                       (unsigned long long)s->size);
        goto fail;
    }
    if (memcmp(h, SEG_MAGIC, 8) != 0) {
        rc = error_set(MN_EFORMAT, "%s: not a Mnemosyne segment", path);
        goto fail;
    }
    header_encode(want, base);
    if (memcmp(h + 8, want + 8, 4) != 0) {
        uint32_t v;
        memcpy(&v, h + 8, 4);
        rc = error_set(MN_EFORMAT, "%s: segment format %u, this build reads %u", path, v, SEG_FORMAT);
        goto fail;
    }
    if (memcmp(h, want, SEG_HDR_SIZE) != 0) {
        rc = error_set(MN_ECORRUPT, "%s: damaged segment header (position %llu)", path,
                       (unsigned long long)base);
        goto fail;
    }
    if ((rc = map_segment(s, map_len)) != MN_OK) goto fail;
    *out = s;
    return MN_OK;
fail:
    if (s->fd >= 0) close(s->fd);
    free(s);
    return rc;
}

void seg_ref(segment *s) { atomic_fetch_add(&s->refs, 1); }

void seg_unref(segment *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    if (s->map) munmap((void *)s->map, s->map_len);
    if (s->old_map) munmap((void *)s->old_map, s->old_len);
    if (s->fd >= 0) close(s->fd);
    free(s);
}
