/*
 * log.c — segments in order, the batch write path, recovery and reads.
 *
 * See log.h for the durability rules. The one function that commits bytes is
 * log_batch_write: write each staged chunk (rolling between them), then sync,
 * then advance `end` and `durable`. Visibility to readers is a separate step
 * (log_publish) that the engine takes after its index commit, so a reader
 * never finds an index entry pointing past what it may read, nor a record in
 * $all that the index does not know yet.
 */
#include "storage/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mnemosyne.h"
#include "storage/io.h"
#include "util/error.h"

static uint64_t map_len_for(const struct log *l, uint64_t need)
{
    return need > l->opts.segment_size ? need : l->opts.segment_size;
}

static int segs_push(struct log *l, segment *s)
{
    if (l->nsegs == l->segs_cap) {
        size_t cap = l->segs_cap ? l->segs_cap * 2 : 16;
        segment **n = realloc(l->segs, cap * sizeof *n);
        if (!n) return error_set(MN_ENOMEM, "out of memory");
        l->segs = n;
        l->segs_cap = cap;
    }
    l->segs[l->nsegs++] = s;
    return MN_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

static segment *active(struct log *l) { return l->segs[l->nsegs - 1]; }

int log_open(const char *logdir, const log_opts *o, struct log **out)
{
    int rc = MN_OK;
    DIR *d = NULL;
    uint64_t *bases = NULL, torn_base = UINT64_MAX;
    size_t nb = 0, cap = 0;
    struct log *l = calloc(1, sizeof *l);
    if (!l) return error_set(MN_ENOMEM, "out of memory");
    snprintf(l->dir, sizeof l->dir, "%s", logdir);
    l->opts = *o;
    pthread_rwlock_init(&l->segs_lock, NULL);
    buf_init(&l->staged);

    if (!o->read_only && mkdir(logdir, 0755) < 0 && errno != EEXIST) {
        rc = error_set(MN_EIO, "cannot create %s: %s", logdir, strerror(errno));
        goto fail;
    }
    d = opendir(logdir);
    if (!d) {
        rc = error_set(MN_EIO, "cannot open %s: %s", logdir, strerror(errno));
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t base;
        if (!seg_parse_name(e->d_name, &base)) continue;
        if (nb == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *n = realloc(bases, cap * sizeof *n);
            if (!n) {
                rc = error_set(MN_ENOMEM, "out of memory");
                goto fail;
            }
            bases = n;
        }
        bases[nb++] = base;
    }
    if (nb > 1) qsort(bases, nb, sizeof *bases, cmp_u64);

    for (size_t i = 0; i < nb; i++) {
        char path[4096];
        segment *s;
        seg_path(path, sizeof path, logdir, bases[i]);
        rc = seg_open(path, bases[i], map_len_for(l, 0), o->read_only, &s);
        if (rc == MN_ECORRUPT && i == nb - 1 && !o->read_only && file_size(path) <= SEG_HDR_SIZE) {
            /* A crash while creating the last segment (rule 3: the previous
             * one was synced first) leaves a torn header: the segment held
             * nothing yet. It is made again below if it was the only one. */
            unlink(path);
            torn_base = bases[i];
            rc = MN_OK;
            break;
        }
        if (rc != MN_OK) goto fail;
        if (l->nsegs > 0) {
            segment *prev = active(l);
            if (prev->base + prev->size != s->base) {
                rc = error_set(MN_ECORRUPT,
                               "log segments do not join: %s ends at %llu, next starts at %llu",
                               prev->path, (unsigned long long)(prev->base + prev->size),
                               (unsigned long long)s->base);
                seg_unref(s);
                goto fail;
            }
        }
        if ((rc = segs_push(l, s)) != MN_OK) {
            seg_unref(s);
            goto fail;
        }
    }
    if (l->nsegs == 0) {
        segment *s;
        uint64_t base = torn_base == UINT64_MAX ? 0 : torn_base;
        if (o->read_only) {
            rc = error_set(MN_EFORMAT, "%s holds no log segment", logdir);
            goto fail;
        }
        if ((rc = seg_create(logdir, base, map_len_for(l, 0), &s)) != MN_OK) goto fail;
        if ((rc = segs_push(l, s)) != MN_OK) {
            seg_unref(s);
            goto fail;
        }
    }
    l->end = active(l)->base + active(l)->size;
    atomic_store(&l->first, l->segs[0]->base + SEG_HDR_SIZE);
    atomic_store(&l->visible, l->end);
    atomic_store(&l->durable, l->end);
    closedir(d);
    free(bases);
    *out = l;
    return MN_OK;
fail:
    if (d) closedir(d);
    free(bases);
    log_close(l);
    return rc;
}

void log_close(struct log *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->nsegs; i++) seg_unref(l->segs[i]);
    free(l->segs);
    free(l->rolls);
    buf_free(&l->staged);
    pthread_rwlock_destroy(&l->segs_lock);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* Recovery and checking                                                     */
/* ------------------------------------------------------------------------ */

/* Looks for any valid record after `from` in segment s (at aligned offsets):
 * the difference between a torn tail (nothing valid follows) and damage in
 * the middle (something does). Counts the events it finds into *events. */
static int valid_record_after(struct log *l, segment *s, uint64_t from, uint64_t *events)
{
    int found = 0;
    uint64_t off = rec_align(from - s->base + 1);
    for (; off + REC_HDR_SIZE <= s->size; off += REC_ALIGN) {
        rec_hdr h;
        if (rec_check(s->map + off, s->size - off, s->base + off, l->opts.max_record, &h) == REC_OK) {
            found = 1;
            if (h.kind == REC_EVENT && events) (*events)++;
            off += rec_align(h.len) - REC_ALIGN;
        }
    }
    return found;
}

/* Removes segments after index i (their files too). Writer context. */
static void drop_segments_after(struct log *l, size_t i)
{
    pthread_rwlock_wrlock(&l->segs_lock);
    while (l->nsegs > i + 1) {
        segment *s = l->segs[--l->nsegs];
        unlink(s->path);
        seg_unref(s);
    }
    pthread_rwlock_unlock(&l->segs_lock);
    io_fsync_dir(l->dir);
}

/* Index of the segment holding position p (the last with base <= p). Caller
 * holds segs_lock or is the writer. */
static size_t seg_index(struct log *l, uint64_t p)
{
    size_t lo = 0, hi = l->nsegs;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (l->segs[mid]->base <= p) lo = mid;
        else hi = mid;
    }
    return lo;
}

