/*
 * test_saga.c — the saga layer's pure parts (src/saga): derived ids stay the
 * same for the same inputs and differ otherwise; the fold of a saga stream
 * gives state, step, compensation cursor and data; definitions are checked
 * (and their functions called) in the sandbox. The runtime itself is tested
 * through the server (tests/integration/test_50_sagas.py).
 */
#include "harness.h"

#include "saga/internal.h"

static const char *const DEF =
    "return { trigger = { stream = '$et-Go' }, id = function(e) return e.data.k end,"
    " steps = {"
    "  { name = 'a', send = { stream = 'sa', type = 'A' }, ok = 'AOk', fail = 'ANo',"
    "    compensate = { stream = 'sa', type = 'UndoA' }, timeout_ms = 10, retries = 1 },"
    "  { name = 'b', send = { stream = 'sb', type = 'B',"
    "      data = function(saga) return { twice = saga.data.x * 2 } end },"
    "    ok = 'BOk', on_ok = function(saga, e) saga.data.r = e.data.r end } } }";

TEST(derived_ids_are_stable_and_distinct)
{
    uint8_t a[16], b[16], c[16], d[16];
    saga_derive_id("order", "o-1", 3, 'c', 0, 0, a);
    saga_derive_id("order", "o-1", 3, 'c', 0, 0, b);
    ASSERT_EQ(memcmp(a, b, 16), 0);
    saga_derive_id("order", "o-1", 3, 'c', 0, 1, c);  /* another attempt */
    saga_derive_id("order", "o-1", 3, 'k', 0, 0, d);  /* the compensation */
    ASSERT(memcmp(a, c, 16) != 0);
    ASSERT(memcmp(a, d, 16) != 0);
    saga_derive_id("orde", "ro-1", 4, 'c', 0, 0, b);  /* name/id boundary */
    ASSERT(memcmp(a, b, 16) != 0);
    ASSERT_EQ(a[6] >> 4, 8);                          /* UUIDv8 */
    ASSERT_EQ(a[8] >> 6, 2);                          /* RFC 9562 variant */
    char text[37];
    mn_uuid_format(a, text);
    uint8_t back[16];
    ASSERT_EQ(mn_uuid_parse(text, 36, back), MN_OK);
}

static void apply(saga_fold *f, const char *type, const char *data, uint64_t pos)
{
    uint8_t id[16] = {0};
    id[15] = (uint8_t)pos;
    ASSERT_EQ(saga_fold_apply(f, type, strlen(type), data, strlen(data), id, pos, 1000 + pos), 0);
}

TEST(fold_happy_then_failure)
{
    saga_fold f;
    saga_fold_init(&f);
    apply(&f, "SagaStarted", "{\"data\":{\"x\":1},\"trigger_position\":77}", 1);
    ASSERT_EQ(f.state, SAGA_RUNNING);
    ASSERT_EQ(f.phase, SAGA_PH_SEND);
    ASSERT_EQ(f.trigger_position, 77);
    ASSERT_STR_EQ(f.data.data, "{\"x\":1}");
    apply(&f, "StepSent", "{\"step\":0,\"name\":\"a\",\"attempt\":0,\"deadline_ms\":500}", 2);
    ASSERT_EQ(f.phase, SAGA_PH_AWAIT);
    ASSERT_EQ(f.deadline_ms, 500);
    ASSERT_EQ(f.step_from, 2);
    apply(&f, "StepTimedOut", "{\"step\":0,\"attempt\":0,\"retry_at_ms\":900}", 3);
    ASSERT_EQ(f.phase, SAGA_PH_RETRY);
    ASSERT_EQ(f.attempt, 1);
    apply(&f, "StepSent", "{\"step\":0,\"name\":\"a\",\"attempt\":1,\"deadline_ms\":0}", 4);
    ASSERT_EQ(f.step_from, 2); /* replies to attempt 0 still count */
    apply(&f, "StepSucceeded", "{\"step\":0,\"last\":0,\"data\":{\"x\":2}}", 5);
    ASSERT_EQ(f.completed, 1);
    ASSERT_EQ(f.step, 1);
    ASSERT_EQ(f.phase, SAGA_PH_SEND);
    ASSERT_STR_EQ(f.data.data, "{\"x\":2}");
    apply(&f, "StepSent", "{\"step\":1,\"name\":\"b\",\"attempt\":0}", 6);
    apply(&f, "StepFailed", "{\"step\":1,\"reason\":\"no\"}", 7);
    ASSERT_EQ(f.state, SAGA_COMPENSATING);
    ASSERT_EQ(f.comp_next, 0);
    ASSERT_STR_EQ(f.reason, "no");
    ASSERT_EQ(f.cause[15], 7);
    apply(&f, "CompensationFailed", "{\"step\":0,\"reason\":\"gone\"}", 8);
    ASSERT_EQ(f.comp_next, -1);
    ASSERT_EQ(f.comp_failed, 1);
    apply(&f, "SagaFailed", "{\"reason\":\"1 compensation(s) could not be delivered\"}", 9);
    ASSERT_EQ(f.state, SAGA_FAILED);
    ASSERT_EQ(f.phase, SAGA_PH_DONE);
    ASSERT_EQ(f.version, 8);
    ASSERT_EQ(saga_fold_apply(&f, "Other", 5, "{}", 2, f.cause, 10, 1), -1);
    saga_fold_free(&f);
}

