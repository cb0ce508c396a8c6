/*
 * test_crc32c.c — CRC-32C: published vectors, and the hardware path, the
 * slicing-by-8 software path and a bit-at-a-time reference agreeing on every
 * length 0..300 at every alignment, with any split into pieces.
 */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "util/crc32c.h"

/* The definition, one bit at a time: the referee for both real paths. */
static uint32_t ref_crc32c(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t c = ~crc;

    while (len--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

TEST(check_value)
{
    ASSERT_EQ_U64(crc32c("123456789", 9), 0xE3069283u);
    ASSERT_EQ_U64(crc32c_extend_sw(0, "123456789", 9), 0xE3069283u);
    ASSERT_EQ_U64(ref_crc32c(0, "123456789", 9), 0xE3069283u);
    ASSERT_EQ_U64(crc32c("", 0), 0);
    ASSERT_EQ_U64(crc32c(NULL, 0), 0);
    ASSERT_EQ_U64(crc32c("a", 1), 0xC1D04330u);
}

/* RFC 3720 (iSCSI) appendix B.4. */
TEST(rfc3720_vectors)
{
    static const unsigned char read_cmd[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    unsigned char b[32];

    memset(b, 0, sizeof b);
    ASSERT_EQ_U64(crc32c(b, 32), 0x8A9136AAu);
    ASSERT_EQ_U64(crc32c_extend_sw(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof b);
    ASSERT_EQ_U64(crc32c(b, 32), 0x62A8AB43u);
    ASSERT_EQ_U64(crc32c_extend_sw(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)i;
    ASSERT_EQ_U64(crc32c(b, 32), 0x46DD794Eu);
    ASSERT_EQ_U64(crc32c_extend_sw(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)(31 - i);
    ASSERT_EQ_U64(crc32c(b, 32), 0x113FDB5Cu);
    ASSERT_EQ_U64(crc32c_extend_sw(0, b, 32), 0x113FDB5Cu);
    ASSERT_EQ_U64(crc32c(read_cmd, 48), 0xD9963A56u);
    ASSERT_EQ_U64(crc32c_extend_sw(0, read_cmd, 48), 0xD9963A56u);
}

/* Every length 0..300 at every alignment 0..15, from random starting CRCs. */
TEST(hw_sw_ref_agree_all_lengths_and_alignments)
{
    static unsigned char mem[300 + 16];

    for (int round = 0; round < 4; round++) {
        harness_rand_bytes(mem, sizeof mem);
        for (size_t align = 0; align < 16; align++) {
            for (size_t len = 0; len <= 300; len++) {
                uint32_t seed = round == 0 ? 0 : (uint32_t)harness_rand();
                uint32_t want = ref_crc32c(seed, mem + align, len);
                uint32_t sw = crc32c_extend_sw(seed, mem + align, len);
                uint32_t hw = crc32c_extend(seed, mem + align, len);
                if (sw != want || hw != want)
                    FAIL("len %zu align %zu seed 0x%08x: ref 0x%08x sw 0x%08x hw(%d) 0x%08x",
                         len, align, seed, want, sw, crc32c_hw_available(), hw);
            }
        }
    }
}

/* Extending piece by piece, at random cut points, gives the CRC of the whole. */
TEST(extend_in_pieces_equals_whole)
{
    static unsigned char mem[4096];

    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(harness_rand() % sizeof mem);
        uint32_t whole, hw = 0, sw = 0;
        size_t off = 0;

        harness_rand_bytes(mem, len);
        whole = crc32c(mem, len);
        ASSERT_EQ_U64(whole, crc32c_extend_sw(0, mem, len));
        while (off < len) {
            size_t piece = (size_t)(harness_rand() % 70);
            if (piece > len - off)
                piece = len - off;
            hw = crc32c_extend(hw, mem + off, piece);
            sw = crc32c_extend_sw(sw, mem + off, piece);
            off += piece;
        }
        ASSERT_EQ_U64(hw, whole);
        ASSERT_EQ_U64(sw, whole);
    }
}

TEST(large_buffer)
{
    size_t len = (1u << 20) + 13;
    unsigned char *mem = malloc(len);

    ASSERT(mem != NULL);
    harness_rand_bytes(mem, len);
    ASSERT_EQ_U64(crc32c_extend(7, mem + 1, len - 1), crc32c_extend_sw(7, mem + 1, len - 1));
    ASSERT_EQ_U64(crc32c(mem, len), ref_crc32c(0, mem, len));
    free(mem);
}

/* A single flipped bit anywhere changes the CRC (CRCs detect all 1-bit errors). */
TEST(detects_single_bit_flips)
{
    unsigned char mem[64];
    uint32_t base;

    harness_rand_bytes(mem, sizeof mem);
    base = crc32c(mem, sizeof mem);
    for (size_t bit = 0; bit < sizeof mem * 8; bit++) {
        mem[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        ASSERT_NE_U64(crc32c(mem, sizeof mem), base);
        mem[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    printf("# crc32c: %s path\n", crc32c_hw_available() ? "SSE4.2" : "software");
    RUN(check_value);
    RUN(rfc3720_vectors);
    RUN(hw_sw_ref_agree_all_lengths_and_alignments);
    RUN(extend_in_pieces_equals_whole);
    RUN(large_buffer);
    RUN(detects_single_bit_flips);
    return harness_summary();
}
