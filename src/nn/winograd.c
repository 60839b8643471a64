/* Winograd F(m x m, 3x3) on NHWC activations, m = 2 or 4 (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", 2016). For an a x a
 * input patch d (a = m + 2) and a 3x3 kernel g, the m x m outputs are
 *     Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * with the matrices below. Over channels, the a*a element-wise products
 * become a*a matrix products per block of tiles:
 *     M[xi] [tiles, cout] = V[xi] [tiles, cin] U[xi] [cin, cout]
 * where V[xi] holds position xi of every tile's B^T d B and U[xi] that of
 * every G g G^T (made by each pass into scratch).
 * F(2x2) takes 16 products for 4 outputs (2.25x fewer than 36), F(4x4) 36
 * for 16 (4x fewer), with larger transform coefficients, so more rounding.
 *
 * The input gradient of a 3x3 stride-1 convolution with padding p is the
 * same kind of convolution of dy, with the kernel turned by 180 degrees,
 * input and output channels swapped and padding 2 - p. The weight gradient
 * is at the end of this file.
 *
 * Forward and input gradient cut the tiles into blocks whose size depends
 * on the channel counts only; a block is transformed, multiplied and
 * transformed back by one thread in its own slot of scratch (V, M, a zero
 * row and a sink row), so no result depends on the thread count.
 *
 * Under nn.precision=bf16 (with F(2x2) only: the builder picks it) every
 * product takes bf16 operands: U is packed into bf16 pairs, V and dM are
 * turned into bf16 where they lie, just before their products. */
#include <string.h>

#include "core/internal.h"
#include "nn/winograd.h"

/* Scratch slots of the forward and the input gradient, hence at most this
 * many threads in those passes (the weight gradient uses all). */
#define NSLOT 8
/* Floats of V and M per slot (512 KiB) when a block of at least 16 tiles
 * fits: then a block stays in L2 from its input transform to its output
 * transform. */
#define SLOT_VM_FLOATS 131072

/* One 3x3 stride-1 convolution: x [n, h, w, cin] -> y [n, oh, ow, cout],
 * in m x m output tiles, each from an a x a input patch (a = m + 2). */
typedef struct wino {
    int64_t n, h, w, cin, cout, pad, oh, ow;
    int m, a;
    int64_t th, tw;   /* tiles per image, down and across */
    int64_t tb;       /* tiles per block */
    int bf16;         /* products with bf16 operands (U packed for them) */
} wino;

int byol__wino_fits(const byol__conv_geom *g)
{
    return (g->winograd == 2 || g->winograd == 4) && g->kh == 3 && g->kw == 3 &&
           g->stride == 1 && g->pad <= 2 && g->cin % 16 == 0 && g->cout % 16 == 0;
}

static int64_t max_c(int64_t cin, int64_t cout)
{
    return cin > cout ? cin : cout;
}

static int64_t block_tiles(int a, int64_t cin, int64_t cout)
{
    int64_t tb = SLOT_VM_FLOATS / (a * a * (cin + cout));
    return tb < 16 ? 16 : tb;
}

/* Floats between two of the a*a planes of V or M for channel count c: one
 * cache line more than a block's worth, as planes a power of two apart
 * (16 KiB with 16 channels) would all fall into the same L1 set and evict
 * each other while a tile's values are written or read. */
static int64_t plane(int64_t tb, int64_t c)
{
    return tb * c + 16;
}

static int64_t slot_floats(int a, int64_t cin, int64_t cout)
{
    int64_t tb = block_tiles(a, cin, cout);
    return a * a * (plane(tb, cin) + plane(tb, cout)) + 2 * max_c(cin, cout);
}

/* Tiles per block of the weight gradient: each block reads and writes dU
 * [a*a, cin, cout] once for a*a*cin*cout*tb multiply-adds, so blocks are
 * longer than the forward's when channels are many. */