int log_recover(struct log *l, uint64_t from, int repair, int check_only, log_group_fn fn,
                void *ud, log_recovery *rep, uint64_t *bad_pos)
{
    int rc = MN_OK;
    log_rec *group = NULL;
    size_t ng = 0, gcap = 0;
    memset(rep, 0, sizeof *rep);
    if (from < l->segs[0]->base + SEG_HDR_SIZE) from = l->segs[0]->base + SEG_HDR_SIZE;
    size_t si = seg_index(l, from);
    uint64_t pos = from, group_start = from;

    for (; si < l->nsegs; si++) {
        segment *s = l->segs[si];
        int last = si == l->nsegs - 1;
        if (pos < s->base + SEG_HDR_SIZE) pos = group_start = s->base + SEG_HDR_SIZE;
        while (pos < s->base + s->size) {
            uint64_t off = pos - s->base;
            rec_hdr h;
            int st = rec_check(s->map + off, s->size - off, pos, l->opts.max_record, &h);
            if (st != REC_OK) {
                uint64_t later_events = 0;
                /* Always scan the rest of the segment: it says whether this
                 * is a torn tail, and counts what a repair would drop. */
                int found_after = valid_record_after(l, s, pos, &later_events);
                int later = !last || found_after;
                if (!later && !check_only) goto torn;
                if (bad_pos) *bad_pos = pos;
                if (!repair || check_only) {
                    rc = error_set(MN_ECORRUPT,
                                   "log damaged at position %llu (%s, offset %llu): %s%s",
                                   (unsigned long long)pos, s->path, (unsigned long long)off,
                                   st == REC_SHORT ? "record cut short" : "bad record",
                                   later ? "; valid records follow, so this is not a torn "
                                           "tail (open with repair to truncate here)"
                                         : " at the end of the log (torn tail)");
                    goto done;
                }
                /* Repair: truncate at the start of the damaged group and drop
                 * everything after it. */
                for (size_t k = 0; k < ng; k++)
                    if (group[k].hdr->kind == REC_EVENT) rep->dropped_events++;
                /* The damaged record itself, if its header still says it was
                 * an event at this position (best effort: it is damaged). */
                if (s->size - off >= REC_HDR_SIZE && h.kind == REC_EVENT && h.pos == pos)
                    rep->dropped_events++;
                rep->dropped_events += later_events;
                for (size_t k = si + 1; k < l->nsegs; k++) {
                    rep->truncated_bytes += l->segs[k]->size;
                    valid_record_after(l, l->segs[k], l->segs[k]->base + SEG_HDR_SIZE - 1,
                                       &rep->dropped_events);
                }
                drop_segments_after(l, si);
                goto truncate;
            }
            if (ng == gcap) {
                gcap = gcap ? gcap * 2 : 64;
                log_rec *n = realloc(group, gcap * sizeof *n);
                if (!n) {
                    rc = error_set(MN_ENOMEM, "out of memory");
                    goto done;
                }
                group = n;
            }
            group[ng].hdr = (const rec_hdr *)(s->map + off);
            group[ng].payload = s->map + off + REC_HDR_SIZE;
            group[ng].payload_len = h.len - REC_HDR_SIZE;
            group[ng].pos = pos;
            ng++;
            pos += rec_align(h.len);
            if (h.flags & REC_TXN_END) {
                rep->records += ng;
                for (size_t k = 0; k < ng; k++)
                    if (group[k].hdr->kind == REC_EVENT) rep->events++;
                if (fn && (rc = fn(ud, group, ng)) != 0) goto done;
                ng = 0;
                group_start = pos;
            }
        }
        if (ng > 0) {
            /* A group left open at the end of a segment: in the last one it
             * is a torn tail; in a sealed one, damage (rule 2). */
            if (last && !check_only) goto torn;
            if (bad_pos) *bad_pos = group_start;
            rc = error_set(MN_ECORRUPT, "log damaged at position %llu (%s): an atomic group is "
                           "not closed at the end of %s",
                           (unsigned long long)group_start, s->path,
                           last ? "the log" : "a sealed segment");
            if (!repair || check_only) goto done;
            error_clear();
            rc = MN_OK;
            for (size_t k = 0; k < ng; k++)
                if (group[k].hdr->kind == REC_EVENT) rep->dropped_events++;
            for (size_t k = si + 1; k < l->nsegs; k++) rep->truncated_bytes += l->segs[k]->size;
            drop_segments_after(l, si);
            goto truncate;
        }
    }
    {
        /* A cut inside the padding after the last record leaves the file
         * unaligned: restore the zero padding, so the next record lands at
         * an aligned position where a scan looks for it. */
        segment *s = active(l);
        if (pos > s->base + s->size && !l->opts.read_only && !check_only) {
            int e = io_ftruncate(s->fd, pos - s->base);
            if (e == 0) e = io_fdatasync(s->fd);
            if (e < 0) {
                rc = error_set(MN_EIO, "cannot pad %s: %s", s->path, strerror(-e));
                goto done;
            }
            s->size = pos - s->base;
        }
        l->end = s->base + s->size;
    }
    goto done;

torn:
    rep->torn = 1;
    for (size_t k = 0; k < ng; k++)
        if (group[k].hdr->kind == REC_EVENT) rep->dropped_events++;
truncate: {
        /* Cut the active segment back to the end of the last whole group. */
        segment *s = active(l);
        uint64_t keep = group_start - s->base;
        if (group_start < s->base) keep = SEG_HDR_SIZE;
        rep->truncated_bytes += s->size - keep;
        if (l->opts.read_only) {
            rc = error_set(MN_EREADONLY, "the log needs recovery (%s at position %llu), which a "
                           "read-only open cannot do", rep->torn ? "torn tail" : "damage",
                           (unsigned long long)group_start);
            goto done;
        }
        int e = io_ftruncate(s->fd, keep);
        if (e == 0) e = io_fdatasync(s->fd);
        if (e < 0) {
            rc = error_set(MN_EIO, "cannot truncate %s: %s", s->path, strerror(-e));
            goto done;
        }
        s->size = keep;
        l->end = s->base + keep;
        error_clear();
        rc = MN_OK;
    }
done:
    atomic_store(&l->visible, l->end);
    atomic_store(&l->durable, l->end);
    free(group);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The write path                                                            */
/* ------------------------------------------------------------------------ */

void log_batch_begin(struct log *l)
{
    buf_reset(&l->staged);
    l->nrolls = 0;
    l->staged_end = l->end;
    l->staged_seg_base = active(l)->base;
}

int log_batch_pending(const struct log *l) { return l->staged.len > 0; }

uint8_t *log_batch_reserve(struct log *l, uint64_t len, uint64_t *pos)
{
    uint64_t used = l->staged_end - l->staged_seg_base;
    if (used > SEG_HDR_SIZE && used + len > l->opts.segment_size) {
        if (l->nrolls == l->rolls_cap) {
            size_t cap = l->rolls_cap ? l->rolls_cap * 2 : 4;
            log_roll *n = realloc(l->rolls, cap * sizeof *n);
            if (!n) return NULL;
            l->rolls = n;
            l->rolls_cap = cap;
        }
        l->rolls[l->nrolls].staged_off = l->staged.len;
        l->rolls[l->nrolls].base = l->staged_end;
        l->nrolls++;
        l->staged_seg_base = l->staged_end;
        l->staged_end += SEG_HDR_SIZE;
    }
    uint8_t *where = buf_append_zeros(&l->staged, len);
    if (!where) return NULL;
    *pos = l->staged_end;
    l->staged_end += len;
    return where;
}

void log_batch_abort(struct log *l)
{
    buf_reset(&l->staged);
    l->nrolls = 0;
}

/* `failed` is set only after the reason is written, so a thread that sees
 * it set (submit.c checks it on the caller's thread) can read the reason;
 * the first reason stays. */
static int latch(struct log *l, const char *what, int err)
{
    static pthread_mutex_t latch_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&latch_mu);
    if (!l->failed) {
        snprintf(l->failed_why, sizeof l->failed_why, "%s failed (%s); the store is read-only "
                 "until restarted", what, strerror(err));
        l->failed = 1;
    }
    pthread_mutex_unlock(&latch_mu);
    return error_set(MN_EREADONLY, "%s", l->failed_why);
}

