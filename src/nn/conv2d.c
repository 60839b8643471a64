/* 2-D convolution as im2col + GEMM on NHWC activations.
 *
 * The GEMM view: rows are output pixels (n, oh, ow), M = n*oh*ow; columns
 * of the im2col matrix are ordered (kh, kw, cin), K = kh*kw*cin, so one
 * kernel row of one output pixel is kw*cin floats that are contiguous in
 * the NHWC input and im2col is a memcpy per (pixel, kernel row). The packed
 * weight wp is [cout, K] in the same column order, and
 *     y[M, cout]   = col[M, K] wp^T
 *     dW[cout, K] += dy^T col
 *     dcol[M, K]   = dy wp      (then summed back into dx: col2im)
 * A 1x1 stride-1 unpadded convolution needs no im2col: x is already the
 * [M, cin] matrix and wp = w.
 *
 * im2col runs over fixed chunks of rows so scratch stays a few MiB whatever
 * the batch size. Chunk boundaries depend on the geometry alone, never on
 * the thread count, so the order in which GEMM pieces accumulate (into dW)
 * and col2im adds up contributions (into dx) is always the same. */
#include <string.h>

#include "core/internal.h"
#include "nn/kernels.h"

/* Floats in one im2col chunk (4 MiB): a chunk is written by im2col and
 * read back by the GEMM while still in L2/L3. Tuned on ResNet-18 shapes. */
#ifndef BYOL_CONV_CHUNK_FLOATS
#define BYOL_CONV_CHUNK_FLOATS (1 << 20)
#endif
#define PAR_MIN 32768

int byol__conv_geom_init(byol__conv_geom *g)
{
    if (g->n <= 0 || g->h <= 0 || g->w <= 0 || g->cin <= 0 || g->cout <= 0 ||
        g->kh <= 0 || g->kw <= 0 || g->stride <= 0 || g->pad < 0)
        return -1;
    int64_t eh = g->h + 2 * g->pad - g->kh, ew = g->w + 2 * g->pad - g->kw;
    if (eh < 0 || ew < 0)
        return -1;
    g->oh = eh / g->stride + 1;
    g->ow = ew / g->stride + 1;
    return 0;
}

static int64_t conv_k(const byol__conv_geom *g)
{
    return g->kh * g->kw * g->cin;
}

static int64_t conv_m(const byol__conv_geom *g)
{
    return g->n * g->oh * g->ow;
}

static int is_direct(const byol__conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->stride == 1 && g->pad == 0;
}

/* Rows per im2col chunk: a function of the geometry only. */
static int64_t chunk_rows(const byol__conv_geom *g)
{
    int64_t rows = BYOL_CONV_CHUNK_FLOATS / conv_k(g);
    int64_t m = conv_m(g);
    if (rows < 1)
        rows = 1;
    return rows < m ? rows : m;
}

/* The im2col buffer rounded to whole cache lines so dW's accumulator that
 * follows it in scratch is aligned as well. */
static size_t col_floats(const byol__conv_geom *g)
{
    size_t n = (size_t)(chunk_rows(g) * conv_k(g));
    return (n + 15) & ~(size_t)15;
}

size_t byol__conv2d_scratch(const byol__conv_geom *g)
{
    /* forward: one im2col chunk; backward: that plus dW in packed layout. */
    if (is_direct(g))
        return 0;
    return col_floats(g) + (size_t)(g->cout * conv_k(g));
}

size_t byol__conv2d_packed_size(const byol__conv_geom *g)
{
    return (size_t)(g->cout * conv_k(g));
}

void byol__conv2d_pack(const byol__conv_geom *g, const float *w, float *wp)
{
    /* w [cout, cin, kh, kw] -> wp [cout, kh, kw, cin] */
    const int64_t cin = g->cin, taps = g->kh * g->kw, k = conv_k(g);
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (g->cout * k >= PAR_MIN)
    for (int64_t o = 0; o < g->cout; o++)
        for (int64_t ci = 0; ci < cin; ci++)
            for (int64_t t = 0; t < taps; t++)
                wp[o * k + t * cin + ci] = w[(o * cin + ci) * taps + t];
}

/* dw [cout, cin, kh, kw] += dwp [cout, kh, kw, cin] */
static void unpack_add(const byol__conv_geom *g, const float *dwp, float *dw)
{
    const int64_t cin = g->cin, taps = g->kh * g->kw, k = conv_k(g);
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (g->cout * k >= PAR_MIN)
    for (int64_t o = 0; o < g->cout; o++)
        for (int64_t ci = 0; ci < cin; ci++)
            for (int64_t t = 0; t < taps; t++)
                dw[(o * cin + ci) * taps + t] += dwp[o * k + t * cin + ci];
}

