/* Winograd F(2x2, 3x3) on NHWC activations (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016). For a 4x4 input
 * patch d and a 3x3 kernel g, the 2x2 outputs are
 *     Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * with the matrices below. Over channels, the 16 element-wise products
 * become 16 matrix products per block of tiles:
 *     M[xi] [tiles, cout] = V[xi] [tiles, cin] U[xi] [cin, cout]
 * where V[xi] holds position xi of every tile's B^T d B and U[xi] that of
 * every G g G^T (packed once per step, with the weights).
 *
 * The input gradient of a 3x3 stride-1 convolution with padding p is the
 * same kind of convolution of dy, with the kernel turned by 180 degrees,
 * input and output channels swapped and padding 2 - p; its U is packed
 * beside the forward's.
 *
 * Work is cut into blocks of tiles whose size depends on the channel counts
 * only; a block is transformed, multiplied and transformed back by one
 * thread in its own slot of scratch (V, M, a zero row and a sink row), so
 * no result depends on the thread count. */
#include <omp.h>
#include <string.h>

#include "core/internal.h"
#include "nn/winograd.h"

/* Scratch slots, hence at most this many threads per layer. */
#define NSLOT 8
/* Floats of V and M per slot (512 KiB): a block stays in L2 from its input
 * transform to its output transform. */
#define SLOT_VM_FLOATS 131072

/* One 3x3 stride-1 convolution: x [n, h, w, cin] -> y [n, oh, ow, cout]. */
typedef struct wino {
    int64_t n, h, w, cin, cout, pad, oh, ow;
    int64_t th, tw;   /* 2x2 output tiles per image, down and across */
    int64_t tb;       /* tiles per block */
} wino;

int byol__wino_fits(const byol__conv_geom *g)
{
    return g->winograd && g->kh == 3 && g->kw == 3 && g->stride == 1 && g->pad <= 2 &&
           g->cin % 16 == 0 && g->cout % 16 == 0;
}

static int64_t block_tiles(int64_t cin, int64_t cout)
{
    int64_t tb = SLOT_VM_FLOATS / (16 * (cin + cout));
    return tb < 16 ? 16 : tb;
}

/* Floats between two of the 16 planes of V or M for channel count c: one
 * cache line more than a block's worth, as planes a power of two apart
 * (16 KiB with 16 channels) would all fall into the same L1 set and evict
 * each other while a tile's 16 values are written or read. */
static int64_t plane(int64_t tb, int64_t c)
{
    return tb * c + 16;
}

static int64_t slot_floats(int64_t cin, int64_t cout)
{
    int64_t c = cin > cout ? cin : cout, tb = block_tiles(cin, cout);
    return 16 * (plane(tb, cin) + plane(tb, cout)) + 2 * c;
}

size_t byol__wino_scratch(const byol__conv_geom *g)
{
    return (size_t)(NSLOT * slot_floats(g->cin, g->cout));
}

size_t byol__wino_packed(const byol__conv_geom *g)
{
    return (size_t)(2 * 16 * g->cin * g->cout);
}

static wino make_wino(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t cout, int64_t pad)
{
    wino q = { .n = n, .h = h, .w = w, .cin = cin, .cout = cout, .pad = pad,
               .oh = h + 2 * pad - 2, .ow = w + 2 * pad - 2 };
    q.th = (q.oh + 1) / 2;
    q.tw = (q.ow + 1) / 2;
    q.tb = block_tiles(cin, cout);
    return q;
}

/* ---- transforms -------------------------------------------------------- */

/* u [16] = G g G^T for one 3x3 kernel g [9], G = [1 0 0; .5 .5 .5;
 * .5 -.5 .5; 0 0 1]. flip: g turned by 180 degrees first. */
