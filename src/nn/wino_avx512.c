/* Winograd's matrix products and transforms on AVX-512F (winograd.c).
 *
 * The products, one per position xi of a block of tiles, on one thread:
 *     c [m, n] (+)= a [m, k] b [k, n]   (b and c row-major, n a multiple
 *     of 16; a's entry (r, p) at a[r * ars + p * acs])
 * forward: a = V[xi] (tiles x input channels), b = U[xi], c = M[xi];
 * weight gradient: a = V[xi] transposed (input channels x tiles),
 * b = dM[xi], c += into dU[xi]. The sizes are small (channel counts, and
 * blocks of tiles), so a BLAS call per product would cost more in set-up
 * and packing than the arithmetic. Each register tile keeps R rows x V
 * vectors of 16 columns of c and walks k: per k, V vectors of b and R
 * broadcasts of a into fused multiply-adds. Sums run in order of k, so the
 * bits depend on the sizes only, never on the thread count. Under
 * nn.precision=bf16 the products take bf16 operands instead (below), on
 * CPUs with AVX512_BF16. */
#include <string.h>

#include "core/internal.h"
#include "nn/winograd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

/* Largest R per V: R * V sums plus V vectors of b fit the 32 registers.
 * With one vector (16 output channels) gcc 12 spills beyond 8 rows:
 * products of the 16-channel layers ran at 78 GFLOP/s with R = 8, 76 with
 * 12 and 61 with 14 (Zen 4, one thread). */
static const int rmax[4] = { 8, 12, 8, 6 };

typedef struct mm_args {
    int64_t k, ars, acs, ldb, ldc;
    const float *a, *b;
    float *c;
    int accumulate;
} mm_args;

typedef void (*tile_fn)(const mm_args *m);

static inline __attribute__((always_inline)) TARGET void tile(int R, int V, const mm_args *m)
{
    __m512 acc[24];
    const int64_t k = m->k, ars = m->ars, acs = m->acs, ldb = m->ldb, ldc = m->ldc;
    const float *a = m->a, *b = m->b;
    float *c = m->c;
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            acc[r * V + v] = m->accumulate ? _mm512_loadu_ps(c + r * ldc + 16 * v)
                                           : _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++, b += ldb) {
        __m512 w[4];
        for (int v = 0; v < V; v++)
            w[v] = _mm512_loadu_ps(b + 16 * v);
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(a[r * ars + p * acs]);
            for (int v = 0; v < V; v++)
                acc[r * V + v] = _mm512_fmadd_ps(x, w[v], acc[r * V + v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r * V + v]);
}

/* X(R, V) for every register tile, R <= rmax[V - 1] ... */
#define ROWS6(X, V) X(1, V) X(2, V) X(3, V) X(4, V) X(5, V) X(6, V)
#define EVERY_TILE(X)                                                       \
    ROWS6(X, 1) X(7, 1) X(8, 1)                                             \
    ROWS6(X, 2) X(7, 2) X(8, 2) X(9, 2) X(10, 2) X(11, 2) X(12, 2)          \
    ROWS6(X, 3) X(7, 3) X(8, 3)                                             \
    ROWS6(X, 4)
