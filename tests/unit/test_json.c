/*
 * test_json.c — the strict validator (RFC 8259 + I-JSON text rules, see
 * json.h) and the string escaper, whose output must always validate.
 */
#include <string.h>

#include "harness.h"
#include "util/json.h"

/* A literal with its exact length, so cases may hold NUL bytes. */
typedef struct { const char *s; size_t n; } lit;
#define L(x) {x, sizeof(x) - 1}

static void expect_valid(const lit *cases, size_t count, int want, const char *file, int line)
{
    for (size_t i = 0; i < count; i++) {
        if (json_is_valid(cases[i].s, cases[i].n) != want) {
            fprintf(stderr, "    case %zu: ", i);
            harness_print_quoted(cases[i].s, cases[i].n);
            fputc('\n', stderr);
            harness_fail(file, line, "expected %s", want ? "valid" : "invalid");
        }
    }
}
#define EXPECT_ALL(cases, want) \
    expect_valid(cases, sizeof(cases) / sizeof(cases[0]), want, __FILE__, __LINE__)

TEST(valid_scalars)
{
    static const lit cases[] = {
        L("0"), L("-0"), L("1"), L("-1"), L("123"), L("1.5"), L("-0.0"), L("0.25"),
        L("1e5"), L("1E5"), L("1e+5"), L("1e-5"), L("-1.5e-300"), L("0e0"), L("1e999"),
        L("12345678901234567890123456789"), L("true"), L("false"), L("null"), L("\"\""),
        L("\"abc\""), L(" 1 "), L("\t\r\n 1\n"), L("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
        L("\"\\u0000\""), L("\"\\u00e9\\u00E9\""), L("\"\\uFFFF\""),
    };
    EXPECT_ALL(cases, 1);
}

TEST(invalid_scalars)
{
    static const lit cases[] = {
        L(""), L(" "), L("01"), L("-01"), L("00"), L("1."), L(".5"), L("+1"), L("-"),
        L("1e"), L("1e+"), L("1.e5"), L("0x10"), L("NaN"), L("Infinity"), L("-Infinity"),
        L("1 2"), L("tru"), L("truee"), L("True"), L("nul"), L("NULL"), L("'a'"), L("\""),
        L("\"abc"), L("\"\\\""), L("\"\\x\""), L("\"\\u12\""), L("\"\\u12G4\""),
        L("\"\\U0041\""), L("\"a\tb\""), L("\"a\nb\""), L("\"\x01\""), L("\"a\0b\""),
        L("1\0"), L("\0"), L("1 x"), L("\v1"), L("\f1"), L("\xc2\xa0 1"), L("- 1"),
    };
    EXPECT_ALL(cases, 0);
}

TEST(valid_containers)
{
    static const lit cases[] = {
        L("[]"), L("{}"), L(" [ ] "), L("{ }"), L("[1]"), L("[1,2,3]"), L("[[],[[]]]"),
        L("{\"a\":1}"), L("{\"a\":1,\"b\":[true,false,null]}"), L("{\"\":{}}"),
        L("{\"a\":1,\"a\":2}"), /* duplicate keys: not detected (see json.h) */
        L("[\"x\", {\"y\" : -0.5e1 } ]"), L("{\n  \"k\": \"v\"\n}\n"),
    };
    EXPECT_ALL(cases, 1);
}

TEST(invalid_containers)
{
    static const lit cases[] = {
        L("["), L("]"), L("{"), L("}"), L("[1,]"), L("[,1]"), L("[1 2]"), L("[1,,2]"),
        L("{\"a\"}"), L("{\"a\":}"), L("{\"a\" 1}"), L("{a:1}"), L("{'a':1}"), L("{1:1}"),
        L("{\"a\":1,}"), L("{,}"), L("[}"), L("{]"), L("[1]]"), L("[1]x"), L("{}{}"),
        L("[][]"), L("{\"a\":1}}"), L("[\"a\"\"b\"]"), L("{\"a\":1 \"b\":2}"), L("[1]\0"),
        L("{\"a\":[}"), L("[{]}"),
    };
    EXPECT_ALL(cases, 0);
}

/* Raw UTF-8 in strings must be well-formed (Unicode table 3-7). */
TEST(utf8_in_strings)
{
    static const lit good[] = {
        L("\"\xc3\xa9\""), L("\"\xe2\x82\xac\""), L("\"\xf0\x9f\x98\x80\""),
        L("\"\xef\xbf\xbf\""), L("\"\xf4\x8f\xbf\xbf\""), L("\"\xed\x9f\xbf\""),
        L("\"\xee\x80\x80\""), L("\"\x7f\""),
    };
    static const lit bad[] = {
        L("\"\xc3\""), L("\"\xc3x\""), L("\"\x80\""), L("\"\xbf\""), L("\"\xc0\x80\""),
        L("\"\xc1\xbf\""), L("\"\xe0\x80\x80\""), L("\"\xe0\x9f\xbf\""),
        L("\"\xed\xa0\x80\""), /* an encoded surrogate, U+D800 */
        L("\"\xed\xbf\xbf\""), L("\"\xf0\x80\x80\x80\""), L("\"\xf0\x8f\xbf\xbf\""),
        L("\"\xf4\x90\x80\x80\""), L("\"\xf5\x80\x80\x80\""), L("\"\xff\""), L("\"\xfe\""),
        L("\"\xe2\x82\""), L("\"\xf0\x9f\x98\""), L("\xc3\xa9"), L("\"\xe2\x82\xac"),
    };
    EXPECT_ALL(good, 1);
    EXPECT_ALL(bad, 0);
}

/* Decision (json.h): a \u surrogate must be a high one immediately followed
 * by an escaped low one; lone surrogates are invalid (as in I-JSON). */
TEST(surrogate_escapes)
{
    static const lit good[] = {
        L("\"\\ud83d\\ude00\""), L("\"\\uD83D\\uDE00\""), L("\"\\uDBFF\\uDFFF\""),
        L("\"\\uD800\\uDC00x\""), L("\"\\uD7FF\""), L("\"\\uE000\""),
    };
    static const lit bad[] = {
        L("\"\\ud83d\""), L("\"\\ude00\""), L("\"\\ud83dx\""), L("\"\\ud83d\\u0041\""),
        L("\"\\ud83d\\ud83d\""), L("\"\\ude00\\ud83d\""), L("\"\\ud83d\\n\""),
        L("\"\\ud83d\\\""), L("\"\\ud83d\\ude0\""), L("\"\\uDFFF\""), L("\"\\ud83d"),
    };
    EXPECT_ALL(good, 1);
    EXPECT_ALL(bad, 0);
}

static char *nested(size_t depth, const char *open, const char *inner, const char *close,
                    size_t *len)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc(depth * (lo + lc) + li + 1), *p = s;

    ASSERT(s != NULL);
    for (size_t i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (size_t i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    *len = (size_t)(p - s);
    return s;
}

TEST(nesting_limit)
{
    size_t n;
    char *s;

    s = nested(512, "[", "1", "]", &n);
    ASSERT_EQ(json_is_valid(s, n), 1);
    free(s);
    s = nested(513, "[", "1", "]", &n);
    ASSERT_EQ(json_is_valid(s, n), 0);
    free(s);
    s = nested(512, "{\"k\":", "[]", "}", &n); /* the [] is level 513 */
    ASSERT_EQ(json_is_valid(s, n), 0);
    free(s);
    s = nested(511, "{\"k\":", "[]", "}", &n);
    ASSERT_EQ(json_is_valid(s, n), 1);
    ASSERT_EQ(json_is_object(s, n), 1);
    free(s);
    s = nested(300, "[{\"a\":", "1", "}]", &n); /* 600 levels, mixed */
    ASSERT_EQ(json_is_valid(s, n), 0);
    free(s);
    /* Containers closed along the way do not count: depth, not total. */
    {
        buf b;
        buf_init(&b);
        buf_append_byte(&b, '[');
        for (int i = 0; i < 2000; i++)
            buf_append_str(&b, i ? ",[[[]]]" : "[[[]]]");
        buf_append_byte(&b, ']');
        ASSERT(!b.oom);
        ASSERT_EQ(json_is_valid(b.data, b.len), 1);
        buf_free(&b);
    }
}

/* A megabyte of '[' must be refused quickly and without deep recursion. */
TEST(hostile_depth)
{
    size_t n = 1u << 20;
    char *s = malloc(n);

    ASSERT(s != NULL);
    memset(s, '[', n);
    ASSERT_EQ(json_is_valid(s, n), 0);
    memset(s, '{', n);
    ASSERT_EQ(json_is_valid(s, n), 0);
    free(s);
}

/* Every strict prefix of an object is invalid; whitespace around it is fine. */
TEST(truncation_and_trailing_garbage)
{
    static const char doc[] =
        " {\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\ud83d\\ude00\xc3\xa9\"],\"b\":{}} ";
    size_t n = sizeof doc - 1;

    ASSERT_EQ(json_is_valid(doc, n), 1);
    ASSERT_EQ(json_is_object(doc, n), 1);
    for (size_t k = 0; k + 1 < n; k++)
        if (json_is_valid(doc, k))
            FAIL("prefix of %zu bytes accepted", k);
    ASSERT_EQ(json_is_valid("{} x", 4), 0);
    ASSERT_EQ(json_is_valid("{}\n", 3), 1);
    ASSERT_EQ(json_is_valid("1 ", 2), 1);
    ASSERT_EQ(json_is_valid("1 1", 3), 0);
}

TEST(is_object)
{
    ASSERT_EQ(json_is_object("{}", 2), 1);
    ASSERT_EQ(json_is_object(" \n{\"a\":[]} ", 11), 1);
    ASSERT_EQ(json_is_object("[]", 2), 0);
    ASSERT_EQ(json_is_object("\"{}\"", 4), 0);
    ASSERT_EQ(json_is_object("1", 1), 0);
    ASSERT_EQ(json_is_object("{", 1), 0);
    ASSERT_EQ(json_is_object("", 0), 0);
    ASSERT_EQ(json_is_object(NULL, 0), 0);
    ASSERT_EQ(json_is_valid(NULL, 0), 0);
}

/* Escapes s[0..n) and compares with the expected literal (quotes included). */
static void check_escape(const char *s, size_t n, const char *want, const char *file, int line)
{
    buf b;

    buf_init(&b);
    json_append_string(&b, s, n);
    if (b.oom)
        harness_fail(file, line, "oom");
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) {
        fprintf(stderr, "    input: ");
        harness_print_quoted(s, n);
        fprintf(stderr, "\n    got:   ");
        harness_print_quoted(b.data, b.len);
        fprintf(stderr, "\n    want:  ");
        harness_print_quoted(want, strlen(want));
        fputc('\n', stderr);
        harness_fail(file, line, "escaped form differs");
    }
    if (!json_is_valid(b.data, b.len))
        harness_fail(file, line, "escaped form is not valid JSON");
    buf_free(&b);
}
#define CHECK_ESCAPE(lit_, want) check_escape(lit_, sizeof(lit_) - 1, want, __FILE__, __LINE__)

TEST(escaper_known)
{
    CHECK_ESCAPE("", "\"\"");
    CHECK_ESCAPE("abc", "\"abc\"");
    CHECK_ESCAPE("a\"b\\c/", "\"a\\\"b\\\\c/\"");
    CHECK_ESCAPE("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    CHECK_ESCAPE("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    CHECK_ESCAPE("a\0b", "\"a\\u0000b\"");
    CHECK_ESCAPE("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    CHECK_ESCAPE("\xff", "\"\\u00ff\"");
    CHECK_ESCAPE("\xc3", "\"\\u00c3\"");                 /* truncated sequence */
    CHECK_ESCAPE("\xc3x", "\"\\u00c3x\"");
    CHECK_ESCAPE("\xc0\x80", "\"\\u00c0\\u0080\"");      /* overlong NUL */
    CHECK_ESCAPE("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""); /* encoded surrogate */
    CHECK_ESCAPE("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");
    CHECK_ESCAPE("\xe2\x82\xe2\x82\xac", "\"\\u00e2\\u0082\xe2\x82\xac\"");
    {
        buf b; /* NULL with length 0 is an empty string */
        buf_init(&b);
        json_append_string(&b, NULL, 0);
        ASSERT_STR_EQ(b.data, "\"\"");
        buf_free(&b);
    }
}

/* Appends to what is already in the buffer. */
TEST(escaper_appends)
{
    buf b;

    buf_init(&b);
    buf_append_str(&b, "{\"k\":");
    json_append_string(&b, "v\n", 2);
    buf_append_byte(&b, '}');
    ASSERT_STR_EQ(b.data, "{\"k\":\"v\\n\"}");
    ASSERT_EQ(json_is_object(b.data, b.len), 1);
    buf_free(&b);
}

/* Whatever the bytes, the output validates; valid UTF-8 without specials
 * passes through unchanged. */
TEST(escaper_output_always_valid)
{
    static const unsigned char alphabet[] = {
        'a', '"', '\\', '\n', 0, 0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xa9, 0xe0, 0xe2,
        0x82, 0xac, 0xed, 0xa0, 0xf0, 0x9f, 0x98, 0xf4, 0x8f, 0x90, 0xf5, 0xff, 'u', '/',
    };
    unsigned char in[96];
    buf b;

    buf_init(&b);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(harness_rand() % sizeof in);
        int mode = round % 3;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = harness_rand();
            in[i] = mode == 0 ? (unsigned char)r
                  : mode == 1 ? alphabet[r % sizeof alphabet]
                              : (unsigned char)(0x80 | (r & 0x7f));
        }
        buf_reset(&b);
        json_append_string(&b, in, n);
        ASSERT(!b.oom);
        if (!json_is_valid(b.data, b.len)) {
            fprintf(stderr, "    input: ");
            harness_print_quoted((const char *)in, n);
            fprintf(stderr, "\n    output: ");
            harness_print_quoted(b.data, b.len);
            fputc('\n', stderr);
            FAIL("escaper produced invalid JSON");
        }
        /* If the input was a valid JSON string body already, it round-trips
         * byte for byte unless it holds characters that must be escaped. */
        {
            int plain = 1;
            for (size_t i = 0; i < n; i++)
                if (in[i] < 0x20 || in[i] == '"' || in[i] == '\\')
                    plain = 0;
            if (plain) {
                buf q;
                buf_init(&q);
                buf_append_byte(&q, '"');
                buf_append(&q, in, n);
                buf_append_byte(&q, '"');
                if (json_is_valid(q.data, q.len)) {
                    ASSERT_EQ(b.len, q.len);
                    ASSERT_MEM_EQ(b.data, q.data, q.len);
                }
                buf_free(&q);
            }
        }
    }
    buf_free(&b);
}

/* Random JSON-ish noise: the validator must never read out of bounds (run
 * under ASan) and must agree with itself on a copy without slack. */
TEST(validator_noise)
{
    static const char alphabet[] = "{}[]:,\"\\u0123456789-+.eEtruefalsn \n\xc3\xa9\xff";
    char in[64];

    for (int round = 0; round < 50000; round++) {
        size_t n = (size_t)(harness_rand() % sizeof in);
        char *exact;
        for (size_t i = 0; i < n; i++)
            in[i] = alphabet[harness_rand() % (sizeof alphabet - 1)];
        exact = malloc(n ? n : 1); /* exactly n bytes, so ASan sees any overread */
        ASSERT(exact != NULL);
        memcpy(exact, in, n);
        ASSERT_EQ(json_is_valid(exact, n), json_is_valid(in, n));
        free(exact);
    }
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(valid_scalars);
    RUN(invalid_scalars);
    RUN(valid_containers);
    RUN(invalid_containers);
    RUN(utf8_in_strings);
    RUN(surrogate_escapes);
    RUN(nesting_limit);
    RUN(hostile_depth);
    RUN(truncation_and_trailing_garbage);
    RUN(is_object);
    RUN(escaper_known);
    RUN(escaper_appends);
    RUN(escaper_output_always_valid);
    RUN(validator_noise);
    return harness_summary();
}
