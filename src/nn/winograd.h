/* Winograd convolution for 3x3 stride-1 layers, private to conv2d.c:
 * F(4x4, 3x3) under nn.conv_algo=winograd (and auto on CPUs with AVX-512),
 * F(2x2, 3x3) under winograd2. Forward, input gradient and weight gradient,
 * with no im2col matrix.
 *
 * F(4x4) takes 36 products per (input, output) channel pair for 16 outputs
 * where im2col + GEMM takes 144 (4x fewer), F(2x2) 16 for 4 (2.25x). The
 * results are not im2col's bits: they differ by float rounding (relative
 * to the largest output, up to 7e-7 with F(2x2) and 2e-6 to 2e-5 with
 * F(4x4); with nn.precision=bf16, which runs F(2x2) only, 3e-3 to 5e-3;
 * tests/unit/test_layers_conv.c bounds them against float64), are the same
 * for any thread count, and are the same on every run. */
#ifndef BYOL_NN_WINOGRAD_H
#define BYOL_NN_WINOGRAD_H

#include "nn/kernels.h"

/* Does this layer run as Winograd: g->winograd 2 or 4, 3x3, stride 1,
 * pad <= 2, channel counts multiples of 16. */
int byol__wino_fits(const byol__conv_geom *g);

/* Floats of scratch any pass needs: the transformed weights, then blocks. */
size_t byol__wino_scratch(const byol__conv_geom *g);

/* x [n, h, w, cin], w [cout, cin, 3, 3] -> y [n, oh, ow, cout] (+ bias
 * when not NULL). */
void byol__wino_forward(const byol__conv_geom *g, const float *x, const float *w,
                        const float *bias, float *y, float *scratch);
/* dy [n, oh, ow, cout] -> dx [n, h, w, cin], added to dx when accum. */
void byol__wino_backward_data(const byol__conv_geom *g, const float *dy, const float *w,
                              float *dx, int accum, float *scratch);
/* x [n, h, w, cin], dy [n, oh, ow, cout] -> dw [cout, cin, 3, 3] +=. */
void byol__wino_backward_weights(const byol__conv_geom *g, const float *x, const float *dy,
                                 float *dw, float *scratch);

/* c [m, n] (+)= a [m, k] b [k, n] (a's entry (r, p) at a[r * ars +
 * p * acs]; b, c rows packed; n a multiple of 16) on one thread with the
 * AVX-512 kernels of wino_avx512.c; 0 where the CPU has none, and the
 * caller multiplies through the BLAS. */
int byol__wino_matmul(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                      int64_t acs, const float *b, float *c, int accumulate);
/* The same product with bf16 operands and fp32 sums, c [m, n] (+)= a b
 * (c's rows ldc apart), where byol__cpu_bf16(): a [m, k] with the pair
 * (a[r][2p], a[r][2p+1]) at a + r * ars + p * aps, b packed as [k/2, n, 2]
 * (b[p][j] at (p/2 * n + j) * 2 + p % 2); k even, n a multiple of 16.
 * Also the kernel of gemm_bf16.c. */
void byol__wino_matmul_bf16(int64_t m, int64_t n, int64_t k, const uint16_t *a, int64_t ars,
                            int64_t aps, const uint16_t *b, float *c, int64_t ldc,
                            int accumulate);
/* The same product on AMX tiles (wino_amx.c), where byol__cpu_amx();
 * byol__wino_matmul_bf16 hands it over there. Its sums are added in the
 * tiles' order, so its bits differ from the AVX512_BF16 kernel's. */
void byol__wino_matmul_amx(int64_t m, int64_t n, int64_t k, const uint16_t *a, int64_t ars,
                           int64_t aps, const uint16_t *b, float *c, int64_t ldc, int accumulate);
/* x [n] -> y [n] in bf16 (round to nearest even), n a multiple of 16, y
 * possibly in place over x; where byol__cpu_bf16(). */
void byol__wino_to_bf16(int64_t n, const float *x, uint16_t *y);
/* The weight transform U = G g G^T of the kernels of one row of U's
 * planes, 16 columns at a time (n a multiple of 16), in double and rounded
 * to float once: column j's tap t at g[j * js + t * ts] (turned by 180
 * degrees when flip), its a*a results at u[xi * ps + j]. Where
 * byol__cpu_avx512(). */
void byol__wino_weights_avx512(int a, int64_t n, const float *g, int64_t js, int64_t ts,
                               int flip, float *u, int64_t ps);
/* planes fp32 planes [k, n] (k even, n a multiple of 16), one after the
 * other from u, turned in place into bf16 planes [k/2, n, 2] in the first
 * half of u, as byol__wino_matmul_bf16 reads b. Where byol__cpu_bf16(). */
void byol__wino_pairs_bf16(int64_t planes, int64_t k, int64_t n, float *u);
/* The transforms of one tile, applied to n channels, each a matrix on
 * both sides of a k x k grid of vectors src[i] (row-major):
 *   BYOL__WINO_IN:   a x a input patch d    -> B^T d B   (a x a)
 *   BYOL__WINO_OUT:  a x a products m       -> A^T m A   (m x m)
 *   BYOL__WINO_GRAD: m x m output gradient  -> A dY A^T  (a x a)
 * dst[i][c] = base[i][c] + result (base NULL: + 0). The AVX-512 version
 * wants n a multiple of 16 and may run only where byol__cpu_avx512(). */
enum { BYOL__WINO_IN, BYOL__WINO_OUT, BYOL__WINO_GRAD };
void byol__wino_transform_avx512(int kind, int a, int64_t n, const float *const *src,
                                 const float *const *base, float *const *dst);

#endif
