/*
 * index.c — opening the LMDB environment and its databases.
 */
#include "storage/index.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mnemosyne.h"
#include "storage/io.h"
#include "util/crc32c.h"
#include "util/error.h"

int index_error(int mdb_rc, const char *what)
{
    int code = MN_EIO;
    if (mdb_rc == ENOMEM) code = MN_ENOMEM;
    else if (mdb_rc == ENOSPC || mdb_rc == MDB_MAP_FULL) code = MN_ENOSPC;
    else if (mdb_rc == MDB_CORRUPTED || mdb_rc == MDB_PAGE_NOTFOUND || mdb_rc == MDB_INVALID ||
             mdb_rc == MDB_VERSION_MISMATCH)
        code = MN_ECORRUPT;
    return error_set(code, "index: %s: %s", what, mdb_strerror(mdb_rc));
}

/* Where this process maps the file (dev, ino): LMDB does not say (its
 * me_mapaddr is set only with MDB_FIXEDMAP), /proc/self/maps does. NULL if
 * not found: then index_release_pages does nothing. */
static void *find_mapping(dev_t dev, ino_t ino)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[4608];
    void *addr = NULL;
    if (!f) return NULL;
    while (!addr && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, in;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &min, &in) == 6 &&
            off == 0 && in == (unsigned long)ino && makedev(maj, min) == dev)
            addr = (void *)lo;
    }
    fclose(f);
    return addr;
}

int index_open(index_env *ix, const char *dir, uint64_t map_size, int read_only)
{
    char path[4096];
    int rc;
    MDB_txn *txn = NULL;
    memset(ix, 0, sizeof *ix);
    ix->read_only = read_only;
    snprintf(path, sizeof path, "%s/index", dir);
    if (!read_only && mkdir(path, 0755) < 0 && errno != EEXIST)
        return error_set(MN_EIO, "cannot create %s: %s", path, strerror(errno));
    if ((rc = mdb_env_create(&ix->env)) != 0) return index_error(rc, "create");
    mdb_env_set_maxdbs(ix->env, 16);
    mdb_env_set_maxreaders(ix->env, 1024);
    if ((rc = mdb_env_set_mapsize(ix->env, map_size)) != 0) {
        rc = index_error(rc, "set map size");
        goto fail;
    }
    /* Not MDB_WRITEMAP, although it halves the CPU of single-event commits
     * (measured: 36k -> 79k appends/s at fsync=never): with it LMDB sizes
     * data.mdb to the whole map (64 GiB apparent), which naive copies and
     * backups then read in full. Not synced: see store.c (boot id). */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | MDB_NOSYNC | (read_only ? MDB_RDONLY : 0);
    if ((rc = mdb_env_open(ix->env, path, flags, 0644)) != 0) {
        rc = index_error(rc, path);
        goto fail;
    }
    {
        /* A data file shorter than the pages its meta page claims would make
         * the first access past its end a SIGBUS (the file is mapped): call
         * it damaged, and the store rebuilds it from the log. */
        MDB_envinfo info;
        MDB_stat st;
        struct stat fst;
        char data[4200];
        snprintf(data, sizeof data, "%s/data.mdb", path);
        if (mdb_env_info(ix->env, &info) == 0 && mdb_env_stat(ix->env, &st) == 0 &&
            stat(data, &fst) == 0 &&
            (uint64_t)fst.st_size < ((uint64_t)info.me_last_pgno + 1) * st.ms_psize) {
            rc = error_set(MN_ECORRUPT, "index: %s is shorter (%lld bytes) than its pages",
                           data, (long long)fst.st_size);
            goto fail;
        }
        if (stat(data, &fst) == 0) ix->map_addr = find_mapping(fst.st_dev, fst.st_ino);
    }
    if ((rc = mdb_txn_begin(ix->env, NULL, read_only ? MDB_RDONLY : 0, &txn)) != 0) {
        rc = index_error(rc, "begin");
        goto fail;
    }
    unsigned dflags = read_only ? 0 : MDB_CREATE;
    if ((rc = mdb_dbi_open(txn, "meta", dflags, &ix->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "streams", dflags, &ix->streams)) != 0 ||
        (rc = mdb_dbi_open(txn, "names", dflags, &ix->names)) != 0 ||
        (rc = mdb_dbi_open(txn, "events", dflags, &ix->events)) != 0 ||
        (rc = mdb_dbi_open(txn, "ids", dflags, &ix->ids)) != 0 ||
        (rc = mdb_dbi_open(txn, "groups", dflags, &ix->groups)) != 0 ||
        (rc = mdb_dbi_open(txn, "consumers", dflags, &ix->consumers)) != 0 ||
        (rc = mdb_dbi_open(txn, "pel", dflags, &ix->pel)) != 0 ||
        (rc = mdb_dbi_open(txn, "views", dflags, &ix->views)) != 0) {
        rc = index_error(rc, "open databases");
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        rc = index_error(rc, "commit");
        goto fail;
    }
    return MN_OK;
fail:
    if (txn) mdb_txn_abort(txn);
    mdb_env_close(ix->env);
    ix->env = NULL;
    return rc;
}

void index_close(index_env *ix)
{
    if (!ix->env) return;
    if (!ix->read_only) mdb_env_sync(ix->env, 1);
    mdb_env_close(ix->env);
    ix->env = NULL;
}

int index_sync(index_env *ix)
{
    int rc = mdb_env_sync(ix->env, 1);
    return rc ? index_error(rc, "sync") : MN_OK;
}