/* ... and the table [V - 1][R] of the tiles named P_R_V. */
#define NAMES6(P, V) P##_1_##V, P##_2_##V, P##_3_##V, P##_4_##V, P##_5_##V, P##_6_##V
#define TILE_TABLE(P)                                                                  \
    {                                                                                  \
        { NULL, NAMES6(P, 1), P##_7_1, P##_8_1 },                                      \
        { NULL, NAMES6(P, 2), P##_7_2, P##_8_2, P##_9_2, P##_10_2, P##_11_2, P##_12_2 }, \
        { NULL, NAMES6(P, 3), P##_7_3, P##_8_3 },                                      \
        { NULL, NAMES6(P, 4) },                                                        \
    }

#define T(R, V) \
    static TARGET void t_##R##_##V(const mm_args *m) { tile(R, V, m); }
EVERY_TILE(T)
static const tile_fn table[4][13] = TILE_TABLE(t);

/* ---- the products in bf16 (AVX512_BF16) ------------------------------------
 * vdpbf16ps adds to each fp32 lane i the two products of the bf16 pairs
 * (2i, 2i+1) of its operands, at the FMA's instruction rate: twice the
 * multiply-adds. So k is walked in pairs: a holds the pair (a[r][p],
 * a[r][p+1]) as one 32-bit word, broadcast; b is packed as [k/2, n, 2],
 * so that one 64-byte load holds the pairs of 16 columns. */
#define TARGET_BF16 __attribute__((target("avx512f,avx512bf16")))

typedef struct mm16_args {
    int64_t k2, ars, aps, n, ldc;   /* pairs of k; a's row and pair strides; b's and c's rows */
    const uint16_t *a, *b;
    float *c;
    int accumulate;
} mm16_args;

typedef void (*tile16_fn)(const mm16_args *m);

static inline __attribute__((always_inline)) TARGET_BF16 void tile16(int R, int V,
                                                                      const mm16_args *m)
{
    __m512 acc[24];
    const uint16_t *a = m->a, *b = m->b;
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            acc[r * V + v] = m->accumulate ? _mm512_loadu_ps(m->c + r * m->ldc + 16 * v)
                                           : _mm512_setzero_ps();
    for (int64_t p = 0; p < m->k2; p++, b += 2 * m->n) {
        __m512bh w[4];
        for (int v = 0; v < V; v++)
            w[v] = (__m512bh)_mm512_loadu_si512(b + 32 * v);
        for (int r = 0; r < R; r++) {
            uint32_t pair;
            memcpy(&pair, a + r * m->ars + p * m->aps, sizeof pair);
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)pair);
            for (int v = 0; v < V; v++)
                acc[r * V + v] = _mm512_dpbf16_ps(acc[r * V + v], x, w[v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++)
            _mm512_storeu_ps(m->c + r * m->ldc + 16 * v, acc[r * V + v]);
}

#define U(R, V) \
    static TARGET_BF16 void u_##R##_##V(const mm16_args *m) { tile16(R, V, m); }
EVERY_TILE(U)
static const tile16_fn table16[4][13] = TILE_TABLE(u);

TARGET_BF16 void byol__wino_matmul_bf16(int64_t m, int64_t n, int64_t k, const uint16_t *a,
                                        int64_t ars, int64_t aps, const uint16_t *b, float *c,
                                        int64_t ldc, int accumulate)
{
    /* a [m, k] bf16 (pair p of row r at r * ars + p * aps), b [k/2, n, 2]
     * bf16 -> c [m, n] fp32 (rows ldc apart) (+)= a b */
    if (byol__cpu_amx()) {
        byol__wino_matmul_amx(m, n, k, a, ars, aps, b, c, ldc, accumulate);
        return;
    }
    const int64_t vtot = n / 16;
    mm16_args t = { .k2 = k / 2, .ars = ars, .aps = aps, .n = n, .ldc = ldc,
                    .accumulate = accumulate };
    for (int64_t v0 = 0; v0 < vtot; v0 += 4) {
        const int v = vtot - v0 < 4 ? (int)(vtot - v0) : 4, rm = rmax[v - 1];
        for (int64_t r0 = 0; r0 < m; r0 += rm) {
            int r = m - r0 < rm ? (int)(m - r0) : rm;
            t.a = a + r0 * ars;
            t.b = b + 32 * v0;
            t.c = c + r0 * ldc + 16 * v0;
            table16[v - 1][r](&t);
        }
    }
}

TARGET_BF16 void byol__wino_pairs_bf16(int64_t planes, int64_t k, int64_t n, float *u)
{
    /* plane [k, n] fp32 -> [k/2, n, 2] bf16, plane after plane and in
     * increasing order within each: every 64-byte store lands on floats
     * already read (its offset is at most the reads' offsets) */
    uint16_t *u16 = (uint16_t *)u;
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *src = u + pl * k * n;
        uint16_t *dst = u16 + pl * k * n;
        for (int64_t p = 0; p < k / 2; p++)
            for (int64_t j = 0; j < n; j += 16) {
                __m256bh b0 = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + 2 * p * n + j));
                __m256bh b1 = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + (2 * p + 1) * n + j));
                __m512i lo = _mm512_cvtepu16_epi32((__m256i)b0);
                __m512i hi = _mm512_cvtepu16_epi32((__m256i)b1);
                _mm512_storeu_si512(dst + (p * n + j) * 2,
                                    _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
            }
    }
}

TARGET_BF16 void byol__wino_to_bf16(int64_t n, const float *x, uint16_t *y)
{
    /* x [n] -> y [n] rounded to nearest even, 16 at a time in increasing
     * order: y may start where x does (each store lands on floats already
     * read) */
    for (int64_t i = 0; i < n; i += 16) {
        __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
        _mm256_storeu_si256((__m256i *)(y + i), (__m256i)h);
    }
}

