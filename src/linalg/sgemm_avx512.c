/* libbyol's own single-threaded SGEMM for CPUs with AVX-512F, taken by
 * gemm.c's funnel before the CBLAS provider (linalg.h).
 *
 * Why not the provider: the convolutions' products are row blocks of a few
 * hundred rows against weights of 64 to 512 channels, called thousands of
 * times a step. BLIS 0.9 touches fresh pages in these calls (its page
 * faults were 2-3 % of the exact resnet18 step); this kernel keeps one
 * pack buffer per thread. Single-threaded on Zen 4,
 * interleaved with BLIS 0.9 (best of 7, GFLOP/s, peak 117): 512 x 64 x 576
 * (a 64-channel 3x3 forward block) 111 vs 105; weight gradients
 * 128 x 1152 x 512 and 256 x 2304 x 512, 105 vs 90 and 101 vs 85; the
 * 512-channel products within 2 % either way (docs/PERFORMANCE.md).
 *
 * Scheme (Goto's, with A read in place): for every MC rows of A, B is
 * packed, per block of KC rows and NC columns, into panels of NR = 32
 * columns, zero-padded; A is read where it lies, MR = 14 rows at a time,
 * each k broadcast into fused multiply-adds against B's two vectors, so a
 * tile keeps 28 sums in the 32 registers. The rows of an A tile stay in
 * L1 while the tile walks the B panels (in L2). Sums run in order of k
 * within a KC block and blocks add in order, so the bits depend on the
 * shape alone, never on the thread count (the callers split C, never k). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "linalg/linalg.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))
#define MR 14
#define NR 32
#define KC 256
#define NC 256
#define MC 1024 /* rows of A per pass over the panels of B */
/* Rows of a row-major A that are COPY_LDA floats (4 KiB) or more apart map
 * to few sets of the 8-way L1 and evict one another while a tile walks the
 * panels, so a tile's rows are copied ROW_PAD floats apart first. */
#define COPY_LDA 1024
#define ROW_PAD (KC + 16)

/* B panels of one block and a tile's copied rows of A, per thread: allocated at a thread's first call,
 * freed when it exits (the key's destructor); the thread-local pointer
 * keeps it reachable for leak checkers meanwhile. */
static pthread_key_t pack_key;
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;
static int pack_key_ok;
static _Thread_local float *pack_buf;

static void make_key(void)
{
    pack_key_ok = pthread_key_create(&pack_key, free) == 0;
}

static float *pack_buffer(void)
{
    if (pack_buf)
        return pack_buf;
    pthread_once(&pack_once, make_key);
    if (!pack_key_ok)
        return NULL;
    float *p = aligned_alloc(64, ((size_t)KC * NC + MR * ROW_PAD) * sizeof(float));
    if (p && pthread_setspecific(pack_key, p) != 0) {
        free(p);
        p = NULL;
    }
    return pack_buf = p;
}

/* Lanes [0, n) of a 16-lane vector (n may be <= 0 or >= 16). */
static __mmask16 lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* B[kc, nc] (row-major, leading dimension ldb) -> bp: panels [kc][NR] of
 * NR columns each, the last zero-padded. */
static TARGET void pack_b(const float *b, int64_t ldb, int64_t kc, int64_t nc,
                          float *bp)
{
    for (int64_t jr = 0; jr < nc; jr += NR, bp += NR * kc) {
        const __mmask16 m0 = lanes(nc - jr), m1 = lanes(nc - jr - 16);
        for (int64_t p = 0; p < kc; p++) {
            const float *s = b + p * ldb + jr;
            _mm512_store_ps(bp + p * NR, _mm512_maskz_loadu_ps(m0, s));
            _mm512_store_ps(bp + p * NR + 16, _mm512_maskz_loadu_ps(m1, s + 16));
        }
    }
}

/* One tile: c[R, columns of m0|m1] = alpha * a[R, kc] bp[kc, NR]
 * (+ beta * c). a's entry (r, p) is a[r * ars + p * acs]. */
static inline __attribute__((always_inline)) TARGET void
tile(int R, int64_t kc, const float *a, int64_t ars, int64_t acs,
     const float *bp, float *c, int64_t ldc, __mmask16 m0, __mmask16 m1,
     float alpha, float beta)
{
    __m512 acc[2 * MR];
    for (int r = 0; r < 2 * R; r++)
        acc[r] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++, bp += NR, a += acs) {
        const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        for (int r = 0; r < R; r++) {
            const __m512 x = _mm512_set1_ps(a[r * ars]);
            acc[2 * r] = _mm512_fmadd_ps(x, b0, acc[2 * r]);
            acc[2 * r + 1] = _mm512_fmadd_ps(x, b1, acc[2 * r + 1]);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < R; r++, c += ldc) {
        __m512 s0 = _mm512_mul_ps(va, acc[2 * r]), s1 = _mm512_mul_ps(va, acc[2 * r + 1]);
        if (beta != 0.0f) { /* beta == 0 never reads c, so NaNs there vanish */
            s0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), s0);
            s1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), s1);
        }
        _mm512_mask_storeu_ps(c, m0, s0);
        _mm512_mask_storeu_ps(c + 16, m1, s1);
    }
}