#ifndef BYOL_WINO_WGRAD_TILES
#define BYOL_WINO_WGRAD_TILES 128
#endif
static int64_t wgrad_tiles(int a, int64_t cin, int64_t cout)
{
    int64_t tb = block_tiles(a, cin, cout);
    tb = tb > BYOL_WINO_WGRAD_TILES ? tb : BYOL_WINO_WGRAD_TILES;
    return tb + tb % 2; /* even: bf16 products take tiles in pairs */
}

/* The weight gradient's scratch: dU [a*a, cin, cout], then V and dM of
 * one block of tiles shared by all threads, then a zero row. */
static int64_t wgrad_floats(int a, int64_t cin, int64_t cout)
{
    int64_t tb = wgrad_tiles(a, cin, cout);
    return a * a * (cin * cout + plane(tb, cin) + plane(tb, cout)) + max_c(cin, cout);
}

size_t byol__wino_scratch(const byol__conv_geom *g)
{
    /* forward and input gradient: their transformed weights, then the
     * slots; weight gradient: wgrad_floats */
    int a = g->winograd + 2;
    int64_t dx = a * a * g->cin * g->cout + NSLOT * slot_floats(a, g->cin, g->cout);
    int64_t wg = wgrad_floats(a, g->cin, g->cout);
    return (size_t)(dx > wg ? dx : wg);
}

/* Do g's products run in bf16? Packing and products ask the same
 * question, so U is in the layout they read. */
static int use_bf16(const byol__conv_geom *g)
{
    return g->bf16 && byol__cpu_bf16();
}

static wino make_wino(int m, int64_t n, int64_t h, int64_t w, int64_t cin, int64_t cout,
                      int64_t pad)
{
    wino q = { .n = n, .h = h, .w = w, .cin = cin, .cout = cout, .pad = pad,
               .oh = h + 2 * pad - 2, .ow = w + 2 * pad - 2, .m = m, .a = m + 2 };
    q.th = (q.oh + m - 1) / m;
    q.tw = (q.ow + m - 1) / m;
    q.tb = block_tiles(q.a, cin, cout);
    return q;
}

/* ---- transforms -------------------------------------------------------- */
/* The matrices (Lavin and Gray, section 4; interpolation points 0, 1, -1
 * for F(2, 3) and 0, 1, -1, 2, -2 for F(4, 3)): input B^T [a, a], output
 * A^T [m, a], kernel G [a, 3]. */
static const float bt2[16] = { 1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1 };
static const float at2[8] = { 1, 1, 1, 0, 0, 1, -1, -1 };
static const float g2[12] = { 1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1 };
static const float bt4[36] = { 4, 0, -5, 0, 1, 0,  0, -4, -4, 1, 1, 0,  0, 4, -4, -1, 1, 0,
                               0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0, 0, 4, 0, -5, 0, 1 };
static const float at4[24] = { 1, 1, 1, 1, 1, 0,  0, 1, -1, 2, -2, 0,
                               0, 1, 1, 4, 4, 0,  0, 1, -1, 8, -8, 1 };
static const float g4[18] = { 1.0f / 4, 0, 0,
                              -1.0f / 6, -1.0f / 6, -1.0f / 6,
                              -1.0f / 6, 1.0f / 6, -1.0f / 6,
                              1.0f / 24, 1.0f / 12, 1.0f / 6,
                              1.0f / 24, -1.0f / 12, 1.0f / 6,
                              0, 0, 1 };

/* u [a * a] = G g G^T for one 3x3 kernel g (tap t at g[t * gs]); flip:
 * g turned by 180 degrees first. In double, rounded once. */
static void weight_transform(int a, const float *g, int64_t gs, int flip, float *u)
{
    const float *gm = a == 4 ? g2 : g4;
    double t[6][3];
    for (int i = 0; i < a; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++)
                s += (double)gm[3 * i + k] * g[(flip ? 8 - (3 * k + j) : 3 * k + j) * gs];
            t[i][j] = s;
        }
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++)
                s += t[i][k] * gm[3 * j + k];
            u[a * i + j] = (float)s;
        }
}

