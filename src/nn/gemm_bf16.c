/* The GEMMs of nn.precision=bf16 outside Winograd: the products of
 * convolutions Winograd does not take (stride 2, 1x1, ...; only the
 * forward of the smallest keeps its direct fp32 kernel) and of Linear
 * layers. The operands are rounded to bf16 (nearest even) and the
 * sums kept in fp32, on the kernel the Winograd products use
 * (byol__wino_matmul_bf16: AMX tiles where the CPU has them, else
 * vdpbf16ps).
 *
 * C [m, n] (+)= op(A) [m, k] op(B) [k, n] runs in panels: NC columns and
 * KC of k of op(B) packed once into bf16 pairs [KC/2, NC, 2], then MC
 * rows of op(A) at a time packed beside it, as rows of pairs when A is
 * not transposed, else as pairs of rows (the kernel takes both). The
 * panels depend on the shape only, so the bits do not depend on the
 * thread count. Each thread keeps its packing buffers for the next call;
 * a thread that cannot have them computes its pieces in fp32 (through
 * byol__gemm_serial), so only out of memory can change which bits a
 * piece has. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "linalg/linalg.h"
#include "nn/kernels.h"
#include "nn/winograd.h"

enum { NC = 256, KC = 512, MC = 128 };

/* ---- per-thread buffers -------------------------------------------------- */

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
static int buf_key_ok;
static _Thread_local uint16_t *buf;

static void make_key(void)
{
    buf_key_ok = pthread_key_create(&buf_key, free) == 0;
}

/* B's panel [KC/2, NC, 2], A's [MC, KC] (both bf16), then the fp32 stage
 * [MC, NC] of columns_staged; or NULL. */
static uint16_t *buffers(void)
{
    if (buf)
        return buf;
    pthread_once(&buf_once, make_key);
    if (!buf_key_ok)
        return NULL;
    uint16_t *p = aligned_alloc(64, ((size_t)KC * NC + (size_t)MC * KC) * sizeof *p +
                                        (size_t)MC * NC * sizeof(float));
    if (p && pthread_setspecific(buf_key, p) != 0) {
        free(p);
        p = NULL;
    }
    return buf = p;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* Lanes [0, n) of 16 (n may be <= 0 or >= 16). */
static inline __mmask16 lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* 16 floats at x (lanes [0, n), zeros after) as 16 bf16 in 32-bit lanes. */
static inline TARGET_BF16 __m512i half_words(const float *x, int64_t n)
{
    __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes(n), x));
    return _mm512_cvtepu16_epi32((__m256i)h);
}

/* src rows [rows, cols] (rows ld apart) -> dst [rows, cols2] bf16, zeros
 * in columns [cols, cols2): op(A)'s rows when A is not transposed. */
static TARGET_BF16 void pack_rows(const float *src, int64_t ld, int64_t rows, int64_t cols,
                                  int64_t cols2, uint16_t *dst)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t p = 0; p < cols2; p += 16) {
            __m512 x = _mm512_maskz_loadu_ps(lanes(cols - p), src + r * ld + p);
            __m256bh h = _mm512_cvtneps_pbh(x);
            _mm256_mask_storeu_epi16(dst + r * cols2 + p, lanes(cols2 - p), (__m256i)h);
        }
}

/* src [rows, cols] (rows ld apart) -> dst [rows2/2, w, 2] bf16 pairs of
 * rows, zeros past rows and cols (w a multiple of 16, rows2 even): op(B)
 * when B is not transposed, op(A) when A is. */
static TARGET_BF16 void pack_pairs(const float *src, int64_t ld, int64_t rows, int64_t cols,
                                   int64_t rows2, int64_t w, uint16_t *dst)
{
    for (int64_t q = 0; q < rows2 / 2; q++)
        for (int64_t j = 0; j < w; j += 16) {
            /* past cols (w > cols) nothing is read: the row's start
             * stands in, under an empty mask */
            const int64_t have = j < cols ? cols - j : 0, at = have ? j : 0;
            __m512i lo = half_words(src + 2 * q * ld + at, have);
            __m512i hi = 2 * q + 1 < rows ? half_words(src + (2 * q + 1) * ld + at, have)
                                          : _mm512_setzero_si512();
            __m512i pair = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
            _mm512_storeu_si512(dst + (q * w + j) * 2, pair);
        }
}

/* src [cols, rows] (rows along each stored row, ld apart) -> dst
 * [rows2/2, w, 2] as pack_pairs makes of its transpose: op(B) when B is
 * transposed (a Linear's weights [out, in]). 16 stored rows x 32 floats
 * become 16 x 16 words, which are turned over. */
static TARGET_BF16 void pack_pairs_t(const float *src, int64_t ld, int64_t rows, int64_t cols,
                                     int64_t rows2, int64_t w, uint16_t *dst)
{
    _Alignas(64) uint16_t blk[16 * 32];
    _Alignas(64) uint32_t turned[16 * 16];
    for (int64_t j = 0; j < w; j += 16)
        for (int64_t p = 0; p < rows2; p += 32) {
            for (int i = 0; i < 16; i++) {
                const int64_t have = j + i < cols ? rows - p : 0;
                const float *s = have ? src + (j + i) * ld + p : src;
                __m512bh h = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(lanes(have - 16), s + 16),
                                                 _mm512_maskz_loadu_ps(lanes(have), s));
                _mm512_store_si512(blk + 32 * i, (__m512i)h);
            }
            byol__transpose16_32(blk, 16, 16, 16, turned, 16);
            for (int64_t q = 0; q < 16 && p / 2 + q < rows2 / 2; q++)
                memcpy(dst + ((p / 2 + q) * w + j) * 2, turned + 16 * q, 64);
        }
}
#else
/* Never called: byol__cpu_bf16() is 0 off x86-64. */
static void pack_rows(const float *src, int64_t ld, int64_t rows, int64_t cols, int64_t cols2,
                      uint16_t *dst)
{
    (void)src, (void)ld, (void)rows, (void)cols, (void)cols2, (void)dst;
}

