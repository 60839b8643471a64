/* Residual add, and its backward: gradient copies, masked by a fused ReLU;
 * rows filled with a bias. */
#include <string.h>

#include "core/internal.h"
#include "nn/kernels.h"

/* The arrays of one element-wise pass and its two flags. */
typedef struct ew {
    const float *a, *b;
    float *y, *z;
    int fa, fb;
} ew;

static void add_range(void *arg, int64_t i0, int64_t i1)
{
    /* y = a + b, clamped at 0 when fa (NaN passes, as in relu.c) */
    const ew *p = arg;
    if (p->fa) {
        for (int64_t i = i0; i < i1; i++) {
            float v = p->a[i] + p->b[i];
            p->y[i] = v < 0.0f ? 0.0f : v;
        }
        return;
    }
    for (int64_t i = i0; i < i1; i++)
        p->y[i] = p->a[i] + p->b[i];
}

void byol__add_forward(int64_t len, const float *a, const float *b, int relu,
                       float *y)
{
    /* a, b, y [len]; y may alias a or b. The fused ReLU clamps as
     * byol__relu_forward does (NaN passes). */
    ew p = { a, b, y, NULL, relu, 0 };
    byol__parallel_for(len, len >= BYOL__PAR_MIN, add_range, &p);
}

static void accum_range(void *arg, int64_t i0, int64_t i1)
{
    const ew *p = arg;
    for (int64_t i = i0; i < i1; i++)
        p->y[i] += p->a[i];
}

void byol__copy_grad(int64_t len, const float *dy, float *dx, int accum)
{
    /* dy, dx [len] */
    if (!accum) {
        if (dx != dy)
            memcpy(dx, dy, (size_t)len * sizeof(float));
        return;
    }
    ew p = { dy, NULL, dx, NULL, 0, 0 };
    byol__parallel_for(len, len >= BYOL__PAR_MIN, accum_range, &p);
}

static void add_relu_bwd_range(void *arg, int64_t i0, int64_t i1)
{
    /* a = y, b = dy; y = da (accumulated when fa), z = db (when fb) */
    const ew *p = arg;
    for (int64_t i = i0; i < i1; i++) {
        float g = p->b[i];   /* loaded unconditionally so gcc vectorises */
        g = p->a[i] <= 0.0f ? 0.0f : g;
        float v = p->fa ? p->y[i] + g : g;
        p->y[i] = v;
        p->z[i] = p->fb ? p->z[i] + g : g;
    }
}

void byol__add_relu_backward(int64_t len, const float *y, const float *dy, float *da,
                             int accum_a, float *db, int accum_b)
{
    /* y, dy, da, db [len]; da may alias dy, and db da (x + x: then
     * accum_b is 1). One pass for the ReLU's mask and both copies, with the
     * bits of byol__relu_backward then byol__copy_grad into da, then into
     * db. */
    ew p = { y, dy, da, db, accum_a, accum_b };
    byol__parallel_for(len, len >= BYOL__PAR_MIN, add_relu_bwd_range, &p);
}

typedef struct fill_args {
    int64_t cols;
    const float *v;
    float *y;
} fill_args;

static void fill_range(void *arg, int64_t r0, int64_t r1)
{
    const fill_args *p = arg;
    for (int64_t r = r0; r < r1; r++)
        memcpy(p->y + r * p->cols, p->v, (size_t)p->cols * sizeof(float));
}

void byol__fill_rows(int64_t rows, int64_t cols, const float *v, float *y)
{
    /* v [cols] -> y [rows, cols], every row */
    fill_args p = { cols, v, y };
    byol__parallel_for(rows, rows * cols >= BYOL__PAR_MIN, fill_range, &p);
}
