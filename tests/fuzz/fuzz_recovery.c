/*
 * fuzz_recovery.c — opening a damaged log: log_open + log_recover
 * (src/storage/log.c) on every input, and the whole store (mn_open, which
 * replays the records into a fresh LMDB index through engine/apply.c, then
 * mn_read_all, mn_close, mn_check) on one input in 32 (MN_FUZZ_STORE_EVERY).
 *
 * Input: byte 0 = options, byte 1 = where a second segment starts, the
 * rest = the records (what follows the 32-byte segment header, which the
 * harness writes valid so the fuzzer spends its time on records).
 *   bit 0     fix up framing: walk the records as recovery does and give
 *             each one whose length fits its own position and a correct
 *             CRC, so mutations reach the decoders and the index
 *   bit 1     check_only (what mn_check does) before the normal recovery
 *   bit 2     repair (cut at mid-log damage instead of refusing)
 *   bit 3     two segments: the body is split at 8 * byte 1
 *   bits 4-5  max_record: 64, 9616 (a store with max-event-size 4 KiB),
 *             1 MiB, 1 GiB
 *   bit 6     the first segment's base is 4096, not 0
 *
 * Files live in one directory under /dev/shm, reused by every run.
 *
 * Invariants: no crash, no leak; recovery returns MN_OK or MN_ECORRUPT
 * (with the damaged position inside the log); every group handed to the
 * callback is whole, in order, inside the mapping, ends with TXN_END, and
 * its payloads decode inside themselves (fuzz_payload.h); check_only
 * changes no file, and when it passes a normal recovery truncates nothing;
 * after a normal recovery that succeeded, the log is clean (a second,
 * check_only recovery passes with the same records); mn_open opens or says
 * MN_ECORRUPT, reads of an opened store succeed, and after its close
 * mn_check finds the log intact.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_payload.h"
#include "mnemosyne.h"
#include "storage/log.h"
#include "util/crc32c.h"

static char root[256];       /* /dev/shm/mnemo-fuzz-recovery.<pid> */
static unsigned store_every = 32; /* mn_open on one input in this many (MN_FUZZ_STORE_EVERY; 0: never) */
static char logdir[300];     /* root/log: for log_open */
static char storedir[300];   /* root/store: for mn_open */

typedef struct image {
    uint64_t base;           /* the segment's base position */
    uint8_t *bytes;          /* header + records */
    size_t len;
} image;

static void rm_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[600];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void cleanup(void)
{
    char path[600];
    rm_files(logdir);
    rmdir(logdir);
    snprintf(path, sizeof path, "%s/log", storedir);
    rm_files(path);
    rmdir(path);
    snprintf(path, sizeof path, "%s/index", storedir);
    rm_files(path);
    rmdir(path);
    rm_files(storedir);
    rmdir(storedir);
    rmdir(root);
}

static void setup(void)
{
    if (root[0]) return;
    if (getenv("MN_FUZZ_STORE_EVERY")) store_every = (unsigned)atoi(getenv("MN_FUZZ_STORE_EVERY"));
    const char *base = getenv("MN_FUZZ_DIR") ? getenv("MN_FUZZ_DIR") : "/dev/shm";
    snprintf(root, sizeof root, "%s/mnemo-fuzz-recovery.%d", base, (int)getpid());
    snprintf(logdir, sizeof logdir, "%s/log", root);
    snprintf(storedir, sizeof storedir, "%s/store", root);
    FUZZ_CHECK(mkdir(root, 0755) == 0 || errno == EEXIST);
    FUZZ_CHECK(mkdir(logdir, 0755) == 0 || errno == EEXIST);
    atexit(cleanup);
}

/* The segment header segment.c writes (header_encode). */
static void put_header(uint8_t *h, uint64_t base)
{
    uint32_t ver = SEG_FORMAT;
    memset(h, 0, SEG_HDR_SIZE);
    memcpy(h, SEG_MAGIC, 8);
    memcpy(h + 8, &ver, 4);
    memcpy(h + 16, &base, 8);
    uint32_t crc = crc32c(h, 28);
    memcpy(h + 28, &crc, 4);
}

/* Gives every record that fits a correct position and CRC, walking as
 * recovery does; stops at the first length that does not fit. */
