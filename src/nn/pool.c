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

void byol__maxpool_forward(const byol__pool_geom *g, const float *x, float *y,
                           int32_t *argmax)
{
    /* x [n, h, w, c] -> y [n, oh, ow, c], argmax [n, oh, ow, c] (ih*w + iw) */
    const int64_t pixels = g->n * g->oh * g->ow;
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (pixels * g->c >= BYOL__PAR_MIN)
    for (int64_t p = 0; p < pixels; p++) {
        int64_t ow = p % g->ow, t = p / g->ow;
        maxpool_pixel(g, x, t / g->oh, t % g->oh, ow, y + p * g->c,
                      argmax + p * g->c);
    }
}

void byol__maxpool_backward(const byol__pool_geom *g, const int32_t *argmax,
                            const float *dy, float *dx, int accum)
{
    /* dy, argmax [n, oh, ow, c] -> dx [n, h, w, c] (+)=. Windows overlap, so
     * one thread owns a whole image and adds in output-pixel order. */
    const int64_t c = g->c, plane = g->h * g->w * c;
    const int64_t opix = g->oh * g->ow;
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (g->n * plane >= BYOL__PAR_MIN)
    for (int64_t n = 0; n < g->n; n++) {
        float *d = dx + n * plane;
        if (!accum)
            memset(d, 0, (size_t)plane * sizeof(float));
        for (int64_t p = 0; p < opix; p++) {
            const float *gy = dy + (n * opix + p) * c;
            const int32_t *am = argmax + (n * opix + p) * c;
            for (int64_t j = 0; j < c; j++)
                d[(int64_t)am[j] * c + j] += gy[j];
        }
    }
}

void byol__avgpool_forward(int64_t n, int64_t hw, int64_t c, const float *x,
                           float *y)
{
    /* x [n, hw, c] -> y [n, c]: a float sum in pixel order, then / hw. */
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (n * hw * c >= BYOL__PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float *yr = y + i * c;
        for (int64_t j = 0; j < c; j++)
            yr[j] = 0.0f;
        for (int64_t p = 0; p < hw; p++) {
            const float *xr = x + (i * hw + p) * c;
            for (int64_t j = 0; j < c; j++)
                yr[j] += xr[j];
        }
        for (int64_t j = 0; j < c; j++)
            yr[j] /= (float)hw;
    }
}

void byol__avgpool_backward(int64_t n, int64_t hw, int64_t c, const float *dy,
                            float *dx, int accum)
{
    /* dy [n, c] -> dx [n, hw, c] (+)= dy / hw */
    const float fhw = (float)hw;
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (n * hw * c >= BYOL__PAR_MIN)
    for (int64_t r = 0; r < n * hw; r++) {
        const float *g = dy + (r / hw) * c;
        float *d = dx + r * c;
        if (accum) {
            for (int64_t j = 0; j < c; j++)
                d[j] += g[j] / fhw;
        } else {
            for (int64_t j = 0; j < c; j++)
                d[j] = g[j] / fhw;
        }
    }
}
