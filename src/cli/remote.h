/*
 * remote.h — the private contract of mnemo's remote mode: talking RESP2 to a
 * running mnemosyned through hiredis, the way redis-cli does.
 *
 *   remote.c        connecting and AUTH, one command in and its reply out,
 *                   server errors into messages and exit codes, and an ES.*
 *                   event reply (a flat field/value array) into an event view
 *   remote_read.c   reading events of a stream or a virtual stream ($all,
 *                   $ce-<category>, $et-<type>) forwards, backwards, and
 *                   following new ones (XREAD BLOCK as the doorbell)
 *   table.c         aligned tables for people
 *   cmd_remote.c    append, read and trace against a server
 *   cmd_remote_info.c  info (INFO persistence, ES.INFO)
 *   cmd_tail.c      tail [-f]
 *   cmd_dlq.c       dlq
 *   cmd_saga.c      saga list, saga status
 *
 * Only mnemo's remote files include hiredis; the local mode never does.
 * Replies are RESP2 (hiredis 0.14 has no RESP3): an ES.* event is the flat
 * array "stream S version V position P id U type T data D meta M timestamp
 * MS", TRACE adds "causation_id C depth N".
 */
#ifndef MN_CLI_REMOTE_H
#define MN_CLI_REMOTE_H

#include <signal.h>

#include <hiredis/hiredis.h>

#include "cli/cli.h"

/* At most this many arguments in one command built by mnemo. */
#define REMOTE_MAX_ARGS 16

/* A command being built: pointers to the caller's strings (which must outlive
 * the call), and numbers formatted into num[]. */
typedef struct rcmd {
    int argc;                           /* arguments so far */
    const char *argv[REMOTE_MAX_ARGS];  /* borrowed, or into num[] */
    size_t lens[REMOTE_MAX_ARGS];       /* their lengths */
    char num[REMOTE_MAX_ARGS][24];      /* storage of the numeric arguments */
} rcmd;

/* An event of an ES.* or TRACE reply. The pointers borrow the reply: valid
 * until it is freed. */
typedef struct remote_event {
    mn_event_view ev;         /* timestamp_us = the server's ms * 1000 */
    const char *causation;    /* TRACE: causation id, NULL when none */
    size_t causation_len;
    int64_t depth;            /* TRACE: depth in the causation tree, else 0 */
} remote_event;

/* Connects to c->host:c->port, sends AUTH when c->auth is set, and pings, so
 * that a wrong password or a server that is not there is reported here, as
 * one clear line, before the command runs. 0, or the exit code after
 * printing why. */
int remote_connect(const cli *c, redisContext **out);

/* Frees the reply r and closes ctx; either may be NULL. */
void remote_free(redisContext *ctx, redisReply *r);

void rcmd_init(rcmd *m, const char *name);
void rcmd_str(rcmd *m, const char *s);
void rcmd_mem(rcmd *m, const char *p, size_t n);
void rcmd_u64(rcmd *m, uint64_t v);
void rcmd_i64(rcmd *m, int64_t v);

/* Sends m and waits for the reply. Returns the reply (the caller frees it
 * with freeReplyObject), or NULL after printing the connection error. An
 * error reply is returned as such: see remote_error. */
redisReply *remote_call(redisContext *ctx, const rcmd *m);

/* remote_call for a command whose answer is an array: returns it, or NULL
 * after printing what went wrong (no reply, an error reply — named after the
 * command —, another type), with *rc the exit code. */
redisReply *remote_call_array(redisContext *ctx, const rcmd *m, int *rc);

/* If r is an error reply, prints "mnemo: <what>: <error text>" (with a hint
 * for NOAUTH) and returns its exit code: CLI_EXIT_VERSION for WRONGVERSION,
 * else CLI_EXIT_RUNTIME. Returns 0 if r is not an error. */
int remote_error(const redisReply *r, const char *what);

/* Reads the event r (an array of field/value pairs). 0, or -1 if r is not
 * an event (a message is printed). */
int remote_event_parse(const redisReply *r, remote_event *out);

/* Prints "mnemo: unexpected reply to <what>" and returns CLI_EXIT_RUNTIME:
 * the server answered something mnemo does not understand. */
int remote_bad_reply(const char *what);

/* ---- remote_read.c ------------------------------------------------------ */

/* What a name read by read/tail is. */
enum rs_kind {
    RS_STREAM,     /* an ordinary stream: ES.READ by version */
    RS_ALL,        /* $all: ES.READALL by position */
    RS_CATEGORY,   /* $ce-<category>: ES.READALL CATEGORY */
    RS_TYPE,       /* $et-<type>: ES.READALL TYPE */
};