TEST(state_names)
{
    ASSERT_STR_EQ(saga_state_name(SAGA_COMPENSATED), "compensated");
    ASSERT_EQ(saga_state_parse("RUNNING"), SAGA_RUNNING);
    ASSERT_EQ(saga_state_parse("sleeping"), -1);
    char name[MN_MAX_STREAM_NAME + 1];
    ASSERT_EQ(saga_stream_name("order", "o-1", 3, name), 14);
    ASSERT_STR_EQ(name, "saga-order-o-1");
}

TEST(definition_and_calls)
{
    saga_def *d = NULL;
    char err[512];
    ASSERT_EQ(sdef_load("t", 1, DEF, strlen(DEF), &d, err, sizeof err), 0);
    ASSERT_EQ(d->nsteps, 2);
    ASSERT_EQ(d->trig_kind, SAGA_TRIG_TYPE);
    ASSERT_STR_EQ(d->trig_key, "Go");
    ASSERT_EQ(d->steps[0].retries, 1);
    ASSERT_EQ(d->steps[0].has_comp, 1);
    ASSERT_EQ(d->steps[1].has_comp, 0);
    ASSERT(d->steps[1].fail == NULL);

    mn_event_view e;
    memset(&e, 0, sizeof e);
    e.stream = "s";
    e.stream_len = 1;
    e.type = "Go";
    e.type_len = 2;
    e.data = "{\"k\":\"id-9\"}";
    e.data_len = strlen(e.data);
    buf out, sdata;
    buf_init(&out);
    buf_init(&sdata);
    ASSERT_EQ(sdef_call_id(d, &e, &out, err, sizeof err), 1);
    ASSERT_STR_EQ(out.data, "id-9");
    e.data = "{}";
    e.data_len = 2;
    ASSERT_EQ(sdef_call_id(d, &e, &out, err, sizeof err), 0);

    buf_append_str(&sdata, "{\"x\":21}");
    ASSERT_EQ(sdef_command_data(d, &d->steps[1].send, "id-9", 4, "b", &sdata, &out, err,
                                sizeof err), 0);
    ASSERT_STR_EQ(out.data, "{\"twice\":42}");
    ASSERT_EQ(sdef_command_data(d, &d->steps[0].send, "id-9", 4, "a", &sdata, &out, err,
                                sizeof err), 0);
    ASSERT_STR_EQ(out.data, "{\"x\":21}"); /* default: the saga data */
    e.type = "BOk";
    e.type_len = 3;
    e.data = "{\"r\":\"R\"}";
    e.data_len = strlen(e.data);
    ASSERT_EQ(sdef_on_ok(d, &d->steps[1], "id-9", 4, &sdata, &e, &out, err, sizeof err), 0);
    ASSERT(strstr(out.data, "\"r\":\"R\"") != NULL);
    ASSERT(strstr(out.data, "\"x\":21") != NULL);
    buf_free(&out);
    buf_free(&sdata);
    sdef_free(d);
}

TEST(bad_definitions)
{
    saga_def *d = NULL;
    char err[512];
    ASSERT_EQ(sdef_load("bad-name", 8, DEF, strlen(DEF), &d, err, sizeof err), -1);
    ASSERT(strstr(err, "saga name") != NULL);
    const char *src = "return { trigger = { stream = 'x' }, id = function() end, steps = {"
                      " { name = 'a', send = { stream = 's', type = 'T' }, ok = 'O', x = 1 } } }";
    ASSERT_EQ(sdef_load("n", 1, src, strlen(src), &d, err, sizeof err), -1);
    ASSERT_STR_EQ(err, "ERR saga definition: steps[1] has an unknown key 'x'");
    src = "local t = setmetatable({}, { __index = function() error('meta ran') end }) return t";
    ASSERT_EQ(sdef_load("n", 1, src, strlen(src), &d, err, sizeof err), -1);
    ASSERT(strstr(err, "meta ran") == NULL); /* raw reads only */
    src = "local s = {} for i = 1, 101 do s[i] = { name = 'a' .. i, send = { stream = 's',"
          " type = 'T' }, ok = 'O' } end return { trigger = { stream = 'x' },"
          " id = function() end, steps = s }";
    ASSERT_EQ(sdef_load("n", 1, src, strlen(src), &d, err, sizeof err), -1);
    ASSERT(strstr(err, "1..100 steps") != NULL);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(derived_ids_are_stable_and_distinct);
    RUN(fold_happy_then_failure);
    RUN(state_names);
    RUN(definition_and_calls);
    RUN(bad_definitions);
    return harness_summary();
}
