/*
 * cmd_admin.c — the operator's commands: `mnemo info` (the store, or one
 * stream, as JSON), `mnemo check` (verify every log record, change nothing)
 * and `mnemo reindex` (rebuild the derived indexes from the log).
 *
 * check and reindex work on the directory (mn_check / mn_reindex open it
 * themselves); info opens the store read-only. check's exit code is the
 * answer: 0 intact, 1 damaged (the position and what are printed), 4 when it
 * could not look (no such directory, I/O error...).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/clock.h"
#include "util/json.h"

static const char info_usage[] =
    "usage: mnemo info [STREAM]\n"
    "\n"
    "Without STREAM, prints the store as JSON: first_position, end_position,\n"
    "durable_position, streams, events, segments, log_bytes, read_only,\n"
    "fsync_policy. With STREAM, prints the stream: version, length,\n"
    "first_version, first_position, last_position, first_id, last_id,\n"
    "created, deleted, entries_added, max_deleted_id, groups. Exit 4 if there\n"
    "is no such stream.\n"
    "\n"
    "Options:\n"
    "  --dir DIR     as for every command (mnemo --help)\n"
    "  -h, --help    this text\n";

static const char check_usage[] =
    "usage: mnemo check\n"
    "\n"
    "Verifies the framing, CRC32C and payload of every record of the log, and\n"
    "the index against the seal of the last clean close, changing nothing.\n"
    "Exit 0 if intact; 1 if damaged, printing the global position of the first\n"
    "damage in the log and what is wrong there (a torn tail counts as damage),\n"
    "or that the index changed since it was sealed (the next read-write open\n"
    "rebuilds it from the log); 4 if the check could not run.\n"
    "\n"
    "Options:\n"
    "  --dir DIR     as for every command (mnemo --help)\n"
    "  -h, --help    this text\n";

static const char reindex_usage[] =
    "usage: mnemo reindex\n"
    "\n"
    "Rebuilds the derived indexes (DIR/index/) from the log alone, showing\n"
    "progress on stderr when it is a terminal, then prints a summary line.\n"
    "The store must not be open elsewhere (no running mnemosyned).\n"
    "\n"
    "Options:\n"
    "  --dir DIR     as for every command (mnemo --help)\n"
    "  -h, --help    this text\n";

/* check and reindex take a directory that must exist: say so plainly
 * rather than let the engine report whatever opening nothing gives. */
static int need_dir(const cli *c)
{
    struct stat st;

    if (stat(c->dir, &st) != 0) {
        fprintf(stderr, "mnemo: no store at %s: %s\n", c->dir, strerror(errno));
        return CLI_EXIT_RUNTIME;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "mnemo: no store at %s: not a directory\n", c->dir);
        return CLI_EXIT_RUNTIME;
    }
    return 0;
}

static const char *fsync_name(int policy)
{
    switch (policy) {
    case MN_FSYNC_ALWAYS: return "always";
    case MN_FSYNC_INTERVAL: return "interval";
    case MN_FSYNC_NEVER: return "never";
    default: return "unknown";
    }
}

static void store_info_json(buf *b, const cli *c, const mn_store_info *si)
{
    buf_append_str(b, "{\"dir\":");
    json_append_string(b, c->dir, strlen(c->dir));
    buf_printf(b,
               ",\"first_position\":%llu,\"end_position\":%llu,\"durable_position\":%llu"
               ",\"streams\":%llu,\"events\":%llu,\"segments\":%llu,\"log_bytes\":%llu"
               ",\"read_only\":%s,\"fsync_policy\":\"%s\"}\n",
               (unsigned long long)si->first_position, (unsigned long long)si->end_position,
               (unsigned long long)si->durable_position, (unsigned long long)si->streams,
               (unsigned long long)si->events, (unsigned long long)si->segments,
               (unsigned long long)si->log_bytes, si->read_only ? "true" : "false",
               fsync_name(si->fsync_policy));
}