static void pack_pairs(const float *src, int64_t ld, int64_t rows, int64_t cols, int64_t rows2,
                       int64_t w, uint16_t *dst)
{
    (void)src, (void)ld, (void)rows, (void)cols, (void)rows2, (void)w, (void)dst;
}

static void pack_pairs_t(const float *src, int64_t ld, int64_t rows, int64_t cols,
                         int64_t rows2, int64_t w, uint16_t *dst)
{
    (void)src, (void)ld, (void)rows, (void)cols, (void)rows2, (void)w, (void)dst;
}
#endif

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One product C = op(A) op(B) + beta C, beta already applied where it is
 * neither 0 nor 1, and the packing buffers. */
typedef struct product {
    int trans_a, trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    const float *a, *b;
    float *c;
    int beta0;   /* beta == 0: the first panel of k overwrites C */
    uint16_t *bp, *ap;
    float *stage;
} product;

/* op(B)'s rows [p0, p0 + kc) x columns [j0, j0 + nc) into the bf16 pairs
 * [kc2/2, w, 2] (kc2 = kc rounded up to even; zeros past kc and nc). */
static void pack_b(const product *q, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int64_t w)
{
    const int64_t kc2 = kc + kc % 2;
    if (q->trans_b)
        pack_pairs_t(q->b + j0 * q->ldb + p0, q->ldb, kc, nc, kc2, w, q->bp);
    else
        pack_pairs(q->b + p0 * q->ldb + j0, q->ldb, kc, nc, kc2, w, q->bp);
}

/* Rows [i0, i0 + mc) of op(A), its columns [p0, p0 + kc), times the
 * packed panel (w columns) into c (rows ldc apart). */
static void rows_times_panel(const product *q, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                             int64_t w, float *c, int64_t ldc, int accumulate)
{
    const int64_t kc2 = kc + kc % 2;
    if (!q->trans_a) {
        pack_rows(q->a + i0 * q->lda + p0, q->lda, mc, kc, kc2, q->ap);
        byol__wino_matmul_bf16(mc, w, kc2, q->ap, kc2, 2, q->bp, c, ldc, accumulate);
    } else {
        const int64_t mw = (mc + 15) / 16 * 16;
        pack_pairs(q->a + p0 * q->lda + i0, q->lda, kc, mc, kc2, mw, q->ap);
        byol__wino_matmul_bf16(mc, w, kc2, q->ap, 2, 2 * mw, q->bp, c, ldc, accumulate);
    }
}

/* C's columns [j0, j0 + nc), nc a multiple of 16: each panel of op(B)
 * packed once, then every block of rows of op(A) against it. */
static void columns(const product *q, int64_t j0, int64_t nc)
{
    for (int64_t p0 = 0; p0 < q->k; p0 += KC) {
        const int64_t kc = min64(KC, q->k - p0);
        pack_b(q, p0, kc, j0, nc, nc);
        for (int64_t i0 = 0; i0 < q->m; i0 += MC)
            rows_times_panel(q, i0, min64(MC, q->m - i0), p0, kc, nc, q->c + i0 * q->ldc + j0,
                             q->ldc, p0 > 0 || !q->beta0);
    }
}

/* The last columns [j0, j0 + nc) when nc is not a multiple of 16: the
 * kernel writes 16 columns at a time, so each block of rows is summed in
 * stage [MC, w] (w = nc rounded up) over every panel of k, the panels
 * packed again for each block, then copied into C. */
static void columns_staged(const product *q, int64_t j0, int64_t nc)
{
    const int64_t w = (nc + 15) / 16 * 16;
    for (int64_t i0 = 0; i0 < q->m; i0 += MC) {
        const int64_t mc = min64(MC, q->m - i0);
        float *c = q->c + i0 * q->ldc + j0;
        for (int64_t i = 0; i < mc && !q->beta0; i++) {
            memcpy(q->stage + i * w, c + i * q->ldc, (size_t)nc * sizeof(float));
            memset(q->stage + i * w + nc, 0, (size_t)(w - nc) * sizeof(float));
        }
        for (int64_t p0 = 0; p0 < q->k; p0 += KC) {
            const int64_t kc = min64(KC, q->k - p0);
            pack_b(q, p0, kc, j0, nc, w);
            rows_times_panel(q, i0, mc, p0, kc, w, q->stage, w, p0 > 0 || !q->beta0);
        }
        for (int64_t i = 0; i < mc; i++)
            memcpy(c + i * q->ldc, q->stage + i * w, (size_t)nc * sizeof(float));
    }
}

void byol__gemm_bf16_serial(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float beta, float *c, int64_t ldc)
{
    /* C[m,n] = op(A) op(B) + beta C with bf16 operands, where the CPU has
     * them and alpha is 1 (every caller's) */
    uint16_t *bp = m > 0 && n > 0 && k > 0 && alpha == 1.0f && byol__cpu_bf16() ? buffers() : NULL;
    if (!bp) {
        byol__gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    product q = { trans_a, trans_b, m, n, k, lda, ldb, ldc, a, b, c, beta == 0.0f,
                  bp, bp + (size_t)KC * NC, (float *)(bp + (size_t)KC * NC + (size_t)MC * KC) };
    if (beta != 0.0f && beta != 1.0f)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] *= beta;
    for (int64_t j0 = 0; j0 < n; j0 += NC) {
        const int64_t nc = min64(NC, n - j0);
        (nc % 16 ? columns_staged : columns)(&q, j0, nc);
    }
}
