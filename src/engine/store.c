/*
 * store.c — opening a store directory (format check, lock, log, index,
 * recovery), closing it, and the maintenance entry points (check, reindex).
 *
 * Directory layout:
 *   DIR/FORMAT   "mnemosyne-store 1\n", written last when a store is created
 *   DIR/LOCK     flock'ed: exclusive by a read-write open, shared by readers
 *   DIR/log/     the segments (storage/log.h)
 *   DIR/index/   LMDB (storage/index.h)
 *
 * Recovery on open:
 *   0. a sealed index (clean close) is checked against its seal before LMDB
 *      reads it, and rebuilt if it changed at rest (storage/index.c);
 *   1. the index says which log position it reflects (its checkpoint);
 *   2. if that is past the log's end, or not a record boundary, the index
 *      belongs to another history: it is removed and rebuilt from position 0;
 *   3. the log is scanned from the checkpoint: every whole group is applied
 *      to the index (apply.c), a torn tail is truncated, damage in the middle
 *      stops the open with its position (or, with repair, is cut off).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/event.h"
#include "engine/store.h"
#include "storage/io.h"
#include "util/error.h"

#define FORMAT_NAME "mnemosyne-store"
#define FORMAT_VERSION 1u
#define REPLAY_COMMIT_EVERY 20000u

const char *mn_version(void) { return MN_VERSION_STRING; }

void mn_options_init(mn_options *o)
{
    memset(o, 0, sizeof *o);
    o->fsync_policy = MN_FSYNC_ALWAYS;
    o->fsync_interval_ms = 1000;
    o->segment_size = 64ull << 20;
    o->max_event_size = 1u << 20;
    o->create = 1;
    o->index_map_size = 64ull << 30;
}

static void say(const mn_store *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const mn_store *s, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!s->opts.log_fn) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->opts.log_fn(s->opts.log_ud, level, msg);
}

static int check_options(const mn_options *o)
{
    if (o->fsync_policy < MN_FSYNC_ALWAYS || o->fsync_policy > MN_FSYNC_NEVER)
        return error_set(MN_EINVAL, "bad fsync policy %d", o->fsync_policy);
    if (o->fsync_policy == MN_FSYNC_INTERVAL && o->fsync_interval_ms == 0)
        return error_set(MN_EINVAL, "fsync interval must be at least 1 ms");
    if (o->segment_size < 4096 || o->segment_size > (1ull << 40))
        return error_set(MN_EINVAL, "segment size must be 4 KiB .. 1 TiB");
    if (o->max_event_size == 0 || o->max_event_size > (256u << 20))
        return error_set(MN_EINVAL, "max event size must be 1 byte .. 256 MiB");
    if (o->index_map_size < (1ull << 20))
        return error_set(MN_EINVAL, "index map size must be at least 1 MiB");
    return MN_OK;
}

/* Reads DIR/FORMAT: 1 if present and right, 0 if absent, or an error. */
static int read_format(const char *dir)
{
    char path[4200], text[64] = {0};
    unsigned v = 0;
    snprintf(path, sizeof path, "%s/FORMAT", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT) return error_set(MN_EIO, "cannot read %s: %s", path, strerror(errno));
        return 0;
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    if (sscanf(text, FORMAT_NAME " %u", &v) != 1)
        return error_set(MN_EFORMAT, "%s is not a Mnemosyne store (bad FORMAT file)", dir);
    if (v != FORMAT_VERSION)
        return error_set(MN_EFORMAT, "%s is a Mnemosyne store of format %u; this build reads "
                         "format %u", dir, v, FORMAT_VERSION);
    return 1;
}

static int write_format(const char *dir)
{
    char text[64];
    int n = snprintf(text, sizeof text, FORMAT_NAME " %u\n", FORMAT_VERSION);
    int e = io_replace_file(dir, "FORMAT", text, (size_t)n);
    if (e < 0) return error_set(MN_EIO, "cannot write %s/FORMAT: %s", dir, strerror(-e));
    return MN_OK;
}

/* 1 if dir has entries other than . and .. */
static int dir_has_entries(const char *dir)
{
    char path[4200];
    const char *names[] = {"log", "index"};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0) return 1;
    }
    return 0;
}

/* 1 if a directory without FORMAT holds only what an interrupted creation
 * leaves (FORMAT is written last): no log, or segments of at most a header,
 * and no index data. Such a store is created again from scratch. */
