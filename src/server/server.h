/*
 * server.h — the server's shared types and entry points: the global
 * `server` (configuration, clients, statistics, the store), clients, the
 * command table, deferred replies, blocked clients and cross-thread posts.
 *
 * Threads. Everything here belongs to the one network thread (the loop)
 * except server_post() / server_post_submit(), which any thread may call
 * (the engine's writer thread does, from mn_append_async callbacks and the
 * mn_set_notify hook), and server_log(), which is a single write(2).
 *
 * Reply ordering (the invariant the deferred/blocking machinery keeps):
 * a client's replies leave in the order of its requests. A command either
 * replies before returning, or defers (client_defer) and gets a placeholder
 * slot in the client's output at that point; the writer never sends past
 * an unfinished slot. While a client has a deferred reply outstanding, its
 * next command is not started — except that a command flagged
 * CMD_PIPELINE_DEFER may start while every outstanding deferred reply also
 * comes from such commands (pipelined appends then share one group commit,
 * and because the writer thread applies appends in queue order, a client
 * still sees its own writes). A blocked client starts nothing.
 */
#ifndef MN_SERVER_SERVER_H
#define MN_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "mnemosyne.h"
#include "dict.h"
#include "loop.h"
#include "resp.h"

#define MNEMOSYNE_SERVER_NAME "mnemosyne"
/* The Redis version we answer as (HELLO, INFO redis_version): clients and
 * tools gate features on it, and we implement the Redis 7.0 protocol. */
#define MN_REDIS_COMPAT_VERSION "7.0.0"

typedef struct client client;
typedef struct command command;
typedef struct deferred deferred;

/* ------------------------------------------------------------------ */
/* Intrusive doubly linked lists (circular, with a sentinel head)       */
/* ------------------------------------------------------------------ */

typedef struct clink {
    struct clink *prev; /* previous node (the head's prev is the last) */
    struct clink *next; /* next node; NULL while not on a list */
} clink;

void clist_init(clink *head);
void clist_push(clink *head, clink *n);    /* append; no-op if n is on a list */
void clist_unlink(clink *n);               /* no-op if n is on no list */
int clist_empty(const clink *head);
#define CLIST_ENTRY(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------ */
/* Commands                                                             */
/* ------------------------------------------------------------------ */

typedef void cmd_fn(client *c);

enum {
    CMD_WRITE = 1u << 0,          /* may change the store */
    CMD_READONLY = 1u << 1,       /* only reads */
    CMD_PUBSUB = 1u << 2,         /* a pub/sub command (COMMAND INFO flag) */
    CMD_NO_MULTI = 1u << 3,       /* refused inside MULTI */
    CMD_ADMIN = 1u << 4,          /* administrative */
    CMD_LOADING = 1u << 5,        /* allowed while loading */
    CMD_FAST = 1u << 6,           /* O(1) or O(log N) */
    CMD_NO_AUTH = 1u << 7,        /* allowed before AUTH */
    CMD_STALE = 1u << 8,          /* allowed with stale data (Redis flag, for COMMAND) */
    CMD_BLOCKING = 1u << 9,       /* may block the client */
    CMD_DENYOOM = 1u << 10,       /* may grow memory (Redis flag, for COMMAND) */
    CMD_PIPELINE_DEFER = 1u << 11,/* may start while earlier deferred replies of
                                     the same client (from such commands) are
                                     outstanding: see the header comment */
    CMD_MULTI_NOW = 1u << 12,     /* runs at once inside MULTI (MULTI EXEC DISCARD QUIT RESET) */
    CMD_SUBSCRIBED_OK = 1u << 13, /* allowed in RESP2 subscribed mode ((P)(UN)SUBSCRIBE PING QUIT RESET) */
    CMD_VIRTUAL_OK = 1u << 14,    /* a write that may name a virtual stream: consumer-group
                                     state on $all/$ce-/$et- (no events are written) */
};

/* A static command description; each cmd_<family>.c exports an array
 * ended by CMD_END, listed in cmd_table.c. */
