/*
 * test_server_resp.c — the RESP parser's integers (src/server/resp.c):
 * resp_str2ll, which every integer argument and every multibulk and bulk
 * length goes through, against what Redis 7's string2ll accepts.
 *
 * Regression of fuzz_args/resp-str2ll-minus-zero (tests/fuzz/corpus): we
 * took "-0" as 0, Redis refuses it ("*-0" is an invalid multibulk length,
 * "XRANGE s - + COUNT -0" is not an integer). The same replies through a
 * real client: tests/integration/test_04_protocol.py (protocol errors) and
 * test_10_streams.py::test_minus_zero_is_not_an_integer.
 */
#include "harness.h"
#include "server/resp.h"

/* resp_str2ll on a C string: 1 and *out, or 0 (out untouched). */
static int str2ll(const char *s, long long *out)
{
    return resp_str2ll(s, strlen(s), out);
}

TEST(str2ll_canonical_decimals)
{
    long long v = 7;
    ASSERT_EQ(str2ll("0", &v), 1);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(str2ll("-1", &v), 1);
    ASSERT_EQ(v, -1);
    ASSERT_EQ(str2ll("9223372036854775807", &v), 1);
    ASSERT_EQ(v, 9223372036854775807ll);
    ASSERT_EQ(str2ll("-9223372036854775808", &v), 1);
    ASSERT_EQ(v, -9223372036854775807ll - 1);
}

TEST(str2ll_refuses_minus_zero)
{
    /* As Redis's string2ll: the first digit is 1-9 unless the string is "0" */
    static const char *bad[] = {"-0", "-00", "-01", "00", "01", "+1", "-", "", " 1", "1 ",
                                "9223372036854775808", "-9223372036854775809", "1x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        long long v = 42;
        if (str2ll(bad[i], &v) != 0) FAIL("resp_str2ll accepted \"%s\" as %lld", bad[i], v);
        ASSERT_EQ(v, 42);
    }
}

/* Parses one complete buffer; the RESP_* result, r->err filled on errors. */
static int parse(resp_req *r, const char *text)
{
    static char buf[256];
    size_t n = strlen(text);
    ASSERT_LT(n, sizeof buf);
    memcpy(buf, text, n + 1);
    resp_limits lim = {512 * 1024 * 1024, 1};
    resp_req_init(r);
    return resp_parse(r, buf, n, &lim);
}

TEST(minus_zero_lengths_are_protocol_errors)
{
    resp_req r;
    ASSERT_EQ(parse(&r, "*-0\r\n"), RESP_ERROR);
    ASSERT_STR_EQ(r.err, "Protocol error: invalid multibulk length");
    resp_req_free(&r);
    ASSERT_EQ(parse(&r, "*1\r\n$-0\r\n\r\n"), RESP_ERROR);
    ASSERT_STR_EQ(r.err, "Protocol error: invalid bulk length");
    resp_req_free(&r);
    /* what Redis does accept: an empty multibulk and a null one are skipped */
    ASSERT_EQ(parse(&r, "*0\r\n"), RESP_COMPLETE);
    ASSERT_EQ(r.argc, 0);
    resp_req_free(&r);
    ASSERT_EQ(parse(&r, "*-1\r\n"), RESP_COMPLETE);
    ASSERT_EQ(r.argc, 0);
    resp_req_free(&r);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(str2ll_canonical_decimals);
    RUN(str2ll_refuses_minus_zero);
    RUN(minus_zero_lengths_are_protocol_errors);
    return harness_summary();
}