static void fix_up(image *im)
{
    uint64_t off = SEG_HDR_SIZE;
    while (off + REC_HDR_SIZE <= im->len) {
        uint32_t len;
        memcpy(&len, im->bytes + off + 4, 4);
        if (len < REC_HDR_SIZE || len > im->len - off) break;
        uint64_t pos = im->base + off;
        memcpy(im->bytes + off + 8, &pos, 8);
        uint32_t crc = crc32c(im->bytes + off + 4, len - 4);
        memcpy(im->bytes + off, &crc, 4);
        off += rec_align(len);
    }
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

/* Replaces the segments in dir by ims. The directory holds only what the
 * last call wrote (recovery never adds a segment to a log that has one), so
 * only those names need removing: cheaper than a readdir per run. */
static void write_segments(const char *dir, const image *ims, int n)
{
    static uint64_t last[2][2];   /* per directory (log, store): bases written last time */
    static int nlast[2] = {-1, -1};
    int which = dir == logdir ? 0 : 1;
    char path[600];
    if (nlast[which] < 0) {
        rm_files(dir);
    } else {
        for (int i = 0; i < nlast[which]; i++) {
            int again = 0;
            for (int k = 0; k < n; k++) again |= ims[k].base == last[which][i];
            if (again) continue; /* O_TRUNC below */
            seg_path(path, sizeof path, dir, last[which][i]);
            unlink(path);
        }
    }
    nlast[which] = n;
    for (int i = 0; i < n; i++) last[which][i] = ims[i].base;
    for (int i = 0; i < n; i++) {
        seg_path(path, sizeof path, dir, ims[i].base);
        write_file(path, ims[i].bytes, ims[i].len);
    }
}

static uint64_t file_bytes(const char *dir, const image *ims, int n)
{
    char path[600];
    struct stat st;
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        seg_path(path, sizeof path, dir, ims[i].base);
        FUZZ_CHECK(stat(path, &st) == 0);
        total += (uint64_t)st.st_size;
    }
    return total;
}

/* ---- the group callback: what recovery hands out must be sound ---- */

typedef struct walk {
    struct log *l;
    uint64_t next;           /* lowest position the next group may start at */
    uint64_t records;
} walk;

static int on_group(void *ud, const log_rec *recs, size_t n)
{
    walk *w = ud;
    FUZZ_CHECK(n > 0);
    for (size_t i = 0; i < n; i++) {
        const log_rec *r = &recs[i];
        segment *s = NULL;
        for (size_t k = 0; k < w->l->nsegs; k++)
            if (r->pos >= w->l->segs[k]->base + SEG_HDR_SIZE &&
                r->pos < w->l->segs[k]->base + w->l->segs[k]->size)
                s = w->l->segs[k];
        FUZZ_CHECK(s != NULL);
        FUZZ_CHECK(r->pos >= w->next && r->pos % REC_ALIGN == 0);
        FUZZ_CHECK((const uint8_t *)r->hdr == s->map + (r->pos - s->base));
        FUZZ_CHECK(r->hdr->len >= REC_HDR_SIZE && r->hdr->len <= w->l->opts.max_record);
        FUZZ_CHECK(r->pos - s->base + r->hdr->len <= s->size);
        FUZZ_CHECK(r->hdr->pos == r->pos && r->hdr->kind != 0);
        FUZZ_CHECK(r->payload == (const uint8_t *)r->hdr + REC_HDR_SIZE);
        FUZZ_CHECK(r->payload_len == r->hdr->len - REC_HDR_SIZE);
        FUZZ_CHECK(((r->hdr->flags & REC_TXN_END) != 0) == (i == n - 1));
        FUZZ_CHECK(i == 0 || (recs[i - 1].pos < r->pos &&
                              recs[i - 1].pos + rec_align(recs[i - 1].hdr->len) == r->pos));
        check_payload(r->hdr->kind, r->payload, r->payload_len);
        w->next = r->pos + rec_align(r->hdr->len);
    }
    w->records += n;
    return 0;
}

/* Opens the log in logdir and recovers it; returns the result. */
static int recover_once(const log_opts *lo, int repair, int check_only, log_recovery *rep,
                        uint64_t *end)
{
    struct log *l = NULL;
    uint64_t bad = UINT64_MAX;
    int rc = log_open(logdir, lo, &l);
    FUZZ_CHECK(rc == MN_OK); /* valid headers, joined segments */
    walk w = {l, 0, 0};
    rc = log_recover(l, 0, repair, check_only, on_group, &w, rep, &bad);
    FUZZ_CHECK(rc == MN_OK || rc == MN_ECORRUPT);
    FUZZ_CHECK(w.records == rep->records);
    if (rc == MN_ECORRUPT) {
        FUZZ_CHECK(bad != UINT64_MAX);
        FUZZ_CHECK(bad >= l->segs[0]->base + SEG_HDR_SIZE);
        FUZZ_CHECK(bad <= l->segs[l->nsegs - 1]->base + l->segs[l->nsegs - 1]->size);
    } else {
        const segment *a = l->segs[l->nsegs - 1];
        FUZZ_CHECK(l->end == a->base + a->size);
    }
    *end = l->end;
    log_close(l);
    return rc;
}

/* ---- the whole store, now and then ---- */