typedef struct cmd_def {
    const char *name;            /* lowercase ("xadd"; "setname" for CLIENT SETNAME) */
    cmd_fn *fn;                  /* handler; NULL for a container of subcommands */
    int arity;                   /* Redis semantics: N exactly, -N at least N (name included) */
    uint32_t flags;              /* CMD_* */
    int first_key;               /* first key argument, 0 if none */
    int last_key;                /* last key argument (-1: the last argument) */
    int key_step;                /* step between keys */
    const char *group;           /* COMMAND DOCS group ("connection", "server", "generic",
                                    "pubsub", "transactions", "stream") */
    const char *since;           /* first Redis version with it */
    const char *summary;         /* one line for COMMAND DOCS */
    const char *complexity;      /* for COMMAND DOCS; may be NULL */
    const struct cmd_def *subcommands; /* for containers: CMD_END-terminated array */
} cmd_def;

#define CMD_END {0}

/* The run-time command: a def plus statistics. */
struct command {
    const cmd_def *def;          /* its description */
    char fullname[72];           /* "get", or "client|setname" */
    command *parent;             /* container, or NULL */
    command **subs;              /* subcommands in table order */
    size_t nsubs;                /* how many */
    dict *subdict;               /* lowercase subcommand name -> command* */
    uint64_t calls;              /* INFO commandstats: times run */
    uint64_t usec;               /* total run time (handler only; not waits) */
    uint64_t rejected;           /* refused before running (arity, auth, ...) */
    uint64_t failed;             /* ran and replied an error */
};

/* Family tables (one cmd_<family>.c each). */
extern const cmd_def conn_commands[];   /* cmd_conn.c */
extern const cmd_def admin_commands[];  /* cmd_admin.c */
extern const cmd_def keys_commands[];   /* cmd_keys.c */
extern const cmd_def pubsub_commands[]; /* cmd_pubsub.c */
extern const cmd_def multi_commands[];  /* cmd_multi.c */
extern const cmd_def stream_commands[]; /* cmd_stream.c: the stream/group commands (lead) */
extern const cmd_def es_commands[];     /* cmd_es.c: ES.* and TRACE */
extern const cmd_def projection_commands[]; /* cmd_projection.c: PROJECTION.* */
extern const cmd_def saga_commands[];   /* cmd_saga.c: SAGA.* */
extern const cmd_def group_commands[];  /* cmd_group.c: XGROUP XREADGROUP XACK XPENDING XCLAIM
                                           XAUTOCLAIM XINFO */
extern const cmd_def queue_commands[];  /* cmd_queue.c: QUEUE.POLICY QUEUE.REPLAY */

int cmd_table_init(void);               /* builds server.commands; 0 or -1 */
void cmd_table_free(void);
/* Looks up a top-level command by name, any case. NULL if unknown. */
command *cmd_lookup(const char *name, size_t len);
/* Looks up a subcommand of a container, any case. */
command *cmd_lookup_sub(command *parent, const char *name, size_t len);

/* ------------------------------------------------------------------ */
/* Clients                                                              */
/* ------------------------------------------------------------------ */

enum {
    CLIENT_AUTHED = 1u << 0,          /* passed AUTH (or no password configured at connect) */
    CLIENT_CLOSE_AFTER_REPLY = 1u << 1,/* close once the output is sent (QUIT, protocol error) */
    CLIENT_CLOSE_ASAP = 1u << 2,      /* close in before_sleep, output dropped */
    CLIENT_MULTI = 1u << 3,           /* between MULTI and EXEC/DISCARD */
    CLIENT_DIRTY_EXEC = 1u << 4,      /* a command was refused while queueing: EXEC aborts */
    CLIENT_PUBSUB = 1u << 5,          /* has at least one (pattern) subscription */
    CLIENT_REPLY_OFF = 1u << 6,       /* CLIENT REPLY OFF */
    CLIENT_REPLY_SKIP_NEXT = 1u << 7, /* CLIENT REPLY SKIP: suppress the next command's reply */
    CLIENT_REPLY_SKIP = 1u << 8,      /* suppressing the current command's reply */
    CLIENT_PROCESSING = 1u << 9,      /* inside process_input (no re-entry) */
    CLIENT_IN_EXEC = 1u << 10,        /* running the commands queued by MULTI */
    CLIENT_PENDING_WRITE = 1u << 11,  /* on server.pending_write */
    CLIENT_WRITE_HANDLER = 1u << 12,  /* a loop write handler is installed */
};

typedef int block_retry_fn(client *c, void *priv);
typedef void block_timeout_fn(client *c, void *priv);
typedef void block_free_fn(void *priv);

/* One command queued by MULTI, with its own copy of the arguments. */
typedef struct multi_cmd {
    command *cmd;                /* resolved command (subcommand if any) */
    int argc;                    /* argument count */
    char **argv;                 /* argument pointers into one allocation */
    size_t *argvlen;             /* argument lengths */
} multi_cmd;

