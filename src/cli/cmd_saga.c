/*
 * cmd_saga.c — `mnemo saga list [--state S]` and `mnemo saga status ID
 * [--name SAGA]`: the server's sagas (SAGA.LIST, SAGA.STATUS) as tables for
 * people, or JSON Lines with --json. Remote mode only: sagas run in
 * mnemosyned, not in a store directory.
 *
 * Replies are RESP2 (hiredis 0.14): SAGA.LIST is an array of
 * [name, id, state, step]; SAGA.STATUS a flat field/value array whose
 * "history" is an array of [type T timestamp MS data JSON] arrays, or nil
 * for an unknown id. Anything else is a bad reply (exit 4), never a crash.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/remote.h"
#include "util/json.h"

static const char usage[] =
    "usage: mnemo -h HOST -p PORT saga list [--state STATE] [--json]\n"
    "       mnemo -h HOST -p PORT saga status ID [--name SAGA] [--json]\n"
    "\n"
    "list     every saga instance (SAGA.LIST), or those in STATE (running,\n"
    "         compensating, completed, compensated, failed): name, id, state,\n"
    "         current step\n"
    "status   one instance (SAGA.STATUS): its state, step, attempt, reason and\n"
    "         data, then its history, one state event a row (type, time, data);\n"
    "         --name says which saga when two have the id\n"
    "\n"
    "--json prints one object per line: list {\"name\",\"id\",\"state\",\"step\"};\n"
    "status one object with the fields of SAGA.STATUS, data as JSON.\n";

static const char *list_head[] = {"NAME", "ID", "STATE", "STEP"};
static const char *hist_head[] = {"#", "TYPE", "TIME", "DATA"};

/* A string or nil element; anything else is a bad reply. */
static int str_or_nil(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL;
}

static void json_str_or_null(buf *b, const redisReply *r)
{
    if (r->type == REDIS_REPLY_NIL) buf_append_str(b, "null");
    else json_append_string(b, r->str, r->len);
}

/* A value that should be JSON (data fields): as JSON if it is, else as a
 * string, so the line stays valid. */
static void json_raw(buf *b, const redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING && json_is_valid(r->str, r->len))
        buf_append(b, r->str, r->len);
    else json_str_or_null(b, r);
}

static int list(cli *c, redisContext *ctx, const char *state)
{
    rcmd m;
    int rc = 0;
    table t;
    buf b;

    table_init(&t, 4, list_head);
    buf_init(&b);
    rcmd_init(&m, "SAGA.LIST");
    if (state) {
        rcmd_str(&m, "STATE");
        rcmd_str(&m, state);
    }
    redisReply *r = remote_call_array(ctx, &m, &rc);
    if (r == NULL) goto done;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *row = r->element[i];
        if (row->type != REDIS_REPLY_ARRAY || row->elements != 4) {
            rc = remote_bad_reply("SAGA.LIST");
            goto done;
        }
        for (size_t k = 0; k < 4; k++)
            if (!str_or_nil(row->element[k])) {
                rc = remote_bad_reply("SAGA.LIST");
                goto done;
            }
        if (c->json) {
            buf_append_str(&b, "{\"name\":");
            json_str_or_null(&b, row->element[0]);
            buf_append_str(&b, ",\"id\":");
            json_str_or_null(&b, row->element[1]);
            buf_append_str(&b, ",\"state\":");
            json_str_or_null(&b, row->element[2]);
            buf_append_str(&b, ",\"step\":");
            json_str_or_null(&b, row->element[3]);
            buf_append_str(&b, "}\n");
            if (out_flush(&b) != 0) {
                rc = CLI_EXIT_RUNTIME;
                goto done;
            }
            continue;
        }
        for (size_t k = 0; k < 4; k++) {
            if (row->element[k]->type == REDIS_REPLY_NIL) table_cell(&t, "-");
            else table_cell_text(&t, row->element[k]->str, row->element[k]->len, 60);
        }
    }
    if (c->json) rc = out_finish();
    else if (r->elements == 0) fprintf(stderr, "mnemo: no sagas%s%s\n", state ? " in state " : "",
                                       state ? state : "");
    else rc = table_print(&t);
done:
    freeReplyObject(r);
    table_free(&t);
    buf_free(&b);
    return rc;
}

/* The "history" value: an array of [type T timestamp MS data D]. */
static int history_ok(const redisReply *h)
{
    if (h->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < h->elements; i++) {
        const redisReply *e = h->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 6 ||
            e->element[1]->type != REDIS_REPLY_STRING ||
            e->element[3]->type != REDIS_REPLY_INTEGER || !str_or_nil(e->element[5]))
            return 0;
    }
    return 1;
}

static void time_cell(table *t, long long ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char when[32];
    if (gmtime_r(&s, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm))
        table_cell(t, "%s.%03lldZ", when, ms % 1000);
    else table_cell(t, "%lld", ms);
}

