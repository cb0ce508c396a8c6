/*
 * internal.h — what the projection layer's files share: the generation
 * (one read model being built or answering) and the registry.
 *
 * Ownership and locking:
 *  - reg->admin is taken first by every change (see proj_registry);
 *    reg->mu guards the list of projections, their cur/next pointers and
 *    every inst's refs. An inst is freed when it has been stopped (thread
 *    joined) and its refs dropped to zero.
 *  - inst->mu guards want_pause/stop and the error text; the counters that
 *    STATUS reads are atomics written by the inst's own thread.
 *  - inst->L, inst->db and the statement cache belong to the inst's thread
 *    alone (created and used there). Queries use their own read-only
 *    connection (inst->ro, under inst->ro_mu).
 */
#ifndef MN_PROJECTION_INTERNAL_H
#define MN_PROJECTION_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include <sqlite3.h>

#include "lua/sandbox.h"
#include "projection/projection.h"

#define PROJ_STMT_CACHE 32   /* prepared statements kept per read model */
#define PROJ_BATCH_EVENTS 5000 /* most events in one SQLite transaction */
#define PROJ_BATCH_MS 200    /* and at most this long */
#define PROJ_LAG_CAP 10000   /* STATUS counts at most this many lagging events */
#define PROJ_HANDLER_MS 10000/* SQL of one handler call may run this long */

typedef struct proj proj;
typedef struct proj_inst proj_inst;

enum { SRC_ALL = 0, SRC_CATEGORY, SRC_TYPE, SRC_STREAM };

typedef struct stmt_slot {
    char *sql;               /* its text (owned), NULL if free */
    size_t len;
    sqlite3_stmt *st;        /* prepared */
} stmt_slot;

struct proj_inst {
    proj_registry *reg;      /* owner */
    proj *p;                 /* the projection it belongs to */
    uint64_t gen;            /* generation number (file name) */
    char *src;               /* the definition (owned) */
    size_t src_len;
    int src_kind;            /* SRC_* */
    char source[MN_MAX_STREAM_NAME + 8]; /* as written in the definition */
    char *key;               /* category, type or stream name (into source) */
    size_t key_len;
    char path[PATH_MAX];     /* the read model's file */

    /* the thread's own */
    sbx *sb;                 /* Lua sandbox */
    int handlers_ref;        /* registry ref of the handlers table */
    int init_ref;            /* registry ref of init, LUA_NOREF if none */
    int db_ref;              /* registry ref of the `db` userdata */
    struct lev_ctx *lev;     /* event tables' context (lua/event.h), in the state */
    char **types;            /* event types that have a handler (C copy, for skipping) */
    size_t ntypes;
    sqlite3 *db;             /* read-write connection */
    stmt_slot cache[PROJ_STMT_CACHE]; /* prepared statements */
    size_t cache_next;       /* next slot to replace */
    int64_t sql_deadline_ms; /* progress-handler deadline of the running call */
    int in_handler;          /* authorizer: user SQL is running */
    pthread_t th;            /* the thread */
    int started;             /* th exists */

    /* shared */
    pthread_mutex_t mu;      /* guards what follows up to the atomics */
    pthread_cond_t cv;       /* signalled on pause/stop changes */
    int want_pause;          /* PAUSE asked */
    int stop;                /* stop asked (drop, switch, shutdown) */
    int retry;               /* RESUME of a failed inst: try again */
    int ready;               /* setup done (database open, init run) or failed */
    char err[PROJ_ERR_MAX];  /* last error, "" if none */
    uint64_t err_pos;        /* position of the event that failed */
    _Atomic int state;       /* enum proj_state */
    _Atomic uint64_t next_pos;     /* every source event before this is applied */
    _Atomic int64_t next_version;  /* SRC_STREAM: next stream version to apply */
    _Atomic uint64_t events;       /* source events processed */
    _Atomic uint64_t rate_milli;   /* events/s * 1000, recently */
    _Atomic int caught_up;         /* has reached the store's end at least once */

    int refs;                /* under reg->mu: queries using it + the registry's own */
    pthread_mutex_t ro_mu;   /* guards ro */
    sqlite3 *ro;             /* read-only connection for queries, opened lazily */
};

struct proj {
    char name[PROJ_MAX_NAME + 1];
    proj_inst *cur;          /* answers queries */
    proj_inst *next;         /* being built (new version or RESET), or NULL */
    int paused;              /* durable PAUSE */
    proj *link;              /* registry list, name order */
};

struct proj_registry {
    mn_store *store;
    char dir[PATH_MAX - 128];/* DIR/projections (room left for file names) */
    void (*on_progress)(void *ud);
    void *ud;
    pthread_mutex_t admin;   /* serializes the changes (create, drop, pause,
                                reset, switch) and their file writes; never
                                held while joining a thread */
    pthread_mutex_t mu;      /* see the top; held only briefly, never over I/O */
    proj *list;              /* projections, name order */
};

/* definition.c: loads a definition into sb: checks it returns {source,
 * init, handlers}, copies the source into source_out, the handled types into
 * *types (malloc'ed, def_free_types), and leaves refs to handlers and init
 * (LUA_NOREF if none) in the state's registry. With source_out NULL (an
 * ES.FOLD reducer) there is no source to check. 0 or -1 with err. */
int def_load(sbx *sb, const char *src, size_t len, const char *name, char *source_out,
             size_t cap, char ***types, size_t *ntypes, int *handlers_ref, int *init_ref,
             char *err, size_t errcap);
void def_free_types(char **types, size_t n);
/* The same in a scratch sandbox: is this a valid definition? */
int def_check(const char *src, size_t len, const char *name, char *source_out, size_t cap,
              char *err, size_t errcap);
/* Splits a source into kind and key. -1 if not a valid source. */
int def_parse_source(const char *source, int *kind, const char **key, size_t *key_len);

/* pdb.c: the read model's SQLite side. */
int pdb_open(proj_inst *in, char *err, size_t errcap);
void pdb_close(proj_inst *in);
/* Reads the checkpoint; 1 if there is none yet (a new read model). */
int pdb_load_checkpoint(proj_inst *in, char *err, size_t errcap);
int pdb_exec_simple(proj_inst *in, const char *sql, char *err, size_t errcap);
int pdb_save_checkpoint(proj_inst *in, uint64_t next_pos, int64_t next_version, uint64_t events,
                        char *err, size_t errcap);
/* Pushes the `db` object for Lua (registers its metatable once). */
void pdb_push_lua(proj_inst *in);

/* runner.c */
int runner_start(proj_inst *in, char *err, size_t errcap);
/* Asks the thread to stop and joins it. */
void runner_stop(proj_inst *in);

/* registry.c: called by a next generation's thread once it has caught up. */
void registry_switch(proj_inst *in);
/* Drops a reference to in; frees it when it was the last. Takes reg->mu. */
void registry_unref(proj_inst *in);

/* query.c */
void query_close(proj_inst *in);

#endif