/* ---- the products in fp32 ---------------------------------------------------- */

int byol__wino_matmul(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                      int64_t acs, const float *b, float *c, int accumulate)
{
    /* a [m, k] (strides ars, acs), b [k, n], c [m, n] (+)= a b */
    if (!byol__cpu_avx512() || n % 16)
        return 0;
    const int64_t vtot = n / 16;
    mm_args t = { .k = k, .ars = ars, .acs = acs, .ldb = n, .ldc = n,
                  .accumulate = accumulate };
    for (int64_t v0 = 0; v0 < vtot; v0 += 4) {
        const int v = vtot - v0 < 4 ? (int)(vtot - v0) : 4, rm = rmax[v - 1];
        for (int64_t r0 = 0; r0 < m; r0 += rm) {
            int r = m - r0 < rm ? (int)(m - r0) : rm;
            t.a = a + r0 * ars;
            t.b = b + 16 * v0;
            t.c = c + r0 * n + 16 * v0;
            table[v - 1][r](&t);
        }
    }
    return 1;
}

/* The transforms of winograd.c, 16 channels at a time (cin and cout are
 * multiples of 16 there), as 1-D transforms of columns, then of rows. */
#define INL static inline __attribute__((always_inline)) TARGET
#define ADD _mm512_add_ps
#define SUB _mm512_sub_ps
#define MUL(k, x) _mm512_mul_ps(_mm512_set1_ps(k), x)

/* r = B^T x for the a values x[0], x[s], ..., each a vector. */
INL void in2(const __m512 *x, int s, __m512 *r, int rs)
{
    r[0] = SUB(x[0], x[2 * s]);
    r[rs] = ADD(x[s], x[2 * s]);
    r[2 * rs] = SUB(x[2 * s], x[s]);
    r[3 * rs] = SUB(x[s], x[3 * s]);
}

INL void in4(const __m512 *x, int s, __m512 *r, int rs)
{
    __m512 x0 = x[0], x1 = x[s], x2 = x[2 * s], x3 = x[3 * s], x4 = x[4 * s], x5 = x[5 * s];
    __m512 a = SUB(x4, MUL(4.0f, x2)), b = SUB(x3, MUL(4.0f, x1));
    __m512 c = SUB(x4, x2), d = MUL(2.0f, SUB(x3, x1));
    r[0] = ADD(SUB(MUL(4.0f, x0), MUL(5.0f, x2)), x4);
    r[rs] = ADD(a, b);
    r[2 * rs] = SUB(a, b);
    r[3 * rs] = ADD(c, d);
    r[4 * rs] = SUB(c, d);
    r[5 * rs] = ADD(SUB(MUL(4.0f, x1), MUL(5.0f, x3)), x5);
}

/* r = A^T x. */
INL void out2(const __m512 *x, int s, __m512 *r, int rs)
{
    r[0] = ADD(ADD(x[0], x[s]), x[2 * s]);
    r[rs] = SUB(SUB(x[s], x[2 * s]), x[3 * s]);
}

INL void out4(const __m512 *x, int s, __m512 *r, int rs)
{
    __m512 p1 = ADD(x[s], x[2 * s]), m1 = SUB(x[s], x[2 * s]);
    __m512 p2 = ADD(x[3 * s], x[4 * s]), m2 = SUB(x[3 * s], x[4 * s]);
    r[0] = ADD(ADD(x[0], p1), p2);
    r[rs] = ADD(m1, MUL(2.0f, m2));
    r[2 * rs] = ADD(p1, MUL(4.0f, p2));
    r[3 * rs] = ADD(ADD(m1, MUL(8.0f, m2)), x[5 * s]);
}

/* r = A x for the m values x[0], x[s], ... (the output transform's
 * transpose, for the weight gradient). */
INL void grad2(const __m512 *x, int s, __m512 *r, int rs)
{
    r[0] = x[0];
    r[rs] = ADD(x[0], x[s]);
    r[2 * rs] = SUB(x[0], x[s]);
    r[3 * rs] = SUB(_mm512_setzero_ps(), x[s]);
}

