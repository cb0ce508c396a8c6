/*
 * cmd_read.c — `mnemo read` (one stream, by version) and `mnemo read-all`
 * ($all, every stream in global position order).
 *
 * Both open the store read-only and print one JSON object per event per line
 * (output.c), streaming: each event is written as it is read, so memory stays
 * flat however long the stream, and `| head` stops the read early.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char read_usage[] =
    "usage: mnemo read STREAM [--from V] [--count N] [--backward]\n"
    "\n"
    "Prints STREAM's events, one JSON object per line:\n"
    "{\"stream\",\"version\",\"position\",\"id\",\"type\",\"data\",\"meta\",\"timestamp\"}.\n"
    "data and meta are embedded when they are JSON, else strings; meta is null\n"
    "when absent. Exit 4 if there is no such stream.\n"
    "\n"
    "Options:\n"
    "  --from V      start at version V (default: the first event, or the last\n"
    "                one with --backward)\n"
    "  --count N     at most N events\n"
    "  --backward    newest first, from V down to version 0\n"
    "  --dir DIR     as for every command (mnemo --help)\n"
    "  -h, --help    this text\n";

static const char read_all_usage[] =
    "usage: mnemo read-all [--from P] [--count N]\n"
    "\n"
    "Prints the events of every stream in global order ($all), one JSON object\n"
    "per line, as 'mnemo read' does.\n"
    "\n"
    "Options:\n"
    "  --from P      start at the first event at or after global position P\n"
    "                (positions are those printed by append and read)\n"
    "  --count N     at most N events\n"
    "  --dir DIR     as for every command (mnemo --help)\n"
    "  -h, --help    this text\n";

/* Prints at most limit events of it (UINT64_MAX: all). Returns the exit code. */
static int print_events(mn_iter *it, uint64_t limit)
{
    mn_event_view ev;
    uint64_t n = 0;
    int rc = CLI_EXIT_OK, err = 0;
    buf b;

    buf_init(&b);
    while (n < limit && (err = mn_iter_next(it, &ev)) == 1) {
        out_event_json(&b, &ev);
        buf_append_byte(&b, '\n');
        if (out_flush(&b) != 0) {
            rc = CLI_EXIT_RUNTIME;
            goto done;
        }
        n++;
    }
    if (err < 0) {
        rc = cli_fail(err, "reading");
        goto done;
    }
    rc = out_finish();

done:
    buf_free(&b);
    return rc;
}

/* --count into the iterator's max_count and the printing limit. The engine's
 * 0 means "no limit", but --count 0 means no events: the read still happens
 * (a missing stream is still an error), nothing is printed. */
static int parse_count(const cli_command *cmd, const char *s, uint64_t *max_count,
                       uint64_t *limit)
{
    uint64_t n;

    *max_count = 0;
    *limit = UINT64_MAX;
    if (s == NULL) return 0;
    if (cli_parse_u64(s, UINT64_MAX, &n) != 0)
        return cli_usage_error(cmd, "bad --count '%s' (a number >= 0)", s);
    *max_count = n == 0 ? 1 : n;
    *limit = n;
    return 0;
}

static int run_read(cli *c, int argc, char **argv)
{
    const char *from_s = NULL, *count_s = NULL;
    int backward = 0;
    const cli_opt opts[] = {
        {"from", 1, &from_s, NULL, 0},
        {"count", 1, &count_s, NULL, 0},
        {"backward", 0, NULL, &backward, 0},
    };
    char *pos[1];
    int npos = 0, rc, err;
    uint64_t from_v = 0, max_count, limit;
    int64_t from;
    size_t stream_len;
    mn_store *store = NULL;
    mn_iter *it = NULL;

    rc = cli_parse_args(c, &cli_cmd_read, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1,
                        1, &npos);
    if (rc != 0) goto done;
    if (from_s != NULL && cli_parse_u64(from_s, INT64_MAX, &from_v) != 0) {
        rc = cli_usage_error(&cli_cmd_read, "bad --from '%s' (a version >= 0)", from_s);
        goto done;
    }
    rc = parse_count(&cli_cmd_read, count_s, &max_count, &limit);
    if (rc != 0) goto done;
    stream_len = strlen(pos[0]);
    if (stream_len == 0 || stream_len > MN_MAX_STREAM_NAME) {
        rc = cli_usage_error(&cli_cmd_read, "a stream name is 1 to %u bytes", MN_MAX_STREAM_NAME);
        goto done;
    }
    /* backward without --from starts at the last event */
    from = from_s != NULL ? (int64_t)from_v : (backward ? -1 : 0);

    rc = cli_open(c, 1, &store);
    if (rc != 0) goto done;
    err = mn_read_stream(store, pos[0], stream_len, from, max_count, backward, &it);
    if (err == MN_ENOTFOUND) {
        fprintf(stderr, "mnemo: no such stream: %s\n", pos[0]);
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    if (err == MN_EDELETED) {
        fprintf(stderr, "mnemo: stream %s is deleted\n", pos[0]);
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    if (err != MN_OK) {
        rc = cli_fail(err, "read");
        goto done;
    }
    rc = print_events(it, limit);

done:
    mn_iter_free(it);
    mn_close(store);
    return rc;
}

static int run_read_all(cli *c, int argc, char **argv)
{
    const char *from_s = NULL, *count_s = NULL;
    const cli_opt opts[] = {
        {"from", 1, &from_s, NULL, 0},
        {"count", 1, &count_s, NULL, 0},
    };
    char *pos[1];
    int npos = 0, rc, err;
    uint64_t from = 0, max_count, limit;
    mn_store *store = NULL;
    mn_iter *it = NULL;

    rc = cli_parse_args(c, &cli_cmd_read_all, argc, argv, opts, sizeof opts / sizeof opts[0], pos,
                        0, 0, &npos);
    if (rc != 0) goto done;
    if (from_s != NULL && cli_parse_u64(from_s, UINT64_MAX, &from) != 0) {
        rc = cli_usage_error(&cli_cmd_read_all, "bad --from '%s' (a position >= 0)", from_s);
        goto done;
    }
    rc = parse_count(&cli_cmd_read_all, count_s, &max_count, &limit);
    if (rc != 0) goto done;

    rc = cli_open(c, 1, &store);
    if (rc != 0) goto done;
    err = mn_read_all(store, from, max_count, &it);
    if (err != MN_OK) {
        rc = cli_fail(err, "read-all");
        goto done;
    }
    rc = print_events(it, limit);

done:
    mn_iter_free(it);
    mn_close(store);
    return rc;
}

const cli_command cli_cmd_read = {
    "read", "print a stream's events (JSON lines; a table remotely)", read_usage, run_read,
    cli_remote_read, cli_remote_read_usage,
};

const cli_command cli_cmd_read_all = {
    "read-all", "print every stream's events in global order", read_all_usage, run_read_all,
    cli_remote_read_all, cli_remote_read_all_usage,
};