/* durable only grows (a seal and the batch sync both advance it). */
static void advance_durable(struct log *l, uint64_t to)
{
    uint64_t cur = atomic_load(&l->durable);
    while (cur < to && !atomic_compare_exchange_weak(&l->durable, &cur, to)) {
    }
}

static int errno_code(int neg) { return neg == -ENOSPC || neg == -EDQUOT ? MN_ENOSPC : MN_EIO; }

/* Takes back the bytes of the last batch written (rule 5), e.g. when the
 * index could not record it: drops segments the batch created, truncates
 * the one it began in, syncs. Latches read-only if that fails. */
static int undo_batch(struct log *l, size_t nsegs_before, segment *first, uint64_t first_size)
{
    int rc = MN_OK;
    if (l->nsegs > nsegs_before) drop_segments_after(l, nsegs_before - 1);
    int e = io_ftruncate(first->fd, first_size);
    if (e == 0) e = io_fdatasync(first->fd);
    if (e < 0) rc = latch(l, "truncating back a batch that could not be completed", -e);
    first->size = first_size;
    l->end = first->base + first_size;
    if (atomic_load(&l->durable) > l->end) atomic_store(&l->durable, l->end);
    return rc;
}

int log_batch_undo(struct log *l)
{
    if (!l->batch_first) return MN_OK;
    int rc = undo_batch(l, l->batch_nsegs, l->batch_first, l->batch_first_size);
    l->batch_first = NULL;
    return rc;
}