int index_remove(const char *dir)
{
    char path[4096];
    const char *files[] = {"data.mdb", "lock.mdb", "seal"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/index/%s", dir, files[i]);
        if (unlink(path) < 0 && errno != ENOENT)
            return error_set(MN_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    return MN_OK;
}

uint64_t index_meta_get(index_env *ix, MDB_txn *txn, const char *key, uint64_t def)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    uint64_t out = def;
    if (mdb_get(txn, ix->meta, &k, &v) == 0 && v.mv_size == sizeof out) memcpy(&out, v.mv_data, sizeof out);
    return out;
}

int index_meta_put(index_env *ix, MDB_txn *txn, const char *key, uint64_t val)
{
    MDB_val k = {strlen(key), (void *)key}, v = {sizeof val, &val};
    int rc = mdb_put(txn, ix->meta, &k, &v, 0);
    return rc ? index_error(rc, "meta put") : MN_OK;
}

uint64_t index_used_bytes(index_env *ix)
{
    MDB_envinfo info;
    MDB_stat st;
    if (!ix->env || mdb_env_info(ix->env, &info) != 0 || mdb_env_stat(ix->env, &st) != 0) return 0;
    return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

void index_release_pages(index_env *ix)
{
    MDB_envinfo info;
    MDB_stat st;
    if (!ix->env || !ix->map_addr || mdb_env_info(ix->env, &info) != 0 ||
        mdb_env_stat(ix->env, &st) != 0)
        return;
    size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
    if (used > info.me_mapsize) used = info.me_mapsize;
    /* Advisory: a failure only means the pages stay resident. */
    (void)madvise(ix->map_addr, used, MADV_DONTNEED);
}

/* ---- the seal ----
 *
 * LMDB pages carry no checksums, so a page of data.mdb damaged while the
 * store is closed (a bad copy or restore, a stray write, bit rot) would be
 * trusted: reads would crash on LMDB's assertions or answer something else.
 * A clean close therefore seals the file: DIR/index/seal holds its size and
 * CRC32C, taken after the last sync. The next open checks the seal before
 * LMDB reads a byte and removes it before the first write; a mismatch means
 * damage, and the index is rebuilt from the log (which has its own CRCs).
 * No seal (a crash, a kill -9, a store from before seals) means the index
 * is trusted as LMDB's crash safety allows, as before. The cost is one read
 * of data.mdb at close and at open (~1 s per GB from disk, less cached). */

#define SEAL_MAGIC "mnemosyne-index-seal 1"

static int file_crc(const char *path, uint64_t *size, uint32_t *crc)
{
    enum { CHUNK = 1 << 20 };
    uint8_t *chunk = malloc(CHUNK);
    if (!chunk) return -ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = -errno;
        free(chunk);
        return e;
    }
    uint32_t c = 0;
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, chunk, CHUNK)) > 0) {
        c = crc32c_extend(c, chunk, (size_t)n);
        total += (uint64_t)n;
    }
    int e = n < 0 ? -errno : 0;
    close(fd);
    free(chunk);
    *size = total;
    *crc = c;
    return e;
}

int index_seal(const char *dir)
{
    char idir[4200], data[4300], text[128];
    uint64_t size;
    uint32_t crc;
    snprintf(idir, sizeof idir, "%s/index", dir);
    snprintf(data, sizeof data, "%s/data.mdb", idir);
    int e = file_crc(data, &size, &crc);
    if (e == 0) {
        int n = snprintf(text, sizeof text, SEAL_MAGIC " %" PRIu64 " %08" PRIx32 "\n", size, crc);
        e = io_replace_file(idir, "seal", text, (size_t)n);
    }
    if (e < 0) return error_set(MN_EIO, "cannot seal %s: %s", data, strerror(-e));
    return MN_OK;
}

int index_seal_check(const char *dir, int *sealed)
{
    char seal[4300], data[4300], text[128] = {0};
    uint64_t want_size, size;
    uint32_t want_crc, crc;
    *sealed = 0;
    snprintf(seal, sizeof seal, "%s/index/seal", dir);
    snprintf(data, sizeof data, "%s/index/data.mdb", dir);
    int fd = open(seal, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return MN_OK;
        return error_set(MN_EIO, "cannot read %s: %s", seal, strerror(errno));
    }
    ssize_t n = read(fd, text, sizeof text - 1);
    int read_errno = errno;
    close(fd);
    if (n < 0) return error_set(MN_EIO, "cannot read %s: %s", seal, strerror(read_errno));
    *sealed = 1;
    if (sscanf(text, SEAL_MAGIC " %" SCNu64 " %" SCNx32, &want_size, &want_crc) != 2)
        return error_set(MN_ECORRUPT, "index: its seal (%s) is damaged", seal);
    int e = file_crc(data, &size, &crc);
    if (e == -ENOENT) { /* removed on purpose: rebuilt anyway, nothing verified */
        *sealed = 0;
        return MN_OK;
    }
    if (e < 0) return error_set(MN_EIO, "cannot read %s: %s", data, strerror(-e));
    if (size != want_size || crc != want_crc)
        return error_set(MN_ECORRUPT,
                         "index: %s changed since the store was closed (%" PRIu64 " bytes, CRC "
                         "%08" PRIx32 "; sealed with %" PRIu64 " bytes, CRC %08" PRIx32 ")",
                         data, size, crc, want_size, want_crc);
    return MN_OK;
}

int index_unseal(const char *dir)
{
    char idir[4200], seal[4300];
    snprintf(idir, sizeof idir, "%s/index", dir);
    snprintf(seal, sizeof seal, "%s/seal", idir);
    if (unlink(seal) < 0) {
        if (errno == ENOENT) return MN_OK;
        return error_set(MN_EIO, "cannot remove %s: %s", seal, strerror(errno));
    }
    int e = io_fsync_dir(idir);
    if (e < 0) return error_set(MN_EIO, "cannot sync %s: %s", idir, strerror(-e));
    return MN_OK;
}
