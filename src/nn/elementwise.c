/* Residual add, and its backward: gradient copies, masked by a fused ReLU. */
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

void byol__add_relu_backward(int64_t len, const float *y, const float *dy, float *da,
                             int accum_a, float *db, int accum_b)
{
    /* y, dy, da, db [len]; da may alias dy, and db da (x + x: then
     * accum_b is 1). One pass for the ReLU's mask and both copies, with the
     * bits of byol__relu_backward then byol__copy_grad into da, then into
     * db. */
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= BYOL__PAR_MIN)
    for (int64_t i = 0; i < len; i++) {
        float g = dy[i];   /* loaded unconditionally so gcc vectorises */
        g = y[i] <= 0.0f ? 0.0f : g;
        float a = accum_a ? da[i] + g : g;
        da[i] = a;
        db[i] = accum_b ? db[i] + g : g;
    }
}
