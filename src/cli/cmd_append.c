/*
 * cmd_append.c — `mnemo append`: one event to one stream, with the optional
 * expected-version check and event id of the engine's mn_append.
 *
 * Everything the engine would refuse as a bad argument is checked here first
 * (lengths, UUID, --meta), so that it is a usage error (exit 2) with a clear
 * message and the store is not even opened. The one condition only the
 * engine can judge, the expected version, exits 3 with nothing written.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/json.h"

static const char usage[] =
    "usage: mnemo append STREAM TYPE DATA [--expect E] [--id UUID] [--meta JSON]\n"
    "\n"
    "Appends one event to STREAM (created by its first event) and prints\n"
    "{\"stream\":..,\"version\":..,\"position\":..} once it is durable; a retry of an\n"
    "append with the same --id adds \"idempotent\":true and writes nothing.\n"
    "DATA is stored as given (usually JSON). Use '--' before a DATA that\n"
    "starts with '--'.\n"
    "\n"
    "Options:\n"
    "  --expect E    the stream's version must be: any (default, no check),\n"
    "                none (no events yet), exists (some events), or N (its\n"
    "                last event is version N). Else exit 3, nothing written.\n"
    "  --id UUID     the event id (default: a new UUIDv7); makes retries safe\n"
    "  --meta JSON   metadata, a JSON object\n"
    "                (e.g. {\"correlation_id\":\"..\",\"causation_id\":\"..\"})\n"
    "  --dir DIR, --fsync POLICY   as for every command (mnemo --help)\n"
    "  -h, --help    this text\n";

/* Words for a version in the wrong-version message. */
static const char *version_words(int64_t v, char *tmp, size_t n)
{
    if (v == MN_EXPECT_ANY) return "any";
    if (v == MN_EXPECT_NOSTREAM) return "no stream";
    if (v == MN_EXPECT_EXISTS) return "an existing stream";
    snprintf(tmp, n, "%lld", (long long)v);
    return tmp;
}

static int run(cli *c, int argc, char **argv)
{
    const char *expect_s = NULL, *id_s = NULL, *meta_s = NULL;
    const cli_opt opts[] = {
        {"expect", 1, &expect_s, NULL, 0},
        {"expected", 1, &expect_s, NULL, 0}, /* the remote form's name */
        {"id", 1, &id_s, NULL, 0},
        {"meta", 1, &meta_s, NULL, 0},
    };
    char *pos[3];
    int npos = 0, idempotent = 0, rc, err;
    mn_store *store = NULL;
    mn_event ev;
    mn_append_part part;
    size_t stream_len, type_len, data_len;
    buf out;

    buf_init(&out);
    memset(&ev, 0, sizeof ev);
    memset(&part, 0, sizeof part);
    part.expected = MN_EXPECT_ANY;

    rc = cli_parse_args(c, &cli_cmd_append, argc, argv, opts, sizeof opts / sizeof opts[0], pos,
                        3, 3, &npos);
    if (rc != 0) goto done;

    stream_len = strlen(pos[0]);
    type_len = strlen(pos[1]);
    data_len = strlen(pos[2]);
    rc = cli_check_append(&cli_cmd_append, pos[0], pos[1], expect_s, id_s, meta_s,
                          &part.expected, ev.id);
    if (rc != 0) goto done;

    ev.type = pos[1];
    ev.type_len = type_len;
    ev.data = pos[2];
    ev.data_len = data_len;
    if (meta_s != NULL) {
        ev.meta = meta_s;
        ev.meta_len = strlen(meta_s);
    }
    ev.entry_id_mode = MN_ID_AUTO;
    part.stream = pos[0];
    part.stream_len = stream_len;
    part.events = &ev;
    part.count = 1;

    rc = cli_open(c, 0, &store);
    if (rc != 0) goto done;
    err = mn_append(store, &part, 1, &idempotent);
    if (err == MN_EWRONGVERSION && (mn_errmsg() == NULL || mn_errmsg()[0] == '\0')) {
        char e[32], a[32];
        fprintf(stderr, "mnemo: %s: expected %s, stream %s%s\n", mn_strerror(err),
                version_words(part.expected, e, sizeof e),
                part.actual == MN_NO_VERSION ? "has no events" : "is at ",
                part.actual == MN_NO_VERSION ? "" : version_words(part.actual, a, sizeof a));
        rc = CLI_EXIT_VERSION;
        goto done;
    }
    if (err != MN_OK) {
        rc = cli_fail(err, NULL);
        goto done;
    }

    buf_append_str(&out, "{\"stream\":");
    json_append_string(&out, part.stream, part.stream_len);
    buf_printf(&out, ",\"version\":%lld,\"position\":%llu", (long long)part.version,
               (unsigned long long)part.position);
    if (idempotent) buf_append_str(&out, ",\"idempotent\":true");
    buf_append_str(&out, "}\n");
    if (out_flush(&out) != 0) {
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    rc = out_finish();

done:
    mn_close(store);
    buf_free(&out);
    return rc;
}

const cli_command cli_cmd_append = {
    "append", "append an event to a stream (with --expect, --id, --meta)", usage, run,
    cli_remote_append, cli_remote_append_usage,
};