int log_batch_write(struct log *l, int sync)
{
    int rc = MN_OK;
    size_t nsegs_before = l->nsegs;
    segment *first = active(l);
    uint64_t first_size = first->size;
    uint64_t off = 0;
    l->batch_first = NULL;

    if (l->failed) {
        rc = error_set(MN_EREADONLY, "%s", l->failed_why);
        goto fail;
    }
    if (l->opts.read_only) {
        rc = error_set(MN_EREADONLY, "the store is open read-only");
        goto fail;
    }
    for (size_t r = 0; r <= l->nrolls; r++) {
        uint64_t chunk_end = r < l->nrolls ? l->rolls[r].staged_off : l->staged.len;
        segment *s = active(l);
        if (chunk_end > off) {
            uint64_t n = chunk_end - off;
            if (s->size + n > s->map_len && (rc = seg_remap(s, s->size + n)) != MN_OK) goto undo;
            int e = io_pwrite_all(s->fd, l->staged.data + off, n, s->size);
            if (e < 0) {
                rc = error_set(errno_code(e), "write %s: %s", s->path, strerror(-e));
                goto undo;
            }
            s->size += n;
            off = chunk_end;
        }
        if (r < l->nrolls) {
            /* Rule 3: seal the full segment before starting the next. */
            int e = io_fdatasync(s->fd);
            if (e < 0) {
                rc = latch(l, "fdatasync", -e);
                goto fail;
            }
            advance_durable(l, s->base + s->size);
            segment *ns;
            uint64_t next_len = (r + 1 < l->nrolls ? l->rolls[r + 1].staged_off : l->staged.len) - off;
            if ((rc = seg_create(l->dir, l->rolls[r].base, map_len_for(l, next_len + SEG_HDR_SIZE),
                                 &ns)) != MN_OK)
                goto undo;
            pthread_rwlock_wrlock(&l->segs_lock);
            rc = segs_push(l, ns);
            pthread_rwlock_unlock(&l->segs_lock);
            if (rc != MN_OK) {
                unlink(ns->path);
                seg_unref(ns);
                goto undo;
            }
        }
    }
    l->end = l->staged_end;
    if (sync) {
        int e = io_fdatasync(active(l)->fd);
        if (e < 0) {
            rc = latch(l, "fdatasync", -e);
            goto fail;
        }
        advance_durable(l, l->end);
    }
    /* Until the caller publishes, the batch can still be taken back. */
    l->batch_first = first;
    l->batch_nsegs = nsegs_before;
    l->batch_first_size = first_size;
    log_batch_abort(l);
    return MN_OK;

undo:
    /* Rule 5: leave nothing of this batch in the files. */
    {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", mn_errmsg());
        if (undo_batch(l, nsegs_before, first, first_size) != MN_OK) error_set(rc, "%s", msg);
    }
fail:
    log_batch_abort(l);
    return rc;
}

