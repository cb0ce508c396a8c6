/*
 * output.c — how mnemo prints events: one JSON object per line, so that the
 * output of `read` and `read-all` can be piped into jq, grep or another
 * program line by line.
 *
 * Invariant: everything written here is valid JSON on one line, whatever the
 * bytes stored. Data and metadata that are valid JSON are embedded as values
 * (not strings), with the white space between tokens dropped — a payload
 * stored pretty-printed would otherwise break the one-line rule; anything
 * else becomes a JSON string (json_append_string escapes non-UTF-8 bytes).
 * An entry written by XADD (MN_EVENT_FIELDS) has a field list for data: it
 * is printed as a JSON object of its fields.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "util/json.h"

/* Appends the valid JSON p[0..n) without the white space between tokens.
 * Valid JSON has no raw control characters inside strings, so dropping
 * space, tab, CR and LF outside them leaves the same value on one line. */
static void append_compact(buf *b, const char *p, size_t n)
{
    size_t run = 0; /* start of the pending run of bytes to copy */
    int in_string = 0, escaped = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in_string) {
            if (escaped) escaped = 0;
            else if (ch == '\\') escaped = 1;
            else if (ch == '"') in_string = 0;
        } else if (ch == '"') {
            in_string = 1;
        } else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            buf_append(b, p + run, i - run);
            run = i + 1;
        }
    }
    buf_append(b, p + run, n - run);
}

void out_json_or_string(buf *b, const void *p, size_t n)
{
    if (n > 0 && json_is_valid(p, n))
        append_compact(b, p, n);
    else
        json_append_string(b, p, n);
}

void out_timestamp(buf *b, uint64_t us)
{
    time_t secs = (time_t)(us / 1000000u);
    struct tm tm;

    if (gmtime_r(&secs, &tm) == NULL) {
        /* out of struct tm's range: still valid JSON, and still exact */
        buf_printf(b, "\"@%llu\"", (unsigned long long)us);
        return;
    }
    buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06luZ\"", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               (unsigned long)(us % 1000000u));
}

void out_entry_id(buf *b, mn_entry_id id)
{
    buf_printf(b, "\"%llu-%llu\"", (unsigned long long)id.ms, (unsigned long long)id.seq);
}

/* Appends a field list (MN_EVENT_FIELDS data, what XADD writes) as a JSON
 * object of strings, in the stored order; a damaged list falls back to the
 * raw bytes as a string, so that nothing is hidden. Redis allows a field
 * twice: it then appears twice, which JSON allows too. */
static void append_fields(buf *b, const void *data, size_t len)
{
    const void *f, *v;
    size_t off = 0, flen, vlen, mark = b->len;
    int rc, first = 1;

    buf_append_byte(b, '{');
    while ((rc = mn_fields_next(data, len, &off, &f, &flen, &v, &vlen)) == 1) {
        if (!first) buf_append_byte(b, ',');
        json_append_string(b, f, flen);
        buf_append_byte(b, ':');
        json_append_string(b, v, vlen);
        first = 0;
    }
    if (rc < 0) {
        b->len = mark; /* drop the partial object */
        json_append_string(b, data, len);
        return;
    }
    buf_append_byte(b, '}');
}

void out_event_json(buf *b, const mn_event_view *ev)
{
    char uuid[37];

    mn_uuid_format(ev->id, uuid);
    buf_append_str(b, "{\"stream\":");
    json_append_string(b, ev->stream, ev->stream_len);
    buf_printf(b, ",\"version\":%lld,\"position\":%llu,\"id\":\"%s\",\"type\":",
               (long long)ev->version, (unsigned long long)ev->position, uuid);
    json_append_string(b, ev->type, ev->type_len);
    buf_append_str(b, ",\"data\":");
    if (ev->flags & MN_EVENT_FIELDS)
        append_fields(b, ev->data, ev->data_len);
    else
        out_json_or_string(b, ev->data, ev->data_len);
    buf_append_str(b, ",\"meta\":");
    if (ev->meta != NULL)
        out_json_or_string(b, ev->meta, ev->meta_len);
    else
        buf_append_str(b, "null");
    buf_append_str(b, ",\"timestamp\":");
    out_timestamp(b, ev->timestamp_us);
    buf_append_byte(b, '}');
}

int out_flush(buf *b)
{
    int rc = 0;

    if (b->oom) {
        errno = ENOMEM;
        rc = -1;
    } else if (b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len) {
        rc = -1;
    }
    /* a reader that went away (EPIPE, SIGPIPE ignored by tail) is not news */
    if (rc != 0 && errno != EPIPE)
        fprintf(stderr, "mnemo: writing the output failed: %s\n", strerror(errno));
    buf_reset(b);
    return rc;
}

int out_finish(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mnemo: writing the output failed: %s\n", strerror(errno));
        return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_OK;
}
