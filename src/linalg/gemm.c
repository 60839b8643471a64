/* The single funnel from our int64 shapes to cblas_sgemm's int arguments,
 * and the one place that decides how a GEMM uses the threads. On CPUs with
 * AVX-512F a piece runs on libbyol's own kernel instead where that kernel
 * takes it (sgemm_avx512.c: not a transposed B);
 * BYOL_CPU_DISABLE=avx512 sends every piece to CBLAS.
 *
 * Threads. A provider's own threading is not deterministic across thread
 * counts: OpenBLAS 0.3.21 splits C between its threads and the bits of C
 * change with the split (1 vs 2 threads differ in about half the entries
 * of a 1820x48x576 product). So the provider is kept single-threaded and
 * byol__gemm cuts C into blocks fixed by the shape alone, run by our OpenMP
 * threads; each entry of C is then computed by the same single-threaded
 * call whatever the thread count. Kernels that run several GEMMs between
 * other loops call byol__gemm_serial from their own parallel regions.
 *
 * Sizes. CBLAS takes int sizes and leading dimensions; a product larger
 * than that is cut into pieces that each fit. A leading dimension too large
 * for int matters only when the matrix it strides has more than one stored
 * row, so such a matrix is cut down to single stored rows, whose leading
 * dimension can then be the row length. */
#include <limits.h>

#include <cblas.h>

#include "core/internal.h"
#include "linalg/linalg.h"

/* byol__gemm's blocks: at most this many (a power of two, so 1, 2 and 4
 * threads share them evenly), each at least BLOCK_MIN rows or columns
 * (a multiple of the kernels' 16-wide unroll) and BLOCK_FLOPS of work. */
#define MAX_BLOCKS 4
#define BLOCK_MIN 32
#define BLOCK_FLOPS (4.0 * 1024 * 1024)

typedef struct gemm_args {
    int trans_a, trans_b;
    float alpha;
    const float *a;
    int64_t lda;
    const float *b;
    int64_t ldb;
    float *c;
    int64_t ldc;
} gemm_args;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Leading dimension to hand CBLAS for a stored matrix of `rows` rows of
 * `cols` floats: with one row the stride is never used, so the smallest
 * legal value stands in for one that may not fit an int. */
static int cblas_ld(int64_t rows, int64_t cols, int64_t ld)
{
    if (rows <= 1)
        return (int)(cols > 1 ? cols : 1);
    return (int)ld;
}

/* C[m,n] scaled by beta without touching A and B (used when k == 0, where
 * the product is empty). beta == 0 overwrites so NaNs in C do not survive,
 * as in BLAS. */
static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

static void gemm_call(const gemm_args *g, int64_t m, int64_t n, int64_t k,
                      float beta)
{
    if (byol__sgemm_avx512(g->trans_a, g->trans_b, m, n, k, g->alpha, g->a,
                           g->lda, g->b, g->ldb, beta, g->c, g->ldc))
        return;
    /* Stored shapes: A is [m,k] or [k,m], B is [k,n] or [n,k], C is [m,n]. */
    int lda = g->trans_a ? cblas_ld(k, m, g->lda) : cblas_ld(m, k, g->lda);
    int ldb = g->trans_b ? cblas_ld(n, k, g->ldb) : cblas_ld(k, n, g->ldb);
    int ldc = cblas_ld(m, n, g->ldc);
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                g->alpha, g->a, lda, g->b, ldb, beta, g->c, ldc);
}

/* Row and column counts at which the stored matrices need cutting: a
 * dimension is limited to `limit`, and to 1 where it counts the stored rows
 * of a matrix whose leading dimension exceeds `limit`. */
static int64_t max_m(const gemm_args *g, int64_t limit)
{
    int big = g->ldc > limit || (!g->trans_a && g->lda > limit);
    return big ? 1 : limit;
}

static int64_t max_n(const gemm_args *g, int64_t limit)
{
    return g->trans_b && g->ldb > limit ? 1 : limit;
}

static int64_t max_k(const gemm_args *g, int64_t limit)
{
    int big = (g->trans_a && g->lda > limit) || (!g->trans_b && g->ldb > limit);
    return big ? 1 : limit;
}

/* Element (i, j) of the stored matrix op(X) = X or X^T with leading ld. */
static const float *at(const float *x, int trans, int64_t ld, int64_t i,
                       int64_t j)
{
    return trans ? x + j * ld + i : x + i * ld + j;
}

