/*
 * internal.h — what the files of src/saga share: the parsed definition
 * (definition.c), deterministic ids and state-event encoding (state.c), and
 * the runtime's instances (runtime.c).
 */
#ifndef MN_SAGA_INTERNAL_H
#define MN_SAGA_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "lua/sandbox.h"
#include "saga/saga.h"

/* Budgets of a definition's sandbox: saga callbacks are small functions. */
#define SAGA_SBX_MEM (16u << 20)
#define SAGA_SBX_INSTR 10000000ull

/* Where a step sends a command. */
typedef struct saga_target {
    char *stream;           /* command stream (never '$...') */
    char *type;             /* command event type */
    int data_ref;           /* Lua function(saga) building its data; LUA_NOREF: saga.data */
} saga_target;

typedef struct saga_step {
    char *name;             /* unique within the definition */
    saga_target send;       /* the command */
    char *ok;               /* reply type that completes the step */
    char *fail;             /* reply type that fails it (NULL: only timeouts fail it) */
    int has_comp;           /* 1 if comp is set */
    saga_target comp;       /* the compensating command */
    uint64_t timeout_ms;    /* 0: wait for the reply forever */
    int retries;            /* resends after a timeout before giving up */
    uint64_t backoff_ms;    /* wait before the first resend; doubles each time */
    int on_ok_ref;          /* Lua function(saga, e) run on the ok reply; LUA_NOREF */
} saga_step;

/* Trigger sources. */
enum { SAGA_TRIG_STREAM = 0, SAGA_TRIG_ALL, SAGA_TRIG_CATEGORY, SAGA_TRIG_TYPE };

typedef struct saga_def {
    char name[SAGA_MAX_NAME + 1]; /* [A-Za-z0-9_.:], no '-' (it ends the name in saga-<name>-<id>) */
    char *src;              /* the Lua source */
    size_t src_len;
    sbx *sbx;               /* its sandbox (runtime thread only) */
    int id_ref;             /* Lua function(e) -> id */
    char *trigger;          /* the trigger stream as written */
    int trig_kind;          /* SAGA_TRIG_* */
    const char *trig_key;   /* category/type within trigger (or the stream name) */
    saga_step *steps;
    int nsteps;
} saga_def;

/* definition.c */
int sdef_valid_name(const char *name, size_t len);
/* Loads and checks src; *out owns a new sandbox. -1 and a message in err. */
int sdef_load(const char *name, size_t name_len, const char *src, size_t src_len,
              saga_def **out, char *err, size_t errcap);
void sdef_free(saga_def *d);
/* id(e): 1 and the id in out, 0 if it returned nil/false, -1 (err). */
int sdef_call_id(saga_def *d, const mn_event_view *e, buf *out, char *err, size_t errcap);
/* A target's data function (or the default: the saga data): the command
 * data into out. */
int sdef_command_data(saga_def *d, const saga_target *t, const char *id, size_t id_len,
                      const char *step, const buf *sdata, buf *out, char *err, size_t errcap);
/* on_ok(saga, e): the saga data after it into out (unchanged if no on_ok). */
int sdef_on_ok(saga_def *d, const saga_step *st, const char *id, size_t id_len,
               const buf *sdata, const mn_event_view *reply, buf *out, char *err,
               size_t errcap);
/* Pushes an event as the table scripts see ({id, stream, type, data, meta,
 * position, version, timestamp}). Raises on memory (call protected). */
void sdef_push_event(lua_State *L, const mn_event_view *e);

/* state.c */
/* A UUIDv8 derived from the parts (name, id, kind, a, b): the same inputs
 * give the same id after any restart. Not cryptographic. */
void saga_derive_id(const char *name, const char *id, size_t id_len, char kind, int64_t a,
                    int64_t b, uint8_t out[16]);
/* Ok/fail type matching and JSON members of state events. */
int saga_json_int(const char *data, size_t len, const char *key, int64_t *out);
int saga_json_raw(const char *data, size_t len, const char *key, const char **val, size_t *vlen);
/* The meta of a command: {"correlation_id":id,"causation_id":cause,"saga":name,"step":step} */
void saga_command_meta(buf *b, const char *name, const char *id, size_t id_len,
                       const uint8_t cause[16], const char *step);

#endif
