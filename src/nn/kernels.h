/* Layer kernels: forward and backward passes on float32 tensors.
 *
 * Internal layout is NHWC (channels last): a 4-D activation [N, H, W, C] is
 * an [N*H*W, C] row-major matrix, so a 1x1 convolution is a plain GEMM and
 * BatchNorm statistics are column sums. 2-D activations are [N, C].
 * Parameters keep PyTorch's layouts (conv weight [Cout, Cin, KH, KW], linear
 * weight [Out, In]) so flat views and weight files need no conversion.
 *
 * Conventions (as in llm.c):
 * - every kernel opens with a shape comment;
 * - parameter gradients (dw, db, dgamma, dbeta) always ACCUMULATE (+=);
 * - input gradients dx accumulate when `accum` is non-zero and overwrite
 *   otherwise (the first writer of a gradient buffer overwrites, later
 *   writers add: a residual branch point gets both);
 * - kernels never allocate: they take caller-planned scratch whose size a
 *   *_scratch function reports (in floats);
 * - heavy work is GEMM through byol__gemm (linalg/linalg.h); loops use OpenMP with
 *   num_threads(byol__num_threads()) and a partition that does not depend on
 *   the thread count, so results are bitwise the same for any count.
 */
#ifndef BYOL_NN_KERNELS_H
#define BYOL_NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "linalg/linalg.h"

/* Layout conversion at the ABI boundary.
 * x [N, C, H, W] -> y [N, H, W, C] and back. */
void byol__nchw_to_nhwc(int64_t n, int64_t c, int64_t h, int64_t w,
                        const float *x, float *y);
void byol__nhwc_to_nchw(int64_t n, int64_t c, int64_t h, int64_t w,
                        const float *x, float *y);

/* Output size of a kh x kw window sliding with stride over an h x w map
 * zero-padded by pad on each side (PyTorch's floor mode): 0, or -1 when the
 * window does not fit. Shared by convolution and pooling. */
int byol__window_out(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride,
                     int64_t pad, int64_t *oh, int64_t *ow);

/* ---- 2-D convolution --------------------------------------------------- */
typedef struct byol__conv_geom {
    int64_t n, h, w, cin;   /* input  [n, h, w, cin] */
    int64_t cout, kh, kw;   /* weight [cout, cin, kh, kw] */
    int64_t stride, pad;    /* same stride and symmetric zero pad on H and W */
    int64_t oh, ow;         /* output [n, oh, ow, cout]; filled by byol__conv_geom_init */
    int32_t winograd;       /* 2 or 4: 3x3 stride-1 layers that fit run as Winograd F(mxm, 3x3) */
    int32_t bf16;           /* products in bf16 (nn.precision=bf16, where byol__cpu_bf16()) */
} byol__conv_geom;
/* Computes oh/ow; returns 0, or -1 if the output would be empty. */
int byol__conv_geom_init(byol__conv_geom *g);
/* Floats of scratch needed by forward and backward (im2col chunk and dW, or
 * Winograd's blocks and transformed weights). */
size_t byol__conv2d_scratch(const byol__conv_geom *g);
/* Packs w [cout, cin, kh, kw] into the layout the GEMM wants; wp lives in
 * scratch-independent memory of byol__conv2d_packed_size(g) floats so it
 * can be packed once per forward and reused by backward. Winograd layers
 * need none (0 floats): they transform w into scratch in each pass. */
size_t byol__conv2d_packed_size(const byol__conv_geom *g);
void byol__conv2d_pack(const byol__conv_geom *g, const float *w, float *wp);
/* y [n, oh, ow, cout] = conv(x [n, h, w, cin], w) + bias (bias may be NULL),
 * wp the packed copy of w. */
void byol__conv2d_forward(const byol__conv_geom *g, const float *x, const float *w,
                          const float *wp, const float *bias, float *y, float *scratch);
/* dw [cout, cin, kh, kw] += ..., db [cout] += ... (db may be NULL),
 * dx [n, h, w, cin] (+)= ... (dx may be NULL: not needed for the first layer). */
void byol__conv2d_backward(const byol__conv_geom *g, const float *x, const float *w,
                           const float *wp, const float *dy, float *dx, int accum, float *dw,
                           float *db, float *scratch);

/* ---- BatchNorm (2-D over [M = N*H*W, C]; 1-D is the same with H = W = 1) --
 * Training splits into sums -> (reduction point for synchronized BN across
 * processes; identity in one process) -> normalise, so a communicator can
 * all-reduce the per-channel sums. Sums are accumulated in double. */
/* sum[c] = sum_m x[m,c], sumsq[c] = sum_m x[m,c]^2 */
void byol__bn_sums(int64_t m, int64_t c, const float *x, double *sum,
                   double *sumsq);
/* From the (possibly global) sums over `count` rows: mean[c], rstd[c] =
 * 1/sqrt(var_biased + eps); and the running statistics update
 * run = (1 - momentum) * run + momentum * batch_stat, where the variance fed
 * to the running average is unbiased (count/(count-1)) when `unbiased` is
 * non-zero (PyTorch) and biased otherwise. */
void byol__bn_stats(int64_t count, int64_t c, const double *sum,
                    const double *sumsq, float eps, float momentum,
                    int unbiased, float *mean, float *rstd, float *run_mean,
                    float *run_var);
/* y[m,c] = (x[m,c] - mean[c]) * rstd[c] * gamma[c] + beta[c], then
 * max(y, 0) if relu (a fused ReLU, as byol__relu_forward). */
