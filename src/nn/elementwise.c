/* Residual add and gradient copy. */
#include <string.h>

#include "core/internal.h"
#include "nn/kernels.h"

void byol__add_forward(int64_t len, const float *a, const float *b, int relu,
                       float *y)
{
    /* a, b, y [len]; y may alias a or b. The fused ReLU clamps as
     * byol__relu_forward does (NaN passes). */
    if (relu) {
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= BYOL__PAR_MIN)
        for (int64_t i = 0; i < len; i++) {
            float v = a[i] + b[i];
            y[i] = v < 0.0f ? 0.0f : v;
        }
        return;
    }
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= BYOL__PAR_MIN)
    for (int64_t i = 0; i < len; i++)
        y[i] = a[i] + b[i];
}

void byol__copy_grad(int64_t len, const float *dy, float *dx, int accum)
{
    /* dy, dx [len] */
    if (!accum) {
        if (dx != dy)
            memcpy(dx, dy, (size_t)len * sizeof(float));
        return;
    }
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= BYOL__PAR_MIN)
    for (int64_t i = 0; i < len; i++)
        dx[i] += dy[i];
}