INL void grad4(const __m512 *x, int s, __m512 *r, int rs)
{
    __m512 x0 = x[0], x1 = x[s], x2 = x[2 * s], x3 = x[3 * s];
    __m512 e = ADD(x0, x2), o = ADD(x1, x3);
    __m512 e4 = ADD(x0, MUL(4.0f, x2)), o4 = ADD(MUL(2.0f, x1), MUL(8.0f, x3));
    r[0] = x0;
    r[rs] = ADD(e, o);
    r[2 * rs] = SUB(e, o);
    r[3 * rs] = ADD(e4, o4);
    r[4 * rs] = SUB(e4, o4);
    r[5 * rs] = x3;
}

/* r = G x for the 3 values x[0], x[s], x[2s] of a kernel's column or row
 * (the weight transform), in double: the kernels are rounded to float once,
 * at the end, as the portable path does (winograd.c). In float the extra
 * roundings of F(2x2)'s weights were enough to move a resnet18-cifar
 * fixture past 1e-4 after three LARS steps. */
#define ADDD _mm512_add_pd
#define SUBD _mm512_sub_pd
#define MULD(k, x) _mm512_mul_pd(_mm512_set1_pd((double)(k)), x)

INL void wk2(const __m512d *x, int s, __m512d *r, int rs)
{
    __m512d h = MULD(0.5f, ADDD(x[0], x[2 * s])), m = MULD(0.5f, x[s]);
    r[0] = x[0];
    r[rs] = ADDD(h, m);
    r[2 * rs] = SUBD(h, m);
    r[3 * rs] = x[2 * s];
}

INL void wk4(const __m512d *x, int s, __m512d *r, int rs)
{
    __m512d x0 = x[0], x1 = x[s], x2 = x[2 * s], e = ADDD(x0, x2);
    __m512d p = ADDD(MULD(1.0f / 24, x0), MULD(1.0f / 6, x2)), q = MULD(1.0f / 12, x1);
    r[0] = MULD(1.0f / 4, x0);
    r[rs] = MULD(-1.0f / 6, ADDD(e, x1));
    r[2 * rs] = MULD(-1.0f / 6, SUBD(e, x1));
    r[3 * rs] = ADDD(p, q);
    r[4 * rs] = SUBD(p, q);
    r[5 * rs] = x2;
}

/* Half h (lanes 8h to 8h + 7) of x, widened to double. */
INL __m512d widen(__m512 x, int h)
{
    __m256 half = h ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))
                    : _mm512_castps512_ps256(x);
    return _mm512_cvtps_pd(half);
}

/* U = G g G^T for 16 kernels at a time (winograd.h): the kernels' columns,
 * then the rows of the result, 8 kernels at a time in double. */
INL void weights(int a, int64_t n, const float *g, int64_t js, int64_t ts, int flip, float *u,
                 int64_t ps)
{
    const __m512i lanes = _mm512_mullo_epi32(_mm512_set1_epi32((int)js),
                                             _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                               10, 11, 12, 13, 14, 15));
    for (int64_t j = 0; j < n; j += 16) {
        __m512 x[9];
        __m256 lo[36];
        for (int tap = 0; tap < 9; tap++) {
            const float *p = g + j * js + (flip ? 8 - tap : tap) * ts;
            x[tap] = js == 1 ? _mm512_loadu_ps(p) : _mm512_i32gather_ps(lanes, p, 4);
        }
        for (int h = 0; h < 2; h++) {
            __m512d xd[9], t[18], r[36];
            for (int tap = 0; tap < 9; tap++)
                xd[tap] = widen(x[tap], h);
            for (int l = 0; l < 3; l++)     /* t [a, 3]: column l of the kernel */
                a == 4 ? wk2(xd + l, 3, t + l, 3) : wk4(xd + l, 3, t + l, 3);
            for (int i = 0; i < a; i++)     /* r [a, a]: row i of t */
                a == 4 ? wk2(t + 3 * i, 1, r + a * i, 1) : wk4(t + 3 * i, 1, r + a * i, 1);
            for (int xi = 0; xi < a * a; xi++) {
                __m256 f = _mm512_cvtpd_ps(r[xi]);
                if (!h) {
                    lo[xi] = f;
                    continue;
                }
                __m512d both = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo[xi])),
                                                  _mm256_castps_pd(f), 1);
                _mm512_storeu_ps(u + xi * ps + j, _mm512_castpd_ps(both));
            }
        }
    }
}

static TARGET void weights4(int64_t n, const float *g, int64_t js, int64_t ts, int flip,
                            float *u, int64_t ps)
{
    weights(4, n, g, js, ts, flip, u, ps);
}