typedef void (*tile_fn)(int64_t kc, const float *a, int64_t ars, int64_t acs,
                        const float *bp, float *c, int64_t ldc, __mmask16 m0,
                        __mmask16 m1, float alpha, float beta);
#define TILE(R)                                                                \
    static TARGET void tile##R(int64_t kc, const float *a, int64_t ars,      \
                               int64_t acs, const float *bp, float *c,       \
                               int64_t ldc, __mmask16 m0, __mmask16 m1,      \
                               float alpha, float beta)                      \
    {                                                                          \
        tile(R, kc, a, ars, acs, bp, c, ldc, m0, m1, alpha, beta);            \
    }
TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6) TILE(7)
TILE(8) TILE(9) TILE(10) TILE(11) TILE(12) TILE(13) TILE(14)
static const tile_fn tiles[MR + 1] = {
    NULL, tile1, tile2, tile3, tile4, tile5, tile6, tile7,
    tile8, tile9, tile10, tile11, tile12, tile13, tile14,
};

/* A tile's rows of a row-major A, kc entries each, ROW_PAD apart in dst. */
static void copy_rows(const float *a, int64_t lda, int64_t rows, int64_t kc,
                      float *dst)
{
    for (int64_t r = 0; r < rows; r++)
        memcpy(dst + r * ROW_PAD, a + r * lda, (size_t)kc * sizeof(float));
}

/* C[m, nc] of one packed block of B (kc rows): every tile of MR rows walks
 * the block's panels while its rows of A are in L1. */
static void block(int64_t m, int64_t nc, int64_t kc, float alpha,
                  const float *a, int64_t ars, int64_t acs, const float *bp,
                  float *rows, float beta, float *c, int64_t ldc)
{
    for (int64_t ir = 0; ir < m; ir += MR) {
        const int64_t mr = m - ir < MR ? m - ir : MR;
        const float *at = a + ir * ars;
        int64_t tars = ars;
        if (acs == 1 && ars >= COPY_LDA) {
            copy_rows(at, ars, mr, kc, rows);
            at = rows, tars = ROW_PAD;
        }
        for (int64_t jr = 0; jr < nc; jr += NR)
            tiles[mr](kc, at, tars, acs, bp + jr * kc, c + ir * ldc + jr, ldc,
                      lanes(nc - jr), lanes(nc - jr - 16), alpha, beta);
    }
}

int byol__sgemm_avx512(int trans_a, int trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc)
{
    /* C[m,n] = alpha op(A)[m,k] B[k,n] + beta C; k > 0. What this kernel
     * declines goes to the provider, where BLIS 0.9 measured faster: a
     * transposed B (the linear layers' and 1x1 convolutions' forward: the
     * panels would be gathered; 6272 x 256 x 1024 on Zen 4, 97 vs 90
     * GFLOP/s). Rows go MC at a time, B packed again for each: a
     * block of A then stays in L2 while B's panels pass (all of a 1x1
     * convolution's rows streamed from memory for every panel), for
     * 1 / MC of the multiply-adds in packing. */
    if (trans_b || !byol__cpu_avx512())
        return 0;
    float *bp = pack_buffer();
    if (!bp)
        return 0;
    const int64_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
    for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = m - ic < MC ? m - ic : MC;
        for (int64_t jc = 0; jc < n; jc += NC) {
            const int64_t nc = n - jc < NC ? n - jc : NC;
            for (int64_t pc = 0; pc < k; pc += KC) {
                const int64_t kc = k - pc < KC ? k - pc : KC;
                pack_b(b + pc * ldb + jc, ldb, kc, nc, bp);
                block(mc, nc, kc, alpha, a + ic * ars + pc * acs, ars, acs, bp, bp + KC * NC,
                      pc == 0 ? beta : 1.0f, c + ic * ldc + jc, ldc);
            }
        }
    }
    return 1;
}

#else

int byol__sgemm_avx512(int trans_a, int trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc)
{
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha;
    (void)a, (void)lda, (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
    return 0;
}

#endif