static void read_store(mn_store *s)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    int rc = mn_read_all(s, 0, 0, &it);
    FUZZ_CHECK(rc == MN_OK);
    uint64_t n = 0;
    while ((rc = mn_iter_next(it, &ev)) == 1 && n++ < 10000) {
        FUZZ_CHECK(ev.stream != NULL && ev.type != NULL);
        if (ev.flags & MN_EVENT_FIELDS) (void)mn_fields_count(ev.data, ev.data_len);
    }
    FUZZ_CHECK(rc >= 0 || rc == MN_ECORRUPT);
    mn_iter_free(it);
}

static void open_store(const image *ims, int nims, int repair)
{
    char path[600];
    mn_store *s = NULL;
    mn_options o;
    static char store_logdir[320];
    snprintf(store_logdir, sizeof store_logdir, "%s/log", storedir);
    mkdir(storedir, 0755);
    mkdir(store_logdir, 0755);
    write_segments(store_logdir, ims, nims);
    snprintf(path, sizeof path, "%s/index", storedir);
    rm_files(path);
    rmdir(path);
    snprintf(path, sizeof path, "%s/FORMAT", storedir);
    write_file(path, (const uint8_t *)"mnemosyne-store 1\n", 18);

    mn_options_init(&o);
    o.fsync_policy = MN_FSYNC_NEVER;
    o.segment_size = 1u << 20;
    o.max_event_size = 4096;
    o.index_map_size = 64u << 20;
    o.repair = repair;
    int rc = mn_open(storedir, &o, &s);
    if (rc != MN_OK && rc != MN_ECORRUPT)
        fprintf(stderr, "mn_open: %s (%s)\n", mn_strerror(rc), mn_errmsg());
    FUZZ_CHECK(rc == MN_OK || rc == MN_ECORRUPT);
    if (rc != MN_OK) return;
    read_store(s);
    mn_close(s);
    mn_check_report cr;
    rc = mn_check(storedir, &cr);
    if (rc != MN_OK) fprintf(stderr, "mn_check after open: %s\n", cr.what);
    FUZZ_CHECK(rc == MN_OK && cr.ok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t max_records[4] = {64, 4096 + 4096 + MN_MAX_STREAM_NAME + MN_MAX_TYPE_LEN,
                                            1u << 20, 1u << 30};
    if (size < 2 || size > (1u << 20)) return 0;
    setup();
    int fixup = data[0] & 1, check_first = data[0] & 2, repair = (data[0] >> 2) & 1;
    int two = (data[0] >> 3) & 1;
    uint64_t base = (data[0] & 0x40) ? 4096 : 0;
    const uint8_t *body = data + 2;
    size_t n = size - 2;
    size_t split = two ? (size_t)data[1] * 8 : n;
    if (split > n) split = n;

    image ims[2];
    int nims = two ? 2 : 1;
    ims[0].base = base;
    ims[0].len = SEG_HDR_SIZE + split;
    if (two) {
        ims[1].base = base + ims[0].len;
        ims[1].len = SEG_HDR_SIZE + (n - split);
    }
    for (int i = 0; i < nims; i++) {
        ims[i].bytes = malloc(ims[i].len);
        FUZZ_CHECK(ims[i].bytes != NULL);
        put_header(ims[i].bytes, ims[i].base);
        memcpy(ims[i].bytes + SEG_HDR_SIZE, i == 0 ? body : body + split, ims[i].len - SEG_HDR_SIZE);
        if (fixup) fix_up(&ims[i]);
    }

    log_opts lo = {1u << 20, max_records[(data[0] >> 4) & 3], 0};
    log_recovery chk, rep, rep2;
    uint64_t end, end2;
    memset(&chk, 0, sizeof chk);
    write_segments(logdir, ims, nims);
    uint64_t written = file_bytes(logdir, ims, nims);

    int checked = -1;
    if (check_first) {
        checked = recover_once(&lo, repair, 1, &chk, &end);
        FUZZ_CHECK(file_bytes(logdir, ims, nims) == written); /* check_only writes nothing */
        FUZZ_CHECK(!chk.torn);
    }
    int rc = recover_once(&lo, repair, 0, &rep, &end);
    if (checked == MN_OK) {
        FUZZ_CHECK(rc == MN_OK && rep.truncated_bytes == 0 && !rep.torn);
        FUZZ_CHECK(rep.records == chk.records);
    }
    if (rc == MN_OK && (rep.truncated_bytes || rep.torn || end != ims[nims - 1].base + ims[nims - 1].len)) {
        /* what recovery left behind (cut or padded) is a clean log; an
         * untouched one was compared with check_only above when bit 1 is set */
        int rc2 = recover_once(&lo, 0, 1, &rep2, &end2);
        FUZZ_CHECK(rc2 == MN_OK);
        FUZZ_CHECK(rep2.records == rep.records && end2 == end);
    }

    if (store_every && crc32c(data, size) % store_every == 0) {
        /* pristine segments again: the log-level runs above may have cut them */
        open_store(ims, nims, repair);
    }
    for (int i = 0; i < nims; i++) free(ims[i].bytes);
    return 0;
}
