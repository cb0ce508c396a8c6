/*
 * state.c — the saga stream: deterministic ids, and the fold of the state
 * events (SagaStarted, StepSent, ...) into where an instance stands. The
 * runtime folds the same events when it recovers and when its own appends
 * become durable, and SAGA.STATUS folds them to answer — one function
 * decides what a history means.
 *
 * State events are JSON objects with flat members (see docs/commands.md,
 * Sagas); the fold reads the members it needs and ignores the rest, so a
 * later version may add members.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saga/internal.h"
#include "util/json.h"

static const char *const state_names[SAGA_NSTATES] = {"running", "compensating", "completed",
                                                      "compensated", "failed"};

const char *saga_state_name(int state)
{
    return state >= 0 && state < SAGA_NSTATES ? state_names[state] : "unknown";
}

int saga_state_parse(const char *s)
{
    for (int i = 0; i < SAGA_NSTATES; i++)
        if (!strcasecmp(s, state_names[i]))
            return i;
    return -1;
}

/* ---- deterministic ids ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Two FNV-1a passes (forward and backward, different bases), each mixed:
 * 128 bits that stay the same across restarts and builds. Not meant to
 * resist crafted collisions; an accidental one costs a -DUPLICATE append,
 * which the runtime reports, never a wrong dedup across streams. */
static void hash128(const unsigned char *p, size_t n, uint8_t out[16])
{
    uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ p[i]) * 0x100000001b3ull;
        b = (b ^ p[n - 1 - i]) * 0x100000001b3ull;
    }
    a = mix64(a ^ n);
    b = mix64(b + a);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(b >> (56 - 8 * i));
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x80); /* version 8: custom (RFC 9562) */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* variant 10 */
}

void saga_derive_id(const char *name, const char *id, size_t id_len, char kind, int64_t a,
                    int64_t b, uint8_t out[16])
{
    buf k;
    buf_init(&k);
    buf_printf(&k, "mnemosyne-saga%c%s%c", 0, name, 0);
    buf_append(&k, id, id_len);
    buf_printf(&k, "%c%c%c%lld%c%lld", 0, kind, 0, (long long)a, 0, (long long)b);
    hash128((const unsigned char *)(k.data ? k.data : ""), k.len, out);
    buf_free(&k);
}

int saga_stream_name(const char *name, const char *id, size_t id_len, char *out)
{
    size_t n = strlen(name);
    if (5 + n + 1 + id_len > MN_MAX_STREAM_NAME)
        return -1;
    memcpy(out, "saga-", 5);
    memcpy(out + 5, name, n);
    out[5 + n] = '-';
    memcpy(out + 6 + n, id, id_len);
    out[6 + n + id_len] = '\0';
    return (int)(6 + n + id_len);
}

void saga_command_meta(buf *b, const char *name, const char *id, size_t id_len,
                       const uint8_t cause[16], const char *step)
{
    char u[37];
    mn_uuid_format(cause, u);
    buf_append_str(b, "{\"correlation_id\":");
    json_append_string(b, id, id_len);
    buf_printf(b, ",\"causation_id\":\"%s\",\"saga\":", u);
    json_append_string(b, name, strlen(name));
    buf_append_str(b, ",\"step\":");
    json_append_string(b, step, strlen(step));
    buf_append_byte(b, '}');
}

/* ---- JSON members ---- */

int saga_json_raw(const char *data, size_t len, const char *key, const char **val, size_t *vlen)
{
    return json_get_value(data, len, key, val, vlen);
}