/* u [a*a, cin, cout] (forward) or, turned, [a*a, cout, cin] (input
 * gradient) from the kernels of w: kernel (o, c) starts at w[o * os + c * cs],
 * its taps gs apart. Each plane is a product's [k, n] operand, filled row
 * by row so that each plane is written in order (kernel by kernel across
 * the rows, the packing took 10 % of a BYOL step on resnet18-cifar in cache
 * misses). With AVX-512 16 kernels of a row are transformed at once, in
 * double as here (one kernel at a time it took 17 %), and for bf16
 * products the planes are then packed as byol__wino_matmul_bf16 reads
 * them, [k/2, n, 2], in the first half of u. */
typedef struct pack_args {
    const float *w;
    int64_t rs, js, gs, n, plane;
    int a, turned, avx512;
    float *u;
} pack_args;

static void pack_rows(void *arg, int64_t r0, int64_t r1)
{
    const pack_args *p = arg;
    const int a = p->a;
    for (int64_t row = r0; row < r1; row++) {
        const float *wr = p->w + row * p->rs;
        float *ur = p->u + row * p->n;
        if (p->avx512) {
            byol__wino_weights_avx512(a, p->n, wr, p->js, p->gs, p->turned, ur, p->plane);
            continue;
        }
        for (int64_t col = 0; col < p->n; col++) {
            float f[36];
            weight_transform(a, wr + col * p->js, p->gs, p->turned, f);
            for (int xi = 0; xi < a * a; xi++)
                ur[xi * p->plane + col] = f[xi];
        }
    }
}

static void pack_u(const byol__conv_geom *g, const float *w, int64_t os, int64_t cs,
                   int64_t gs, int turned, float *u)
{
    const int a = g->winograd + 2;
    const int64_t plane_ = g->cin * g->cout;
    const int64_t rows = turned ? g->cout : g->cin;
    /* row r's kernels start at w + r * rs, column j's j * js further */
    pack_args p = { w, turned ? os : cs, turned ? cs : os, gs, turned ? g->cin : g->cout,
                    plane_, a, turned, byol__cpu_avx512(), u };
    byol__parallel_for(rows, a * a * plane_ >= BYOL__PAR_MIN, pack_rows, &p);
    if (use_bf16(g))
        byol__wino_pairs_bf16(a * a, rows, p.n, u);
}

/* The transforms of winograd.h (BYOL__WINO_IN, _OUT, _GRAD) in portable
 * C: dst = base + L X L^T for the k x k grid X of src and the r x k
 * matrix L (B^T, A^T or A), one channel at a time. */
static void transform_c(int kind, int a, int64_t n, const float *const *src,
                        const float *const *base, float *const *dst)
{
    const int o = a - 2;
    const int k = kind == BYOL__WINO_GRAD ? o : a, r = kind == BYOL__WINO_OUT ? o : a;
    const float *at = a == 4 ? at2 : at4, *l = kind == BYOL__WINO_IN ? (a == 4 ? bt2 : bt4) : at;
    /* L[i][p] at l[i * li + p * lp]: A is A^T read across */
    const int li = kind == BYOL__WINO_GRAD ? 1 : a, lp = kind == BYOL__WINO_GRAD ? a : 1;
#pragma omp simd
    for (int64_t c = 0; c < n; c++) {
        float t[6][6];
        for (int i = 0; i < r; i++)
            for (int q = 0; q < k; q++) {
                float s = 0;
                for (int p = 0; p < k; p++)
                    s += l[i * li + p * lp] * src[k * p + q][c];
                t[i][q] = s;
            }
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                float s = 0;
                for (int q = 0; q < k; q++)
                    s += t[i][q] * l[j * li + q * lp];
                dst[r * i + j][c] = (base ? base[r * i + j][c] : 0.0f) + s;
            }
    }
}

