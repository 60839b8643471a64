/* Max pooling (PyTorch semantics: -inf padding, floor-mode output size,
 * first maximum wins ties, NaN propagates) and global average pooling, both
 * on NHWC activations so the inner loops run over contiguous channels. */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "nn/kernels.h"


int byol__pool_geom_init(byol__pool_geom *g)
{
    /* PyTorch rejects pad > k/2, where a window could be all padding and
     * its -inf would leak into the output. */
    if (g->n <= 0 || g->h <= 0 || g->w <= 0 || g->c <= 0 || g->k <= 0 ||
        g->stride <= 0 || g->pad < 0 || 2 * g->pad > g->k)
        return -1;
    return byol__window_out(g->h, g->w, g->k, g->k, g->stride, g->pad, &g->oh, &g->ow);
}

/* One output pixel: the window clipped to the image (padding is -inf, so it
 * can never win), scanned in row-major order. The comparison mirrors
 * PyTorch's `val > max || isnan(val)`. */
static void maxpool_pixel(const byol__pool_geom *g, const float *x, int64_t n,
                          int64_t oh, int64_t ow, float *y, int32_t *am)
{
    int64_t ih0 = oh * g->stride - g->pad, iw0 = ow * g->stride - g->pad;
    int64_t ih1 = ih0 + g->k < g->h ? ih0 + g->k : g->h;
    int64_t iw1 = iw0 + g->k < g->w ? iw0 + g->k : g->w;
    ih0 = ih0 > 0 ? ih0 : 0;
    iw0 = iw0 > 0 ? iw0 : 0;
    const int64_t c = g->c;
    const int32_t first = (int32_t)(ih0 * g->w + iw0);
    for (int64_t j = 0; j < c; j++) {
        y[j] = -INFINITY;
        am[j] = first;
    }
    for (int64_t ih = ih0; ih < ih1; ih++) {
        for (int64_t iw = iw0; iw < iw1; iw++) {
            const float *xr = x + ((n * g->h + ih) * g->w + iw) * c;
            const int32_t idx = (int32_t)(ih * g->w + iw);
            for (int64_t j = 0; j < c; j++) {
                float v = xr[j];
                int take = v > y[j] || v != v;
                y[j] = take ? v : y[j];
                am[j] = take ? idx : am[j];
            }
        }
    }
}

/* One pooling pass: its geometry (or n, hw, c of the average pool), its
 * arrays and the backward's accumulate flag. */
typedef struct pool_args {
    const byol__pool_geom *g;
    int64_t n, hw, c;
    const float *x;
    float *y;
    int32_t *argmax;      /* the forward's output */
    const int32_t *am;    /* the backward's input */
    int accum;
} pool_args;

static void maxpool_fwd_range(void *arg, int64_t p0, int64_t p1)
{
    const pool_args *a = arg;
    const byol__pool_geom *g = a->g;
    for (int64_t p = p0; p < p1; p++) {
        int64_t ow = p % g->ow, t = p / g->ow;
        maxpool_pixel(g, a->x, t / g->oh, t % g->oh, ow, a->y + p * g->c,
                      a->argmax + p * g->c);
    }
}

void byol__maxpool_forward(const byol__pool_geom *g, const float *x, float *y,
                           int32_t *argmax)
{
    /* x [n, h, w, c] -> y [n, oh, ow, c], argmax [n, oh, ow, c] (ih*w + iw) */
    const int64_t pixels = g->n * g->oh * g->ow;
    pool_args a = { .g = g, .x = x, .y = y, .argmax = argmax };
    byol__parallel_for(pixels, pixels * g->c >= BYOL__PAR_MIN, maxpool_fwd_range, &a);
}

static void maxpool_bwd_range(void *arg, int64_t n0, int64_t n1)
{
    const pool_args *a = arg;
    const int64_t c = a->g->c, plane = a->g->h * a->g->w * c;
    const int64_t opix = a->g->oh * a->g->ow;
    for (int64_t n = n0; n < n1; n++) {
        float *d = a->y + n * plane;
        if (!a->accum)
            memset(d, 0, (size_t)plane * sizeof(float));
        for (int64_t p = 0; p < opix; p++) {
            const float *gy = a->x + (n * opix + p) * c;
            const int32_t *am = a->am + (n * opix + p) * c;
            for (int64_t j = 0; j < c; j++)
                d[(int64_t)am[j] * c + j] += gy[j];
        }
    }
}

void byol__maxpool_backward(const byol__pool_geom *g, const int32_t *argmax,
                            const float *dy, float *dx, int accum)
{
    /* dy, argmax [n, oh, ow, c] -> dx [n, h, w, c] (+)=. Windows overlap, so
     * one thread owns a whole image and adds in output-pixel order. */
    pool_args a = { .g = g, .x = dy, .y = dx, .am = argmax, .accum = accum };
    byol__parallel_for(g->n, g->n * g->h * g->w * g->c >= BYOL__PAR_MIN, maxpool_bwd_range, &a);
}

static void avgpool_fwd_range(void *arg, int64_t i0, int64_t i1)
{
    const pool_args *a = arg;
    const int64_t hw = a->hw, c = a->c;
    for (int64_t i = i0; i < i1; i++) {
        float *yr = a->y + i * c;
        for (int64_t j = 0; j < c; j++)
            yr[j] = 0.0f;
        for (int64_t p = 0; p < hw; p++) {
            const float *xr = a->x + (i * hw + p) * c;
            for (int64_t j = 0; j < c; j++)
                yr[j] += xr[j];
        }
        for (int64_t j = 0; j < c; j++)
            yr[j] /= (float)hw;
    }
}

void byol__avgpool_forward(int64_t n, int64_t hw, int64_t c, const float *x,
                           float *y)
{
    /* x [n, hw, c] -> y [n, c]: a float sum in pixel order, then / hw. */
    pool_args a = { .n = n, .hw = hw, .c = c, .x = x, .y = y };
    byol__parallel_for(n, n * hw * c >= BYOL__PAR_MIN, avgpool_fwd_range, &a);
}

static void avgpool_bwd_range(void *arg, int64_t r0, int64_t r1)
{
    const pool_args *a = arg;
    const int64_t hw = a->hw, c = a->c;
    const float fhw = (float)hw;
    for (int64_t r = r0; r < r1; r++) {
        const float *g = a->x + (r / hw) * c;
        float *d = a->y + r * c;
        if (a->accum) {
            for (int64_t j = 0; j < c; j++)
                d[j] += g[j] / fhw;
        } else {
            for (int64_t j = 0; j < c; j++)
                d[j] = g[j] / fhw;
        }
    }
}

void byol__avgpool_backward(int64_t n, int64_t hw, int64_t c, const float *dy,
                            float *dx, int accum)
{
    /* dy [n, c] -> dx [n, hw, c] (+)= dy / hw */
    pool_args a = { .n = n, .hw = hw, .c = c, .x = dy, .y = dx, .accum = accum };
    byol__parallel_for(n * hw, n * hw * c >= BYOL__PAR_MIN, avgpool_bwd_range, &a);
}