struct client {
    uint64_t id;                 /* CLIENT ID; unique, increasing */
    int fd;                      /* socket; -1 once closed */
    int resp;                    /* protocol: 2 or 3 */
    uint32_t flags;              /* CLIENT_* */
    char *name;                  /* CLIENT SETNAME, or NULL */
    char *lib_name;              /* CLIENT SETINFO LIB-NAME, or NULL */
    char *lib_ver;               /* CLIENT SETINFO LIB-VER, or NULL */
    char addr[64];               /* peer "ip:port" */
    char laddr[64];              /* local "ip:port" */
    int64_t ctime_ms;            /* connect time (monotonic ms) */
    int64_t last_ms;             /* last interaction (monotonic ms) */

    /* input */
    char *qb;                    /* query buffer; NULL while idle */
    size_t qb_len;               /* bytes in qb */
    size_t qb_cap;               /* qb capacity */
    size_t qb_start;             /* start of the current (unprocessed) command in qb */
    resp_req req;                /* parser state of the current command */
    int req_ready;               /* 1: req holds a complete command not yet run (gated) */
    int argc;                    /* arguments of the running command */
    char **argv;                 /* their pointers (NUL-terminated strings) */
    size_t *argvlen;             /* their lengths */
    int argv_cap;                /* capacity of argv/argvlen */
    char *argv_copy;             /* non-NULL: argv points here (blocked command) */
    command *cmd;                /* command running now (or blocked/deferred) */
    command *lastcmd;            /* last command run (CLIENT LIST cmd=) */
    command *err_cmd;            /* command whose failed_calls an error reply counts to */
    int cmd_failed;              /* err_cmd already counted a failure in this call */

    /* output */
    ochain out;                  /* replies, in request order */
    ochain *target;              /* where reply_* writes now; NULL = discard */
    int64_t soft_limit_since;    /* ms when the soft output limit was first
                                    exceeded, 0 if under it */

    /* deferred replies */
    clink deferreds;             /* outstanding deferred replies (deferred.link) */
    int ndeferred;               /* how many */
    int ndeferred_strict;        /* of which from commands without CMD_PIPELINE_DEFER */

    /* blocking */
    int blocked;                 /* 1 while parked by client_block */
    int64_t block_deadline;      /* monotonic ms, 0 = no timeout */
    loop_timer *block_timer;     /* its timer, or NULL */
    block_retry_fn *block_retry; /* try to serve again */
    block_timeout_fn *block_timeout; /* reply on timeout (NULL: null array) */
    block_free_fn *block_free;   /* releases block_priv */
    void *block_priv;            /* the command's state while blocked */

    /* pub/sub */
    dict *channels;              /* subscribed channels (values unused), or NULL */
    dict *patterns;              /* subscribed patterns (values unused), or NULL */

    /* MULTI */
    multi_cmd *mq;               /* queued commands */
    int mq_len;                  /* how many queued */
    int mq_cap;                  /* capacity */
    int exec_next;               /* EXEC in progress: next queued index; -1 otherwise */

    /* lists */
    clink all;                   /* server.clients */
    clink pending_write;         /* server.pending_write */
    clink resume;                /* server.resume: has input to process again */
    clink close_asap;            /* server.close_asap */
    clink blocked_link;          /* server.blocked */
    clink paused;                /* server.paused: waits for another client's EXEC */

    /* a reply that failed half-way (client_reply_failed) */
    reply_mark reply_start;      /* where the running command's reply began */
    int reply_failed;            /* MN_E* of the failure, 0 if none */
    char reply_failed_msg[256];
};

/* Deferred reply: see the header comment and client_defer(). */
struct deferred {
    client *c;                   /* the client, NULL once it has disconnected */
    oblock *slot;                /* its placeholder in c->out, NULL when discarded */
    ochain out;                  /* the reply being produced */
    command *cmd;                /* command it answers (failed_calls accounting) */
    int strict;                  /* command lacked CMD_PIPELINE_DEFER */
    int discard;                 /* reply suppressed (CLIENT REPLY OFF/SKIP) */
    int begun;                   /* deferred_client() was called */
    ochain *saved_target;        /* c->target before deferred_client() */
    command *saved_err_cmd;      /* c->err_cmd before deferred_client() */
    clink link;                  /* c->deferreds */
};