static void transform(int avx512, int kind, int a, int64_t n, const float *const *src,
                      const float *const *base, float *const *dst)
{
    if (avx512)
        byol__wino_transform_avx512(kind, a, n, src, base, dst);
    else
        transform_c(kind, a, n, src, base, dst);
}

/* p[i] = at + i * ld for the count planes of V, M or dM. */
static void planes(float *at, int64_t ld, int count, float **p)
{
    for (int i = 0; i < count; i++)
        p[i] = at + i * ld;
}

/* dw [cout, cin, 3, 3] += G^T dU G for input channel c and every output
 * channel, 16 at a time along dU's rows [cout]. Inlined with a constant a
 * (below), so the loops unroll and the 16 lanes become vectors: with a
 * variable a it took 7 % of a resnet18-cifar BYOL step. */
static inline __attribute__((always_inline)) void weight_grad(int a, const float *du,
                                                              int64_t plane_, int64_t cin,
                                                              int64_t cout, int64_t c, float *dw)
{
    const float *gm = a == 4 ? g2 : g4;
    for (int64_t o0 = 0; o0 < cout; o0 += 16) {
        const float *d = du + c * cout + o0;
        float t[3][6][16], r[9][16];
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < a; j++)
                for (int l = 0; l < 16; l++) {
                    float s = 0;
                    for (int i = 0; i < a; i++)
                        s += gm[3 * i + k] * d[(a * i + j) * plane_ + l];
                    t[k][j][l] = s;
                }
        for (int k = 0; k < 3; k++)
            for (int e = 0; e < 3; e++)
                for (int l = 0; l < 16; l++) {
                    float s = 0;
                    for (int j = 0; j < a; j++)
                        s += t[k][j][l] * gm[3 * j + e];
                    r[3 * k + e][l] = s;
                }
        for (int l = 0; l < 16; l++)
            for (int e = 0; e < 9; e++)
                dw[((o0 + l) * cin + c) * 9 + e] += r[e][l];
    }
}

static void weight_grad4(const float *du, int64_t plane_, int64_t cin, int64_t cout, int64_t c,
                         float *dw)
{
    weight_grad(4, du, plane_, cin, cout, c, dw);
}

static void weight_grad6(const float *du, int64_t plane_, int64_t cin, int64_t cout, int64_t c,
                         float *dw)
{
    weight_grad(6, du, plane_, cin, cout, c, dw);
}

/* ---- one block of tiles --------------------------------------------------- */

typedef struct pass {
    const float *x, *u, *bias;
    float *y;
    int accum;
} pass;

/* Tile t's image and top-left output pixel. */
static void tile_at(const wino *q, int64_t t, int64_t *n, int64_t *oh, int64_t *ow)
{
    int64_t per = q->th * q->tw, r = t % per;
    *n = t / per;
    *oh = q->m * (r / q->tw);
    *ow = q->m * (r % q->tw);
}

static void gather(const wino *q, const float *x, int64_t t, const float *zero,
                   const float **d)
{
    int64_t n, oh, ow;
    tile_at(q, t, &n, &oh, &ow);
    for (int i = 0; i < q->a; i++)
        for (int j = 0; j < q->a; j++) {
            int64_t ih = oh - q->pad + i, iw = ow - q->pad + j;
            int in = ih >= 0 && ih < q->h && iw >= 0 && iw < q->w;
            d[q->a * i + j] = in ? x + ((n * q->h + ih) * q->w + iw) * q->cin : zero;
        }
}

/* Tile t's B^T d B into row t of V's a*a planes (lv floats apart). */
static void input_tile(const wino *q, const float *x, int64_t t, const float *zero, float *v,
                       int64_t lv, int avx512)
{
    const float *d[36];
    float *vt[36];
    gather(q, x, t, zero, d);
    planes(v, lv, q->a * q->a, vt);
    transform(avx512, BYOL__WINO_IN, q->a, q->cin, d, NULL, vt);
}

/* Offsets in an output-shaped tensor [n, oh, ow, cout] of tile t's m*m
 * output pixels, -1 for those past the map. */
