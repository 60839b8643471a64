/* Layout changes: NCHW <-> NHWC at the ABI boundary and the flatten that
 * hands a Linear layer PyTorch's (c, h, w) feature order.
 *
 * All of them are per-image transposes of a [rows, cols] matrix, done in
 * square tiles so both the reads and the writes stay within a few cache
 * lines per tile row. */
#include "core/internal.h"
#include "nn/kernels.h"

#define TILE 32

/* dst[cols, rows] (+)= src[rows, cols]^T for the tile at (r0, c0). */
static void transpose_tile(int64_t rows, int64_t cols, int64_t r0, int64_t c0,
                           const float *src, float *dst, int accum)
{
    int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
    int64_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
    for (int64_t j = c0; j < c1; j++) {
        float *d = dst + j * rows;
        if (accum) {
            for (int64_t i = r0; i < r1; i++)
                d[i] += src[i * cols + j];
        } else {
            for (int64_t i = r0; i < r1; i++)
                d[i] = src[i * cols + j];
        }
    }
}

typedef struct transpose_args {
    int64_t rows, cols;
    const float *src;
    float *dst;
    int accum;
} transpose_args;

static void tiles_range(void *arg, int64_t t0, int64_t t1)
{
    const transpose_args *p = arg;
    int64_t tc = (p->cols + TILE - 1) / TILE;
    int64_t per_image = ((p->rows + TILE - 1) / TILE) * tc, plane = p->rows * p->cols;
    for (int64_t t = t0; t < t1; t++) {
        int64_t img = t / per_image, rest = t % per_image;
        transpose_tile(p->rows, p->cols, (rest / tc) * TILE, (rest % tc) * TILE,
                       p->src + img * plane, p->dst + img * plane, p->accum);
    }
}

/* For each of n images: dst[n][cols, rows] (+)= src[n][rows, cols]^T. */
static void batched_transpose(int64_t n, int64_t rows, int64_t cols,
                              const float *src, float *dst, int accum)
{
    int64_t tiles = ((rows + TILE - 1) / TILE) * ((cols + TILE - 1) / TILE);
    transpose_args p = { rows, cols, src, dst, accum };
    byol__parallel_for(n * tiles, n * rows * cols >= BYOL__PAR_MIN, tiles_range, &p);
}

void byol__nchw_to_nhwc(int64_t n, int64_t c, int64_t h, int64_t w,
                        const float *x, float *y)
{
    /* x [n, c, h, w] -> y [n, h, w, c] */
    batched_transpose(n, c, h * w, x, y, 0);
}

void byol__nhwc_to_nchw(int64_t n, int64_t c, int64_t h, int64_t w,
                        const float *x, float *y)
{
    /* x [n, h, w, c] -> y [n, c, h, w] */
    batched_transpose(n, h * w, c, x, y, 0);
}

void byol__flatten_forward(int64_t n, int64_t h, int64_t w, int64_t c,
                           const float *x, float *y)
{
    /* x [n, h, w, c] -> y [n, c*h*w] in (c, h, w) order: an NCHW image. */
    batched_transpose(n, h * w, c, x, y, 0);
}

void byol__flatten_backward(int64_t n, int64_t h, int64_t w, int64_t c,
                            const float *dy, float *dx, int accum)
{
    /* dy [n, c*h*w] in (c, h, w) order -> dx [n, h, w, c] (+)= */
    batched_transpose(n, c, h * w, dy, dx, accum);
}
