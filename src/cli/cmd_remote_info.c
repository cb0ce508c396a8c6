/*
 * cmd_remote_info.c — `mnemo -p PORT info [STREAM]`: local mode's `info`,
 * answered by the server: the store from INFO persistence (its mn_* fields),
 * a stream from ES.INFO.
 *
 * The names are local mode's where the value is the same (first_position,
 * end_position, streams, ... ; version, length, first_version, ...): the
 * server's "mn_" prefix is dropped and '-' becomes '_', so that a script
 * reads both modes' JSON alike. A stream's times are the server's
 * milliseconds. Fields only the server has are passed through; fields only
 * the local engine knows (first_id, entries_added, ...) are not invented.
 */
#include <stdio.h>
#include <string.h>

#include "cli/remote.h"
#include "util/json.h"

const char cli_remote_info_usage[] =
    "usage: mnemo -h HOST -p PORT info [STREAM] [--json]\n"
    "\n"
    "Without STREAM: the server's store (INFO persistence): dir, fsync_policy,\n"
    "read_only, first_position, end_position, durable_position, streams,\n"
    "events, segments, log_bytes. With STREAM (ES.INFO): version, length,\n"
    "first_version, first_position, last_position, created (ms), deleted,\n"
    "groups; exit 4 if there is no such stream. A table of FIELD VALUE, or one\n"
    "JSON object with --json (numbers as numbers).\n"
    "\n"
    "Options:\n"
    "  --json        a JSON object instead of a table\n"
    "  --help        this text\n";

/* One field/value into the table or the JSON object. The value is a number
 * in JSON when it is all digits (with an optional '-'), else a string. */
static void field(table *t, buf *b, int json, const char *k, size_t klen, const char *v,
                  size_t vlen)
{
    char name[64];
    size_t n = klen < sizeof name - 1 ? klen : sizeof name - 1, digits = 0;

    for (size_t i = 0; i < n; i++) name[i] = k[i] == '-' ? '_' : k[i];
    name[n] = '\0';
    /* local mode's types: flags are booleans, created is a UTC time */
    if (strcmp(name, "read_only") == 0 || strcmp(name, "deleted") == 0) {
        int yes = vlen == 1 && v[0] == '1';
        v = yes ? "true" : "false";
        vlen = strlen(v);
        if (json) {
            buf_append_byte(b, b->len == 0 ? '{' : ',');
            buf_printf(b, "\"%s\":%s", name, v);
            return;
        }
    } else if (strcmp(name, "created") == 0) {
        char tmp[24];
        uint64_t ms;
        buf ts;
        snprintf(tmp, sizeof tmp, "%.*s", (int)(vlen < 23 ? vlen : 23), v);
        if (cli_parse_u64(tmp, UINT64_MAX / 1000, &ms) == 0) {
            buf_init(&ts);
            out_timestamp(&ts, ms * 1000);
            if (!ts.oom && ts.len >= 2) {
                if (json) {
                    buf_printf(b, "%c\"%s\":%.*s", b->len == 0 ? '{' : ',', name, (int)ts.len,
                               ts.data);
                } else {
                    table_cell(t, "%s", name);
                    table_cell(t, "%.*s", (int)ts.len - 2, ts.data + 1);
                }
                buf_free(&ts);
                return;
            }
            buf_free(&ts);
        }
    }
    if (!json) {
        table_cell(t, "%s", name);
        table_cell_text(t, v, vlen, 80);
        return;
    }
    buf_append_byte(b, b->len == 0 ? '{' : ',');
    json_append_string(b, name, n);
    buf_append_byte(b, ':');
    for (size_t i = (vlen > 0 && v[0] == '-'); i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
        digits++;
    if (digits > 0 && digits + (v[0] == '-') == vlen && digits < 20)
        buf_append(b, v, vlen);
    else
        json_append_string(b, v, vlen);
}

/* INFO persistence's "mn_key:value" lines. 0, or -1 if there are none (not
 * a mnemosyned). */
static int store_info(const redisReply *r, const char *fsync_key, table *t, buf *b, int json)
{
    const char *p = r->str, *end = r->str + r->len;
    int n = 0;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon;
        size_t len = (size_t)((eol != NULL ? eol : end) - p);

        if (len > 0 && p[len - 1] == '\r') len--;
        colon = memchr(p, ':', len);
        if (len > 3 && memcmp(p, "mn_", 3) == 0 && colon != NULL) {
            const char *k = p + 3;
            size_t klen = (size_t)(colon - k);
            /* mn_fsync is local mode's fsync_policy */
            if (klen == strlen(fsync_key) && memcmp(k, fsync_key, klen) == 0)
                field(t, b, json, "fsync_policy", 12, colon + 1, len - 4 - klen);
            else
                field(t, b, json, k, klen, colon + 1, len - 4 - klen);
            n++;
        }
        p = eol != NULL ? eol + 1 : end;
    }
    return n > 0 ? 0 : -1;
}

/* ES.INFO's field/value pairs (names strings, values integers or strings).
 * 0, or -1 for anything else. */
static int stream_info(const redisReply *r, const char *stream, table *t, buf *b, int json)
{
    char num[24];

    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->elements % 2 != 0) return -1;
    for (size_t i = 0; i < r->elements; i++) {
        int type = r->element[i]->type;
        if (type != REDIS_REPLY_STRING && (i % 2 == 0 || type != REDIS_REPLY_INTEGER)) return -1;
    }
    field(t, b, json, "stream", 6, stream, strlen(stream));
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (v->type == REDIS_REPLY_INTEGER) {
            snprintf(num, sizeof num, "%lld", v->integer);
            field(t, b, json, k->str, k->len, num, strlen(num));
        } else {
            field(t, b, json, k->str, k->len, v->str, v->len);
        }
    }
    return 0;
}

int cli_remote_info(cli *c, int argc, char **argv)
{
    static const char *head[] = {"FIELD", "VALUE"};
    char *pos[1];
    int npos = 0, rc;
    redisContext *ctx = NULL;
    redisReply *r = NULL;
    rcmd m;
    table t;
    buf b;

    buf_init(&b);
    table_init(&t, 2, head);
    rc = cli_parse_args(c, &cli_cmd_info, argc, argv, NULL, 0, pos, 0, 1, &npos);
    if (rc != 0) goto done;
    rc = remote_connect(c, &ctx);
    if (rc != 0) goto done;
    if (npos == 0) {
        rcmd_init(&m, "INFO");
        rcmd_str(&m, "persistence");
    } else {
        rcmd_init(&m, "ES.INFO");
        rcmd_str(&m, pos[0]);
    }
    r = remote_call(ctx, &m);
    if (r == NULL) {
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    rc = remote_error(r, m.argv[0]);
    if (rc != 0) goto done;
    if (npos == 1 && r->type == REDIS_REPLY_NIL) {
        fprintf(stderr, "mnemo: no such stream: %s\n", pos[0]);
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    if (npos == 0 ? r->type != REDIS_REPLY_STRING || store_info(r, "fsync", &t, &b, c->json) != 0
                  : stream_info(r, pos[0], &t, &b, c->json) != 0) {
        rc = remote_bad_reply(m.argv[0]);
        goto done;
    }
    if (!c->json) {
        rc = table_print(&t);
        goto done;
    }
    buf_append_str(&b, b.len == 0 ? "{}\n" : "}\n");
    rc = out_flush(&b) != 0 ? CLI_EXIT_RUNTIME : out_finish();

done:
    remote_free(ctx, r);
    table_free(&t);
    buf_free(&b);
    return rc;
}