int log_sync(struct log *l)
{
    if (l->failed) return error_set(MN_EREADONLY, "%s", l->failed_why);
    if (l->opts.read_only || atomic_load(&l->durable) >= l->end) return MN_OK;
    int e = io_fdatasync(active(l)->fd);
    if (e < 0) return latch(l, "fdatasync", -e);
    advance_durable(l, l->end);
    return MN_OK;
}

void log_publish(struct log *l, uint64_t end)
{
    uint64_t cur = atomic_load(&l->visible);
    while (cur < end && !atomic_compare_exchange_weak(&l->visible, &cur, end)) {
    }
}

int log_retain(struct log *l, uint64_t max_bytes, uint64_t max_age_ms)
{
    int dropped = 0;
    if (l->opts.read_only || (max_bytes == 0 && max_age_ms == 0)) return 0;
    for (;;) {
        if (l->nsegs < 2) break;
        segment *s = l->segs[0];
        int drop = 0;
        if (max_bytes) {
            uint64_t total = l->end - s->base;
            drop = total > max_bytes;
        }
        if (!drop && max_age_ms) {
            struct stat st;
            if (fstat(s->fd, &st) == 0) {
                uint64_t mtime_ms = (uint64_t)st.st_mtim.tv_sec * 1000u +
                                    (uint64_t)st.st_mtim.tv_nsec / 1000000u;
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                uint64_t now_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
                drop = now_ms > mtime_ms && now_ms - mtime_ms > max_age_ms;
            }
        }
        if (!drop) break;
        pthread_rwlock_wrlock(&l->segs_lock);
        memmove(l->segs, l->segs + 1, (l->nsegs - 1) * sizeof *l->segs);
        l->nsegs--;
        atomic_store(&l->first, l->segs[0]->base + SEG_HDR_SIZE);
        pthread_rwlock_unlock(&l->segs_lock);
        unlink(s->path);
        seg_unref(s);
        dropped++;
    }
    if (dropped) io_fsync_dir(l->dir);
    return dropped;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

uint64_t log_seek(struct log *l, uint64_t p)
{
    uint64_t first = atomic_load(&l->first);
    if (p < first) return first;
    pthread_rwlock_rdlock(&l->segs_lock);
    segment *s = l->segs[seg_index(l, p)];
    if (p < s->base + SEG_HDR_SIZE) p = s->base + SEG_HDR_SIZE;
    pthread_rwlock_unlock(&l->segs_lock);
    return rec_align(p);
}

uint64_t log_next_pos(struct log *l, uint64_t pos, uint32_t len)
{
    return log_seek(l, pos + rec_align(len));
}

int log_read_pinned(struct log *l, uint64_t pos, segment **seg, uint64_t *safe_end, log_rec *rec)
{
    segment *s = *seg;
    if (!s || pos < s->base || pos >= *safe_end) {
        /* Slow path: find and pin the segment, and note how far it is safe
         * to read in it without the lock: up to the next segment's base (a
         * sealed segment never grows), or the visible end for the last. */
        uint64_t visible = atomic_load(&l->visible);
        if (pos < atomic_load(&l->first) || pos >= visible)
            return log_read_at(l, pos, seg, rec); /* for its error */
        pthread_rwlock_rdlock(&l->segs_lock);
        size_t i = seg_index(l, pos);
        segment *n = l->segs[i];
        seg_ref(n);
        *safe_end = i + 1 < l->nsegs ? l->segs[i + 1]->base : visible;
        pthread_rwlock_unlock(&l->segs_lock);
        if (s) seg_unref(s);
        *seg = s = n;
    }
    uint64_t off = pos - s->base;
    rec_hdr h;
    if (rec_check(s->map + off, *safe_end - pos, pos, l->opts.max_record, &h) != REC_OK)
        return error_set(MN_ECORRUPT, "no valid record at position %llu (%s offset %llu)",
                         (unsigned long long)pos, s->path, (unsigned long long)off);
    rec->hdr = (const rec_hdr *)(s->map + off);
    rec->payload = s->map + off + REC_HDR_SIZE;
    rec->payload_len = h.len - REC_HDR_SIZE;
    rec->pos = pos;
    return MN_OK;
}

int log_read_at(struct log *l, uint64_t pos, segment **seg, log_rec *rec)
{
    uint64_t visible = atomic_load(&l->visible);
    if (pos < atomic_load(&l->first))
        return error_set(MN_ENOTFOUND, "position %llu is below the retained log",
                         (unsigned long long)pos);
    if (pos >= visible)
        return error_set(MN_ENOTFOUND, "position %llu is past the end of the log",
                         (unsigned long long)pos);
    pthread_rwlock_rdlock(&l->segs_lock);
    segment *s = l->segs[seg_index(l, pos)];
    seg_ref(s);
    pthread_rwlock_unlock(&l->segs_lock);
    uint64_t off = pos - s->base;
    uint64_t avail = visible - pos;
    if (off + avail > s->map_len) avail = s->map_len - off;
    rec_hdr h;
    int st = rec_check(s->map + off, avail, pos, l->opts.max_record, &h);
    if (st != REC_OK) {
        int rc = error_set(MN_ECORRUPT, "no valid record at position %llu (%s offset %llu)",
                           (unsigned long long)pos, s->path, (unsigned long long)off);
        seg_unref(s);
        return rc;
    }
    rec->hdr = (const rec_hdr *)(s->map + off);
    rec->payload = s->map + off + REC_HDR_SIZE;
    rec->payload_len = h.len - REC_HDR_SIZE;
    rec->pos = pos;
    *seg = s;
    return MN_OK;
}

void log_release_pages(struct log *l)
{
    pthread_rwlock_rdlock(&l->segs_lock);
    for (size_t i = 0; i < l->nsegs; i++) {
        segment *sg = l->segs[i];
        /* Advisory: a failure only means the pages stay resident. */
        (void)madvise((void *)sg->map, sg->map_len, MADV_DONTNEED);
    }
    pthread_rwlock_unlock(&l->segs_lock);
}

void log_stats(struct log *l, uint64_t *segments, uint64_t *bytes)
{
    pthread_rwlock_rdlock(&l->segs_lock);
    *segments = l->nsegs;
    *bytes = atomic_load(&l->visible) - l->segs[0]->base;
    pthread_rwlock_unlock(&l->segs_lock);
}
