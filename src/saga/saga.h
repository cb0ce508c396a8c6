/*
 * saga.h — the saga orchestrator, as the server uses it.
 *
 * A saga definition (a Lua chunk returning {trigger, id, steps}) names a
 * sequence of steps; each step sends a command event to a service's stream
 * and waits for a reply event of its ok or fail type carrying the saga id
 * as correlation_id and the command's event id as causation_id. On a fail
 * reply, or a timeout after its retries, the compensations of the completed
 * steps are sent in reverse order.
 *
 * Durability: an instance's state is event-sourced in the stream
 * saga-<name>-<id>. Every transition is ONE atomic append holding the state
 * event(s) (with the expected version of that stream; a step's success and
 * the next step's send go together) and at most one command,
 * both with ids derived from (name, id, step, attempt) — so after a crash
 * the state says whether the command went out, and when it did not, the
 * command is sent again with the same id (and deduplicated by the store if
 * it had gone out after all). Definitions are events of the stream
 * saga-definitions (type SagaDefined, data = the Lua source).
 *
 * Threads: one runtime thread does all the work (Lua, reads, appends,
 * timers); appends are asynchronous so many instances share a group commit.
 * Requests (define, start, abort) are queued to it and answered through a
 * callback on that thread. Reads (status, list, counts) are thread-safe.
 *
 * Errors: -1 with a one-line message whose first word is the error code
 * ("ERR ...", "NOSAGA ...") meant to be sent to clients as it is.
 */
#ifndef MN_SAGA_H
#define MN_SAGA_H

#include <stddef.h>
#include <stdint.h>

#include "mnemosyne.h"
#include "util/buf.h"

#define SAGA_MAX_NAME 64
#define SAGA_MAX_ID 200
#define SAGA_ERR_MAX 512
#define SAGA_DEFS_STREAM "saga-definitions"

enum saga_state {
    SAGA_RUNNING = 0,
    SAGA_COMPENSATING = 1,
    SAGA_COMPLETED = 2,
    SAGA_COMPENSATED = 3,
    SAGA_FAILED = 4,
    SAGA_NSTATES = 5,
};

/* "running", "compensating", ... */
const char *saga_state_name(int state);
/* The state named s (case-insensitive), or -1. */
int saga_state_parse(const char *s);

typedef struct saga_rt saga_rt; /* opaque */

/* Opens the runtime on store: loads the definitions and every instance
 * from their streams, then defines (or redefines) every DIR/<name>.lua of
 * defs_dir (NULL: none) and starts the runtime thread, which resumes the
 * running instances where they were. */
int saga_rt_open(mn_store *store, const char *defs_dir, void (*log_fn)(int warn, const char *msg),
                 saga_rt **out, char *err, size_t errcap);
/* Stops the thread (in-flight appends are finished first) and frees all.
 * NULL is a no-op. Call before mn_close. */
void saga_rt_close(saga_rt *rt);

/* The answer to a request, called once on the runtime thread: rc 0 and a
 * value, or rc -1 and msg (a client error line). Must be quick. */
typedef void (*saga_done_fn)(void *ud, int rc, long long value, const char *msg);

/* SAGA.DEFINE: value 1 defined or changed, 0 unchanged. */
int saga_request_define(saga_rt *rt, const char *name, size_t name_len, const char *src,
                        size_t src_len, saga_done_fn done, void *ud);
/* SAGA.START: value 1 started, 0 an instance with that id exists already. */
int saga_request_start(saga_rt *rt, const char *name, size_t name_len, const char *id,
                       size_t id_len, const char *json, size_t json_len, saga_done_fn done,
                       void *ud);
/* SAGA.ABORT (name may be NULL when the id is unambiguous): value 1. */
int saga_request_abort(saga_rt *rt, const char *id, size_t id_len, const char *name,
                       size_t name_len, saga_done_fn done, void *ud);

/* The definition names of the instances with this id (0..n), into names
 * (each SAGA_MAX_NAME+1 bytes), at most cap. Returns how many exist. */
int saga_find(saga_rt *rt, const char *id, size_t id_len, char (*names)[SAGA_MAX_NAME + 1],
              int cap);

/* One instance as LIST shows it. Pointers valid during the callback. */
typedef struct saga_summary {
    const char *name;
    const char *id;
    size_t id_len;
    int state;
    const char *step;  /* current step's name, or "" */
} saga_summary;

/* Calls fn for every instance (state < 0: all; else only that state), in
 * start order. Stops when fn returns non-zero. */
void saga_list(saga_rt *rt, int state, int (*fn)(void *ud, const saga_summary *s), void *ud);

typedef struct saga_counts {
    uint64_t defined;                /* definitions */
    uint64_t by_state[SAGA_NSTATES]; /* instances per state */
    uint64_t started;                /* instances started since the server started */
    uint64_t trigger_errors;         /* trigger events whose id() failed or was unusable */
} saga_counts;
void saga_get_counts(saga_rt *rt, saga_counts *out);

/* ---- the fold of a saga stream (also what SAGA.STATUS shows) ---- */

enum saga_phase {
    SAGA_PH_SEND = 0,    /* step `step`, attempt `attempt` is to be sent */
    SAGA_PH_AWAIT = 1,   /* sent; waiting for a reply until deadline_ms (0: forever) */
    SAGA_PH_RETRY = 2,   /* timed out; resend at deadline_ms */
    SAGA_PH_FINISH = 3,  /* every step ok: SagaCompleted is to be written */
    SAGA_PH_COMP = 4,    /* compensating: comp_next and below are to be compensated */
    SAGA_PH_DONE = 5,    /* terminal */
};

typedef struct saga_fold {
    int state;              /* enum saga_state */
    int phase;              /* enum saga_phase */
    int step;               /* current step index */
    int attempt;            /* attempt of the current step (0 = first send) */
    char step_name[SAGA_MAX_NAME + 1]; /* its name ("" before the first send) */
    int completed;          /* steps 0..completed-1 got their ok reply */
    int comp_next;          /* highest step index still to compensate (-1: none) */
    int comp_failed;        /* compensations that could not be delivered */
    uint64_t deadline_ms;   /* PH_AWAIT timeout / PH_RETRY resend time, wall ms; 0 none */
    uint64_t await_from;    /* position of the last StepSent event */
    uint64_t step_from;     /* position of the current step's first StepSent: every
                               reply to any of its attempts comes after it */
    uint8_t cause[16];      /* the event that causes the next command */
    buf data;               /* the saga's data (JSON) */
    int64_t version;        /* the saga stream's version */
    uint64_t trigger_position; /* the triggering event's position (0: SAGA.START) */
    uint64_t started_ms;    /* when it started */
    uint64_t updated_ms;    /* its last transition */
    char reason[256];       /* why it failed / is compensating */
} saga_fold;

void saga_fold_init(saga_fold *f);
void saga_fold_free(saga_fold *f);
/* Applies one event of a saga stream. 0, or -1 if the event is not one the
 * runtime writes (it is then ignored). */
int saga_fold_apply(saga_fold *f, const char *type, size_t type_len, const char *data,
                    size_t data_len, const uint8_t id[16], uint64_t position, uint64_t ts_ms);
/* Reads and folds saga-<name>-<id>. 0, 1 if the stream does not exist, -1. */
int saga_fold_stream(mn_store *store, const char *name, const char *id, size_t id_len,
                     saga_fold *f);
/* The stream name saga-<name>-<id> into out (MN_MAX_STREAM_NAME + 1). Length or -1. */
int saga_stream_name(const char *name, const char *id, size_t id_len, char *out);

#endif
