/*
 * test_record_damage.c — records whose CRC is right but whose payload the
 * engine must not trust: opening the store refuses with MN_ECORRUPT, a
 * message naming the record's position and what is wrong, and leaves the
 * log as it was; it never reads past the record and never reports the
 * damage as an I/O error.
 *
 * Regressions of fuzz_recovery (tests/fuzz/corpus/fuzz_recovery):
 *   mn-open-sigbus-xdel-item-size    an XDEL/XACK/claim record whose
 *       item_size is smaller than its kind's item made apply read past the
 *       record (SIGBUS past the end of the file);
 *   mn-open-eio-empty-stream-name    a record naming an empty stream made
 *       the index refuse the key and mn_open return MN_EIO;
 *   op-decode-items-on-kind-without  items (of size 0) on a kind that has
 *       none were accepted.
 * Each case hand-builds one such record (the engine's own encoders, a real
 * CRC) and appends it to the log of a store that holds one event, then
 * opens it with its index and, again, with the index rebuilt from the log,
 * and checks it with mn_check, which must find the same record.
 */
#include "harness.h"
#include "store_helpers.h"
#include "engine/event.h"
#include "storage/record.h"
#include "storage/segment.h"

/* A store at dir/pristine holding one event in stream "s"; its path. */
static void make_pristine(const char *dir, char *store, size_t cap)
{
    if (snprintf(store, cap, "%s/pristine", dir) >= (int)cap) FAIL("path too long");
    mn_options o = test_opts();
    mn_store *st = NULL;
    ASSERT_OK(mn_open(store, &o, &st));
    mn_event e;
    memset(&e, 0, sizeof e);
    e.type = "T";
    e.type_len = 1;
    e.data = "{}";
    e.data_len = 2;
    ASSERT_OK(mn_append_one(st, "s", 1, MN_EXPECT_ANY, &e, 1, NULL, NULL));
    mn_close(st);
}

/* Appends one sealed record (kind, payload) to the store's only segment;
 * its position. */
static uint64_t append_record(const char *store, uint8_t kind, const uint8_t *payload, uint32_t len)
{
    char path[700];
    PATHF(path, "%s/log/%020d.seg", store, 0);
    size_t n;
    uint8_t *b = slurp(path, &n);
    ASSERT_EQ(n % REC_ALIGN, 0);
    uint64_t space = rec_space(len);
    uint8_t *out = malloc(n + space);
    ASSERT(out != NULL);
    memcpy(out, b, n);
    memcpy(out + n + REC_HDR_SIZE, payload, len);
    rec_seal(out + n, n, kind, REC_TXN_END, len);
    spit(path, out, n + space);
    free(out);
    free(b);
    return n;
}

/* The store with that record appended must be refused, twice (tail replay
 * over the index, then a rebuild without it), with MN_ECORRUPT naming the
 * position and saying `why`, and the log left untouched. */
static void expect_damage(const char *dir, const char *pristine, const char *name, uint8_t kind,
                          const uint8_t *payload, uint32_t len, const char *why)
{
    char store[600], ix[700], logdir[700], num[32];
    PATHF(store, "%s/%s", dir, name);
    copy_tree(pristine, store);
    uint64_t pos = append_record(store, kind, payload, len);
    snprintf(num, sizeof num, "at %" PRIu64, pos);
    PATHF(logdir, "%s/log/%020d.seg", store, 0);
    size_t before_len, after_len;
    uint8_t *before = slurp(logdir, &before_len);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            PATHF(ix, "%s/index", store);
            ASSERT_EQ(harness_rmrf(ix), 0);
        }
        mn_options o = test_opts();
        mn_store *st = NULL;
        int rc = mn_open(store, &o, &st);
        if (rc != MN_ECORRUPT) {
            mn_close(st);
            FAIL("%s (%s): mn_open returned %d (%s) \"%s\", expected MN_ECORRUPT", name,
                 pass ? "no index" : "index", rc, mn_strerror(rc), mn_errmsg());
        }
        if (!strstr(mn_errmsg(), num) || !strstr(mn_errmsg(), why))
            FAIL("%s: the message should name \"%s\" and say \"%s\": \"%s\"", name, num, why,
                 mn_errmsg());
        if (pass == 0) printf("      %s: \"%s\"\n", name, mn_errmsg());
        uint8_t *after = slurp(logdir, &after_len);
        ASSERT_EQ(after_len, before_len);
        ASSERT_MEM_EQ(after, before, before_len);
        free(after);
    }
    /* mn_check (mnemo check) finds it too: a log it calls clean opens. */
    mn_check_report rep;
    int rc = mn_check(store, &rep);
    if (rc != MN_ECORRUPT || rep.ok || rep.bad_position != pos)
        FAIL("%s: mn_check returned %d ok=%d bad_position=%" PRIu64 " (%s), expected MN_ECORRUPT at %" PRIu64,
             name, rc, rep.ok, rep.bad_position, rep.what, pos);
    if (!strstr(rep.what, num))
        FAIL("%s: mn_check should name \"%s\": \"%s\"", name, num, rep.what);
    ASSERT_EQ(rep.records, 1); /* the pristine event before it */
    free(before);
}

