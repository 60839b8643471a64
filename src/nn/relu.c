/* ReLU. NaN handling follows PyTorch: relu(NaN) = NaN (clamp_min keeps it),
 * and the backward passes the gradient wherever the output is not <= 0. */
#include "core/internal.h"
#include "nn/kernels.h"

typedef struct relu_args {
    const float *x, *dy;   /* the forward's input, or the backward's y and dy */
    float *y;              /* the forward's output, or dx */
    int accum;
} relu_args;

static void fwd_range(void *arg, int64_t i0, int64_t i1)
{
    /* `x < 0` is false for NaN, which passes. */
    const relu_args *p = arg;
    for (int64_t i = i0; i < i1; i++)
        p->y[i] = p->x[i] < 0.0f ? 0.0f : p->x[i];
}

void byol__relu_forward(int64_t len, const float *x, float *y)
{
    /* x, y [len]; y may alias x. */
    relu_args p = { x, NULL, y, 0 };
    byol__parallel_for(len, len >= BYOL__PAR_MIN, fwd_range, &p);
}

static void bwd_range(void *arg, int64_t i0, int64_t i1)
{
    const relu_args *p = arg;
    const float *y = p->x, *dy = p->dy;
    float *dx = p->y;
    if (p->accum) {
        for (int64_t i = i0; i < i1; i++) {
            float g = dy[i];   /* loaded unconditionally so gcc vectorises */
            dx[i] += y[i] <= 0.0f ? 0.0f : g;
        }
        return;
    }
    for (int64_t i = i0; i < i1; i++) {
        float g = dy[i];
        dx[i] = y[i] <= 0.0f ? 0.0f : g;
    }
}

void byol__relu_backward(int64_t len, const float *y, const float *dy,
                         float *dx, int accum)
{
    /* y, dy, dx [len]; dx may alias dy. */
    relu_args p = { y, dy, dx, accum };
    byol__parallel_for(len, len >= BYOL__PAR_MIN, bwd_range, &p);
}