/* One im2col row: output pixel (n, oh, ow) -> dst [kh, kw, cin]. Per kernel
 * row, the taps inside the image are one contiguous run of the input; the
 * taps in the padding are zeros. */
static void im2col_row(const byol__conv_geom *g, const float *x, int64_t n,
                       int64_t oh, int64_t ow, float *dst)
{
    const int64_t cin = g->cin, run = g->kw * cin;
    const int64_t ih0 = oh * g->stride - g->pad, iw0 = ow * g->stride - g->pad;
    int64_t j0 = iw0 < 0 ? -iw0 : 0;
    int64_t j1 = g->w - iw0 < g->kw ? g->w - iw0 : g->kw;
    if (j1 < j0)
        j1 = j0;
    for (int64_t i = 0; i < g->kh; i++, dst += run) {
        int64_t ih = ih0 + i;
        if (ih < 0 || ih >= g->h || j1 == j0) {
            memset(dst, 0, (size_t)run * sizeof(float));
            continue;
        }
        const float *src = x + ((n * g->h + ih) * g->w + iw0 + j0) * cin;
        memset(dst, 0, (size_t)(j0 * cin) * sizeof(float));
        memcpy(dst + j0 * cin, src, (size_t)((j1 - j0) * cin) * sizeof(float));
        memset(dst + j1 * cin, 0, (size_t)((g->kw - j1) * cin) * sizeof(float));
    }
}

/* col [rows, K] = im2col rows m0 .. m0+rows of x. */
static void im2col(const byol__conv_geom *g, const float *x, int64_t m0,
                   int64_t rows, float *col)
{
    const int64_t k = conv_k(g);
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (rows * k >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t m = m0 + r;
        int64_t ow = m % g->ow, t = m / g->ow;
        im2col_row(g, x, t / g->oh, t % g->oh, ow, col + r * k);
    }
}

/* Adds to the input pixel (n, ih, iw) every dcol entry of rows [m0, m1)
 * that im2col copied from it, taps in (kh, kw) order. */
static void col2im_pixel(const byol__conv_geom *g, const float *dcol,
                         int64_t m0, int64_t m1, int64_t n, int64_t ih,
                         int64_t iw, float *d)
{
    const int64_t cin = g->cin, k = conv_k(g), s = g->stride;
    for (int64_t i = 0; i < g->kh; i++) {
        int64_t th = ih + g->pad - i;   /* = oh * stride for a real tap */
        if (th < 0)
            break;
        if (th % s || th / s >= g->oh)
            continue;
        int64_t row = (n * g->oh + th / s) * g->ow;
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t tw = iw + g->pad - j;
            if (tw < 0)
                break;
            if (tw % s || tw / s >= g->ow)
                continue;
            int64_t m = row + tw / s;
            if (m < m0 || m >= m1)
                continue;
            const float *src = dcol + (m - m0) * k + (i * g->kw + j) * cin;
            for (int64_t c = 0; c < cin; c++)
                d[c] += src[c];
        }
    }
}

/* dx += col2im(dcol [rows, K]) for im2col rows m0 .. m0+rows. Gathered per
 * input pixel rather than scattered per output pixel, so each thread owns
 * the pixels it writes: no races, and the same sum order for any thread
 * count. Only the input pixels the chunk's windows can touch are visited. */
static void col2im_add(const byol__conv_geom *g, const float *dcol, int64_t m0,
                       int64_t rows, float *dx)
{
    const int64_t m1 = m0 + rows, ohw = g->oh * g->ow;
    const int64_t n0 = m0 / ohw, oh0 = (m0 % ohw) / g->ow;
    const int64_t n1 = (m1 - 1) / ohw, oh1 = ((m1 - 1) % ohw) / g->ow;
    int64_t ih_lo = oh0 * g->stride - g->pad;
    int64_t ih_hi = oh1 * g->stride - g->pad + g->kh;   /* exclusive */
    /* Clamped to the image: windows may lie wholly in the padding. */
    ih_lo = ih_lo < 0 ? 0 : ih_lo > g->h ? g->h : ih_lo;
    ih_hi = ih_hi < 0 ? 0 : ih_hi > g->h ? g->h : ih_hi;
    const int64_t p0 = (n0 * g->h + ih_lo) * g->w;
    const int64_t p1 = (n1 * g->h + ih_hi) * g->w;
    const int64_t hw = g->h * g->w;
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if ((p1 - p0) * g->cin >= PAR_MIN)
    for (int64_t p = p0; p < p1; p++) {
        int64_t n = p / hw, q = p % hw;
        col2im_pixel(g, dcol, m0, m1, n, q / g->w, q % g->w, dx + p * g->cin);
    }
}

