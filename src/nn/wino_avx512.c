/* Winograd's 16 matrix products on AVX-512F (winograd.c), one block of
 * tiles at a time on one thread:
 *     c [m, n] = a [m, k] b [k, n]   (row-major, n a multiple of 16)
 * with a = V[xi] (tiles x input channels), b = U[xi], c = M[xi]. The sizes
 * are small (k and n are channel counts, 16 to a few hundred; m a block
 * of tiles), so a BLAS call per product would cost more in set-up and
 * packing than the arithmetic. Each register tile keeps R rows x V
 * vectors of 16 columns of c and walks k: per k, V vectors of b and R
 * broadcasts of a into fused multiply-adds. Sums run in order of k, so the
 * bits depend on the sizes only, never on the thread count. */
#include "core/internal.h"
#include "nn/winograd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

/* Largest R per V: R * V sums plus V vectors of b fit the 32 registers. */
static const int rmax[4] = { 8, 12, 8, 6 };

typedef void (*tile_fn)(int64_t k, const float *a, int64_t lda, const float *b,
                        int64_t ldb, float *c, int64_t ldc);

static inline __attribute__((always_inline)) TARGET void
tile(int R, int V, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
     float *c, int64_t ldc)
{
    __m512 acc[24];
    for (int i = 0; i < R * V; i++)
        acc[i] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++, b += ldb) {
        __m512 w[4];
        for (int v = 0; v < V; v++)
            w[v] = _mm512_loadu_ps(b + 16 * v);
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(a[r * lda + p]);
            for (int v = 0; v < V; v++)
                acc[r * V + v] = _mm512_fmadd_ps(x, w[v], acc[r * V + v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r * V + v]);
}

#define T(R, V)                                                                        \
    static TARGET void t_##R##_##V(int64_t k, const float *a, int64_t lda, const float *b, \
                                   int64_t ldb, float *c, int64_t ldc)                 \
    {                                                                                  \
        tile(R, V, k, a, lda, b, ldb, c, ldc);                                         \
    }
#define T6(V) T(1, V) T(2, V) T(3, V) T(4, V) T(5, V) T(6, V)
T6(1) T(7, 1) T(8, 1) T(9, 1) T(10, 1) T(11, 1) T(12, 1) T(13, 1) T(14, 1) T(15, 1) T(16, 1)
T6(2) T(7, 2) T(8, 2) T(9, 2) T(10, 2) T(11, 2) T(12, 2)
T6(3) T(7, 3) T(8, 3)
T6(4)

#define ROW6(V) t_1_##V, t_2_##V, t_3_##V, t_4_##V, t_5_##V, t_6_##V
static const tile_fn table[4][17] = {
    { NULL, ROW6(1), t_7_1, t_8_1, t_9_1, t_10_1, t_11_1, t_12_1, t_13_1, t_14_1, t_15_1,
      t_16_1 },
    { NULL, ROW6(2), t_7_2, t_8_2, t_9_2, t_10_2, t_11_2, t_12_2 },
    { NULL, ROW6(3), t_7_3, t_8_3 },
    { NULL, ROW6(4) },
};

int byol__wino_matmul(int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c)
{
    /* a [m, k], b [k, n], c [m, n], all rows packed */
    if (!byol__cpu_avx512() || n % 16)
        return 0;
    const int64_t vtot = n / 16;
    for (int64_t v0 = 0; v0 < vtot; v0 += 4) {
        const int v = vtot - v0 < 4 ? (int)(vtot - v0) : 4, rm = rmax[v - 1];
        for (int64_t r0 = 0; r0 < m; r0 += rm) {
            int r = m - r0 < rm ? (int)(m - r0) : rm;
            table[v - 1][r](k, a + r0 * k, k, b + 16 * v0, n, c + r0 * n + 16 * v0, n);
        }
    }
    return 1;
}

/* The transforms of winograd.c, 16 channels at a time (cin and cout are
 * multiples of 16 there). */
TARGET void byol__wino_input_avx512(int64_t cin, const float *const *d, float *v, int64_t ldv)
{
    for (int64_t c = 0; c < cin; c += 16) {
        __m512 x[16], t[16];
        for (int i = 0; i < 16; i++)
            x[i] = _mm512_loadu_ps(d[i] + c);
        for (int j = 0; j < 4; j++) {
            t[j] = _mm512_sub_ps(x[j], x[8 + j]);
            t[4 + j] = _mm512_add_ps(x[4 + j], x[8 + j]);
            t[8 + j] = _mm512_sub_ps(x[8 + j], x[4 + j]);
            t[12 + j] = _mm512_sub_ps(x[4 + j], x[12 + j]);
        }
        for (int i = 0; i < 4; i++) {
            const __m512 *r = t + 4 * i;
            float *o = v + 4 * i * ldv + c;
            _mm512_storeu_ps(o, _mm512_sub_ps(r[0], r[2]));
            _mm512_storeu_ps(o + ldv, _mm512_add_ps(r[1], r[2]));
            _mm512_storeu_ps(o + 2 * ldv, _mm512_sub_ps(r[2], r[1]));
            _mm512_storeu_ps(o + 3 * ldv, _mm512_sub_ps(r[1], r[3]));
        }
    }
}

TARGET void byol__wino_output_avx512(int64_t cout, const float *m, int64_t ldm,
                                     const float *const *base, float *const *y)
{
    for (int64_t c = 0; c < cout; c += 16) {
        __m512 t[8];
        for (int j = 0; j < 4; j++) {
            __m512 m0 = _mm512_loadu_ps(m + j * ldm + c);
            __m512 m1 = _mm512_loadu_ps(m + (4 + j) * ldm + c);
            __m512 m2 = _mm512_loadu_ps(m + (8 + j) * ldm + c);
            __m512 m3 = _mm512_loadu_ps(m + (12 + j) * ldm + c);
            t[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            t[4 + j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for (int i = 0; i < 2; i++) {
            const __m512 *r = t + 4 * i;
            __m512 o0 = _mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]);
            __m512 o1 = _mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]);
            _mm512_storeu_ps(y[2 * i] + c, _mm512_add_ps(_mm512_loadu_ps(base[2 * i] + c), o0));
            _mm512_storeu_ps(y[2 * i + 1] + c,
                             _mm512_add_ps(_mm512_loadu_ps(base[2 * i + 1] + c), o1));
        }
    }
}

#else

void byol__wino_input_avx512(int64_t cin, const float *const *d, float *v, int64_t ldv)
{
    (void)cin, (void)d, (void)v, (void)ldv;
}

void byol__wino_output_avx512(int64_t cout, const float *m, int64_t ldm,
                              const float *const *base, float *const *y)
{
    (void)cout, (void)m, (void)ldm, (void)base, (void)y;
}

int byol__wino_matmul(int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c)
{
    (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
    return 0;
}

#endif
