/* A 16 x 16 block of 32-bit elements turned over (linalg.h), on AVX-512F
 * where the CPU has it, else one element at a time: it packs the bf16
 * kernels' operands (pairs of bf16 are 32-bit words) where their rows lie
 * along the other operand's columns, and the convolutions' weights. */
#include "core/internal.h"
#include "linalg/linalg.h"

/* The same block, element by element. */
static void transpose_c(const uint32_t *s, int64_t ld, int rows, int cols, uint32_t *d,
                        int64_t ldd)
{
    for (int i = 0; i < cols; i++)
        for (int p = 0; p < rows; p++)
            d[i * ldd + p] = s[p * ld + i];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

/* Lanes [0, n) of 16, for 0 <= n <= 16. */
static __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

static TARGET void transpose_avx512(const uint32_t *s, int64_t ld, int rows, int cols,
                                    uint32_t *d, int64_t ldd)
{
    /* src rows [rows (zeros after), cols] -> dst rows [cols, rows], by the
     * 4-step butterfly of 32-, 64- and 128-bit interleaves */
    __m512i r[16], t[16];
    for (int p = 0; p < 16; p++)
        r[p] = p < rows ? _mm512_maskz_loadu_epi32(lanes(cols), s + p * ld)
                        : _mm512_setzero_si512();
    for (int p = 0; p < 16; p += 2) {
        t[p] = _mm512_unpacklo_epi32(r[p], r[p + 1]);
        t[p + 1] = _mm512_unpackhi_epi32(r[p], r[p + 1]);
    }
    /* r[p..p+3] now hold columns 4L, 4L+1, 4L+2, 4L+3 of rows p..p+3 in
     * 128-bit lane L */
    for (int p = 0; p < 16; p += 4)
        for (int j = 0; j < 2; j++) {
            r[p + 2 * j] = _mm512_unpacklo_epi64(t[p + j], t[p + j + 2]);
            r[p + 2 * j + 1] = _mm512_unpackhi_epi64(t[p + j], t[p + j + 2]);
        }
    for (int p = 0; p < 16; p += 8)
        for (int j = 0; j < 4; j++) {
            t[p + j] = _mm512_shuffle_i32x4(r[p + j], r[p + j + 4], 0x88);
            t[p + j + 4] = _mm512_shuffle_i32x4(r[p + j], r[p + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_i32x4(t[j], t[j + 8], 0xdd);
    }
    for (int i = 0; i < cols; i++)
        _mm512_mask_storeu_epi32(d + i * ldd, lanes(rows), r[i]);
}

#endif

void byol__transpose16_32(const void *src, int64_t ld, int rows, int cols, void *dst,
                          int64_t ldd)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (byol__cpu_avx512()) {
        transpose_avx512(src, ld, rows, cols, dst, ldd);
        return;
    }
#endif
    transpose_c(src, ld, rows, cols, dst, ldd);
}