static int unfinished_creation(const char *dir)
{
    char path[4200];
    struct stat st;
    DIR *d;
    struct dirent *e;
    int ok = 1;
    snprintf(path, sizeof path, "%s/index/data.mdb", dir);
    if (stat(path, &st) == 0 && st.st_size > 0) {
        /* an index with a checkpoint would mean records existed; an empty
         * one (just created) is fine: LMDB's data file has only meta pages */
        if (st.st_size > 64 * 1024) return 0;
    }
    snprintf(path, sizeof path, "%s/log", dir);
    if (!(d = opendir(path))) return 1;
    while (ok && (e = readdir(d)) != NULL) {
        char seg[4600];
        if (e->d_name[0] == '.') continue;
        snprintf(seg, sizeof seg, "%s/%s", path, e->d_name);
        ok = stat(seg, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= SEG_HDR_SIZE;
    }
    closedir(d);
    return ok;
}

static int take_lock(mn_store *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/LOCK", s->dir);
    s->lock_fd = open(path, (s->opts.read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
    if (s->lock_fd < 0 && s->opts.read_only && errno == ENOENT) return MN_OK; /* never opened rw */
    if (s->lock_fd < 0) return error_set(MN_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(s->lock_fd, (s->opts.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return error_set(MN_ELOCKED, "%s is in use by another process (is mnemosyned "
                             "running on it?)", s->dir);
        return error_set(MN_EIO, "cannot lock %s: %s", path, strerror(errno));
    }
    return MN_OK;
}

int store_save_counters(mn_store *s, MDB_txn *txn, uint64_t checkpoint)
{
    int rc;
    if ((rc = index_meta_put(&s->ix, txn, "checkpoint", checkpoint)) != MN_OK ||
        (rc = index_meta_put(&s->ix, txn, "events", s->events_total)) != MN_OK ||
        (rc = index_meta_put(&s->ix, txn, "next_stream_id", s->next_stream_id)) != MN_OK ||
        (rc = index_meta_put(&s->ix, txn, "next_group_id", s->next_group_id)) != MN_OK ||
        (rc = index_meta_put(&s->ix, txn, "live_streams", atomic_load(&s->live_streams))) != MN_OK)
        return rc;
    return MN_OK;
}

/* Loads the writer's counters from the index (at open, and after an aborted
 * batch undid what it had counted). */
int store_load_counters(mn_store *s, MDB_txn *txn)
{
    s->events_total = index_meta_get(&s->ix, txn, "events", 0);
    s->next_stream_id = index_meta_get(&s->ix, txn, "next_stream_id", 1);
    s->next_group_id = index_meta_get(&s->ix, txn, "next_group_id", 1);
    atomic_store(&s->live_streams, index_meta_get(&s->ix, txn, "live_streams", 0));
    return MN_OK;
}

/* ---- replay ---- */

typedef struct replay {
    mn_store *s;
    MDB_txn *txn;        /* open write transaction, or NULL */
    uint64_t since;      /* groups applied in txn */
    uint64_t end;        /* log position after the last applied group */
    uint64_t from, total;/* for progress */
    void (*progress)(void *ud, uint64_t done, uint64_t total);
    void *progress_ud;
} replay;

static int replay_commit(replay *rp)
{
    mn_store *s = rp->s;
    int rc;
    if (!rp->txn) return MN_OK;
    if ((rc = store_save_counters(s, rp->txn, rp->end)) != MN_OK) {
        mdb_txn_abort(rp->txn);
        rp->txn = NULL;
        return rc;
    }
    rc = mdb_txn_commit(rp->txn);
    rp->txn = NULL;
    rp->since = 0;
    return rc ? index_error(rc, "replay commit") : MN_OK;
}

static int replay_group(void *ud, const log_rec *recs, size_t n)
{
    replay *rp = ud;
    int rc;
    if (!rp->txn && (rc = mdb_txn_begin(rp->s->ix.env, NULL, 0, &rp->txn)) != 0)
        return index_error(rc, "replay begin");
    if ((rc = apply_group(rp->s, rp->txn, recs, n)) != MN_OK) {
        mdb_txn_abort(rp->txn);
        rp->txn = NULL;
        return rc;
    }
    rp->end = recs[n - 1].pos + rec_align(recs[n - 1].hdr->len);
    rp->s->recovery.replayed_records += n;
    if (++rp->since >= REPLAY_COMMIT_EVERY) {
        if ((rc = replay_commit(rp)) != MN_OK) return rc;
        if (rp->progress) rp->progress(rp->progress_ud, rp->end - rp->from, rp->total);
    }
    return MN_OK;
}

static int load_counters(mn_store *s, uint64_t *checkpoint)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &txn);
    if (rc) return index_error(rc, "begin");
    *checkpoint = index_meta_get(&s->ix, txn, "checkpoint", 0);
    store_load_counters(s, txn);
    mdb_txn_abort(txn);
    return MN_OK;
}

static int rebuild_index(mn_store *s)
{
    int rc;
    index_close(&s->ix);
    if ((rc = index_remove(s->dir)) != MN_OK) return rc;
    if ((rc = index_open(&s->ix, s->dir, s->opts.index_map_size, 0)) != MN_OK) return rc;
    s->events_total = 0;
    s->next_stream_id = 1;
    s->next_group_id = 1;
    atomic_store(&s->live_streams, 0);
    s->recovery.index_rebuilt = 1;
    return MN_OK;
}

/* 1 if the index's checkpoint can be a position of this log: not past its
 * end, and a record boundary (or the end of a segment). What is at that
 * position is log_recover's to judge: a torn record there is an ordinary
 * crash, not a reason to rebuild. */
static int checkpoint_fits(mn_store *s, uint64_t cp)
{
    struct log *l = s->log;
    if (cp == 0 || cp == l->end) return 1;
    if (cp > l->end) return 0;
    uint64_t p = log_seek(l, cp);
    return p == cp || p == cp + SEG_HDR_SIZE;
}

static int recover(mn_store *s, int force_rebuild,
                   void (*progress)(void *ud, uint64_t done, uint64_t total), void *pud)
{
    uint64_t cp = 0;
    int rc;
    log_recovery lr;
    replay rp;
    if (s->opts.repair && !force_rebuild) {
        /* Repair verifies the whole log, not only the tail after the
         * checkpoint: damage anywhere is cut off, and if that cut goes
         * below the checkpoint the index is rebuilt (checkpoint_fits). */
        rc = log_recover(s->log, 0, 1, 0, NULL, NULL, &lr, NULL);
        if (rc != MN_OK) return rc;
        s->recovery.truncated_bytes = lr.truncated_bytes;
        s->recovery.dropped_events = lr.dropped_events;
    }
    if ((rc = load_counters(s, &cp)) != MN_OK) return rc;
    if (force_rebuild || !checkpoint_fits(s, cp)) {
        if (!force_rebuild)
            say(s, MN_LOG_WARN, "index checkpoint %llu does not match the log (end %llu): "
                "rebuilding the index", (unsigned long long)cp, (unsigned long long)s->log->end);
        if ((rc = rebuild_index(s)) != MN_OK) return rc;
        cp = 0;
    }
    s->recovery.checkpoint = cp;
    memset(&rp, 0, sizeof rp);
    rp.s = s;
    rp.end = cp;
    rp.from = cp;
    rp.total = s->log->end > cp ? s->log->end - cp : 0;
    rp.progress = progress;
    rp.progress_ud = pud;
    rc = log_recover(s->log, cp, s->opts.repair, 0, replay_group, &rp, &lr, NULL);
    if (rc != MN_OK) {
        if (rp.txn) mdb_txn_abort(rp.txn);
        return rc;
    }
    if (rp.end < s->log->end || rp.txn || cp != s->log->end) {
        rp.end = s->log->end;
        if (!rp.txn && (rc = mdb_txn_begin(s->ix.env, NULL, 0, &rp.txn)) != 0)
            return index_error(rc, "begin");
        if ((rc = replay_commit(&rp)) != MN_OK) return rc;
    }
    if (cp > s->log->end) {
        /* A torn tail cut below what the index had applied (possible only
         * after a machine crash under a relaxed fsync policy). */
        say(s, MN_LOG_WARN, "the index reflected more than the recovered log: rebuilding it");
        return recover(s, 1, progress, pud);
    }
    if (progress) progress(pud, rp.total, rp.total);
    /* An index that starts from nothing on a log that has records is a
     * rebuild, whatever the cause (removed, unreadable, mismatched). */
    if (cp == 0 && s->recovery.replayed_records > 0) s->recovery.index_rebuilt = 1;
    s->recovery.truncated_bytes += lr.truncated_bytes;
    s->recovery.dropped_events += lr.dropped_events;
    if (lr.truncated_bytes)
        say(s, MN_LOG_WARN, "recovery truncated %llu bytes at the end of the log (%s, %llu events "
            "dropped)", (unsigned long long)lr.truncated_bytes, lr.torn ? "torn tail" : "repair",
            (unsigned long long)lr.dropped_events);
    return index_sync(&s->ix);
}

/* ---- trusting the index after a crash ----
 *
 * The index is written through a shared mapping without fsync (index.c). A
 * process crash loses nothing of it (the page cache keeps the mapping's
 * writes); a machine crash can leave it torn in ways LMDB cannot detect. So
 * the store marks the index "in use" (durably) when it opens and "clean" when
 * it closes, with the machine's boot id: an index found in use under another
 * boot id was open when the machine went down, and is rebuilt from the log. */

static uint64_t current_boot_id(void)
{
    char text[64] = {0};
    uint64_t v = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    for (size_t i = 0, k = 0; i < n && k < 16; i++) {
        char ch = text[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) continue;
        v = (v << 4) | (uint64_t)d;
        k++;
    }
    return v ? v : 1;
}

/* Sets the index's in-use mark (clean = 0) or clean mark, durably. */
static int mark_index(mn_store *s, uint64_t clean)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->ix.env, NULL, 0, &txn);
    if (rc) return index_error(rc, "begin");
    if ((rc = index_meta_put(&s->ix, txn, "clean", clean)) != MN_OK ||
        (rc = index_meta_put(&s->ix, txn, "boot_id", current_boot_id())) != MN_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) return index_error(rc, "commit");
    return index_sync(&s->ix);
}

/* 1 if the index was in use when the machine last went down. */
static int index_untrusted(mn_store *s)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &txn) != 0) return 1;
    uint64_t clean = index_meta_get(&s->ix, txn, "clean", 1);
    uint64_t boot = index_meta_get(&s->ix, txn, "boot_id", 0);
    mdb_txn_abort(txn);
    return !clean && boot != current_boot_id();
}