/* A command handler that cannot reply yet calls client_defer(c) and
 * returns; later, on the loop thread, the reply is written with
 *     client *c = deferred_client(d);   // NULL if the client has gone
 *     if (c) reply_...(c, ...);
 *     deferred_done(d);                  // always; frees d
 * The handler must copy whatever it needs from c->argv before returning:
 * the arguments are not kept. client_defer returns NULL on OOM (the
 * handler then replies at once). Typical use with the engine:
 *     d = client_defer(c);
 *     if (mn_append_async(store, parts, n, on_durable, ctx) != MN_OK) {
 *         reply_error(c, ...);  deferred_done(d);   // replies into the slot
 *     }
 * where on_durable (writer thread) copies the result into ctx and calls
 * server_post(finish, ctx); finish (loop thread) does the three lines above.
 * Replying between client_defer() and the handler's return goes to the
 * deferred slot too only after deferred_client(d). */
deferred *client_defer(client *c);
client *deferred_client(deferred *d);
void deferred_done(deferred *d);

/* Parks c (a command handler calls this and returns without replying)
 * until retry(c, priv) returns 1 or timeout_ms passes (0: forever), then
 * calls on_timeout(c, priv) (NULL: reply a null array). retry runs from
 * server_retry_blocked() (the store advanced); it returns 1 when it has
 * replied — or deferred — and 0 to keep waiting. free_priv(priv) is called
 * exactly once, when the block ends or the client disconnects. c->argv
 * stays valid (a copy) while blocked. Refused (-1) inside EXEC (callers
 * answer at once there, as Redis does) or on OOM. */
int client_block(client *c, int64_t timeout_ms, block_retry_fn *retry,
                 block_timeout_fn *on_timeout, block_free_fn *free_priv, void *priv);
/* Ends the block (without replying), frees priv, resumes the client. */
void client_unblock(client *c);
/* The running command's reply cannot be completed (a read failed after
 * part of it was written): when the command returns, what it replied is
 * taken back and the error below is the reply. The first failure counts. */
void client_reply_failed(client *c, int rc, const char *msg);
/* EXEC isolation: while raised, only c's commands run (client.c). */
void exec_barrier_raise(client *c);
void exec_barrier_lift(void);
/* Lifts the barrier if c holds it and its EXEC is wholly answered. */
void exec_barrier_check(client *c);
/* Calls retry on every blocked client (after the store advanced). */
void server_retry_blocked(void);

int client_in_exec(const client *c);
void client_close_asap(client *c);
/* Called by resp.c after bytes were appended to c->out: schedules the
 * write and enforces the output-buffer limit. */
void client_output_added(client *c);
/* Which output-buffer-limit class c is in: 0 normal, 1 replica, 2 pubsub. */
int client_obl_class(const client *c);
/* The CLIENT LIST line of c into buf (NUL-terminated, ends with '\n'). */
void client_info_line(client *c, char *buf, size_t cap);
void client_set_resp(client *c, int resp);
/* Recomputes c->target from its CLIENT REPLY flags. */
void client_reset_target(client *c);

/* Network setup and housekeeping (client.c). */
int server_listen(void);
void server_stop_listening(void);
void server_before_sleep(loop *l, void *ud);
void clients_free_all(void);
void clients_cron(void);               /* idle buffers, timeouts (every 100 ms) */
void clients_stop_reading(void);       /* shutdown: no new commands */
int clients_pending_output(void);      /* 1 if some output could still be written */
/* 1 if c may start cmd now (the reply-ordering gate; see the top). */
int client_may_start_cmd(const client *c, const command *cmd);

/* Runs one command on c (the resolved cmd and c->argv set): statistics,
 * reply suppression, errors. For EXEC and cmd_table (client.c). */
void call(client *c, command *cmd);
/* Checks and runs or queues c's parsed command (client.c). */
void process_command(client *c);

/* ------------------------------------------------------------------ */
/* Cross-thread posts                                                   */
/* ------------------------------------------------------------------ */

/* A closure to run on the loop thread. Callers that cannot afford an
 * allocation failure embed one in their own state and use
 * server_post_submit(). */
typedef struct server_post_item {
    struct server_post_item *next; /* queue link */
    void (*fn)(void *arg);         /* runs on the loop thread */
    void *arg;                     /* its argument */
} server_post_item;

/* Thread-safe. Queues fn(arg) to run on the loop thread, in posting order.
 * 0, or -1 if out of memory (fn will not run). */
