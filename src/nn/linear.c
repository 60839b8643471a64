/* Fully connected layer with PyTorch's weight layout [out, in]. */
#include <string.h>

#include "core/internal.h"
#include "nn/kernels.h"


void byol__linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                          const float *w, const float *b, float *y, int bf16)
{
    /* x [n, in], w [out, in], b [out] -> y [n, out] = x w^T + b */
    if (b)
        byol__fill_rows(n, out, b, y);
    byol__gemm_with(byol__mm(bf16), 0, 1, n, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f,
                    y, out);
}

void byol__linear_backward(int64_t n, int64_t in, int64_t out, const float *x,
                           const float *w, const float *dy, float *dx,
                           int accum, float *dw, float *db, int bf16)
{
    /* dy [n, out] -> dw [out, in] += dy^T x, db [out] += sum_n dy,
     * dx [n, in] (+)= dy w */
    byol__gemm_with(byol__mm(bf16), 1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db)
        byol__colsum_add(n, out, dy, db);
    if (dx)
        byol__gemm_with(byol__mm(bf16), 0, 0, n, in, out, 1.0f, dy, out, w, in,
                        accum ? 1.0f : 0.0f, dx, in);
}