static void stream_info_json(buf *b, const char *stream, size_t len, const mn_stream_info *si)
{
    buf_append_str(b, "{\"stream\":");
    json_append_string(b, stream, len);
    buf_printf(b,
               ",\"version\":%lld,\"length\":%llu,\"first_version\":%lld"
               ",\"first_position\":%llu,\"last_position\":%llu,\"first_id\":",
               (long long)si->version, (unsigned long long)si->length,
               (long long)si->first_version, (unsigned long long)si->first_position,
               (unsigned long long)si->last_position);
    out_entry_id(b, si->first_id);
    buf_append_str(b, ",\"last_id\":");
    out_entry_id(b, si->last_id);
    buf_append_str(b, ",\"created\":");
    out_timestamp(b, si->created_us);
    buf_printf(b, ",\"deleted\":%s,\"entries_added\":%llu,\"max_deleted_id\":",
               si->deleted ? "true" : "false", (unsigned long long)si->entries_added);
    out_entry_id(b, si->max_deleted_id);
    buf_printf(b, ",\"groups\":%llu}\n", (unsigned long long)si->groups);
}

static int run_info(cli *c, int argc, char **argv)
{
    char *pos[1];
    int npos = 0, rc, err;
    mn_store *store = NULL;
    buf b;

    buf_init(&b);
    rc = cli_parse_args(c, &cli_cmd_info, argc, argv, NULL, 0, pos, 0, 1, &npos);
    if (rc != 0) goto done;
    rc = cli_open(c, 1, &store);
    if (rc != 0) goto done;

    if (npos == 0) {
        mn_store_info si;
        memset(&si, 0, sizeof si);
        mn_store_info_get(store, &si);
        store_info_json(&b, c, &si);
    } else {
        mn_stream_info si;
        size_t len = strlen(pos[0]);
        memset(&si, 0, sizeof si);
        err = mn_stream_info_get(store, pos[0], len, &si);
        if (err == MN_ENOTFOUND) {
            fprintf(stderr, "mnemo: no such stream: %s\n", pos[0]);
            rc = CLI_EXIT_RUNTIME;
            goto done;
        }
        if (err != MN_OK) {
            rc = cli_fail(err, "info");
            goto done;
        }
        stream_info_json(&b, pos[0], len, &si);
    }
    if (out_flush(&b) != 0) {
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    rc = out_finish();

done:
    mn_close(store);
    buf_free(&b);
    return rc;
}

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* "check: 2 segments, 10 records (9 events), 4096 bytes <tail>" */
static void print_counts(const mn_check_report *rep, const char *tail)
{
    printf("check: %llu segment%s, %llu record%s (%llu event%s), %llu byte%s %s\n",
           (unsigned long long)rep->segments, plural(rep->segments),
           (unsigned long long)rep->records, plural(rep->records),
           (unsigned long long)rep->events, plural(rep->events),
           (unsigned long long)rep->bytes, plural(rep->bytes), tail);
}

static int run_check(cli *c, int argc, char **argv)
{
    char *pos[1];
    int npos = 0, rc, err;
    mn_check_report rep;

    memset(&rep, 0, sizeof rep);
    rc = cli_parse_args(c, &cli_cmd_check, argc, argv, NULL, 0, pos, 0, 0, &npos);
    if (rc != 0) goto done;
    rc = need_dir(c);
    if (rc != 0) goto done;

    err = mn_check(c->dir, &rep);
    if (err == MN_ECORRUPT) {
        rep.what[sizeof rep.what - 1] = '\0';
        printf("check: damage at position %llu: %s\n", (unsigned long long)rep.bad_position,
               rep.what[0] != '\0' ? rep.what : "damaged record");
        print_counts(&rep, "verified");
        rc = out_finish();
        if (rc == CLI_EXIT_OK) rc = CLI_EXIT_DAMAGE;
        goto done;
    }
    if (err == MN_ELOCKED) {
        rc = cli_fail_locked(c);
        goto done;
    }
    if (err != MN_OK) {
        rc = cli_fail(err, "check");
        goto done;
    }
    print_counts(&rep, "verified: intact");
    if (rep.index_seal > 0)
        printf("check: index sealed by a clean close and unchanged\n");
    else if (rep.index_seal == 0)
        printf("check: index not sealed (the store was not closed cleanly): not verified; "
               "it is derived from the log\n");
    else
        printf("check: %s; the next read-write open rebuilds it from the log\n", rep.what);
    rc = out_finish();
    if (rc == CLI_EXIT_OK && rep.index_seal < 0) rc = CLI_EXIT_DAMAGE;

done:
    return rc;
}

/* ---- reindex and its progress bar -------------------------------------- */

#define BAR_WIDTH 30
#define BAR_EVERY_US 100000u /* redraw at most 10 times a second */

typedef struct progress {
    int tty;              /* 1: draw the bar on stderr */
    int drawn;            /* 1 once something was drawn (needs a newline) */
    uint64_t last_draw_us;/* monotonic time of the last redraw */
    uint64_t done;        /* bytes done, as last reported */
    uint64_t total;       /* bytes in all, as last reported */
} progress;

static void draw(progress *p)
{
    char bar[BAR_WIDTH + 1];
    unsigned pct = 100, fill;

    if (p->total > 0 && p->done < p->total) pct = (unsigned)((double)p->done * 100 / p->total);
    fill = pct * BAR_WIDTH / 100;
    memset(bar, '#', fill);
    memset(bar + fill, '.', BAR_WIDTH - fill);
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\rreindex [%s] %3u%%  %.1f / %.1f MB", bar, pct, (double)p->done / 1e6,
            (double)p->total / 1e6);
    fflush(stderr);
    p->drawn = 1;
}