static int status(cli *c, redisContext *ctx, const char *id, const char *name)
{
    rcmd m;
    int rc = 0;
    buf b;
    table t;
    const redisReply *hist = NULL;

    buf_init(&b);
    table_init(&t, 4, hist_head);
    rcmd_init(&m, "SAGA.STATUS");
    rcmd_str(&m, id);
    if (name) {
        rcmd_str(&m, "NAME");
        rcmd_str(&m, name);
    }
    redisReply *r = remote_call(ctx, &m);
    if (r == NULL) {
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    if ((rc = remote_error(r, "SAGA.STATUS")) != 0) goto done;
    if (r->type == REDIS_REPLY_NIL) {
        fprintf(stderr, "mnemo: no saga with the id '%s'\n", id);
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        rc = remote_bad_reply("SAGA.STATUS");
        goto done;
    }
    for (size_t i = 0; i < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING) {
            rc = remote_bad_reply("SAGA.STATUS");
            goto done;
        }
        if (strcmp(k->str, "history") == 0) {
            if (!history_ok(v)) {
                rc = remote_bad_reply("SAGA.STATUS");
                goto done;
            }
            hist = v;
        } else if (v->type == REDIS_REPLY_ARRAY) {
            rc = remote_bad_reply("SAGA.STATUS");
            goto done;
        }
    }
    if (c->json) {
        buf_append_byte(&b, '{');
        for (size_t i = 0; i < r->elements; i += 2) {
            const redisReply *k = r->element[i], *v = r->element[i + 1];
            if (i) buf_append_byte(&b, ',');
            json_append_string(&b, k->str, k->len);
            buf_append_byte(&b, ':');
            if (v == hist) {
                buf_append_byte(&b, '[');
                for (size_t j = 0; j < hist->elements; j++) {
                    const redisReply *e = hist->element[j];
                    buf_append_str(&b, j ? ",{\"type\":" : "{\"type\":");
                    json_append_string(&b, e->element[1]->str, e->element[1]->len);
                    buf_printf(&b, ",\"timestamp\":%lld,\"data\":", e->element[3]->integer);
                    json_raw(&b, e->element[5]);
                    buf_append_byte(&b, '}');
                }
                buf_append_byte(&b, ']');
            } else if (v->type == REDIS_REPLY_INTEGER) {
                buf_printf(&b, "%lld", v->integer);
            } else if (strcmp(k->str, "data") == 0) {
                json_raw(&b, v);
            } else {
                json_str_or_null(&b, v);
            }
        }
        buf_append_str(&b, "}\n");
        rc = out_flush(&b) != 0 ? CLI_EXIT_RUNTIME : out_finish();
        goto done;
    }
    /* people: the fields one per line, then the history as a table */
    for (size_t i = 0; i < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (v == hist) continue;
        if (v->type == REDIS_REPLY_INTEGER) printf("%-16s %lld\n", k->str, v->integer);
        else if (v->type == REDIS_REPLY_NIL) printf("%-16s -\n", k->str);
        else printf("%-16s %.*s\n", k->str, (int)v->len, v->str);
    }
    if (hist && hist->elements) {
        printf("\n");
        for (size_t j = 0; j < hist->elements; j++) {
            const redisReply *e = hist->element[j];
            table_cell(&t, "%zu", j + 1);
            table_cell_text(&t, e->element[1]->str, e->element[1]->len, 40);
            time_cell(&t, e->element[3]->integer);
            if (e->element[5]->type == REDIS_REPLY_NIL) table_cell(&t, "-");
            else table_cell_value(&t, e->element[5]->str, e->element[5]->len, 100);
        }
        rc = table_print(&t);
    } else {
        rc = fflush(stdout) == 0 ? 0 : CLI_EXIT_RUNTIME;
    }
done:
    freeReplyObject(r);
    table_free(&t);
    buf_free(&b);
    return rc;
}

static int run(cli *c, int argc, char **argv)
{
    const char *state = NULL, *name = NULL;
    const cli_opt opts[] = {{"state", 1, &state, NULL, 0}, {"name", 1, &name, NULL, 0}};
    char *pos[2];
    int npos = 0, rc;
    redisContext *ctx = NULL;

    rc = cli_parse_args(c, &cli_cmd_saga, argc, argv, opts, 2, pos, 1, 2, &npos);
    if (rc != 0) return rc;
    int is_list = strcmp(pos[0], "list") == 0, is_status = strcmp(pos[0], "status") == 0;
    if (!is_list && !is_status)
        return cli_usage_error(&cli_cmd_saga, "unknown saga command '%s' (list or status)", pos[0]);
    if (is_list && (npos != 1 || name))
        return cli_usage_error(&cli_cmd_saga, "saga list takes no id and no --name");
    if (is_status && (npos != 2 || state))
        return cli_usage_error(&cli_cmd_saga, "saga status takes one ID and no --state");
    if (is_status && pos[1][0] == '\0')
        return cli_usage_error(&cli_cmd_saga, "an empty saga id");
    rc = remote_connect(c, &ctx);
    if (rc != 0) return rc;
    rc = is_list ? list(c, ctx, state) : status(c, ctx, pos[1], name);
    remote_free(ctx, NULL);
    return rc;
}

const cli_command cli_cmd_saga = {
    "saga", "show the server's sagas: list, status ID", usage, NULL, run, NULL,
};
