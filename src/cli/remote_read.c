/*
 * remote_read.c — reading events from a server: an ordinary stream by
 * version (ES.READ), a virtual stream by global position (ES.READALL, with
 * CATEGORY for $ce-<category> and TYPE for $et-<type>), forwards, backwards,
 * and following new events as they are appended.
 *
 * Every read is paged (PAGE events per command) so that neither side builds
 * a reply of unbounded size, and each event is handed to the caller as soon
 * as its page arrives.
 *
 * Backwards on a virtual stream: the server reads the global log forwards
 * only (XREVRANGE $all is refused, ES.READALL has no BACKWARD), so windows of
 * positions are read forwards, from the end (or --from) down, each window
 * given out in reverse; the window grows fourfold each step so that a sparse
 * category costs O(log) round trips.
 *
 * Following (tail -f): XREAD BLOCK is only the doorbell, ES.READ / ES.READALL
 * from the cursor (next version or position) reads the events. So what is
 * printed is exactly the ES view, with versions and positions, and nothing is
 * lost or printed twice: the doorbell's id is taken before the catch-up read,
 * so an append racing with the catch-up rings it at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/remote.h"

/* Events per command. */
#define PAGE 1000

/* The first window of a backward read of a virtual stream, in log bytes. */
#define FIRST_WINDOW 65536

volatile sig_atomic_t remote_stop;

int rs_init(rsource *s, redisContext *ctx, const char *name, const cli_command *cmd)
{
    size_t len = strlen(name);

    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->name = name;
    if (len == 0 || len > MN_MAX_STREAM_NAME)
        return cli_usage_error(cmd, "a stream name is 1 to %u bytes", MN_MAX_STREAM_NAME);
    if (name[0] != '$') {
        s->kind = RS_STREAM;
        return 0;
    }
    if (strcmp(name, "$all") == 0) {
        s->kind = RS_ALL;
    } else if (strncmp(name, "$ce-", 4) == 0 && name[4] != '\0') {
        s->kind = RS_CATEGORY;
        s->filter = name + 4;
    } else if (strncmp(name, "$et-", 4) == 0 && name[4] != '\0') {
        s->kind = RS_TYPE;
        s->filter = name + 4;
    } else {
        return cli_usage_error(cmd, "unknown virtual stream '%s' ($all, $ce-<category> or "
                               "$et-<type>)", name);
    }
    return 0;
}

uint64_t rs_next(const rsource *s, const remote_event *e)
{
    return s->kind == RS_STREAM ? (uint64_t)e->ev.version + 1 : e->ev.position + 1;
}

/* One page: ES.READ / ES.READALL from cursor (has_from 0: the default start)
 * of at most count events. Returns the array reply, or NULL after printing
 * why (an error reply included: *rc is its exit code). */
static redisReply *page(const rsource *s, int backward, int has_from, uint64_t from,
                        uint64_t count, int *rc)
{
    rcmd m;

    if (s->kind == RS_STREAM) {
        rcmd_init(&m, "ES.READ");
        rcmd_str(&m, s->name);
    } else {
        rcmd_init(&m, "ES.READALL");
    }
    if (has_from) {
        rcmd_str(&m, "FROM");
        rcmd_u64(&m, from);
    }
    rcmd_str(&m, "COUNT");
    rcmd_u64(&m, count);
    if (backward) rcmd_str(&m, "BACKWARD");
    if (s->kind == RS_CATEGORY) rcmd_str(&m, "CATEGORY");
    if (s->kind == RS_TYPE) rcmd_str(&m, "TYPE");
    if (s->filter != NULL) rcmd_str(&m, s->filter);

    return remote_call_array(s->ctx, &m, rc);
}

/* An ordinary stream that gave no events: is it there at all? Local mode
 * says "no such stream" (exit 4); so does this, through ES.INFO (nil for a
 * missing stream), since an empty ES.READ cannot tell. */