static void on_progress(void *ud, uint64_t done, uint64_t total)
{
    progress *p = ud;
    uint64_t now;

    p->done = done;
    p->total = total;
    if (!p->tty) return;
    now = clock_mono_us();
    if (p->drawn && now - p->last_draw_us < BAR_EVERY_US && done < total) return;
    p->last_draw_us = now;
    draw(p);
}

static int run_reindex(cli *c, int argc, char **argv)
{
    char *pos[1];
    int npos = 0, rc, err;
    progress p;
    uint64_t t0, elapsed;
    mn_options opts;
    mn_store *store = NULL;
    mn_store_info si;

    memset(&p, 0, sizeof p);
    rc = cli_parse_args(c, &cli_cmd_reindex, argc, argv, NULL, 0, pos, 0, 0, &npos);
    if (rc != 0) goto done;
    rc = need_dir(c);
    if (rc != 0) goto done;

    p.tty = isatty(STDERR_FILENO);
    t0 = clock_mono_us();
    err = mn_reindex(c->dir, on_progress, &p);
    elapsed = clock_mono_us() - t0;
    if (p.drawn && err != MN_OK) fputc('\n', stderr); /* leave the bar where it stopped */
    if (err == MN_ELOCKED) {
        rc = cli_fail_locked(c);
        goto done;
    }
    if (err != MN_OK) {
        rc = cli_fail(err, "reindex");
        goto done;
    }

    /* What the new index holds, as a last sanity check; best effort: the
     * reindex itself has succeeded whatever happens here. */
    memset(&si, 0, sizeof si);
    mn_options_init(&opts);
    opts.read_only = 1;
    opts.create = 0;
    if (mn_open(c->dir, &opts, &store) == MN_OK) mn_store_info_get(store, &si);
    else store = NULL;
    if (p.total == 0) p.total = si.log_bytes; /* progress was never reported */
    if (p.tty) {
        /* the finished bar, also when the log was too small for progress */
        p.done = p.total;
        draw(&p);
        fputc('\n', stderr);
    }
    if (p.total >= 1000000u)
        printf("reindex: rebuilt the indexes from %.1f MB of log in %.2f s",
               (double)p.total / 1e6, (double)elapsed / 1e6);
    else
        printf("reindex: rebuilt the indexes from %llu bytes of log in %.2f s",
               (unsigned long long)p.total, (double)elapsed / 1e6);
    if (store != NULL)
        printf(" (%llu event%s in %llu stream%s)", (unsigned long long)si.events,
               plural(si.events), (unsigned long long)si.streams, plural(si.streams));
    putchar('\n');
    rc = out_finish();

done:
    mn_close(store);
    return rc;
}

const cli_command cli_cmd_info = {
    "info", "the store, or one stream, as JSON", info_usage, run_info,
    cli_remote_info, cli_remote_info_usage,
};

const cli_command cli_cmd_check = {
    "check", "verify every record of the log, and the index's seal (exit 1 on damage)", check_usage, run_check, NULL, NULL,
};

const cli_command cli_cmd_reindex = {
    "reindex", "rebuild the derived indexes from the log", reindex_usage, run_reindex, NULL, NULL,
};