static void tile_outputs(const wino *q, int64_t t, int64_t *off)
{
    int64_t n, oh, ow;
    tile_at(q, t, &n, &oh, &ow);
    for (int i = 0; i < q->m; i++)
        for (int j = 0; j < q->m; j++) {
            int in = oh + i < q->oh && ow + j < q->ow;
            off[q->m * i + j] = in ? ((n * q->oh + oh + i) * q->ow + ow + j) * q->cout : -1;
        }
}

/* Where tile t's outputs go and what they are added to: the bias (or
 * zeros), y itself when accumulating; outputs past the map go to sink. */
static void scatter(const wino *q, const pass *p, int64_t t, const float *zero,
                    float *sink, const float **base, float **y)
{
    int64_t off[16];
    tile_outputs(q, t, off);
    for (int k = 0; k < q->m * q->m; k++) {
        if (off[k] < 0) {
            y[k] = sink;
            base[k] = zero;
            continue;
        }
        y[k] = p->y + off[k];
        base[k] = p->accum ? y[k] : p->bias ? p->bias : zero;
    }
}

/* Tiles [t0, t0 + nt): V, the a*a products into M, the outputs. */
static void run_block(const wino *q, const pass *p, int64_t t0, int64_t nt, float *slot)
{
    const int64_t cin = q->cin, cout = q->cout, c = max_c(cin, cout);
    const int64_t lv = plane(q->tb, cin), lm = plane(q->tb, cout);
    const int a = q->a, avx512 = byol__cpu_avx512();
    float *v = slot, *m = v + a * a * lv, *zero = m + a * a * lm, *sink = zero + c;
    memset(zero, 0, (size_t)c * sizeof(float));
    for (int64_t t = 0; t < nt; t++)
        input_tile(q, p->x, t0 + t, zero, v + t * cin, lv, avx512);
    for (int xi = 0; xi < a * a; xi++) {
        const float *va = v + xi * lv, *ub = p->u + xi * cin * cout;
        float *mc = m + xi * lm;
        if (q->bf16) {
            /* V's plane turned into bf16 where it lies */
            uint16_t *va16 = (uint16_t *)(v + xi * lv);
            byol__wino_to_bf16(nt * cin, va, va16);
            byol__wino_matmul_bf16(nt, cout, cin, va16, cin, 2,
                                   (const uint16_t *)p->u + xi * cin * cout, mc, cout, 0);
        } else if (!byol__wino_matmul(nt, cout, cin, va, cin, 1, ub, mc, 0)) {
            byol__gemm_serial(0, 0, nt, cout, cin, 1.0f, va, cin, ub, cout, 0.0f, mc, cout);
        }
    }
    for (int64_t t = 0; t < nt; t++) {
        const float *base[16];
        float *y[16], *mt[36];
        scatter(q, p, t0 + t, zero, sink, base, y);
        planes(m + t * cout, lm, a * a, mt);
        transform(avx512, BYOL__WINO_OUT, a, cout, (const float *const *)mt, base, y);
    }
}

typedef struct run_args {
    const wino *q;
    const pass *p;
    float *scratch;
} run_args;

/* One thread's share of the blocks of tiles, in its own scratch slot. */
static void run_task(void *arg, int thread, int threads)
{
    const run_args *r = arg;
    const wino *q = r->q;
    const int64_t tiles = q->n * q->th * q->tw, nb = (tiles + q->tb - 1) / q->tb;
    float *mine = r->scratch + thread * slot_floats(q->a, q->cin, q->cout);
    int64_t b0, b1;
    byol__share(nb, thread, threads, &b0, &b1);
    for (int64_t b = b0; b < b1; b++) {
        int64_t t0 = b * q->tb;
        run_block(q, r->p, t0, tiles - t0 < q->tb ? tiles - t0 : q->tb, mine);
    }
}