/* ---- open / close ---- */

static int store_open(const char *dir, const mn_options *opts, int force_rebuild,
                      void (*progress)(void *ud, uint64_t done, uint64_t total), void *pud,
                      mn_store **out)
{
    int rc, fresh = 0;
    char logdir[4200];
    struct stat st;
    *out = NULL;
    error_clear();
    if (!dir || !*dir) return error_set(MN_EINVAL, "no store directory given");
    mn_store *s = calloc(1, sizeof *s);
    if (!s) return error_set(MN_ENOMEM, "out of memory");
    s->lock_fd = -1;
    if (opts) s->opts = *opts;
    else mn_options_init(&s->opts);
    if (strlen(dir) >= sizeof s->dir - 64) {
        rc = error_set(MN_EINVAL, "store directory path is too long");
        goto fail;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake_writer, NULL);
    pthread_cond_init(&s->advanced, NULL);
    if ((rc = check_options(&s->opts)) != MN_OK) goto fail;

    if (stat(dir, &st) < 0) {
        if (errno != ENOENT || !s->opts.create || s->opts.read_only) {
            rc = error_set(errno == ENOENT ? MN_ENOTFOUND : MN_EIO, "cannot open store %s: %s", dir,
                           strerror(errno));
            goto fail;
        }
        if (mkdir(dir, 0755) < 0) {
            rc = error_set(MN_EIO, "cannot create store directory %s: %s", dir, strerror(errno));
            goto fail;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        rc = error_set(MN_EIO, "%s is not a directory", dir);
        goto fail;
    }
    if ((rc = read_format(dir)) < 0) goto fail;
    if (rc == 0) {
        if (dir_has_entries(dir) && !unfinished_creation(dir)) {
            rc = error_set(MN_EFORMAT, "%s is not a Mnemosyne store (it has no FORMAT file)", dir);
            goto fail;
        }
        if (s->opts.read_only) {
            rc = error_set(MN_ENOTFOUND, "%s holds no store yet", dir);
            goto fail;
        }
        if (access(dir, W_OK) < 0) {
            rc = error_set(MN_EIO, "cannot write in %s: %s", dir, strerror(errno));
            goto fail;
        }
        fresh = 1;
    }
    if ((rc = take_lock(s)) != MN_OK) goto fail;

    snprintf(logdir, sizeof logdir, "%s/log", dir);
    log_opts lo = {s->opts.segment_size, (uint64_t)s->opts.max_event_size + 4096 + MN_MAX_STREAM_NAME +
                   MN_MAX_TYPE_LEN, s->opts.read_only};
    if ((rc = log_open(logdir, &lo, &s->log)) != MN_OK) goto fail;
    /* A sealed index is checked before LMDB reads it, and unsealed before
     * anything writes to it (index.c, "the seal"). */
    int sealed;
    rc = index_seal_check(dir, &sealed);
    if (rc == MN_ECORRUPT && !s->opts.read_only) {
        say(s, MN_LOG_WARN, "%s: rebuilding it from the log", mn_errmsg());
        if ((rc = index_remove(dir)) != MN_OK) goto fail;
        force_rebuild = 1;
    } else if (rc == MN_ECORRUPT) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", mn_errmsg());
        rc = error_set(MN_ECORRUPT, "%s; open the store read-write once to rebuild it", msg);
        goto fail;
    } else if (rc != MN_OK) {
        goto fail;
    }
    if (!s->opts.read_only && (rc = index_unseal(dir)) != MN_OK) goto fail;
    rc = index_open(&s->ix, dir, s->opts.index_map_size, s->opts.read_only);
    if (rc != MN_OK) {
        if (s->opts.read_only) goto fail;
        say(s, MN_LOG_WARN, "the index cannot be opened (%s): rebuilding it from the log",
            mn_errmsg());
        if ((rc = index_remove(dir)) != MN_OK ||
            (rc = index_open(&s->ix, dir, s->opts.index_map_size, 0)) != MN_OK)
            goto fail;
        force_rebuild = 1;
    }
    if (s->opts.read_only) {
        /* No recovery without writing: show the store as of the index's
         * checkpoint, which is always a whole-group boundary. */
        uint64_t cp;
        if ((rc = load_counters(s, &cp)) != MN_OK) goto fail;
        if (cp > s->log->end) {
            rc = error_set(MN_ECORRUPT, "the index is ahead of the log; open the store "
                           "read-write once to recover it");
            goto fail;
        }
        if (cp < s->log->segs[0]->base + SEG_HDR_SIZE) cp = s->log->segs[0]->base + SEG_HDR_SIZE;
        s->log->end = cp;
        atomic_store(&s->log->visible, cp); /* back from log_open's end */
        s->recovery.checkpoint = cp;
    } else {
        if (!force_rebuild && index_untrusted(s)) {
            say(s, MN_LOG_WARN, "the machine went down while the store was open: rebuilding "
                "the index from the log");
            force_rebuild = 1;
        }
        if ((rc = recover(s, force_rebuild, progress, pud)) != MN_OK) goto fail;
        if ((rc = mark_index(s, 0)) != MN_OK) goto fail;
        if (fresh && (rc = write_format(dir)) != MN_OK) goto fail;
        if ((rc = writer_start(s)) != MN_OK) goto fail;
    }
    *out = s;
    return MN_OK;
fail:
    {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mn_errmsg());
        mn_close(s);
        error_set(rc, "%s", msg);
    }
    return rc;
}