static int check_exists(const rsource *s)
{
    redisReply *r;
    rcmd m;
    int rc;

    rcmd_init(&m, "ES.INFO");
    rcmd_str(&m, s->name);
    r = remote_call(s->ctx, &m);
    if (r == NULL) return CLI_EXIT_RUNTIME;
    rc = remote_error(r, "ES.INFO");
    if (rc == 0 && r->type == REDIS_REPLY_NIL) {
        fprintf(stderr, "mnemo: no such stream: %s\n", s->name);
        rc = CLI_EXIT_RUNTIME;
    }
    freeReplyObject(r);
    return rc;
}

/* Reads at most limit events from cursor from (has_from 0: the first, or
 * the last backwards), forwards, or backwards (ES.READ BACKWARD: ordinary
 * streams only), emitting each. Forwards, *next becomes the cursor after the
 * last event emitted (unchanged if none). *n counts the events emitted. */
static int paged_read(const rsource *s, int backward, int has_from, uint64_t from,
                      uint64_t limit, rs_emit emit, void *arg, uint64_t *next, uint64_t *n)
{
    int rc = 0, done = 0;

    *n = 0;
    while (*n < limit && !done) {
        uint64_t want = limit - *n < PAGE ? limit - *n : PAGE;
        redisReply *r = page(s, backward, has_from, from, want, &rc);

        if (r == NULL) return rc;
        done = r->elements < want;
        for (size_t i = 0; i < r->elements && rc == 0; i++) {
            remote_event e;
            if (remote_event_parse(r->element[i], &e) != 0) {
                rc = CLI_EXIT_RUNTIME;
                break;
            }
            if (!backward) {
                from = *next = rs_next(s, &e);
            } else if (e.ev.version > 0) {
                from = (uint64_t)e.ev.version - 1;
            } else {
                done = 1; /* version 0 given: nothing before it */
            }
            has_from = 1;
            (*n)++;
            rc = emit(arg, &e);
        }
        freeReplyObject(r);
        if (rc != 0) break;
    }
    return rc;
}

/* The global position one past the last acknowledged record, from INFO
 * persistence (mn_end_position). 0 or an exit code. */
static int end_position(redisContext *ctx, uint64_t *out)
{
    static const char key[] = "mn_end_position:";
    redisReply *r;
    const char *p;
    rcmd m;
    int rc;

    rcmd_init(&m, "INFO");
    rcmd_str(&m, "persistence");
    r = remote_call(ctx, &m);
    if (r == NULL) return CLI_EXIT_RUNTIME;
    rc = remote_error(r, "INFO");
    if (rc != 0) goto done;
    if (r->type != REDIS_REPLY_STRING || (p = strstr(r->str, key)) == NULL) {
        rc = remote_bad_reply("INFO persistence");
        goto done;
    }
    *out = strtoull(p + sizeof key - 1, NULL, 10);

done:
    freeReplyObject(r);
    return rc;
}

/* The events of one window [lo, hi] of a virtual stream, in order. */
typedef struct window {
    redisReply **pages;   /* the replies the events point into, owned */
    size_t npages;
    remote_event *ev;     /* the events, borrowing pages */
    size_t nev, cap;
} window;

static void window_free(window *w)
{
    for (size_t i = 0; i < w->npages; i++) freeReplyObject(w->pages[i]);
    free(w->pages);
    free(w->ev);
    memset(w, 0, sizeof *w);
}

