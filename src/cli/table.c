/*
 * table.c — aligned tables for people (remote mode's default output; --json
 * gives JSON Lines for programs instead).
 *
 * Invariants: a cell is one line of printable text — values go through
 * out_json_or_string (JSON compacted, anything else a JSON string with its
 * control bytes escaped), so stored bytes can neither break the layout nor
 * reach the terminal raw. Widths count UTF-8 characters, not bytes, so that
 * "└─" and non-ASCII names stay aligned. Columns only ever widen: a table
 * printed in several batches (tail -f) keeps its earlier rows aligned.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/remote.h"

/* Characters of a cell to show of an event's data. */
#define DATA_MAX 60

const char *table_event_head[TABLE_EVENT_COLS] = {
    "STREAM", "VERSION", "POSITION", "TIME (UTC)", "TYPE", "DATA",
};

void table_init(table *t, size_t ncols, const char **head)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->head = head;
    t->width = calloc(ncols, sizeof *t->width);
    if (t->width == NULL) t->oom = 1;
}

static void drop_cells(table *t)
{
    for (size_t i = 0; i < t->ncells; i++) free(t->cells[i]);
    t->ncells = 0;
}

void table_free(table *t)
{
    drop_cells(t);
    free(t->cells);
    free(t->width);
    memset(t, 0, sizeof *t);
}

/* Characters in s (UTF-8 continuation bytes do not count). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* Takes ownership of s (NULL: out of memory). */
static void add_cell(table *t, char *s)
{
    size_t col;

    if (s == NULL || t->oom) goto oom;
    if (t->ncells == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (cells == NULL) goto oom;
        t->cells = cells;
        t->cap = cap;
    }
    col = t->ncells % t->ncols;
    if (chars(s) > t->width[col]) t->width[col] = chars(s);
    t->cells[t->ncells++] = s;
    return;

oom:
    free(s);
    t->oom = 1;
}

void table_cell(table *t, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    add_cell(t, s);
}

/* 1 if p[0..n) can be shown as it is: no control bytes (a NUL, an escape
 * sequence or a newline would break the row or the terminal). */
static int plain(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f) return 0;
    return n > 0;
}

static void cell_from(table *t, const void *p, size_t n, size_t max, int text)
{
    buf b;
    size_t i, k = 0;

    buf_init(&b);
    if (text && plain(p, n)) buf_append(&b, p, n);
    else out_json_or_string(&b, p, n);
    buf_append_byte(&b, '\0');
    if (b.oom) {
        buf_free(&b);
        add_cell(t, NULL);
        return;
    }
    /* cut after max characters, on a character boundary */
    for (i = 0; b.data[i] != '\0'; i++) {
        if (((unsigned char)b.data[i] & 0xC0) != 0x80 && k++ == max) break;
    }
    if (b.data[i] != '\0' && max >= 1) {
        /* room for the ellipsis: back up one character */
        do i--; while (i > 0 && ((unsigned char)b.data[i] & 0xC0) == 0x80);
        b.len = i;
        buf_append_str(&b, "…");
        buf_append_byte(&b, '\0');
    }
    add_cell(t, b.oom ? NULL : strdup(b.data));
    buf_free(&b);
}

void table_cell_value(table *t, const void *p, size_t n, size_t max)
{
    cell_from(t, p, n, max, 0);
}

void table_cell_text(table *t, const void *p, size_t n, size_t max)
{
    cell_from(t, p, n, max, 1);
}

static int print_row(const table *t, const char *const *cells)
{
    for (size_t c = 0; c < t->ncols; c++) {
        int last = c + 1 == t->ncols;
        if (fputs(cells[c], stdout) == EOF) return -1;
        if (!last) {
            for (size_t pad = chars(cells[c]); pad < t->width[c] + 2; pad++)
                if (putchar(' ') == EOF) return -1;
        }
    }
    return putchar('\n') == EOF ? -1 : 0;
}

int table_print(table *t)
{
    int rc = 0;

    if (t->oom) {
        fputs("mnemo: out of memory\n", stderr);
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    if (!t->head_done) {
        for (size_t c = 0; c < t->ncols; c++)
            if (strlen(t->head[c]) > t->width[c]) t->width[c] = strlen(t->head[c]);
        if (print_row(t, t->head) != 0) goto fail;
        t->head_done = 1;
    }
    for (size_t i = 0; i + t->ncols <= t->ncells; i += t->ncols)
        if (print_row(t, (const char *const *)t->cells + i) != 0) goto fail;
    if (fflush(stdout) != 0) goto fail;
    goto done;

fail:
    if (errno != EPIPE) /* the reader went away: not news (output.c) */
        fprintf(stderr, "mnemo: writing the output failed: %s\n", strerror(errno));
    rc = CLI_EXIT_RUNTIME;
done:
    drop_cells(t);
    return rc;
}

void table_event_row(table *t, const remote_event *e)
{
    const mn_event_view *ev = &e->ev;
    time_t secs = (time_t)(ev->timestamp_us / 1000000u);
    struct tm tm;

    table_cell_text(t, ev->stream, ev->stream_len, 40);
    table_cell(t, "%lld", (long long)ev->version);
    table_cell(t, "%llu", (unsigned long long)ev->position);
    if (gmtime_r(&secs, &tm) != NULL)
        table_cell(t, "%04d-%02d-%02d %02d:%02d:%02d.%03u", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (unsigned)(ev->timestamp_us / 1000u % 1000u));
    else
        table_cell(t, "@%llu", (unsigned long long)ev->timestamp_us);
    table_cell_text(t, ev->type, ev->type_len, 40);
    table_cell_value(t, ev->data, ev->data_len, DATA_MAX);
}

void evprint_init(evprint *p, int json)
{
    memset(p, 0, sizeof *p);
    p->json = json;
    buf_init(&p->b);
    table_init(&p->t, TABLE_EVENT_COLS, table_event_head);
}

void evprint_free(evprint *p)
{
    table_free(&p->t);
    buf_free(&p->b);
}

int evprint_event(void *arg, const remote_event *e)
{
    evprint *p = arg;

    p->count++;
    if (p->json) {
        out_event_json(&p->b, &e->ev);
        buf_append_byte(&p->b, '\n');
        return out_flush(&p->b) != 0 ? CLI_EXIT_RUNTIME : 0;
    }
    table_event_row(&p->t, e);
    /* a bounded number of rows held; the widths carry over */
    if (p->t.ncells >= EVPRINT_ROWS * p->t.ncols) return table_print(&p->t);
    return 0;
}

int evprint_flush(evprint *p)
{
    if (p->json) return out_finish();
    /* nothing read: no header either, so that an empty result is empty */
    if (p->t.ncells == 0 && !p->t.head_done) return 0;
    return table_print(&p->t);
}
