/* Gaussian blur and solarisation as DM's _gaussian_blur_single_image and
 * _solarize_single_image.
 *
 * Blur: kernel_size = size / 10, radius = int(kernel_size / 2), taps
 * 2 * radius + 1 (23 at 224, 3 at 32); weights exp(-x^2 / (2 sigma^2))
 * normalised to sum 1; a horizontal then a vertical depthwise convolution
 * with "SAME" zero padding, so borders darken as in the reference. The
 * separable form costs O(size^2 * taps) per channel. */
#include <math.h>
#include <string.h>

#include "augment/augment.h"

int32_t byol__aug_blur_taps(int32_t size, int32_t setting)
{
    /* int(size / 10 / 2) == size / 20 for every positive integer size: the
     * float quotient is never within rounding of the next integer. */
    return setting > 0 ? setting : 2 * (size / 20) + 1;
}

void byol__aug_blur_kernel(double sigma, int32_t taps, float *k)
{
    const int32_t r = taps / 2;
    double sum = 0;
    for (int32_t i = 0; i < taps; i++) {
        const double x = (double)(i - r);
        sum += exp(-x * x / (2.0 * sigma * sigma));
    }
    for (int32_t i = 0; i < taps; i++) {
        const double x = (double)(i - r);
        k[i] = (float)(exp(-x * x / (2.0 * sigma * sigma)) / sum);
    }
}

/* One row: in [w] -> out [w], out[x] = sum_t k[t] in[x + t - r], zero outside. */
static void blur_row(const float *in, float *out, int32_t w, const float *k, int32_t taps)
{
    const int32_t r = taps / 2;
    memset(out, 0, (size_t)w * sizeof *out);
    for (int32_t t = 0; t < taps; t++) {
        const int32_t d = t - r;
        const int32_t lo = d < 0 ? -d : 0, hi = d > 0 ? w - d : w;
        for (int32_t x = lo; x < hi; x++)
            out[x] += k[t] * in[x + d];
    }
}

/* Columns: in [h, w] -> out [h, w], out[y] = sum_t k[t] in[y + t - r], zero outside. */
static void blur_cols(const float *in, float *out, int32_t h, int32_t w, const float *k,
                      int32_t taps)
{
    const int32_t r = taps / 2;
    for (int32_t y = 0; y < h; y++) {
        float *dst = out + (size_t)y * (size_t)w;
        memset(dst, 0, (size_t)w * sizeof *dst);
        for (int32_t t = 0; t < taps; t++) {
            const int32_t yy = y + t - r;
            if (yy < 0 || yy >= h)
                continue;
            const float *src = in + (size_t)yy * (size_t)w;
            for (int32_t x = 0; x < w; x++)
                dst[x] += k[t] * src[x];
        }
    }
}

void byol__aug_blur(float *x, int32_t c, int32_t h, int32_t w, const float *k, int32_t taps,
                    float *tmp)
{
    const size_t plane = (size_t)h * (size_t)w;
    for (int32_t ch = 0; ch < c; ch++) {
        float *p = x + (size_t)ch * plane;
        for (int32_t y = 0; y < h; y++)
            blur_row(p + (size_t)y * (size_t)w, tmp + (size_t)y * (size_t)w, w, k, taps);
        blur_cols(tmp, p, h, w, k, taps);
    }
}

void byol__aug_solarize(float *x, size_t n, float threshold)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] < threshold ? x[i] : 1.0f - x[i];
}