static void weight_transform(const float *g, int flip, float *u)
{
    float k[9], t[4][3];
    for (int i = 0; i < 9; i++)
        k[i] = g[flip ? 8 - i : i];
    for (int j = 0; j < 3; j++) {
        t[0][j] = k[j];
        t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
        t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
        t[3][j] = k[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i + 0] = t[i][0];
        u[4 * i + 1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[4 * i + 2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[4 * i + 3] = t[i][2];
    }
}

void byol__wino_pack(const byol__conv_geom *g, const float *w, float *u)
{
    /* w [cout, cin, 3, 3] -> u: forward [16, cin, cout], then input
     * gradient [16, cout, cin] from the turned kernels. */
    const int64_t cin = g->cin, cout = g->cout, plane = cin * cout;
    float *ub = u + 16 * plane;
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (16 * plane >= BYOL__PAR_MIN)
    for (int64_t o = 0; o < cout; o++)
        for (int64_t c = 0; c < cin; c++) {
            float f[16], b[16];
            weight_transform(w + (o * cin + c) * 9, 0, f);
            weight_transform(w + (o * cin + c) * 9, 1, b);
            for (int xi = 0; xi < 16; xi++) {
                u[xi * plane + c * cout + o] = f[xi];
                ub[xi * plane + o * cin + c] = b[xi];
            }
        }
}

/* v[xi * ldv + c] = (B^T d B)[xi] for the patch whose 16 pixels d[i]
 * point at cin floats each, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
static void input_transform(int64_t cin, const float *const *d, float *v, int64_t ldv)
{
#pragma omp simd
    for (int64_t c = 0; c < cin; c++) {
        float t[4][4];
        for (int j = 0; j < 4; j++) {
            float d0 = d[j][c], d1 = d[4 + j][c], d2 = d[8 + j][c], d3 = d[12 + j][c];
            t[0][j] = d0 - d2;
            t[1][j] = d1 + d2;
            t[2][j] = d2 - d1;
            t[3][j] = d1 - d3;
        }
        for (int i = 0; i < 4; i++) {
            v[(4 * i + 0) * ldv + c] = t[i][0] - t[i][2];
            v[(4 * i + 1) * ldv + c] = t[i][1] + t[i][2];
            v[(4 * i + 2) * ldv + c] = t[i][2] - t[i][1];
            v[(4 * i + 3) * ldv + c] = t[i][1] - t[i][3];
        }
    }
}

/* y[p][c] = base[p][c] + (A^T m A)[p] for the tile's 4 outputs p, m's 16
 * positions ldm floats apart, A^T = [1 1 1 0; 0 1 -1 -1]. */
static void output_transform(int64_t cout, const float *m, int64_t ldm,
                             const float *const *base, float *const *y)
{
#pragma omp simd
    for (int64_t c = 0; c < cout; c++) {
        float t[2][4];
        for (int j = 0; j < 4; j++) {
            float m0 = m[j * ldm + c], m1 = m[(4 + j) * ldm + c];
            float m2 = m[(8 + j) * ldm + c], m3 = m[(12 + j) * ldm + c];
            t[0][j] = m0 + m1 + m2;
            t[1][j] = m1 - m2 - m3;
        }
        for (int i = 0; i < 2; i++) {
            y[2 * i][c] = base[2 * i][c] + (t[i][0] + t[i][1] + t[i][2]);
            y[2 * i + 1][c] = base[2 * i + 1][c] + (t[i][1] - t[i][2] - t[i][3]);
        }
    }
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
    *oh = 2 * (r / q->tw);
    *ow = 2 * (r % q->tw);
}

static void gather(const wino *q, const float *x, int64_t t, const float *zero,
                   const float **d)
{
    int64_t n, oh, ow;
    tile_at(q, t, &n, &oh, &ow);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int64_t ih = oh - q->pad + i, iw = ow - q->pad + j;
            int in = ih >= 0 && ih < q->h && iw >= 0 && iw < q->w;
            d[4 * i + j] = in ? x + ((n * q->h + ih) * q->w + iw) * q->cin : zero;
        }
}

/* Where tile t's outputs go and what they are added to: the bias (or
 * zeros), y itself when accumulating; outputs past the map go to sink. */
static void scatter(const wino *q, const pass *p, int64_t t, const float *zero,
                    float *sink, const float **base, float **y)
{
    int64_t n, oh, ow;
    tile_at(q, t, &n, &oh, &ow);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            int k = 2 * i + j;
            if (oh + i >= q->oh || ow + j >= q->ow) {
                y[k] = sink;
                base[k] = zero;
                continue;
            }
            y[k] = p->y + ((n * q->oh + oh + i) * q->ow + ow + j) * q->cout;
            base[k] = p->accum ? y[k] : p->bias ? p->bias : zero;
        }
}

