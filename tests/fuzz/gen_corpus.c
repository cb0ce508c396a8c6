/*
 * gen_corpus.c — writes the seed corpora of tests/fuzz/corpus/ (make
 * fuzz-corpus). Small, valid inputs, so the fuzzers start from the formats
 * rather than from nothing:
 *
 *   fuzz_record/    records made by the real store (every kind: events with
 *                   and without metadata, field lists, client ids; stream
 *                   create/delete/tombstone; XDEL, trim, setid; each group
 *                   operation), one per file, and a few bare payloads
 *   fuzz_recovery/  the log those records form (a real segment's body), as
 *                   is, fixed up, split in two segments, repaired, rebased
 *   fuzz_resp/      requests: multibulk, inline with quotes and escapes,
 *                   pipelines, limits
 *   fuzz_args/      ids, JSON, UUIDs, glob patterns
 *   fuzz_dispatch/  command sessions (streams, groups, ES.*, MULTI, pub/sub,
 *                   connection and server commands), inline and multibulk
 *
 * Usage: gen_corpus OUTDIR. Times and UUIDs differ from run to run; the
 * checked-in corpus is one run's output.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mnemosyne.h"
#include "storage/record.h"
#include "storage/segment.h"

static const char *out;

static void put(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* opts byte(s) + text */
static void put_text(const char *target, const char *name, const char *prefix, size_t plen,
                     const char *text)
{
    size_t n = strlen(text);
    char *b = malloc(plen + n);
    memcpy(b, prefix, plen);
    memcpy(b + plen, text, n);
    put(target, name, b, plen + n);
    free(b);
}