/* An operation payload of that kind on stream `stream` with n items of
 * item_size bytes (zero-filled); its length. */
static uint32_t op_payload(uint8_t *p, size_t cap, const char *stream, uint32_t n, uint32_t item_size,
                           const char *group)
{
    static uint8_t items[256];
    op_decoded o;
    memset(&o, 0, sizeof o);
    o.stream_id = 1;
    o.stream = stream;
    o.stream_len = (uint32_t)strlen(stream);
    o.group = group;
    o.group_len = group ? (uint32_t)strlen(group) : 0;
    o.consumer = group ? "c" : NULL;
    o.consumer_len = group ? 1 : 0;
    o.items = items;
    o.n_items = n;
    o.item_size = item_size;
    ASSERT_LE((uint64_t)n * item_size, sizeof items);
    ASSERT_LE(op_payload_size(&o), cap);
    op_encode(p, &o);
    return (uint32_t)op_payload_size(&o);
}

TEST(op_item_size_must_match_its_kind)
{
    char dir[512], pristine[600];
    uint8_t p[1024];
    harness_tmpdir(dir, sizeof dir);
    make_pristine(dir, pristine, sizeof pristine);
    /* XDEL's items are 8-byte versions: 2 items of 1 byte used to be read as
     * 16 bytes from a record that holds 2 */
    uint32_t n = op_payload(p, sizeof p, "s", 2, 1, NULL);
    expect_damage(dir, pristine, "xdel-1", REC_ENTRIES_DELETE, p, n, "item size does not match its kind");
    n = op_payload(p, sizeof p, "s", 2, 16, NULL);
    expect_damage(dir, pristine, "xdel-16", REC_ENTRIES_DELETE, p, n, "item size does not match its kind");
    /* XACK's are 16-byte entry ids, a claim's 32-byte items */
    n = op_payload(p, sizeof p, "s", 3, 8, "g");
    expect_damage(dir, pristine, "xack-8", REC_PEL_REMOVE, p, n, "item size does not match its kind");
    n = op_payload(p, sizeof p, "s", 1, 16, "g");
    expect_damage(dir, pristine, "claim-16", REC_CLAIM, p, n, "item size does not match its kind");
    /* kinds without items: any item is damage, even of size 0 */
    n = op_payload(p, sizeof p, "s", 1, 8, NULL);
    expect_damage(dir, pristine, "trim-items", REC_STREAM_TRIM, p, n, "items on a kind that has none");
    n = op_payload(p, sizeof p, "s", 5, 0, "g");
    expect_damage(dir, pristine, "group-create-items", REC_GROUP_CREATE, p, n,
                  "items on a kind that has none");

    /* the right sizes open (the stream id matches no stream: nothing to do) */
    char store[700];
    PATHF(store, "%s/right", dir);
    copy_tree(pristine, store);
    n = op_payload(p, sizeof p, "s", 2, 8, NULL);
    append_record(store, REC_ENTRIES_DELETE, p, n);
    n = op_payload(p, sizeof p, "s", 0, 0, NULL);
    append_record(store, REC_ENTRIES_DELETE, p, n); /* no items: any size */
    mn_options o = test_opts();
    mn_store *st = NULL;
    ASSERT_OK(mn_open(store, &o, &st));
    mn_close(st);
    expect_check_ok(store, "right item sizes");
    harness_rmrf(dir);
}

TEST(empty_stream_name_is_corruption_not_eio)
{
    char dir[512], pristine[600];
    uint8_t p[1024];
    harness_tmpdir(dir, sizeof dir);
    make_pristine(dir, pristine, sizeof pristine);

    /* an event */
    ev_decoded e;
    memset(&e, 0, sizeof e);
    e.stream_id = 9;
    e.stream = "";
    e.type = "T";
    e.type_len = 1;
    e.data = (const uint8_t *)"{}";
    e.data_len = 2;
    uint32_t n = (uint32_t)ev_payload_size(0, 1, 0, 2);
    ev_encode(p, &e);
    expect_damage(dir, pristine, "event", REC_EVENT, p, n, "stream name empty or too long");

    /* a stream delete */
    del_decoded d;
    memset(&d, 0, sizeof d);
    d.stream_id = 1;
    d.name = "";
    del_encode(p, &d);
    expect_damage(dir, pristine, "delete", REC_STREAM_DELETE, p, DEL_FIXED, "stream name empty or too long");

    /* an operation (a stream created, as XGROUP CREATE ... MKSTREAM writes) */
    n = op_payload(p, sizeof p, "", 0, 0, NULL);
    expect_damage(dir, pristine, "create", REC_STREAM_CREATE, p, n, "stream name empty or too long");

    /* one byte too long */
    static char longname[MN_MAX_STREAM_NAME + 2];
    memset(longname, 'x', MN_MAX_STREAM_NAME + 1);
    n = op_payload(p, sizeof p, longname, 0, 0, NULL);
    expect_damage(dir, pristine, "create-long", REC_STREAM_CREATE, p, n, "stream name empty or too long");
    harness_rmrf(dir);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(op_item_size_must_match_its_kind);
    RUN(empty_stream_name_is_corruption_not_eio);
    return harness_summary();
}