/* Tiles [t0, t0 + nt): V, the 16 products into M, the outputs. */
static void run_block(const wino *q, const pass *p, int64_t t0, int64_t nt, float *slot)
{
    const int64_t cin = q->cin, cout = q->cout, c = cin > cout ? cin : cout;
    const int64_t lv = plane(q->tb, cin), lm = plane(q->tb, cout);
    float *v = slot, *m = v + 16 * lv, *zero = m + 16 * lm, *sink = zero + c;
    const int avx512 = byol__cpu_avx512();
    memset(zero, 0, (size_t)c * sizeof(float));
    for (int64_t t = 0; t < nt; t++) {
        const float *d[16];
        gather(q, p->x, t0 + t, zero, d);
        if (avx512)
            byol__wino_input_avx512(cin, d, v + t * cin, lv);
        else
            input_transform(cin, d, v + t * cin, lv);
    }
    for (int xi = 0; xi < 16; xi++) {
        const float *a = v + xi * lv, *b = p->u + xi * cin * cout;
        float *mc = m + xi * lm;
        if (!byol__wino_matmul(nt, cout, cin, a, b, mc))
            byol__gemm_serial(0, 0, nt, cout, cin, 1.0f, a, cin, b, cout, 0.0f, mc, cout);
    }
    for (int64_t t = 0; t < nt; t++) {
        const float *base[4];
        float *y[4];
        scatter(q, p, t0 + t, zero, sink, base, y);
        if (avx512)
            byol__wino_output_avx512(cout, m + t * cout, lm, base, y);
        else
            output_transform(cout, m + t * cout, lm, base, y);
    }
}

static void run(const wino *q, const pass *p, float *scratch)
{
    const int64_t tiles = q->n * q->th * q->tw, nb = (tiles + q->tb - 1) / q->tb;
    const int64_t slot = slot_floats(q->cin, q->cout);
    int threads = byol__num_threads();
    if (threads > NSLOT)
        threads = NSLOT;
    if (threads > nb)
        threads = (int)nb;
    byol__gemm_prepare();
#pragma omp parallel num_threads(threads)
    {
        float *mine = scratch + omp_get_thread_num() * slot;
#pragma omp for schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            int64_t t0 = b * q->tb;
            run_block(q, p, t0, tiles - t0 < q->tb ? tiles - t0 : q->tb, mine);
        }
    }
}

void byol__wino_forward(const byol__conv_geom *g, const float *x, const float *u,
                        const float *bias, float *y, float *scratch)
{
    /* x [n, h, w, cin], u [16, cin, cout], bias [cout] or NULL ->
     * y [n, oh, ow, cout] */
    wino q = make_wino(g->n, g->h, g->w, g->cin, g->cout, g->pad);
    pass p = { .x = x, .u = u, .bias = bias, .y = y, .accum = 0 };
    run(&q, &p, scratch);
}

void byol__wino_backward_data(const byol__conv_geom *g, const float *dy, const float *u,
                              float *dx, int accum, float *scratch)
{
    /* dy [n, oh, ow, cout], u's second half [16, cout, cin] ->
     * dx [n, h, w, cin] (+)= */
    wino q = make_wino(g->n, g->oh, g->ow, g->cout, g->cin, 2 - g->pad);
    pass p = { .x = dy, .u = u + 16 * g->cin * g->cout, .y = dx, .accum = accum };
    run(&q, &p, scratch);
}
