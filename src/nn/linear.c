/* Fully connected layer with PyTorch's weight layout [out, in]. */
#include <string.h>

#include "core/internal.h"
#include "nn/kernels.h"


/* y[r, :] = b for each of n rows, so the GEMM can add into it (beta = 1),
 * as PyTorch's addmm does. */
static void fill_rows(int64_t n, int64_t out, const float *b, float *y)
{
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (n * out >= BYOL__PAR_MIN)
    for (int64_t r = 0; r < n; r++)
        memcpy(y + r * out, b, (size_t)out * sizeof(float));
}

void byol__linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                          const float *w, const float *b, float *y, int bf16)
{
    /* x [n, in], w [out, in], b [out] -> y [n, out] = x w^T + b */
    if (b)
        fill_rows(n, out, b, y);
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