static void run(const wino *q, const pass *p, float *scratch)
{
    const int64_t tiles = q->n * q->th * q->tw, nb = (tiles + q->tb - 1) / q->tb;
    int threads = byol__num_threads();
    if (threads > NSLOT)
        threads = NSLOT;
    if (threads > nb)
        threads = (int)nb;
    byol__gemm_prepare();
    run_args r = { q, p, scratch };
    byol__run(threads, run_task, &r);
}

/* U of w [cout, cin, 3, 3] (turned for the input gradient) into the start
 * of scratch, then pass p over the rest. Each pass makes its own U: weights
 * change between steps, so a kept U would be remade every forward anyway,
 * and kept per layer it took 4x the weights' memory (179 MB for resnet18). */
static void transform_and_run(const byol__conv_geom *g, wino *q, pass *p, const float *w,
                              int turned, float *scratch)
{
    q->bf16 = use_bf16(g);
    pack_u(g, w, g->cin * 9, 9, 1, turned, scratch);
    p->u = scratch;
    run(q, p, scratch + q->a * q->a * g->cin * g->cout);
}

void byol__wino_forward(const byol__conv_geom *g, const float *x, const float *w,
                        const float *bias, float *y, float *scratch)
{
    /* x [n, h, w, cin], w [cout, cin, 3, 3], bias [cout] or NULL ->
     * y [n, oh, ow, cout], with U [a*a, cin, cout] */
    wino q = make_wino(g->winograd, g->n, g->h, g->w, g->cin, g->cout, g->pad);
    pass p = { .x = x, .bias = bias, .y = y, .accum = 0 };
    transform_and_run(g, &q, &p, w, 0, scratch);
}

void byol__wino_backward_data(const byol__conv_geom *g, const float *dy, const float *w,
                              float *dx, int accum, float *scratch)
{
    /* dy [n, oh, ow, cout], w [cout, cin, 3, 3] -> dx [n, h, w, cin] (+)=,
     * with the turned kernels' U [a*a, cout, cin] */
    wino q = make_wino(g->winograd, g->n, g->oh, g->ow, g->cout, g->cin, 2 - g->pad);
    pass p = { .x = dy, .y = dx, .accum = accum };
    transform_and_run(g, &q, &p, w, 1, scratch);
}

/* ---- weight gradient ------------------------------------------------------ */
/* With U = G g G^T and y = A^T (U .* V) A per tile,
 *     dU[xi] [cin, cout] = sum over tiles of V[xi]^T (A dY A^T)[xi]
 * and dg = G^T dU G. The sum over tiles runs block by block in tile
 * order; within a block the threads split the tiles for the transforms,
 * then the a*a positions for the products, so every sum has one order. */

static void gather_dy(const wino *q, const float *dy, int64_t t, const float *zero,
                      const float **d)
{
    int64_t off[16];
    tile_outputs(q, t, off);
    for (int k = 0; k < q->m * q->m; k++)
        d[k] = off[k] < 0 ? zero : dy + off[k];
}

/* The weight gradient's buffers: dU [a*a, cin, cout], the block's planes
 * V and dM, and a row of zeros. */
typedef struct wgrad_args {
    const wino *q;
    const float *x, *dy, *zero;
    float *v, *dm, *du, *dw;
    int avx512;
} wgrad_args;

/* This thread's share of the block's nt tiles from t0: V and A dY A^T. */
static void wgrad_transforms(const wgrad_args *w, int64_t t0, int64_t nt, int thread,
                             int threads)
{
    const wino *q = w->q;
    const int a = q->a;
    const int64_t lv = plane(q->tb, q->cin), lm = plane(q->tb, q->cout);
    int64_t b, e;
    byol__share(nt, thread, threads, &b, &e);
    for (int64_t t = b; t < e; t++) {
        const float *d[16];
        float *dt[36];
        input_tile(q, w->x, t0 + t, w->zero, w->v + t * q->cin, lv, w->avx512);
        gather_dy(q, w->dy, t0 + t, w->zero, d);
        planes(w->dm + t * q->cout, lm, a * a, dt);
        transform(w->avx512, BYOL__WINO_GRAD, a, q->cout, d, NULL, dt);
    }
}

