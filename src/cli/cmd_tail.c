/*
 * cmd_tail.c — `mnemo tail [-f] STREAM`: the last events of a stream or a
 * virtual stream, and with -f the new ones as they are appended, until
 * Ctrl-C.
 *
 * Like tail(1), -f first prints the last N events (default 10; -n 0 for none)
 * and then follows from just after them, so nothing appended in between is
 * missed — "follow from $" is -n 0. --from starts at a version (a position
 * for a virtual stream) instead.
 *
 * Ending: SIGINT and SIGTERM set remote_stop and shut the socket down, which
 * ends the blocking XREAD at once (hiredis retries a read interrupted by a
 * signal, so the flag alone would wait for the next event); a reader that
 * goes away (`| head`, SIGPIPE, ignored here so that the failed write is
 * seen) ends it too. Both are a normal end: exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli/remote.h"

static const char usage[] =
    "usage: mnemo -h HOST -p PORT tail STREAM [-f] [-n N] [--from N] [--json]\n"
    "\n"
    "Prints the last N events of STREAM — an ordinary stream, $all,\n"
    "$ce-<category> or $et-<type> — oldest first, as 'mnemo read' does. With\n"
    "-f, then waits for new events and prints each as it is appended, until\n"
    "Ctrl-C (exit 0). Following a stream that does not exist yet waits for it.\n"
    "\n"
    "Options:\n"
    "  -f, --follow  keep printing new events (XREAD BLOCK on STREAM)\n"
    "  -n, --count N the last N events first (default 10; -n 0: only new ones)\n"
    "  --from N      start at version N (a global position for a virtual\n"
    "                stream) instead of the last N\n"
    "  --json        JSON Lines instead of a table (one line per event, flushed)\n"
    "  --help        this text\n";

/* The socket the handler shuts down; -1 before the connection. */
static volatile int tail_fd = -1;

static void on_signal(int sig)
{
    (void)sig;
    remote_stop = 1;
    if (tail_fd >= 0) shutdown(tail_fd, SHUT_RDWR);
}

/* Prints each event at once (a table row, or a JSON line). A reader that
 * went away is the end of the tail, not an error. */
static int print_now(void *arg, const remote_event *e)
{
    evprint *p = arg;
    int rc = evprint_event(p, e);

    if (rc == 0 && !p->json) rc = table_print(&p->t); /* prints and flushes */
    /* line by line: a reader of a pipe sees each event as it comes */
    if (rc == 0 && p->json && fflush(stdout) != 0) rc = CLI_EXIT_RUNTIME;
    if (rc != 0 && errno == EPIPE) remote_stop = 1;
    return rc;
}

static int run(cli *c, int argc, char **argv)
{
    const char *count_s = NULL, *from_s = NULL;
    int follow = 0;
    const cli_opt opts[] = {
        {"follow", 0, NULL, &follow, 'f'},
        {"count", 1, &count_s, NULL, 'n'},
        {"from", 1, &from_s, NULL, 0},
    };
    char *pos[1];
    int npos = 0, rc;
    uint64_t n = 10, from = 0;
    redisContext *ctx = NULL;
    struct sigaction sa;
    rsource s;
    evprint p;

    evprint_init(&p, c->json);
    rc = cli_parse_args(c, &cli_cmd_tail, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1,
                        1, &npos);
    if (rc != 0) goto done;
    p.json = c->json; /* --json may come after the command */
    if (count_s != NULL && cli_parse_u64(count_s, UINT64_MAX, &n) != 0) {
        rc = cli_usage_error(&cli_cmd_tail, "bad -n '%s' (a number >= 0)", count_s);
        goto done;
    }
    if (from_s != NULL && cli_parse_u64(from_s, INT64_MAX, &from) != 0) {
        rc = cli_usage_error(&cli_cmd_tail, "bad --from '%s' (a number >= 0)", from_s);
        goto done;
    }
    rc = rs_init(&s, NULL, pos[0], &cli_cmd_tail);
    if (rc != 0) goto done;
    rc = remote_connect(c, &ctx);
    if (rc != 0) goto done;
    s.ctx = ctx;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: nothing to resume */
    sigemptyset(&sa.sa_mask);
    tail_fd = ctx->fd;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (from_s == NULL) {
        rc = rs_last(&s, n, &from);
        if (rc != 0) goto done;
    }
    if (follow) {
        rc = rs_follow(&s, from, print_now, &p);
    } else {
        rc = rs_read(&s, 0, 1, from, from_s != NULL ? n : UINT64_MAX, evprint_event, &p);
        if (rc == 0) rc = evprint_flush(&p);
    }
    if (remote_stop) rc = CLI_EXIT_OK;

done:
    tail_fd = -1;
    evprint_free(&p);
    remote_free(ctx, NULL);
    return rc;
}

const cli_command cli_cmd_tail = {
    "tail", "the last events of a stream; -f follows new ones", usage, NULL, run, NULL,
};
