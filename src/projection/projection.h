/*
 * projection.h — projections: Lua definitions folding events into SQLite read
 * models (the query side of CQRS), as the server uses them.
 *
 * A projection is a name, a definition (a Lua chunk returning {source, init,
 * handlers}) and a read model: DIR/projections/<name>.<generation>.db. Each
 * generation is built by its own thread from the event store's public read
 * API; the network thread only asks for status and runs queries elsewhere.
 * A new definition of an existing name (or RESET) starts the next generation
 * beside the current one; the current keeps answering queries until the next
 * has caught up with the store, then the registry switches atomically (one
 * pointer under the registry lock, and one rename on disk).
 *
 * Every function is thread-safe. Errors: -1 with a one-line message in err;
 * messages that start with a code word ("NOPROJECTION ...") are meant to be
 * sent to clients as they are.
 */
#ifndef MN_PROJECTION_H
#define MN_PROJECTION_H

#include <stddef.h>
#include <stdint.h>

#include "mnemosyne.h"
#include "util/buf.h"

#define PROJ_MAX_NAME 64
#define PROJ_MAX_DEFINITION (1u << 20) /* bytes of Lua in one definition */
#define PROJ_ERR_MAX 512

typedef struct proj_registry proj_registry; /* opaque */

enum proj_state {
    PROJ_RUNNING = 0, /* applying events (or waiting for new ones) */
    PROJ_PAUSED = 1,  /* PAUSE: keeps its position, applies nothing */
    PROJ_FAILED = 2,  /* a handler (or init, or SQL) failed: see last error */
    PROJ_STOPPED = 3, /* being dropped or switched away */
};

const char *proj_state_name(int state);

/* Opens the registry of the store in store_dir (DIR/projections/), loading
 * and starting every stored definition. on_progress(ud) is called from
 * projection threads after each commit (for waking waiting clients: it must
 * be quick and thread-safe). */
int proj_registry_open(mn_store *store, const char *store_dir,
                       void (*on_progress)(void *ud), void *ud, proj_registry **out,
                       char *err, size_t errcap);
/* Stops every thread and frees everything. NULL is a no-op. Call before
 * mn_close. */
void proj_registry_close(proj_registry *reg);

/* Creates name with definition src, or, when name exists with another
 * definition, starts building that as its next generation. *what says which:
 * "created", "rebuilding", "unchanged". The definition is checked first (it
 * must load in the sandbox and return a valid table) and is durable on disk
 * before this returns. */
int proj_create(proj_registry *reg, const char *name, size_t name_len, const char *src,
                size_t src_len, const char **what, char *err, size_t errcap);
/* Drops name: stops it, removes its definition and read models. */
int proj_drop(proj_registry *reg, const char *name, size_t name_len, char *err, size_t errcap);
/* Pauses / resumes (a failed projection retries its failed event). Durable. */
int proj_pause(proj_registry *reg, const char *name, size_t name_len, int pause, char *err,
               size_t errcap);
/* Rebuilds name from the start of the store, in the background. */
int proj_reset(proj_registry *reg, const char *name, size_t name_len, char *err, size_t errcap);

typedef struct proj_status {
    char name[PROJ_MAX_NAME + 1];
    char source[MN_MAX_STREAM_NAME + 8]; /* "$all", "$ce-x", "$et-x" or a stream */
    uint64_t generation;    /* which build of the read model answers queries */
    int state;              /* enum proj_state */
    uint64_t position;      /* every source event before this global position is applied */
    uint64_t events;        /* source events processed by this generation */
    uint64_t lag;           /* source events not processed yet */
    double rate;            /* events processed per second, recently */
    char last_error[PROJ_ERR_MAX]; /* "" if none */
    uint64_t error_position;/* the failing event's position (when last_error) */
    int rebuilding;         /* a next generation is being built */
    uint64_t next_generation;
    int next_state;
    uint64_t next_position;
    char next_error[PROJ_ERR_MAX];
} proj_status;

/* Status of one projection. -1 "NOPROJECTION ..." if unknown. */
int proj_get_status(proj_registry *reg, const char *name, size_t name_len, proj_status *out,
                    char *err, size_t errcap);
/* Calls fn for each projection in name order; non-zero from fn stops. The
 * statuses have lag 0 (not counted: see STATUS). */
int proj_list(proj_registry *reg, int (*fn)(void *ud, const proj_status *st), void *ud);

/* For read-your-writes: 1 if name has applied every source event before
 * position + 1 (so the event at `position` is in), 0 if not yet, -1 (err
 * set) if the projection is unknown or failed (it will not get there). */
int proj_reached(proj_registry *reg, const char *name, size_t name_len, uint64_t position,
                 char *err, size_t errcap);

/* A query result: rows of values. */
enum { PQ_NULL = 0, PQ_INT = 1, PQ_REAL = 2, PQ_TEXT = 3, PQ_BLOB = 4 };
typedef struct pq_value {
    int type;               /* PQ_* */
    int64_t i;              /* PQ_INT */
    double d;               /* PQ_REAL */
    char *p;                /* PQ_TEXT / PQ_BLOB bytes (owned) */
    size_t n;
} pq_value;
typedef struct proj_result {
    size_t rows;            /* rows */
    size_t cols;            /* columns per row */
    pq_value *v;            /* rows * cols values, row-major */
} proj_result;

#define PROJ_QUERY_MAX_BYTES (64u << 20) /* a result larger than this is refused */
#define PROJ_QUERY_MS 5000               /* a query running longer is interrupted */

/* Runs one read-only SQL statement with args (strict integers bound as
 * integers, everything else as text) on name's current read model.
 * Anything that would write is refused. Blocking: run it off the loop. */
int proj_query(proj_registry *reg, const char *name, size_t name_len, const char *sql,
               size_t sql_len, const char *const *args, const size_t *arg_lens, size_t nargs,
               proj_result *out, char *err, size_t errcap);
void proj_result_free(proj_result *r);

/* ES.FOLD: folds stream's events up to version `until` (-1: all) through
 * the reducer src ({init, handlers}) and appends the final state, as JSON,
 * to out. *version_out: the last version folded (MN_NO_VERSION if none).
 * Blocking (reads the stream, runs Lua): run it off the loop. */
int proj_fold(mn_store *store, const char *stream, size_t stream_len, const char *src,
              size_t src_len, int64_t until, buf *out, int64_t *version_out, char *err,
              size_t errcap);

#endif