#define CHECK(x)                                                                   \
    do {                                                                           \
        int rc_ = (x);                                                             \
        if (rc_ != MN_OK) {                                                        \
            fprintf(stderr, "%s: %s (%s)\n", #x, mn_strerror(rc_), mn_errmsg());   \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static mn_event ev(const char *type, const char *data, const char *meta)
{
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.type_len = strlen(type);
    e.data = data;
    e.data_len = strlen(data);
    e.meta = meta;
    e.meta_len = meta ? strlen(meta) : 0;
    return e;
}

static void op_run(mn_store *s, mn_op *op, const char *stream, const char *group,
                   const char *consumer)
{
    op->stream = stream;
    op->stream_len = strlen(stream);
    op->group = group;
    op->group_len = group ? strlen(group) : 0;
    op->consumer = consumer;
    op->consumer_len = consumer ? strlen(consumer) : 0;
    CHECK(mn_op_run(s, op));
    mn_op_free(op);
}

/* A store with one of everything; returns its segment's bytes. */
static uint8_t *make_log(const char *dir, size_t *len)
{
    mn_store *s;
    mn_options o;
    mn_options_init(&o);
    o.fsync_policy = MN_FSYNC_NEVER;
    CHECK(mn_open(dir, &o, &s));

    mn_event e[3];
    e[0] = ev("Opened", "{\"owner\":\"ann\"}", "{\"correlation_id\":\"c1\",\"causation_id\":\"c0\"}");
    e[1] = ev("Deposited", "{\"amount\":10}", NULL);
    memset(e[1].id, 0x11, 16); /* a client-given id (idempotent appends) */
    CHECK(mn_append_one(s, "account-1", 9, MN_EXPECT_NOSTREAM, e, 2, NULL, NULL));
    /* an XADD entry: a field list */
    const void *ptrs[4] = {"temp", "21", "unit", "C"};
    size_t lens[4] = {4, 2, 4, 1};
    size_t fl = mn_fields_size(2, lens);
    uint8_t *fields = malloc(fl);
    mn_fields_encode(fields, 2, ptrs, lens);
    e[2] = ev("xadd", "", NULL);
    e[2].data = fields;
    e[2].data_len = fl;
    e[2].flags = MN_EVENT_FIELDS;
    e[2].entry_id_mode = MN_ID_EXPLICIT;
    e[2].entry_id = (mn_entry_id){1000, 1};
    CHECK(mn_append_one(s, "sensor", 6, MN_EXPECT_ANY, &e[2], 1, NULL, NULL));
    e[2].entry_id = (mn_entry_id){1000, 2};
    CHECK(mn_append_one(s, "sensor", 6, MN_EXPECT_ANY, &e[2], 1, NULL, NULL));
    e[2].entry_id = (mn_entry_id){1001, 0};
    CHECK(mn_append_one(s, "sensor", 6, MN_EXPECT_ANY, &e[2], 1, NULL, NULL));
    free(fields);
    /* an atomic append over two streams: one group of records */
    mn_event t1 = ev("Debited", "{}", NULL), t2 = ev("Credited", "{}", NULL);
    mn_append_part parts[2] = {{"account-1", 9, 1, &t1, 1, 0, 0, {0, 0}, 0},
                               {"account-2", 9, MN_EXPECT_ANY, &t2, 1, 0, 0, {0, 0}, 0}};
    CHECK(mn_append(s, parts, 2, NULL));

    mn_op op;
    mn_op_init(&op, MN_OP_STREAM_CREATE);
    op_run(s, &op, "empty", NULL, NULL);
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    op.id_set = 1;
    op.id = (mn_entry_id){0, 0};
    op_run(s, &op, "sensor", "g", NULL);
    mn_op_init(&op, MN_OP_CONSUMER_CREATE);
    op_run(s, &op, "sensor", "g", "bob");
    mn_op_init(&op, MN_OP_DELIVER);
    op.count = 2;
    op_run(s, &op, "sensor", "g", "ann");
    mn_entry_id ids[2] = {{1000, 1}, {1000, 2}};
    mn_op_init(&op, MN_OP_ACK);
    op.ids = ids;
    op.nids = 1;
    op_run(s, &op, "sensor", "g", NULL);
    mn_op_init(&op, MN_OP_CLAIM);
    op.ids = ids + 1;
    op.nids = 1;
    op.force = 1;
    op_run(s, &op, "sensor", "g", "bob");
    mn_op_init(&op, MN_OP_ENTRIES_DELETE);
    op.ids = ids;
    op.nids = 1;
    op_run(s, &op, "sensor", NULL, NULL);
    mn_op_init(&op, MN_OP_GROUP_SETID);
    op.id_set = 1;
    op.id = (mn_entry_id){1000, 0};
    op_run(s, &op, "sensor", "g", NULL);
    mn_op_init(&op, MN_OP_CONSUMER_DELETE);
    op_run(s, &op, "sensor", "g", "ann");
    mn_op_init(&op, MN_OP_TRIM);
    op.trim.mode = MN_TRIM_MAXLEN;
    op.trim.maxlen = 1;
    op_run(s, &op, "sensor", NULL, NULL);
    mn_op_init(&op, MN_OP_SETID);
    op.id = (mn_entry_id){2000, 5};
    op_run(s, &op, "sensor", NULL, NULL);
    mn_op_init(&op, MN_OP_GROUP_DESTROY);
    op_run(s, &op, "sensor", "g", NULL);
    CHECK(mn_delete_stream(s, "account-2", 9, MN_EXPECT_ANY, 0));
    CHECK(mn_delete_stream(s, "empty", 5, MN_EXPECT_ANY, MN_DELETE_TOMBSTONE));
    mn_close(s);

    char path[1200];
    snprintf(path, sizeof path, "%s/log/%020llu.seg", dir, 0ull);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) exit(1);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void seeds_record_recovery(const uint8_t *seg, size_t n)
{
    const uint8_t *body = seg + SEG_HDR_SIZE;
    size_t bl = n - SEG_HDR_SIZE;
    uint8_t *b = malloc(bl + 2);
    char name[64];

    /* fuzz_record: each record (byte 0 = 2: max_len 1 MiB), and payloads */
    size_t off = 0, k = 0, mid = 0;
    while (off + REC_HDR_SIZE <= bl) {
        rec_hdr h;
        memcpy(&h, body + off, sizeof h);
        size_t sp = rec_space(h.len - REC_HDR_SIZE);
        b[0] = 2;
        memcpy(b + 1, body + off, h.len);
        snprintf(name, sizeof name, "rec-%02zu-kind%u", k, h.kind);
        put("fuzz_record", name, b, 1 + h.len);
        if (k == 0 || h.kind == 2 || h.kind == 23) { /* an event, a delete, a claim: payload only */
            b[0] = 2;
            memcpy(b + 1, body + off + REC_HDR_SIZE, h.len - REC_HDR_SIZE);
            snprintf(name, sizeof name, "payload-kind%u", h.kind);
            put("fuzz_record", name, b, 1 + h.len - REC_HDR_SIZE);
        }
        if (k == 8) mid = off + sp;
        off += sp;
        k++;
    }
    /* a field list alone */
    {
        const void *ptrs[2] = {"f", "v"};
        size_t lens[2] = {1, 1};
        uint8_t fl[64];
        fl[0] = 2;
        mn_fields_encode(fl + 1, 1, ptrs, lens);
        put("fuzz_record", "fields", fl, 1 + mn_fields_size(1, lens));
    }

    /* fuzz_recovery: byte 0 options, byte 1 split/8, then the body */
    struct { const char *name; uint8_t opts, split; size_t len; } v[] = {
        {"log", 0x20, 0, bl},                    /* as written, max_record 1 MiB */
        {"log-fixup", 0x21, 0, bl},              /* the same with the fix-up */
        {"log-check", 0x23, 0, bl},              /* check_only first */
        {"log-torn", 0x21, 0, bl - 13},          /* cut inside the last record */
        {"log-two-segments", 0x29, (uint8_t)(mid / 8), bl},
        {"log-repair", 0x27, 0, bl},
        {"log-rebased", 0x61, 0, bl},            /* first segment at 4096 */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        b[0] = v[i].opts;
        b[1] = v[i].split;
        memcpy(b + 2, body, v[i].len);
        put("fuzz_recovery", v[i].name, b, 2 + v[i].len);
    }
    /* damage in the middle: a flipped byte in the third record */
    b[0] = 0x26;
    b[1] = 0;
    memcpy(b + 2, body, bl);
    b[2 + 300] ^= 0x40;
    put("fuzz_recovery", "log-damaged", b, 2 + bl);
    free(b);
}

static void seeds_resp(void)
{
    /* byte 0: bit 0 authed, bits 1-2 bulk limit (3 = 512 MiB), bits 3-4 chunking; byte 1 seed */
    static const char authed_whole[2] = {0x1f, 7}, authed_bytes[2] = {0x07, 1},
                      unauth[2] = {0x16, 3};
    put_text("fuzz_resp", "multibulk", authed_whole, 2,
             "*3\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n");
    put_text("fuzz_resp", "pipeline", authed_bytes, 2,
             "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$5\r\nhe\r\no\r\n*0\r\n*-1\r\n"
             "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
    put_text("fuzz_resp", "inline", authed_bytes, 2,
             "PING\r\nXADD s * f \"a b\\x41\\n\" 'it''s'\nECHO \"\\\"q\\\"\"\r\n\r\n   \n");
    put_text("fuzz_resp", "inline-unbalanced", authed_whole, 2, "SET a \"b\r\n");
    put_text("fuzz_resp", "unauth-limits", unauth, 2,
             "*11\r\n$1\r\na\r\n*2\r\n$5\r\nhello\r\n$20000\r\n");
    put_text("fuzz_resp", "bad-lengths", authed_whole, 2,
             "*2\r\n$-1\r\n*1\r\n$01\r\na\r\n*1\r\nx3\r\n");
    put_text("fuzz_resp", "mixed", authed_bytes, 2,
             "*2\r\n$4\r\nAUTH\r\n$3\r\npw\x00\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n");
}

static void seeds_args(void)
{
    /* mode 0 (byte 0 % 3): ids (byte 1 options: bit 0 missing seq max, bit 1 strict, bit 2 seq_given) */
    static const struct { const char *name, *text; uint8_t opts; } ids[] = {
        {"id-full", "1526919030474-55", 0}, {"id-ms", "1526919030474", 1},
        {"id-star", "5-*", 4}, {"id-minus", "-", 0}, {"id-plus", "+", 2},
        {"id-max", "18446744073709551615-18446744073709551615", 0},
        {"id-loose", " +007-0", 0}, {"int-min", "-9223372036854775808", 0},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char pre[2] = {0, (char)ids[i].opts};
        put_text("fuzz_args", ids[i].name, pre, 2, ids[i].text);
    }
    /* mode 1: JSON */
    static const char j[1] = {1};  /* mode 1 (byte 0 % 3) */
    put_text("fuzz_args", "json-object", j, 1,
             "{\"correlation_id\":\"c-1\",\"n\":[1,-0.5e+3,true,false,null],\"s\":\"\\u00e9\\ud83d\\ude00\"}");
    put_text("fuzz_args", "json-utf8", j, 1, "[\"caf\xc3\xa9\", \"\xf0\x9f\x98\x80\", {}]");
    put_text("fuzz_args", "json-bad", j, 1, "{\"a\":01, \"b\":\"\\ud800\"}");
    /* mode 2: a UUID; glob: byte 1 = 2 * pattern length (+1 nocase) */
    static const char u[2] = {2, 0};
    put_text("fuzz_args", "uuid", u, 2, "0190a6b2-7c1e-7abc-8def-0123456789AB");
    static const char g[2] = {2, 2 * 12 + 1};
    put_text("fuzz_args", "glob", g, 2, "h?llo*[^a-c]account-[0-9]x");
}

static void seeds_dispatch(void)
{
    static const char d[1] = {0};
    put_text("fuzz_dispatch", "cmd-streams", d, 0,
             "XADD s * a 1 b 2\r\nXADD s MAXLEN ~ 10 5-1 c 3\r\nXADD s NOMKSTREAM MINID 0 * d 4\r\n"
             "XRANGE s - + COUNT 2\r\nXREVRANGE s + (5-1\r\nXLEN s\r\nXDEL s 5-1\r\n"
             "XTRIM s MAXLEN = 1\r\nXSETID s 9-9 ENTRIESADDED 9 MAXDELETEDID 1-1\r\n"
             "XREAD COUNT 5 STREAMS s 0\r\nXREAD BLOCK 10 STREAMS s $\r\nXINFO STREAM s FULL\r\n"
             "TYPE s\r\nEXISTS s x\r\nDEL s\r\n");
    put_text("fuzz_dispatch", "cmd-groups", d, 0,
             "XGROUP CREATE s g $ MKSTREAM\r\nXADD s 1-1 f v\r\nXADD s 2-1 f v\r\n"
             "XREADGROUP GROUP g alice COUNT 10 STREAMS s >\r\nXPENDING s g\r\n"
             "XPENDING s g IDLE 0 - + 10 alice\r\nXCLAIM s g bob 0 1-1 RETRYCOUNT 3 FORCE JUSTID\r\n"
             "XAUTOCLAIM s g carol 0 0-0 COUNT 5\r\nXACK s g 1-1 2-1\r\nXINFO GROUPS s\r\n"
             "XINFO CONSUMERS s g\r\nXGROUP CREATECONSUMER s g dave\r\nXGROUP DELCONSUMER s g bob\r\n"
             "XGROUP SETID s g 0 ENTRIESREAD 0\r\nXGROUP DESTROY s g\r\n");
    put_text("fuzz_dispatch", "cmd-es", d, 0,
             "ES.APPEND acct-1 NOSTREAM EVENT * Opened '{\"a\":1}' META '{\"correlation_id\":\"k\"}'\r\n"
             "ES.APPEND acct-1 0 EVENT 0190a6b2-7c1e-7abc-8def-0123456789ab Deposited '{\"n\":2}'\r\n"
             "ES.TX STREAM acct-2 ANY EVENT * T x STREAM acct-3 NOSTREAM EVENT * T y\r\n"
             "ES.READ acct-1 FROM 0 COUNT 10\r\nES.READ acct-1 BACKWARD\r\n"
             "ES.READALL FROM 0 COUNT 10 TYPE Opened\r\nES.READALL CATEGORY acct\r\n"
             "ES.INFO acct-1\r\nTRACE k\r\nXRANGE $all - +\r\nXRANGE $ce-acct - +\r\n"
             "XREVRANGE $et-Opened + - COUNT 1\r\nES.DELETE acct-1 ANY\r\nES.READ acct-1\r\n");
    put_text("fuzz_dispatch", "cmd-conn", d, 0,
             "*1\r\n$4\r\nPING\r\n*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\nCLIENT SETNAME fz\r\nCLIENT LIST\r\n"
             "CLIENT INFO\r\nINFO\r\nCOMMAND COUNT\r\nCOMMAND INFO xadd\r\nCONFIG GET *\r\n"
             "DBSIZE\r\nKEYS *\r\nSCAN 0 MATCH * COUNT 10\r\nTIME\r\nSELECT 0\r\nECHO hi\r\n"
             "CLIENT REPLY SKIP\r\nPING\r\nRESET\r\nQUIT\r\n");
    put_text("fuzz_dispatch", "cmd-multi", d, 0,
             "MULTI\r\nXADD m * a 1\r\nXLEN m\r\nXRANGE m - +\r\nEXEC\r\nMULTI\r\nNOSUCH\r\nEXEC\r\n"
             "MULTI\r\nDISCARD\r\nSUBSCRIBE ch\r\nPSUBSCRIBE c*\r\nPING\r\nPUBLISH ch x\r\n"
             "PUBSUB CHANNELS\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\n");
}

static void rmrf(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR\n");
        return 2;
    }
    out = argv[1];
    mkdir(out, 0755);
    char dir[] = "/tmp/mnemo-gen-corpus.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char store[1100];
    snprintf(store, sizeof store, "%s/store", dir);
    size_t n;
    uint8_t *seg = make_log(store, &n);
    seeds_record_recovery(seg, n);
    free(seg);
    rmrf(dir);
    seeds_resp();
    seeds_args();
    seeds_dispatch();
    return 0;
}