int mn_open(const char *dir, const mn_options *opts, mn_store **out)
{
    return store_open(dir, opts, 0, NULL, NULL, out);
}

void mn_close(mn_store *s)
{
    if (!s) return;
    int was_writing = s->writer_started;
    writer_stop(s);
    /* Clean only if the log is fully synced and nothing failed; sealed
     * only if clean (after the close's last sync of data.mdb). */
    int clean = was_writing && s->ix.env && !s->log->failed && mark_index(s, 1) == MN_OK;
    if (s->ix.env) index_close(&s->ix);
    if (clean && index_seal(s->dir) != MN_OK)
        say(s, MN_LOG_WARN, "%s (the next open trusts the index unchecked)", mn_errmsg());
    log_close(s->log);
    if (s->lock_fd >= 0) close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wake_writer);
    pthread_cond_destroy(&s->advanced);
    free(s);
}

void mn_recovery_info(mn_store *s, mn_recovery_report *out) { *out = s->recovery; }

void mn_store_info_get(mn_store *s, mn_store_info *out)
{
    memset(out, 0, sizeof *out);
    out->first_position = atomic_load(&s->log->first);
    out->end_position = atomic_load(&s->log->visible);
    out->durable_position = atomic_load(&s->log->durable);
    if (out->durable_position > out->end_position) out->durable_position = out->end_position;
    out->streams = atomic_load(&s->live_streams);
    log_stats(s->log, &out->segments, &out->log_bytes);
    MDB_txn *txn;
    if (mdb_txn_begin(s->ix.env, NULL, MDB_RDONLY, &txn) == 0) {
        out->events = index_meta_get(&s->ix, txn, "events", 0);
        mdb_txn_abort(txn);
    }
    out->read_only = s->opts.read_only || s->log->failed;
    out->fsync_policy = s->writer_started ? atomic_load(&s->fsync_policy) : s->opts.fsync_policy;
}