int saga_json_int(const char *data, size_t len, const char *key, int64_t *out)
{
    const char *v;
    size_t n;
    char tmp[32];
    if (!json_get_value(data, len, key, &v, &n) || n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    char *end;
    long long x = strtoll(tmp, &end, 10);
    if (*end)
        return 0;
    *out = x;
    return 1;
}

static void json_str(const char *data, size_t len, const char *key, char *out, size_t cap)
{
    const char *v;
    size_t n;
    out[0] = '\0';
    if (json_get_string(data, len, key, &v, &n)) {
        if (n >= cap)
            n = cap - 1;
        memcpy(out, v, n);
        out[n] = '\0';
    }
}

static void json_uuid(const char *data, size_t len, const char *key, uint8_t out[16])
{
    const char *v;
    size_t n;
    if (json_get_string(data, len, key, &v, &n))
        mn_uuid_parse(v, n, out);
}

/* ---- the fold ---- */

void saga_fold_init(saga_fold *f)
{
    memset(f, 0, sizeof(*f));
    buf_init(&f->data);
    f->version = MN_NO_VERSION;
    f->comp_next = -1;
}

void saga_fold_free(saga_fold *f) { buf_free(&f->data); }

static void enter_compensation(saga_fold *f, const uint8_t cause[16], const char *reason)
{
    f->state = SAGA_COMPENSATING;
    f->phase = SAGA_PH_COMP;
    f->comp_next = f->completed - 1;
    f->deadline_ms = 0;
    memcpy(f->cause, cause, 16);
    snprintf(f->reason, sizeof f->reason, "%s", reason);
}

#define IS(lit) (tl == sizeof(lit) - 1 && !memcmp(type, lit, tl))

int saga_fold_apply(saga_fold *f, const char *type, size_t tl, const char *d, size_t n,
                    const uint8_t id[16], uint64_t position, uint64_t ts_ms)
{
    int64_t x = 0;
    char reason[256];
    const char *v;
    size_t vl;
    f->version++;
    f->updated_ms = ts_ms;
    if (IS("SagaStarted")) {
        f->state = SAGA_RUNNING;
        f->phase = SAGA_PH_SEND;
        f->step = f->attempt = f->completed = 0;
        f->started_ms = ts_ms;
        memcpy(f->cause, id, 16);
        json_uuid(d, n, "cause", f->cause);
        if (saga_json_int(d, n, "trigger_position", &x))
            f->trigger_position = (uint64_t)x;
        buf_reset(&f->data);
        if (saga_json_raw(d, n, "data", &v, &vl))
            buf_append(&f->data, v, vl);
        else
            buf_append_str(&f->data, "null");
        return 0;
    }
    if (IS("StepSent")) {
        f->phase = SAGA_PH_AWAIT;
        if (saga_json_int(d, n, "step", &x))
            f->step = (int)x;
        if (saga_json_int(d, n, "attempt", &x))
            f->attempt = (int)x;
        json_str(d, n, "name", f->step_name, sizeof f->step_name);
        f->deadline_ms = saga_json_int(d, n, "deadline_ms", &x) ? (uint64_t)x : 0;
        f->await_from = position;
        if (f->attempt == 0)
            f->step_from = position;
        return 0;
    }
    if (IS("StepSucceeded")) {
        if (saga_json_int(d, n, "step", &x))
            f->completed = (int)x + 1;
        json_uuid(d, n, "cause", f->cause);
        if (saga_json_raw(d, n, "data", &v, &vl)) {
            buf_reset(&f->data);
            buf_append(&f->data, v, vl);
        }
        f->deadline_ms = 0;
        if (saga_json_int(d, n, "last", &x) && x) {
            f->phase = SAGA_PH_FINISH;
        } else {
            f->phase = SAGA_PH_SEND;
            f->step = f->completed;
            f->attempt = 0;
        }
        return 0;
    }
    if (IS("StepTimedOut")) {
        if (saga_json_int(d, n, "retry_at_ms", &x) && x > 0) {
            f->phase = SAGA_PH_RETRY;
            f->deadline_ms = (uint64_t)x;
            f->attempt++;
            return 0;
        }
        snprintf(reason, sizeof reason, "step '%s' timed out", f->step_name);
        enter_compensation(f, id, reason);
        return 0;
    }
    if (IS("StepFailed") || IS("SagaAborted")) {
        uint8_t cause[16];
        memcpy(cause, id, 16);
        json_uuid(d, n, "cause", cause);
        json_str(d, n, "reason", reason, sizeof reason);
        enter_compensation(f, cause, reason);
        return 0;
    }
    if (IS("CompensationSent") || IS("CompensationFailed")) {
        if (saga_json_int(d, n, "step", &x))
            f->comp_next = (int)x - 1;
        if (IS("CompensationFailed"))
            f->comp_failed++;
        return 0;
    }
    if (IS("SagaCompleted") || IS("SagaCompensated") || IS("SagaFailed")) {
        f->state = IS("SagaCompleted") ? SAGA_COMPLETED
                   : IS("SagaCompensated") ? SAGA_COMPENSATED : SAGA_FAILED;
        f->phase = SAGA_PH_DONE;
        f->deadline_ms = 0;
        if (IS("SagaFailed"))
            json_str(d, n, "reason", f->reason, sizeof f->reason);
        return 0;
    }
    return -1;
}

int saga_fold_stream(mn_store *store, const char *name, const char *id, size_t id_len,
                     saga_fold *f)
{
    char sname[MN_MAX_STREAM_NAME + 1];
    int sl = saga_stream_name(name, id, id_len, sname);
    mn_iter *it = NULL;
    mn_event_view e;
    int rc;
    if (sl < 0)
        return 1;
    rc = mn_read_stream(store, sname, (size_t)sl, 0, 0, 0, &it);
    if (rc == MN_ENOTFOUND || rc == MN_EDELETED)
        return 1;
    if (rc != MN_OK)
        return -1;
    while ((rc = mn_iter_next(it, &e)) == 1)
        saga_fold_apply(f, e.type, e.type_len, e.data, e.data_len, e.id, e.position,
                        e.timestamp_us / 1000);
    mn_iter_free(it);
    if (rc < 0)
        return -1;
    return f->version == MN_NO_VERSION ? 1 : 0;
}