int server_post(void (*fn)(void *arg), void *arg);
/* Thread-safe; never fails. it must stay valid until it->fn runs. */
void server_post_submit(server_post_item *it);

/* Runs work(arg) on the server's background thread, then done(arg) on
 * the loop thread. For the synchronous engine calls that may fsync
 * (mn_delete_stream): the loop never waits for the disk. 0 or -1 (OOM). */
int server_bg(void (*work)(void *arg), void (*done)(void *arg), void *arg);

/* ------------------------------------------------------------------ */
/* Configuration and the server                                         */
/* ------------------------------------------------------------------ */

enum { LL_DEBUG = 0, LL_VERBOSE = 1, LL_NOTICE = 2, LL_WARNING = 3 };
enum { OBL_NORMAL = 0, OBL_REPLICA = 1, OBL_PUBSUB = 2, OBL_CLASSES = 3 };

typedef struct obl_limit {
    unsigned long long hard;     /* bytes; 0 = none */
    unsigned long long soft;     /* bytes; 0 = none */
    long long soft_seconds;      /* how long over soft before closing */
} obl_limit;

typedef struct server_config {
    int port;                    /* TCP port */
    char *bind;                  /* space-separated addresses */
    char *dir;                   /* store directory */
    int fsync_policy;            /* MN_FSYNC_* */
    uint32_t fsync_interval_ms;  /* for MN_FSYNC_INTERVAL */
    char *requirepass;           /* "" = none */
    int loglevel;                /* LL_* */
    uint64_t segment_size;       /* mn_options.segment_size (0 = engine default) */
    uint32_t max_event_size;     /* mn_options.max_event_size (0 = engine default) */
    int maxclients;              /* connection limit */
    long long proto_max_bulk_len;/* largest bulk argument */
    obl_limit obl[OBL_CLASSES];  /* client-output-buffer-limit per class */
    char *config_file;           /* absolute path of --config, or NULL */
    long long timeout;           /* idle client timeout, seconds (0 = never) */
    int repair;                  /* --repair: cut the log at mid-log damage on open */
    char *projections;           /* --projections DIR: *.lua definitions loaded at start */
    char *sagas;                 /* --sagas DIR: *.lua saga definitions loaded at start */
} server_config;

#define OPS_SAMPLES 16

struct server {
    server_config cfg;           /* settings (config.c) */
    mn_store *store;             /* the engine */
    loop *el;                    /* the event loop */
    int listen_fds[16];          /* listening sockets */
    int nlisten;                 /* how many */
    int sig_fd;                  /* signalfd for SIGTERM/SIGINT */
    int post_fd;                 /* eventfd that wakes the loop for posts */
    pthread_mutex_t post_lock;   /* guards post_head/post_tail */
    server_post_item *post_head; /* queued closures */
    server_post_item *post_tail; /* last queued */
    uint64_t next_client_id;     /* next CLIENT ID */
    clink clients;               /* every connected client */
    clink pending_write;         /* clients with output to write this iteration */
    clink resume;                /* clients to process again (deferred done, unblocked) */
    clink close_asap;            /* clients to close in before_sleep */
    clink blocked;               /* blocked clients */
    clink paused;                /* clients waiting for the EXEC barrier to lift */
    client *exec_barrier;        /* the client whose EXEC runs (isolation), or NULL */
    int retry_blocked_later;     /* blocked readers were due while the barrier stood */
    size_t nclients;             /* connected clients */
    size_t nblocked;             /* blocked clients (INFO blocked_clients) */
    size_t ndeferred;            /* deferred replies outstanding (all clients) */
    dict *commands;              /* lowercase name -> command* */
    command **cmdlist;           /* every top-level command, table order */
    size_t ncmds;                /* how many */
    dict *channels;              /* channel -> subscriber list (pubsub.c) */
    dict *patterns;              /* pattern -> subscriber list */
    dict *errors;                /* error code -> uint64_t count (errorstats) */
    int64_t start_ms;            /* start (monotonic ms) */
    int64_t start_wall_s;        /* start (epoch seconds) */
    char run_id[41];             /* random hex, as Redis */
    char executable[512];        /* path of the binary */
    uint64_t stat_numcommands;   /* total_commands_processed */
    uint64_t stat_numconnections;/* total_connections_received */
    uint64_t stat_rejected_conn; /* rejected_connections (maxclients) */
    uint64_t stat_net_in;        /* total_net_input_bytes */
    uint64_t stat_net_out;       /* total_net_output_bytes */
    uint64_t stat_errors;        /* total_error_replies */
    uint64_t stat_obl_disconnects; /* clients closed for output-buffer limits */
    uint64_t stat_reads;         /* total_reads_processed */
    uint64_t stat_writes;        /* total_writes_processed */
    uint64_t ops_samples[OPS_SAMPLES]; /* ops/sec samples (instantaneous_ops_per_sec) */
    int ops_idx;                 /* next sample slot */
    uint64_t ops_last_count;     /* stat_numcommands at the last sample */
    int64_t ops_last_ms;         /* time of the last sample */
    int shutdown_asap;           /* a signal asked us to stop */
    int64_t shutdown_deadline;   /* give up waiting for in-flight work at this ms */
    pthread_t bg_thread;         /* background worker (server_bg) */
    int bg_started;              /* bg_thread exists */
    uint64_t scan_seq;           /* SCAN cursor generator (cmd_keys.c) */
};