void byol__bn_apply(int64_t m, int64_t c, const float *x, const float *mean,
                    const float *rstd, const float *gamma, const float *beta,
                    int relu, float *y);
/* Eval mode: rstd from running variance. */
void byol__bn_forward_eval(int64_t m, int64_t c, const float *x,
                           const float *run_mean, const float *run_var,
                           float eps, const float *gamma, const float *beta,
                           int relu, float *y);
/* Backward sums: dsum[c] = sum_m dy, dxhat_sum[c] = sum_m dy * xhat, where
 * xhat = (x - mean) * rstd. Also a reduction point. With relu_y (a fused
 * ReLU's output, else NULL) dy is first masked as byol__relu_backward
 * does: 0 where relu_y <= 0. */
void byol__bn_backward_sums(int64_t m, int64_t c, const float *x,
                            const float *dy, const float *relu_y,
                            const float *mean, const float *rstd,
                            double *dsum, double *dxhat);
/* dgamma += dxhat, dbeta += dsum; dx (+)= gamma*rstd*(dy - dsum/count - xhat*dxhat/count),
 * dy masked by relu_y as above */
void byol__bn_backward_apply(int64_t m, int64_t c, int64_t count,
                             const float *x, const float *dy,
                             const float *relu_y, const float *mean,
                             const float *rstd,
                             const float *gamma, const double *dsum,
                             const double *dxhat, float *dx, int accum,
                             float *dgamma, float *dbeta);

/* ---- ReLU: y = max(x, 0) over `len` floats (in place allowed) ---------- */
void byol__relu_forward(int64_t len, const float *x, float *y);
/* dx (+)= dy * [y > 0] (uses the output y, so x may be overwritten) */
void byol__relu_backward(int64_t len, const float *y, const float *dy,
                         float *dx, int accum);

/* ---- Max-pool 2-D, padding with -inf ------------------------------------- */
typedef struct byol__pool_geom {
    int64_t n, h, w, c, k, stride, pad, oh, ow;
} byol__pool_geom;
int byol__pool_geom_init(byol__pool_geom *g);   /* fills oh, ow (PyTorch floor mode) */
/* y [n, oh, ow, c]; argmax [n, oh, ow, c] int32 index into the input plane (h*w) */
void byol__maxpool_forward(const byol__pool_geom *g, const float *x, float *y,
                           int32_t *argmax);
/* dx [n, h, w, c] (+)= scatter of dy through argmax */
void byol__maxpool_backward(const byol__pool_geom *g, const int32_t *argmax,
                            const float *dy, float *dx, int accum);

/* ---- Global average pool: x [n, hw, c] -> y [n, c] ---------------------- */
void byol__avgpool_forward(int64_t n, int64_t hw, int64_t c, const float *x,
                           float *y);
void byol__avgpool_backward(int64_t n, int64_t hw, int64_t c, const float *dy,
                            float *dx, int accum);

/* ---- Linear: y [n, out] = x [n, in] * w[out, in]^T + b[out] (b may be NULL) */
void byol__linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                          const float *w, const float *b, float *y, int bf16);
/* dw += dy^T x, db += sum dy (db may be NULL), dx (+)= dy w (dx may be NULL).
 * bf16: the products take bf16 operands (byol__gemm_bf16_serial). */
void byol__linear_backward(int64_t n, int64_t in, int64_t out, const float *x,
                           const float *w, const float *dy, float *dx,
                           int accum, float *dw, float *db, int bf16);

/* ---- bf16 GEMM (gemm_bf16.c) --------------------------------------------
 * byol__gemm_serial's product with the operands rounded to bf16 (nearest
 * even) and fp32 sums, on AMX tiles or vdpbf16ps, where byol__cpu_bf16()
 * and alpha is 1; elsewhere it is byol__gemm_serial. */
void byol__gemm_bf16_serial(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float beta, float *c, int64_t ldc);
/* A layer's single-threaded product: with bf16 operands when bf16, else
 * fp32 (byol__gemm_serial). */
static inline byol__gemm_fn byol__mm(int bf16)
{
    return bf16 ? byol__gemm_bf16_serial : byol__gemm_serial;
}

/* ---- Residual add: y = a + b over len floats (then max(y, 0) if relu, a
 * fused ReLU); backward is a copy/add ---- */
void byol__add_forward(int64_t len, const float *a, const float *b, int relu,
                       float *y);
/* dx (+)= dy */
void byol__copy_grad(int64_t len, const float *dy, float *dx, int accum);
/* The backward of an add with a fused ReLU (y its output): g = dy where
 * y > 0, else 0; da (+)= g, then db (+)= g (da may alias dy, db da). */
void byol__add_relu_backward(int64_t len, const float *y, const float *dy, float *da,
                             int accum_a, float *db, int accum_b);
/* y [rows, cols] = v [cols] in every row (a bias the GEMM then adds onto
 * with beta = 1, as PyTorch's addmm does). */
void byol__fill_rows(int64_t rows, int64_t cols, const float *v, float *y);

/* ---- Flatten: NHWC [n, h, w, c] -> [n, c*h*w] in PyTorch's (c, h, w)
 * order, so a following Linear uses PyTorch's weight layout. */
void byol__flatten_forward(int64_t n, int64_t h, int64_t w, int64_t c,
                           const float *x, float *y);
void byol__flatten_backward(int64_t n, int64_t h, int64_t w, int64_t c,
                            const float *dy, float *dx, int accum);

#endif
