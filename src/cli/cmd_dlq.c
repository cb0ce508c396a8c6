/*
 * cmd_dlq.c — `mnemo dlq STREAM`: the dead letters held in a dead-letter
 * stream, one row each.
 *
 * A dead letter is an ordinary entry (XADD by the server's queue policy, or
 * by a client doing it by hand) whose fields are, in this order: dlq-source
 * <stream>, dlq-id <entry id there>, dlq-group <group>, dlq-deliveries <n>,
 * dlq-consumer <last consumer>, dlq-reason <text>, then the original entry's
 * fields verbatim. Only that leading run of dlq-* fields is read as the
 * envelope — the original's own fields can be anything, even dlq-* names (a
 * dead letter of a dead-letter stream) — and an entry without the envelope
 * is still listed, its fields all shown as the original's, so that nothing
 * held in the stream is hidden.
 *
 * Read with XRANGE in pages, each page starting after the last id seen
 * (exclusive "(" ids).
 */
#include <stdio.h>
#include <string.h>

#include "cli/remote.h"
#include "util/json.h"

#define PAGE 1000

/* Characters of the original fields shown in a table row. */
#define FIELDS_MAX 50

static const char usage[] =
    "usage: mnemo -h HOST -p PORT dlq STREAM [--count N] [--json]\n"
    "\n"
    "Lists the dead letters in the dead-letter stream STREAM, oldest first: the\n"
    "dead letter's entry id, the source stream and entry id, the group, the\n"
    "number of deliveries, the last consumer, the reason and the original\n"
    "fields (abbreviated in the table). --json prints one object per line:\n"
    "{\"stream\",\"id\",\"source\",\"source_id\",\"group\",\"deliveries\",\"consumer\",\n"
    "\"reason\",\"fields\"} (fields: the original field/value pairs as an object;\n"
    "envelope fields missing from an entry are null).\n"
    "\n"
    "Options:\n"
    "  --count N     at most N dead letters\n"
    "  --json        JSON Lines instead of a table\n"
    "  --help        this text\n";

/* The envelope's fields, in their order. */
enum { D_SOURCE, D_ID, D_GROUP, D_DELIVERIES, D_CONSUMER, D_REASON, D_N };
static const char *const envelope[D_N] = {
    "dlq-source", "dlq-id", "dlq-group", "dlq-deliveries", "dlq-consumer", "dlq-reason",
};

/* Their names in --json output. */
static const char *const json_names[D_N] = {
    "source", "source_id", "group", "deliveries", "consumer", "reason",
};

static const char *head[] = {"ID",         "SOURCE",   "SOURCE-ID", "GROUP",
                             "DELIVERIES", "CONSUMER", "REASON",    "FIELDS"};
#define NCOLS (sizeof head / sizeof head[0])

/* One dead letter: the envelope's values (NULL when missing) and where the
 * original fields start in the entry's field array. */
typedef struct dead {
    const redisReply *val[D_N];
    size_t first;        /* index of the first original field */
} dead;

static void parse_dead(const redisReply *fields, dead *d)
{
    size_t i = 0;

    memset(d, 0, sizeof *d);
    for (int k = 0; k < D_N && i + 1 < fields->elements; k++) {
        const redisReply *f = fields->element[i];
        if (f->type != REDIS_REPLY_STRING || strlen(envelope[k]) != f->len ||
            memcmp(f->str, envelope[k], f->len) != 0)
            continue; /* missing: the next envelope field may still be here */
        d->val[k] = fields->element[i + 1];
        i += 2;
    }
    d->first = i;
}

/* Appends the original fields as a JSON object. */
static void fields_json(buf *b, const redisReply *fields, size_t first)
{
    buf_append_byte(b, '{');
    for (size_t i = first; i + 1 < fields->elements; i += 2) {
        if (i > first) buf_append_byte(b, ',');
        json_append_string(b, fields->element[i]->str, fields->element[i]->len);
        buf_append_byte(b, ':');
        json_append_string(b, fields->element[i + 1]->str, fields->element[i + 1]->len);
    }
    buf_append_byte(b, '}');
}

static void json_value(buf *b, const redisReply *v)
{
    if (v == NULL) buf_append_str(b, "null");
    else json_append_string(b, v->str, v->len);
}