/* y[r, :] = bias for rows r of y [rows, cout]. */
static void fill_rows(int64_t rows, int64_t cout, const float *bias, float *y)
{
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (rows * cout >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        memcpy(y + r * cout, bias, (size_t)cout * sizeof(float));
}

static void zero(int64_t len, float *x)
{
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (len >= PAR_MIN)
    for (int64_t i = 0; i < len; i++)
        x[i] = 0.0f;
}

void byol__conv2d_forward(const byol__conv_geom *g, const float *x,
                          const float *wp, const float *bias, float *y,
                          float *scratch)
{
    /* x [n, h, w, cin], wp [cout, K], bias [cout] -> y [n, oh, ow, cout].
     * The bias is written first and the GEMM adds onto it (beta = 1). */
    const int64_t m = conv_m(g), k = conv_k(g), cout = g->cout;
    const float beta = bias ? 1.0f : 0.0f;
    if (is_direct(g)) {
        if (bias)
            fill_rows(m, cout, bias, y);
        byol__gemm(0, 1, m, cout, k, 1.0f, x, k, wp, k, beta, y, cout);
        return;
    }
    const int64_t step = chunk_rows(g);
    for (int64_t m0 = 0; m0 < m; m0 += step) {
        int64_t rows = m - m0 < step ? m - m0 : step;
        float *yc = y + m0 * cout;
        im2col(g, x, m0, rows, scratch);
        if (bias)
            fill_rows(rows, cout, bias, yc);
        byol__gemm(0, 1, rows, cout, k, 1.0f, scratch, k, wp, k, beta, yc,
                   cout);
    }
}

/* 1x1 stride-1 backward: x and dx are [M, cin] matrices and dw [cout, cin]
 * is already in packed layout, so both products go straight to them. */
static void backward_direct(const byol__conv_geom *g, const float *x,
                            const float *wp, const float *dy, float *dx,
                            int accum, float *dw)
{
    const int64_t m = conv_m(g), cin = g->cin, cout = g->cout;
    byol__gemm(1, 0, cout, cin, m, 1.0f, dy, cout, x, cin, 1.0f, dw, cin);
    if (dx)
        byol__gemm(0, 0, m, cin, cout, 1.0f, dy, cout, wp, cin,
                   accum ? 1.0f : 0.0f, dx, cin);
}

void byol__conv2d_backward(const byol__conv_geom *g, const float *x,
                           const float *wp, const float *dy, float *dx,
                           int accum, float *dw, float *db, float *scratch)
{
    /* x [n, h, w, cin], wp [cout, K], dy [n, oh, ow, cout] ->
     * dw [cout, cin, kh, kw] +=, db [cout] +=, dx [n, h, w, cin] (+)=.
     * Per chunk the im2col buffer first feeds dW, then is overwritten by
     * dcol for col2im. dW collects in scratch ([cout, K], beta = 0 on the
     * first chunk) and is added into dw once at the end. */
    const int64_t m = conv_m(g), k = conv_k(g), cout = g->cout;
    if (db)
        byol__colsum_add(m, cout, dy, db);
    if (is_direct(g)) {
        backward_direct(g, x, wp, dy, dx, accum, dw);
        return;
    }
    float *col = scratch, *dwp = scratch + col_floats(g);
    if (dx && !accum)
        zero(g->n * g->h * g->w * g->cin, dx);
    const int64_t step = chunk_rows(g);
    for (int64_t m0 = 0; m0 < m; m0 += step) {
        int64_t rows = m - m0 < step ? m - m0 : step;
        const float *dyc = dy + m0 * cout;
        im2col(g, x, m0, rows, col);
        byol__gemm(1, 0, cout, k, rows, 1.0f, dyc, cout, col, k,
                   m0 == 0 ? 0.0f : 1.0f, dwp, k);
        if (dx) {
            byol__gemm(0, 0, rows, k, cout, 1.0f, dyc, cout, wp, k, 0.0f, col,
                       k);
            col2im_add(g, col, m0, rows, dx);
        }
    }
    unpack_add(g, dwp, dw);
}