static int window_read(const rsource *s, uint64_t lo, uint64_t hi, window *w)
{
    uint64_t cursor = lo;
    int rc = 0;

    for (;;) {
        redisReply *r = page(s, 0, 1, cursor, PAGE, &rc), **pages;
        int past = 0;

        if (r == NULL) return rc;
        pages = realloc(w->pages, (w->npages + 1) * sizeof *pages);
        if (pages == NULL) {
            freeReplyObject(r);
            goto oom;
        }
        w->pages = pages;
        w->pages[w->npages++] = r;
        for (size_t i = 0; i < r->elements; i++) {
            remote_event e;
            if (remote_event_parse(r->element[i], &e) != 0) return CLI_EXIT_RUNTIME;
            if (e.ev.position > hi) {
                past = 1;
                break;
            }
            if (w->nev == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 64;
                remote_event *ev = realloc(w->ev, cap * sizeof *ev);
                if (ev == NULL) goto oom;
                w->ev = ev;
                w->cap = cap;
            }
            w->ev[w->nev++] = e;
            cursor = e.ev.position + 1;
        }
        if (past || r->elements < PAGE) return 0;
    }

oom:
    fputs("mnemo: out of memory\n", stderr);
    return CLI_EXIT_RUNTIME;
}

static int read_virtual_backward(const rsource *s, int has_from, uint64_t from, uint64_t limit,
                                 rs_emit emit, void *arg, uint64_t *n)
{
    uint64_t hi, lo, span = FIRST_WINDOW, end;
    window w;
    int rc = 0;

    memset(&w, 0, sizeof w);
    *n = 0;
    if (has_from) {
        hi = from;
    } else {
        rc = end_position(s->ctx, &end);
        if (rc != 0 || end == 0) return rc;
        hi = end - 1;
    }
    while (*n < limit) {
        lo = hi + 1 > span ? hi + 1 - span : 0;
        rc = window_read(s, lo, hi, &w);
        for (size_t i = w.nev; rc == 0 && i > 0 && *n < limit; i--) {
            (*n)++;
            rc = emit(arg, &w.ev[i - 1]);
        }
        window_free(&w);
        if (rc != 0 || lo == 0) break;
        hi = lo - 1;
        if (span < UINT64_MAX / 4) span *= 4;
    }
    window_free(&w);
    return rc;
}

int rs_read(const rsource *s, int backward, int has_from, uint64_t from, uint64_t limit,
            rs_emit emit, void *arg)
{
    uint64_t n = 0, next = 0;
    int rc;

    if (!backward)
        rc = paged_read(s, 0, has_from, from, limit, emit, arg, &next, &n);
    else if (s->kind == RS_STREAM)
        rc = paged_read(s, 1, has_from, from, limit, emit, arg, &next, &n);
    else
        rc = read_virtual_backward(s, has_from, from, limit, emit, arg, &n);
    if (rc == 0 && n == 0 && s->kind == RS_STREAM) rc = check_exists(s);
    return rc;
}

/* rs_last's emit: remembers the oldest event seen of a backward read. */
static int note_oldest(void *arg, const remote_event *e)
{
    remote_event *oldest = arg;

    *oldest = *e;
    oldest->ev.stream = NULL; /* only the numbers are kept: the reply goes */
    oldest->ev.type = NULL;
    oldest->ev.data = oldest->ev.meta = NULL;
    return 0;
}

int rs_last(const rsource *s, uint64_t n, uint64_t *from)
{
    remote_event oldest;
    uint64_t end, got = 0;
    int rc;

    memset(&oldest, 0, sizeof oldest);
    if (n == 0) {
        /* nothing of the past: from just after the last event */
        if (s->kind == RS_STREAM) {
            rc = paged_read(s, 1, 0, 0, 1, note_oldest, &oldest, &end, &got);
            *from = got > 0 ? (uint64_t)oldest.ev.version + 1 : 0;
            return rc;
        }
        return end_position(s->ctx, from);
    }
    if (s->kind == RS_STREAM) {
        rc = paged_read(s, 1, 0, 0, n, note_oldest, &oldest, &end, &got);
        *from = got > 0 ? (uint64_t)oldest.ev.version : 0;
        return rc;
    }
    rc = read_virtual_backward(s, 0, 0, n, note_oldest, &oldest, &got);
    if (rc != 0) return rc;
    if (got > 0) {
        *from = oldest.ev.position;
        return 0;
    }
    /* an empty view: from the end, not from 0 (a category scan of the
     * whole log for nothing) */
    return end_position(s->ctx, &end) == 0 ? (*from = end, 0) : CLI_EXIT_RUNTIME;
}