extern struct server server;

/* server.c */
void server_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int server_init_runtime(void);      /* loop, post queue, signals, cron, worker */
void server_stop_bg(void);          /* after the loop: join the worker, run posts */
void server_shutdown_runtime(void); /* after mn_close: run posts, flush, free clients */
void server_count_error(const char *msg);
void server_begin_shutdown(const char *why); /* as on SIGTERM */
void server_reset_stats(void);
uint64_t server_ops_per_sec(void);

/* config.c */
void config_defaults(server_config *cfg);
/* Parses argv (and --config FILE). On error prints and returns -1. */
int config_from_args(server_config *cfg, int argc, char **argv);
void config_free(server_config *cfg);
void cmd_config_get(client *c);
void cmd_config_set(client *c);
void cmd_config_resetstat(client *c);
void cmd_config_help(client *c);

/* cmd_pubsub.c (used by RESET and client teardown) */
void pubsub_unsubscribe_all(client *c, int notify);
size_t pubsub_count(const client *c);  /* channels + patterns of c */
size_t pubsub_nchannels(void);
size_t pubsub_npatterns(void);
/* Delivers msg on channel ch to its subscribers and matching patterns;
 * returns how many received it. */
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t msglen);
/* 1 if some channel or pattern may receive event notifications. */
int pubsub_notify_wanted(void);

/* notify.c: thin event notifications on channels under NOTIFY_PREFIX. */
#define NOTIFY_PREFIX "__mnemo__:"
#define NOTIFY_PREFIX_LEN 10
/* The first notification subscriber appeared: events from the store's
 * current end on are notified. */
void notify_start(void);
/* The store advanced to end (loop thread): publish what became visible. */
void notify_store_advanced(uint64_t end);

/* cmd_multi.c (used by RESET, process_command, client teardown) */
void multi_discard(client *c);
int multi_queue(client *c, command *cmd);
void exec_continue(client *c);

/* cmd_conn.c: the password check (constant time). */
int auth_check_password(const char *pass, size_t len);

/* cmd_queue.c, for XREADGROUP: 1 if the group has a pending entry due for
 * redelivery now. queue_poll_hold: if the group has a visibility timeout,
 * retries blocked clients periodically until the matching release, and
 * returns 1 (else 0, nothing held). */
int queue_due_now(const char *key, size_t klen, const char *group, size_t glen);
int queue_poll_hold(const char *key, size_t klen, const char *group, size_t glen);
void queue_poll_release(void);
/* Changes whenever a QUEUE.POLICY set succeeds (parked readers re-check). */
uint64_t queue_policy_epoch(void);
/* cmd_projection.c: the projection runtime, after the store is open;
 * shut down after the background worker (queries) and before mn_close. */
int projection_module_init(void);       /* 0 or -1 */
void projection_module_shutdown(void);  /* NULL-safe, idempotent */
/* cmd_saga.c: the saga runtime, after the store is open; shut down
 * before mn_close (it waits for its own appends). */
int saga_module_init(void);             /* 0 or -1 */
void saga_module_shutdown(void);        /* NULL-safe, idempotent */
void saga_module_info(char *out, size_t cap); /* the "# Sagas" INFO section */

/* cmd_stream.c: hooks the lead fills (may be empty). */
int stream_module_init(void);           /* after the store is open; 0 or -1 */
void stream_module_shutdown(void);      /* before the store closes */

#endif
