/* Linear algebra under the network kernels and the evaluation: the one
 * funnel from our int64 shapes to cblas_sgemm (any CBLAS provider, chosen at
 * build time), the provider's set-up, and deterministic column sums.
 *
 * Determinism: the BLAS provider is kept single-threaded and every product
 * is cut into blocks fixed by its shape alone, run on our OpenMP threads
 * (byol__num_threads()); column sums use a tiling fixed by the shape too.
 * So results are bitwise the same for any thread count. */
#ifndef BYOL_LINALG_H
#define BYOL_LINALG_H

#include <stdint.h>

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major, through
 * cblas_sgemm. The single funnel for all GEMMs. */
void byol__gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                float alpha, const float *a, int64_t lda, const float *b,
                int64_t ldb, float beta, float *c, int64_t ldc);

/* The same product on libbyol's own AVX-512F kernel (sgemm_avx512.c), one
 * thread, k > 0: returns 1 when done, 0 (C untouched) for a transposed B,
 * a CPU without AVX-512F (or BYOL_CPU_DISABLE listing it) or a per-thread
 * pack buffer that cannot be had (then the bits are the provider's);
 * byol__gemm's pieces then go to cblas_sgemm. */
int byol__sgemm_avx512(int trans_a, int trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc);

/* 16 x 16 32-bit elements turned over (on AVX-512F where
 * byol__cpu_avx512(), else element by element): dst[i * ldd + p] =
 * src[p * ld + i] for source rows p < rows and columns i < cols (strides
 * in elements; only `rows` entries of each dst row written); 1 <= rows,
 * cols <= 16. transpose_avx512.c. */
void byol__transpose16_32(const void *src, int64_t ld, int rows, int cols, void *dst,
                          int64_t ldd);

/* ---- blocks and threads ---------------------------------------------- */
/* byol__gemm keeps the BLAS provider single-threaded (its own threading is
 * not deterministic across thread counts) and runs fixed blocks of C on our
 * OpenMP threads. A kernel with its own parallel region calls
 * byol__gemm_prepare() once outside it, then byol__gemm_serial (one
 * single-threaded BLAS call, any sizes) inside it. */
void byol__gemm_prepare(void);
void byol__gemm_serial(int trans_a, int trans_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc);
/* Block length for splitting len units of work_per_unit flops over threads:
 * up to 4 blocks, at least min_len units and a few MFLOP each, rounded to a
 * multiple of 16; a function of its arguments only. */
int64_t byol__par_block(int64_t len, int64_t min_len, double work_per_unit);
/* byol__gemm's cut of C[m,n] into blocks (returns the count, sets *blk) and
 * one block of it, single-threaded: a kernel shares the blocks among the
 * threads of its own parallel region (byol__share) to get byol__gemm's
 * exact bits. */
int64_t byol__gemm_blocks(int64_t m, int64_t n, int64_t k, int64_t *blk);
void byol__gemm_block(int64_t i, int64_t blk, int trans_a, int trans_b,
                      int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb,
                      float beta, float *c, int64_t ldc);
/* A single-threaded product with byol__gemm_serial's arguments: that one,
 * or one that rounds the operands to bf16 (nn/gemm_bf16.c). byol__gemm and
 * byol__gemm_block with the pieces computed by f. */
typedef void (*byol__gemm_fn)(int trans_a, int trans_b, int64_t m, int64_t n,
                              int64_t k, float alpha, const float *a,
                              int64_t lda, const float *b, int64_t ldb,
                              float beta, float *c, int64_t ldc);
void byol__gemm_with(byol__gemm_fn f, int trans_a, int trans_b, int64_t m,
                     int64_t n, int64_t k, float alpha, const float *a,
                     int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc);
void byol__gemm_block_with(byol__gemm_fn f, int64_t i, int64_t blk,
                           int trans_a, int trans_b, int64_t m, int64_t n,
                           int64_t k, float alpha, const float *a, int64_t lda,
                           const float *b, int64_t ldb, float beta, float *c,
                           int64_t ldc);
/* byol__gemm with every CBLAS int argument limited to `limit` (INT_MAX in
 * byol__gemm): larger products are cut into pieces. */
void byol__gemm_limited(int64_t limit, int trans_a, int trans_b, int64_t m,
                        int64_t n, int64_t k, float alpha, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc);
/* Tiling for column reductions over an [m, c] matrix that depends on (m, c)
 * only, so partial sums combine in the same order for any thread count:
 * *groups row groups of *rows rows each (the last may be shorter) times
 * column blocks of *width columns. With more than one group the partial
 * sums take groups * c <= BYOL__REDUCE_PARTIALS doubles (a caller's stack
 * array); with one group each tile owns its columns and needs none. */
#define BYOL__REDUCE_PARTIALS 2048
void byol__reduce_tiles(int64_t m, int64_t c, int64_t *groups, int64_t *rows,
                        int64_t *width);
/* db[c] += sum_m dy[m, c] (bias gradients), summed in double. */
void byol__colsum_add(int64_t m, int64_t c, const float *dy, float *db);

#endif