/* The doorbell's starting id for an ordinary stream: its last entry's id
 * (XREVRANGE + - COUNT 1), or 0-0 when it has none yet. */
static int last_entry_id(const rsource *s, char *id, size_t n)
{
    redisReply *r;
    rcmd m;
    int rc;

    rcmd_init(&m, "XREVRANGE");
    rcmd_str(&m, s->name);
    rcmd_str(&m, "+");
    rcmd_str(&m, "-");
    rcmd_str(&m, "COUNT");
    rcmd_str(&m, "1");
    r = remote_call(s->ctx, &m);
    if (r == NULL) return CLI_EXIT_RUNTIME;
    rc = remote_error(r, "XREVRANGE");
    if (rc != 0) goto done;
    snprintf(id, n, "0-0");
    if (r->type != REDIS_REPLY_ARRAY) {
        rc = remote_bad_reply("XREVRANGE");
    } else if (r->elements > 0) {
        const redisReply *e = r->element[0];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= n)
            rc = remote_bad_reply("XREVRANGE");
        else
            snprintf(id, n, "%s", e->element[0]->str);
    }

done:
    freeReplyObject(r);
    return rc;
}

/* Waits for an entry after id (XREAD BLOCK 0) and moves id to the last one
 * the server returned. 0, 1 when stopped by a signal, or an exit code. */
static int doorbell(const rsource *s, char *id, size_t n)
{
    const char *argv[] = {"XREAD", "BLOCK", "0", "COUNT", "1000", "STREAMS", s->name, id};
    size_t lens[8];
    redisReply *r;
    const redisReply *entries, *last;
    int rc = 0;

    for (size_t i = 0; i < 8; i++) lens[i] = strlen(argv[i]);
    r = redisCommandArgv(s->ctx, 8, argv, lens);
    if (remote_stop) {
        if (r != NULL) freeReplyObject(r);
        return 1;
    }
    if (r == NULL) {
        fprintf(stderr, "mnemo: connection to the server lost: %s\n", s->ctx->errstr);
        return CLI_EXIT_RUNTIME;
    }
    rc = remote_error(r, "XREAD");
    if (rc != 0 || r->type == REDIS_REPLY_NIL) goto done;
    /* [[name, [[id, fields], ...]]] */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) goto bad;
    if (r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2) goto bad;
    entries = r->element[0]->element[1];
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) goto bad;
    last = entries->element[entries->elements - 1];
    if (last->type != REDIS_REPLY_ARRAY || last->elements < 1 ||
        last->element[0]->type != REDIS_REPLY_STRING || last->element[0]->len >= n)
        goto bad;
    snprintf(id, n, "%s", last->element[0]->str);
    goto done;

bad:
    rc = remote_bad_reply("XREAD");
done:
    freeReplyObject(r);
    return rc;
}

int rs_follow(const rsource *s, uint64_t from, rs_emit emit, void *arg)
{
    char id[64];
    uint64_t n = 0;
    int rc;

    if (s->kind == RS_STREAM) {
        rc = last_entry_id(s, id, sizeof id);
        if (rc != 0) return remote_stop ? 0 : rc;
    }
    while (!remote_stop) {
        /* a virtual stream's entry ids are positions: "<from - 1>-0" rings
         * for the first event at or after from */
        if (s->kind != RS_STREAM) {
            if (from > 0) snprintf(id, sizeof id, "%llu-0", (unsigned long long)(from - 1));
            else snprintf(id, sizeof id, "0-0");
        }
        rc = paged_read(s, 0, 1, from, UINT64_MAX, emit, arg, &from, &n);
        if (rc != 0 || remote_stop) break;
        rc = doorbell(s, id, sizeof id);
        if (rc != 0) break;
    }
    return remote_stop ? 0 : rc;
}
