/* Direct convolution kernels (no im2col matrix) for CPUs with AVX-512F,
 * private to conv2d.c.
 *
 * Every entry returns 1 when it did the work and 0 when this geometry or
 * CPU is not one it handles, so conv2d.c falls back to im2col + GEMM. Each
 * output is the same float, bit for bit, as the GEMM on im2col's matrix
 * when that GEMM sums its products one at a time in order of k, with a
 * separate multiply and add (the plain loop test_checkpoint_pin links in as
 * cblas_sgemm), for finite weights and gradients: the kernels sum in im2col's
 * (kh, kw, cin) order and never fuse a multiply into an add. Padding taps
 * that im2col fills with zeros are either multiplied as zeros or skipped,
 * which adds +0 or -0 to a sum that started at +0 and so cannot change it.
 * So the pinned bits do not depend on which path ran, and the results do
 * not depend on the thread count (no output is split between threads). */
#ifndef BYOL_NN_CONV_DIRECT_H
#define BYOL_NN_CONV_DIRECT_H

#include "nn/kernels.h"

/* Floats of packed weights the direct kernels add after conv2d's own
 * [cout, K] copy: the forward's [K, cout] transpose. */
size_t byol__conv_direct_packed(const byol__conv_geom *g);
/* wt [K, cout] = the transpose of wp [cout, K], when the forward is direct. */
void byol__conv_direct_pack(const byol__conv_geom *g, const float *wp, float *wt);

/* y [n, oh, ow, cout] = conv(x [n, h, w, cin]) with wt [K, cout] (+ bias). */
int byol__conv_direct_forward(const byol__conv_geom *g, const float *x,
                              const float *wt, const float *bias, float *y);

#endif