void byol__gemm_limited(int64_t limit, int trans_a, int trans_b, int64_t m,
                        int64_t n, int64_t k, float alpha, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc)
{
    /* C[m,n] = alpha * op(A)[m,k] op(B)[k,n] + beta * C, in pieces of at
     * most limit (<= INT_MAX) per dimension. Pieces along k after the
     * first accumulate with beta = 1, so the sum is still one GEMM's. */
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    gemm_args g = { trans_a, trans_b, alpha, a, lda, b, ldb, c, ldc };
    int64_t bm = max_m(&g, limit), bn = max_n(&g, limit), bk = max_k(&g, limit);
    for (int64_t i = 0; i < m; i += bm) {
        for (int64_t j = 0; j < n; j += bn) {
            for (int64_t p = 0; p < k; p += bk) {
                gemm_args piece = g;
                piece.a = at(a, trans_a, lda, i, p);
                piece.b = at(b, trans_b, ldb, p, j);
                piece.c = c + i * ldc + j;
                gemm_call(&piece, min64(bm, m - i), min64(bn, n - j),
                          min64(bk, k - p), p == 0 ? beta : 1.0f);
            }
        }
    }
}

/* ---- blocked, threaded GEMM -------------------------------------------------- */

void byol__gemm_serial(int trans_a, int trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc)
{
    byol__gemm_limited(INT_MAX, trans_a, trans_b, m, n, k, alpha, a, lda, b,
                       ldb, beta, c, ldc);
}

int64_t byol__par_block(int64_t len, int64_t min_len, double work_per_unit)
{
    /* len units of work_per_unit each -> block length, from the shape only */
    int64_t nb = MAX_BLOCKS;
    while (nb > 1 && (len < nb * min_len ||
                      (double)len * work_per_unit < nb * BLOCK_FLOPS))
        nb /= 2;
    int64_t blk = (len + nb - 1) / nb;
    blk = (blk + 15) / 16 * 16;   /* whole register tiles */
    return blk < len ? blk : len;
}

int64_t byol__gemm_blocks(int64_t m, int64_t n, int64_t k, int64_t *blk)
{
    /* C[m,n] is cut along its longer side, so each block packs only its own
     * slice of the operand that side indexes. */
    if (m <= 0 || n <= 0) {
        *blk = 1;
        return 0;
    }
    const int64_t len = m >= n ? m : n, other = m >= n ? n : m;
    *blk = byol__par_block(len, BLOCK_MIN, 2.0 * (double)k * (double)other);
    return (len + *blk - 1) / *blk;
}

void byol__gemm_block_with(byol__gemm_fn f, int64_t i, int64_t blk,
                           int trans_a, int trans_b, int64_t m, int64_t n,
                           int64_t k, float alpha, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float beta, float *c,
                           int64_t ldc)
{
    /* block i of byol__gemm_blocks' cut of C[m,n]: rows or columns
     * [i*blk, i*blk + blk) */
    if (m >= n) {
        int64_t o = i * blk, w = min64(blk, m - o);
        f(trans_a, trans_b, w, n, k, alpha, at(a, trans_a, lda, o, 0), lda, b,
          ldb, beta, c + o * ldc, ldc);
    } else {
        int64_t o = i * blk, w = min64(blk, n - o);
        f(trans_a, trans_b, m, w, k, alpha, a, lda, at(b, trans_b, ldb, 0, o),
          ldb, beta, c + o, ldc);
    }
}

void byol__gemm_block(int64_t i, int64_t blk, int trans_a, int trans_b,
                      int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb,
                      float beta, float *c, int64_t ldc)
{
    byol__gemm_block_with(byol__gemm_serial, i, blk, trans_a, trans_b, m, n,
                          k, alpha, a, lda, b, ldb, beta, c, ldc);
}

typedef struct blocks_args {
    byol__gemm_fn f;
    int64_t blk;
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha;
    const float *a;
    int64_t lda;
    const float *b;
    int64_t ldb;
    float beta;
    float *c;
    int64_t ldc;
} blocks_args;

static void gemm_range(void *arg, int64_t i0, int64_t i1)
{
    const blocks_args *g = arg;
    for (int64_t i = i0; i < i1; i++)
        byol__gemm_block_with(g->f, i, g->blk, g->trans_a, g->trans_b, g->m, g->n, g->k,
                              g->alpha, g->a, g->lda, g->b, g->ldb, g->beta, g->c, g->ldc);
}

void byol__gemm_with(byol__gemm_fn f, int trans_a, int trans_b, int64_t m,
                     int64_t n, int64_t k, float alpha, const float *a,
                     int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc)
{
    /* C[m,n] = alpha op(A) op(B) + beta C over the fixed blocks */
    blocks_args g = { f, 0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc };
    const int64_t nb = byol__gemm_blocks(m, n, k, &g.blk);
    byol__gemm_prepare();
    byol__parallel_for(nb, nb > 1, gemm_range, &g);
}

void byol__gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                float alpha, const float *a, int64_t lda, const float *b,
                int64_t ldb, float beta, float *c, int64_t ldc)
{
    byol__gemm_with(byol__gemm_serial, trans_a, trans_b, m, n, k, alpha, a,
                    lda, b, ldb, beta, c, ldc);
}
