/* ReLU. NaN handling follows PyTorch: relu(NaN) = NaN (clamp_min keeps it),
 * and the backward passes the gradient wherever the output is not <= 0. */
#include "core/internal.h"
#include "nn/kernels.h"


void byol__relu_forward(int64_t len, const float *x, float *y)
{
    /* x, y [len]; y may alias x. `x < 0` is false for NaN, which passes. */
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= BYOL__PAR_MIN)
    for (int64_t i = 0; i < len; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void byol__relu_backward(int64_t len, const float *y, const float *dy,
                         float *dx, int accum)
{
    /* y, dy, dx [len]; dx may alias dy. */
    if (accum) {
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= BYOL__PAR_MIN)
        for (int64_t i = 0; i < len; i++) {
            float g = dy[i];   /* loaded unconditionally so gcc vectorises */
            dx[i] += y[i] <= 0.0f ? 0.0f : g;
        }
    } else {
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= BYOL__PAR_MIN)
        for (int64_t i = 0; i < len; i++) {
            float g = dy[i];
            dx[i] = y[i] <= 0.0f ? 0.0f : g;
        }
    }
}