/* ---- maintenance ---- */

typedef struct check_count {
    mn_check_report *rep;
    int bad;             /* a record with a sound CRC but an unsound payload */
} check_count;

/* Counts, and decodes every payload as recovery would: framing and CRC
 * come from log_recover, the shape of what they frame from here. */
static int count_group(void *ud, const log_rec *recs, size_t n)
{
    check_count *cc = ud;
    for (size_t i = 0; i < n; i++) {
        const char *why = rec_payload_problem(recs[i].hdr->kind, recs[i].payload, recs[i].payload_len);
        if (why) {
            cc->bad = 1;
            cc->rep->bad_position = recs[i].pos;
            return error_set(MN_ECORRUPT, "record of kind %u at %llu is inconsistent: %s",
                             recs[i].hdr->kind, (unsigned long long)recs[i].pos, why);
        }
        cc->rep->records++;
        if (recs[i].hdr->kind == REC_EVENT) cc->rep->events++;
    }
    return 0;
}

int mn_check(const char *dir, mn_check_report *rep)
{
    mn_store probe;
    struct log *l = NULL;
    char logdir[4200];
    int rc;
    memset(rep, 0, sizeof *rep);
    memset(&probe, 0, sizeof probe);
    error_clear();
    if (!dir) return error_set(MN_EINVAL, "no store directory given");
    if ((rc = read_format(dir)) <= 0) {
        if (rc == 0) rc = error_set(MN_EFORMAT, "%s is not a Mnemosyne store", dir);
        goto done;
    }
    snprintf(probe.dir, sizeof probe.dir, "%s", dir);
    probe.opts.read_only = 1;
    probe.lock_fd = -1;
    if ((rc = take_lock(&probe)) != MN_OK) goto done;
    snprintf(logdir, sizeof logdir, "%s/log", dir);
    log_opts lo = {64ull << 20, 512u << 20, 1}; /* map size only: check never writes */
    if ((rc = log_open(logdir, &lo, &l)) != MN_OK) goto done;
    check_count cc = {rep, 0};
    uint64_t bad_framing = 0;
    rc = log_recover(l, 0, 0, 1, count_group, &cc, &(log_recovery){0}, &bad_framing);
    if (!cc.bad) rep->bad_position = bad_framing;
    log_stats(l, &rep->segments, &rep->bytes);
    if (rc == MN_OK) {
        /* the log is sound; the index, derived from it, only if sealed */
        int sealed;
        rc = index_seal_check(dir, &sealed);
        rep->index_seal = rc == MN_ECORRUPT ? -1 : rc == MN_OK ? sealed : 0;
        if (rc == MN_ECORRUPT) snprintf(rep->what, sizeof rep->what, "%s", mn_errmsg());
        if (rc != MN_EIO) rc = MN_OK;
    }
    if (rc == MN_OK) rep->ok = 1;
    else if (rc == MN_ECORRUPT && rep->bad_position >= l->segs[0]->base)
        rep->bytes = rep->bad_position - l->segs[0]->base; /* verified up to the damage */
    else snprintf(rep->what, sizeof rep->what, "%s", mn_errmsg());
done:
    if (rc != MN_OK && !rep->what[0]) snprintf(rep->what, sizeof rep->what, "%s", mn_errmsg());
    log_close(l);
    if (probe.lock_fd >= 0) close(probe.lock_fd);
    return rc;
}

int mn_reindex(const char *dir, void (*progress)(void *ud, uint64_t done, uint64_t total), void *ud)
{
    mn_store *s;
    mn_options o;
    mn_options_init(&o);
    o.create = 0;
    int rc = store_open(dir, &o, 1, progress, ud, &s);
    if (rc != MN_OK) return rc;
    mn_close(s);
    return MN_OK;
}