/* dU[xi] += V[xi]^T dM[xi] over the block's nt tiles. In bf16 both planes
 * are first packed in place into tile pairs, [nt/2, c, 2], an odd block
 * with a zero tile after its last (wgrad_tiles is even, so it fits). */
static void wgrad_products(const wgrad_args *w, int64_t nt, int thread, int threads)
{
    const wino *q = w->q;
    const int64_t cin = q->cin, cout = q->cout;
    const int64_t lv = plane(q->tb, cin), lm = plane(q->tb, cout);
    int64_t x0, x1;
    byol__share(q->a * q->a, thread, threads, &x0, &x1);
    for (int64_t xi = x0; xi < x1; xi++) {
        float *va = w->v + xi * lv, *b = w->dm + xi * lm;
        float *c = w->du + xi * cin * cout;
        if (q->bf16) {
            const int64_t k = nt + nt % 2;
            memset(va + nt * cin, 0, (size_t)(k - nt) * (size_t)cin * sizeof(float));
            memset(b + nt * cout, 0, (size_t)(k - nt) * (size_t)cout * sizeof(float));
            byol__wino_pairs_bf16(1, k, cin, va);
            byol__wino_pairs_bf16(1, k, cout, b);
            byol__wino_matmul_bf16(cin, cout, k, (const uint16_t *)va, 2, 2 * cin,
                                   (const uint16_t *)b, c, cout, 1);
        } else if (!byol__wino_matmul(cin, cout, nt, va, 1, cin, b, c, 1)) {
            byol__gemm_serial(1, 0, cin, cout, nt, 1.0f, va, cin, b, cout, 1.0f, c, cout);
        }
    }
}

/* Block by block: every thread's transforms, then every thread's
 * products (each waits for the other threads' part before it reads it or
 * the next block overwrites it); then dg = G^T dU G by input channel. */
static void wgrad_task(void *arg, int thread, int threads)
{
    const wgrad_args *w = arg;
    const wino *q = w->q;
    const int64_t tiles = q->n * q->th * q->tw, plane_ = q->cin * q->cout;
    for (int64_t t0 = 0; t0 < tiles; t0 += q->tb) {
        int64_t nt = tiles - t0 < q->tb ? tiles - t0 : q->tb;
        wgrad_transforms(w, t0, nt, thread, threads);
        byol__sync();
        wgrad_products(w, nt, thread, threads);
        byol__sync();
    }
    int64_t c0, c1;
    byol__share(q->cin, thread, threads, &c0, &c1);
    for (int64_t c = c0; c < c1; c++)
        (q->a == 4 ? weight_grad4 : weight_grad6)(w->du, plane_, q->cin, q->cout, c, w->dw);
}

void byol__wino_backward_weights(const byol__conv_geom *g, const float *x, const float *dy,
                                 float *dw, float *scratch)
{
    /* x [n, h, w, cin], dy [n, oh, ow, cout] -> dw [cout, cin, 3, 3] += */
    wino q = make_wino(g->winograd, g->n, g->h, g->w, g->cin, g->cout, g->pad);
    q.tb = wgrad_tiles(q.a, q.cin, q.cout);
    q.bf16 = use_bf16(g);
    const int a = q.a;
    const int64_t cin = q.cin, cout = q.cout, plane_ = cin * cout;
    float *du = scratch, *v = du + a * a * plane_;
    float *dm = v + a * a * plane(q.tb, cin), *zero = dm + a * a * plane(q.tb, cout);
    memset(du, 0, (size_t)(a * a * plane_) * sizeof(float));
    memset(zero, 0, (size_t)max_c(cin, cout) * sizeof(float));
    byol__gemm_prepare();
    wgrad_args w = { &q, x, dy, zero, v, dm, du, dw, byol__cpu_avx512() };
    byol__run(byol__num_threads(), wgrad_task, &w);
}