/* A stream or virtual stream to read from. Versions are the cursor of an
 * ordinary stream, global positions that of a virtual one. */
typedef struct rsource {
    redisContext *ctx;     /* borrowed */
    const char *name;      /* as given: "orders-1", "$all", "$ce-orders" */
    enum rs_kind kind;
    const char *filter;    /* category or type, into name; NULL for the others */
} rsource;

/* Called for each event read, in the order of the read; a non-zero return
 * stops the read and is returned by it (an exit code). */
typedef int (*rs_emit)(void *arg, const remote_event *e);

/* Fills s for name (which must outlive it). 0, or a usage error printed
 * (e.g. "$ce-" with no category, an unknown "$x"). */
int rs_init(rsource *s, redisContext *ctx, const char *name, const cli_command *cmd);

/* Reads at most limit events (UINT64_MAX: all) starting at cursor `from`
 * (a version or a position; has_from 0: the first event, or the last one
 * backwards), forwards or backwards, calling emit for each. A missing
 * ordinary stream is an error (exit 4, as in local mode); a virtual stream is
 * never missing. Returns 0 or an exit code (printed). */
int rs_read(const rsource *s, int backward, int has_from, uint64_t from, uint64_t limit,
            rs_emit emit, void *arg);

/* The cursor of the event that would come after the last `n` events (the
 * start of a `tail -n N`): *from is set so that rs_read forwards from it
 * gives the last n events, then the new ones. 0 or an exit code. */
int rs_last(const rsource *s, uint64_t n, uint64_t *from);

/* Set by a signal handler to end rs_follow (which then returns 0, and the
 * connection errors its shutdown causes are not reported). */
extern volatile sig_atomic_t remote_stop;

/* Follows s from cursor from: emits each event as it is appended, blocking
 * between them, until remote_stop is set (the handler also shuts the socket
 * down, which ends the blocking read) or an error. Returns 0 when stopped,
 * or an exit code. */
int rs_follow(const rsource *s, uint64_t from, rs_emit emit, void *arg);

/* The cursor after event e: its version + 1, or its position + 1. */
uint64_t rs_next(const rsource *s, const remote_event *e);

/* ---- table.c ------------------------------------------------------------ */

/* An aligned table for people: columns padded to the widest cell seen so far
 * (in characters, UTF-8 aware); the last column is not padded. Rows are held
 * until table_print, which may be called again for more rows (tail -f): the
 * widths only grow, the header is printed once. */
typedef struct table {
    size_t ncols;          /* number of columns */
    const char **head;     /* column titles, borrowed */
    size_t *width;         /* per column: the widest so far */
    char **cells;          /* rows * ncols strings, owned */
    size_t ncells, cap;    /* cells used and allocated */
    int head_done;         /* the header was printed */
    int oom;               /* an allocation failed: table_print reports it */
} table;

void table_init(table *t, size_t ncols, const char **head);
void table_free(table *t);

/* Adds the next cell (of the current row, which is complete after ncols
 * cells) as printf would format it. */
void table_cell(table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds the next cell from p[0..n), made printable: valid JSON compacted on
 * one line, anything else as a JSON string; cut to max characters with "…". */
void table_cell_value(table *t, const void *p, size_t n, size_t max);

/* The same for a name (stream, type, group...): shown as it is unless it has
 * control bytes (then as a JSON string, escaped). */
void table_cell_text(table *t, const void *p, size_t n, size_t max);

/* Prints the rows held (after the header, the first time) and drops them.
 * Returns 0 or CLI_EXIT_RUNTIME (output failed, printed). */
int table_print(table *t);

/* The shared way to show an event to people: the columns and the row. */
extern const char *table_event_head[];
#define TABLE_EVENT_COLS 6
void table_event_row(table *t, const remote_event *e);

/* Events to stdout, as a table (buffered up to EVPRINT_ROWS rows at a
 * time) or, with json, as JSON Lines (output.c's out_event_json, one line
 * written as soon as it is made). */
#define EVPRINT_ROWS 1000
typedef struct evprint {
    int json;          /* JSON Lines instead of a table */
    table t;           /* the table */
    buf b;             /* a JSON line being made */
    uint64_t count;    /* events given so far */
} evprint;

void evprint_init(evprint *p, int json);
void evprint_free(evprint *p);
/* An rs_emit: arg is the evprint. */
int evprint_event(void *arg, const remote_event *e);
/* Prints what is held; 0 or an exit code. */
int evprint_flush(evprint *p);

#endif