static TARGET void weights6(int64_t n, const float *g, int64_t js, int64_t ts, int flip,
                            float *u, int64_t ps)
{
    weights(6, n, g, js, ts, flip, u, ps);
}

TARGET void byol__wino_weights_avx512(int a, int64_t n, const float *g, int64_t js, int64_t ts,
                                      int flip, float *u, int64_t ps)
{
    (a == 4 ? weights4 : weights6)(n, g, js, ts, flip, u, ps);
}

/* One 1-D transform of this kind and size. */
INL void t1d(int kind, int a, const __m512 *x, int s, __m512 *r, int rs)
{
    if (kind == BYOL__WINO_IN)
        a == 4 ? in2(x, s, r, rs) : in4(x, s, r, rs);
    else if (kind == BYOL__WINO_OUT)
        a == 4 ? out2(x, s, r, rs) : out4(x, s, r, rs);
    else
        a == 4 ? grad2(x, s, r, rs) : grad4(x, s, r, rs);
}

/* Columns, then rows, 16 channels at a time. */
INL void twod(int kind, int a, int64_t n, const float *const *src, const float *const *base,
              float *const *dst)
{
    const int ni = kind == BYOL__WINO_GRAD ? a - 2 : a, no = kind == BYOL__WINO_OUT ? a - 2 : a;
    for (int64_t c = 0; c < n; c += 16) {
        __m512 x[36], t[36], r[36];
        for (int i = 0; i < ni * ni; i++)
            x[i] = _mm512_loadu_ps(src[i] + c);
        for (int j = 0; j < ni; j++)    /* t [no, ni]: column j transformed */
            t1d(kind, a, x + j, ni, t + j, ni);
        for (int i = 0; i < no; i++)    /* r [no, no]: row i of t transformed */
            t1d(kind, a, t + ni * i, 1, r + no * i, 1);
        for (int i = 0; i < no * no; i++)
            _mm512_storeu_ps(dst[i] + c, base ? ADD(_mm512_loadu_ps(base[i] + c), r[i]) : r[i]);
    }
}

#define TWOD(K, A) \
    static TARGET void twod_##K##_##A(int64_t n, const float *const *src, \
                                      const float *const *base, float *const *dst) \
    { twod(BYOL__WINO_##K, A, n, src, base, dst); }
TWOD(IN, 4) TWOD(IN, 6) TWOD(OUT, 4) TWOD(OUT, 6) TWOD(GRAD, 4) TWOD(GRAD, 6)

TARGET void byol__wino_transform_avx512(int kind, int a, int64_t n, const float *const *src,
                                        const float *const *base, float *const *dst)
{
    typedef void (*fn)(int64_t, const float *const *, const float *const *, float *const *);
    static const fn table[3][2] = { { twod_IN_4, twod_IN_6 },
                                    { twod_OUT_4, twod_OUT_6 },
                                    { twod_GRAD_4, twod_GRAD_6 } };
    table[kind][a == 6](n, src, base, dst);
}

#else

void byol__wino_transform_avx512(int kind, int a, int64_t n, const float *const *src,
                                 const float *const *base, float *const *dst)
{
    (void)kind, (void)a, (void)n, (void)src, (void)base, (void)dst;
}

int byol__wino_matmul(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                      int64_t acs, const float *b, float *c, int accumulate)
{
    (void)m, (void)n, (void)k, (void)a, (void)ars, (void)acs, (void)b, (void)c, (void)accumulate;
    return 0;
}

/* Never called: byol__cpu_bf16() is 0 off x86-64. */
void byol__wino_matmul_bf16(int64_t m, int64_t n, int64_t k, const uint16_t *a, int64_t ars,
                            int64_t aps, const uint16_t *b, float *c, int64_t ldc, int accumulate)
{
    (void)m, (void)n, (void)k, (void)a, (void)ars, (void)aps, (void)b, (void)c, (void)ldc,
        (void)accumulate;
}

void byol__wino_to_bf16(int64_t n, const float *x, uint16_t *y)
{
    (void)n, (void)x, (void)y;
}

void byol__wino_pairs_bf16(int64_t planes, int64_t k, int64_t n, float *u)
{
    (void)planes, (void)k, (void)n, (void)u;
}

void byol__wino_weights_avx512(int a, int64_t n, const float *g, int64_t js, int64_t ts,
                               int flip, float *u, int64_t ps)
{
    (void)a, (void)n, (void)g, (void)js, (void)ts, (void)flip, (void)u, (void)ps;
}

#endif