/* deliveries as a number when it is one, so scripts can compare it */
static void json_count(buf *b, const redisReply *v)
{
    uint64_t n;
    char tmp[32];

    if (v != NULL && v->len < sizeof tmp) {
        memcpy(tmp, v->str, v->len);
        tmp[v->len] = '\0';
        if (cli_parse_u64(tmp, UINT64_MAX, &n) == 0) {
            buf_printf(b, "%llu", (unsigned long long)n);
            return;
        }
    }
    json_value(b, v);
}

static int print_dead(const cli *c, const char *stream, const redisReply *entry, table *t, buf *b)
{
    const redisReply *id, *fields;
    dead d;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return remote_bad_reply("XRANGE");
    id = entry->element[0];
    fields = entry->element[1];
    for (size_t i = 0; i < fields->elements; i++)
        if (fields->element[i]->type != REDIS_REPLY_STRING) return remote_bad_reply("XRANGE");
    parse_dead(fields, &d);

    if (c->json) {
        buf_append_str(b, "{\"stream\":");
        json_append_string(b, stream, strlen(stream));
        buf_append_str(b, ",\"id\":");
        json_value(b, id);
        for (int k = 0; k < D_N; k++) {
            buf_printf(b, ",\"%s\":", json_names[k]);
            if (k == D_DELIVERIES) json_count(b, d.val[k]);
            else json_value(b, d.val[k]);
        }
        buf_append_str(b, ",\"fields\":");
        fields_json(b, fields, d.first);
        buf_append_str(b, "}\n");
        return out_flush(b) != 0 ? CLI_EXIT_RUNTIME : 0;
    }
    table_cell_text(t, id->str, id->len, 40);
    for (int k = 0; k < D_N; k++) {
        if (d.val[k] == NULL) table_cell(t, "-");
        else table_cell_text(t, d.val[k]->str, d.val[k]->len, 40);
    }
    fields_json(b, fields, d.first);
    table_cell_value(t, b->data, b->len, FIELDS_MAX);
    buf_reset(b);
    return 0;
}

static int run(cli *c, int argc, char **argv)
{
    const char *count_s = NULL;
    const cli_opt opts[] = {{"count", 1, &count_s, NULL, 0}};
    char *pos[1], start[64] = "-";
    int npos = 0, rc;
    uint64_t limit = UINT64_MAX, n = 0;
    redisContext *ctx = NULL;
    redisReply *r = NULL;
    rcmd m;
    table t;
    buf b;

    buf_init(&b);
    table_init(&t, NCOLS, head);
    rc = cli_parse_args(c, &cli_cmd_dlq, argc, argv, opts, 1, pos, 1, 1, &npos);
    if (rc != 0) goto done;
    if (count_s != NULL && cli_parse_u64(count_s, UINT64_MAX, &limit) != 0) {
        rc = cli_usage_error(&cli_cmd_dlq, "bad --count '%s' (a number >= 0)", count_s);
        goto done;
    }
    if (pos[0][0] == '\0' || strlen(pos[0]) > MN_MAX_STREAM_NAME) {
        rc = cli_usage_error(&cli_cmd_dlq, "a stream name is 1 to %u bytes", MN_MAX_STREAM_NAME);
        goto done;
    }
    rc = remote_connect(c, &ctx);
    if (rc != 0) goto done;

    while (n < limit) {
        uint64_t want = limit - n < PAGE ? limit - n : PAGE;
        const redisReply *last;

        rcmd_init(&m, "XRANGE");
        rcmd_str(&m, pos[0]);
        rcmd_str(&m, start);
        rcmd_str(&m, "+");
        rcmd_str(&m, "COUNT");
        rcmd_u64(&m, want);
        r = remote_call_array(ctx, &m, &rc);
        if (r == NULL) goto done;
        for (size_t i = 0; i < r->elements; i++) {
            rc = print_dead(c, pos[0], r->element[i], &t, &b);
            if (rc != 0) goto done;
            n++;
        }
        if (r->elements < want) break;
        last = r->element[r->elements - 1]->element[0];
        if (last->len + 2 > sizeof start) {
            rc = remote_bad_reply("XRANGE");
            goto done;
        }
        snprintf(start, sizeof start, "(%s", last->str);
        freeReplyObject(r);
        r = NULL;
    }
    if (c->json) rc = out_finish();
    else if (n == 0) fprintf(stderr, "mnemo: no dead letters in %s\n", pos[0]);
    else rc = table_print(&t);

done:
    remote_free(ctx, r);
    table_free(&t);
    buf_free(&b);
    return rc;
}

const cli_command cli_cmd_dlq = {
    "dlq", "list the dead letters of a dead-letter stream", usage, NULL, run, NULL,
};
