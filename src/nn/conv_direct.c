/* Direct convolution on AVX-512F, without an im2col matrix; the contract
 * (which bits, when a kernel declines) is in conv_direct.h.
 *
 * Why: when K = kh*kw*cin is small (an RGB stem: 27; a 1x1 shortcut on
 * 16 or 32 channels), im2col (writing kh*kw copies of the input) and the
 * BLAS packing that copy again cost more than the multiply-adds, and the
 * BLAS kernels run short loops over k. Here the multiply reads the NHWC
 * input in place. Only the forward is direct so far; the backward stays
 * im2col + GEMM (conv2d.c).
 *
 * Forward: an output row (n, oh) is cut into tiles of R pixels, and cout
 * into blocks of V <= 4 vectors of 16 channels; a tile keeps R x V sums in
 * registers while it walks k = (kh, kw, cin) in im2col's order: per k, V
 * weight vectors of wt [K, cout] and R input values, each broadcast into a
 * multiply. Rows with zero padding are read from a ring of padded copies
 * of the input rows on the thread's stack (each input row is copied once
 * per image and thread); kernel rows wholly in the padding are skipped. */
#include <string.h>

#include "core/internal.h"
#include "nn/conv_direct.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_DIRECT 1
#include <immintrin.h>
#else
#define HAVE_DIRECT 0
#endif

/* The forward runs direct only up to this K = kh*kw*cin. Measured on the
 * resnet18-cifar width-0.25 layers at batch 256 (Zen 4, 1 thread, CPU time,
 * against im2col + BLIS 0.9's zen3 kernels, the two alternating in one
 * process): the RGB stem (K = 27) 12.6 -> 6.2 ms, the 1x1 stride-2
 * shortcuts with K = 16 and 32: 6.4 -> 4.9 and 3.6 -> 3.2 ms; from K = 64
 * up BLIS was as fast or faster (K = 144: 29.8 vs 28.1 ms; K = 288 to 1152:
 * 15-45 % slower direct), as its packed weight panels are reused from L1
 * where these tiles stream the weights from L2 for every R pixels. */
#ifndef BYOL_CONV_DIRECT_MAX_K
#define BYOL_CONV_DIRECT_MAX_K 32
#endif

/* Kernel rows a direct convolution may have. */
#define MAX_KH 16
/* Floats of the stack ring of padded input rows (64 KiB per thread). */
#define BAND_FLOATS 16384
/* Sums a tile keeps in registers, of the 32 vector registers: the rest
 * hold weights and temporaries. */
#define MAX_ACC 24

size_t byol__conv_direct_packed(const byol__conv_geom *g)
{
    return (size_t)(g->cout * g->kh * g->kw * g->cin);
}

typedef struct pack_args {
    int64_t k, cout;
    const float *wp;
    float *wt;
} pack_args;

static void pack_range(void *arg, int64_t b0, int64_t b1)
{
    const pack_args *a = arg;
    const int64_t k = a->k, cout = a->cout;
    for (int64_t o0 = b0 * 16; o0 < b1 * 16 && o0 < cout; o0 += 16) {
        const int rows = cout - o0 < 16 ? (int)(cout - o0) : 16;
        for (int64_t p0 = 0; p0 < k; p0 += 16) {
            const int cols = k - p0 < 16 ? (int)(k - p0) : 16;
            byol__transpose16_32(a->wp + o0 * k + p0, k, rows, cols, a->wt + p0 * cout + o0,
                                 cout);
        }
    }
}

void byol__conv_direct_pack(const byol__conv_geom *g, const float *wp, float *wt)
{
    /* wp [cout, K] -> wt [K, cout] in 16 x 16 blocks: one element at a
     * time the writes went cout floats apart, and the exact resnet18
     * forward spent 3 % of its time here */
    pack_args a = { g->kh * g->kw * g->cin, g->cout, wp, wt };
    byol__parallel_for((a.cout + 15) / 16, a.cout * a.k >= BYOL__PAR_MIN, pack_range, &a);
}

#if HAVE_DIRECT

/* Padded input row length in floats: pad columns on the left, the row,
 * and as many on the right as the last window reaches past it. */
static int64_t band_row(const byol__conv_geom *g)
{
    int64_t last = (g->ow - 1) * g->stride - g->pad + g->kw - 1;
    int64_t rpad = last >= g->w ? last - g->w + 1 : 0;
    return (g->pad + g->w + rpad) * g->cin;
}

static int fwd_ok(const byol__conv_geom *g)
{
    return byol__cpu_avx512() && g->cout % 16 == 0 && g->kh <= MAX_KH &&
           g->kh * g->kw * g->cin <= BYOL_CONV_DIRECT_MAX_K &&
           (g->pad == 0 || g->kh * band_row(g) <= BAND_FLOATS);
}

#define TARGET __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline)) TARGET

/* *p broadcast to 16 lanes, times w. The broadcast is folded into the
 * multiply's memory operand: a separate broadcast takes a floating-point
 * pipe on Zen 4 (an 8x2 tile ran at 70 GFLOP/s with it, 101 without), and
 * compilers keep a broadcast that two multiplies use in a register. */
INLINE __m512 mul_bcast(const float *p, __m512 w)
{
    __m512 t;
    __asm__("vmulps %1%{1to16%}, %2, %0" : "=v"(t) : "m"(*p), "v"(w));
    return t;
}

/* One forward tile. rows[i]: kernel row i's input row at the tile's first
 * pixel and window column 0, or NULL for a row in the padding. */
typedef struct fwd_args {
    const float *rows[MAX_KH];
    int64_t kh, kw, cin;
    int64_t xs;           /* floats between the tile's pixels: stride * cin */
    const float *wt;      /* wt [K, cout] at the block's first channel */
    int64_t cout;
    const float *bias;    /* at the block's first channel, or NULL */
    float *y;             /* the tile's first output pixel, block's first channel */
} fwd_args;

typedef void (*fwd_fn)(const fwd_args *a);

/* y[r, 16v + l] = sum over k of x(r, k) * wt[k, 16v + l] (+ bias), for
 * pixels r < R and vectors v < V, k in im2col's order, one product at a
 * time: sum = sum + x * w, never fused. */
INLINE void fwd_tile(int R, int V, const fwd_args *a)
{
    __m512 acc[MAX_ACC];
    const int64_t cin = a->cin, cout = a->cout, xs = a->xs;
    for (int i = 0; i < R * V; i++)
        acc[i] = _mm512_setzero_ps();
    for (int64_t i = 0; i < a->kh; i++) {
        if (!a->rows[i])
            continue;   /* +-0 products: cannot change the sums */
        for (int64_t j = 0; j < a->kw; j++) {
            const float *xa = a->rows[i] + j * cin;
            const float *wa = a->wt + (i * a->kw + j) * cin * cout;
            for (int64_t c = 0; c < cin; c++, wa += cout) {
                __m512 w[4];
                for (int v = 0; v < V; v++)
                    w[v] = _mm512_loadu_ps(wa + 16 * v);
                for (int r = 0; r < R; r++)
                    for (int v = 0; v < V; v++)
                        acc[r * V + v] = _mm512_add_ps(acc[r * V + v],
                                                       mul_bcast(xa + r * xs + c, w[v]));
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) {
            __m512 s = acc[r * V + v];
            if (a->bias)
                s = _mm512_add_ps(s, _mm512_loadu_ps(a->bias + 16 * v));
            _mm512_storeu_ps(a->y + r * cout + 16 * v, s);
        }
}

/* One function per tile shape (R pixels, V vectors), R * V <= MAX_ACC. */
#define FWD(R, V) \
    static TARGET void fwd_##R##_##V(const fwd_args *a) { fwd_tile(R, V, a); }
#define FWD_R8(V) FWD(1, V) FWD(2, V) FWD(3, V) FWD(4, V) FWD(5, V) FWD(6, V) \
    FWD(7, V) FWD(8, V)
FWD_R8(1) FWD(9, 1) FWD(10, 1) FWD(11, 1) FWD(12, 1) FWD(13, 1) FWD(14, 1)
FWD(15, 1) FWD(16, 1)
FWD_R8(2) FWD(9, 2) FWD(10, 2) FWD(11, 2) FWD(12, 2)
FWD_R8(3)
FWD(1, 4) FWD(2, 4) FWD(3, 4) FWD(4, 4) FWD(5, 4) FWD(6, 4)

/* Largest tile per V, and the table [V - 1][R]. */
static const int fwd_rmax[4] = { 16, 12, 8, 6 };
#define ROW8(V) fwd_1_##V, fwd_2_##V, fwd_3_##V, fwd_4_##V, fwd_5_##V, fwd_6_##V, \
    fwd_7_##V, fwd_8_##V
static const fwd_fn fwd_table[4][17] = {
    { NULL, ROW8(1), fwd_9_1, fwd_10_1, fwd_11_1, fwd_12_1, fwd_13_1, fwd_14_1,
      fwd_15_1, fwd_16_1 },
    { NULL, ROW8(2), fwd_9_2, fwd_10_2, fwd_11_2, fwd_12_2 },
    { NULL, ROW8(3) },
    { NULL, fwd_1_4, fwd_2_4, fwd_3_4, fwd_4_4, fwd_5_4, fwd_6_4 },
};

/* Which padded rows a thread's ring holds: those of image n below next. */
typedef struct ring {
    int64_t n, next;
} ring;

/* Padded copy of input row ih of image n: zeros, the row, zeros. */
static void pad_row(const byol__conv_geom *g, const float *x, int64_t n, int64_t ih,
                    float *dst)
{
    const int64_t cin = g->cin, len = band_row(g), left = g->pad * cin;
    memset(dst, 0, (size_t)left * sizeof(float));
    memcpy(dst + left, x + (n * g->h + ih) * g->w * cin, (size_t)(g->w * cin) * sizeof(float));
    memset(dst + left + g->w * cin, 0, (size_t)(len - left - g->w * cin) * sizeof(float));
}

/* rows[i] = input row oh * stride - pad + i at window column 0: in x
 * itself without padding, else in the ring (slot ih mod kh), copying the
 * rows it does not hold yet; NULL for rows in the padding. */
static void input_rows(const byol__conv_geom *g, const float *x, int64_t n, int64_t oh,
                       float *band, ring *rg, const float **rows)
{
    const int64_t ih0 = oh * g->stride - g->pad, len = band_row(g);
    if (g->pad == 0) {
        for (int64_t i = 0; i < g->kh; i++)
            rows[i] = x + (n * g->h + ih0 + i) * g->w * g->cin;
        return;
    }
    if (rg->n != n) {
        rg->n = n;
        rg->next = 0;
    }
    for (int64_t ih = ih0 > rg->next ? ih0 : rg->next; ih < ih0 + g->kh && ih < g->h; ih++)
        if (ih >= 0)
            pad_row(g, x, n, ih, band + (ih % g->kh) * len);
    if (ih0 + g->kh > rg->next)
        rg->next = ih0 + g->kh;
    for (int64_t i = 0; i < g->kh; i++) {
        int64_t ih = ih0 + i;
        rows[i] = ih < 0 || ih >= g->h ? NULL : band + (ih % g->kh) * len;
    }
}

/* Pixels per tile: output rows are cut into equal tiles no wider than the
 * widest block's largest tile. */
static int64_t fwd_tile_width(const byol__conv_geom *g)
{
    int64_t v = g->cout / 16 < 4 ? g->cout / 16 : 4;
    int64_t rmax = fwd_rmax[v - 1], tiles = (g->ow + rmax - 1) / rmax;
    return (g->ow + tiles - 1) / tiles;
}

/* Output row (n, oh): every tile and channel block. */
static void fwd_row(const byol__conv_geom *g, const float *x, const float *wt,
                    const float *bias, float *y, int64_t n, int64_t oh, float *band,
                    ring *rg)
{
    const float *rows[MAX_KH];
    const int64_t cout = g->cout, vtot = cout / 16, tw = fwd_tile_width(g);
    fwd_args a;
    input_rows(g, x, n, oh, band, rg, rows);
    a.kh = g->kh;
    a.kw = g->kw;
    a.cin = g->cin;
    a.xs = g->stride * g->cin;
    a.cout = cout;
    float *yrow = y + (n * g->oh + oh) * g->ow * cout;
    for (int64_t ow0 = 0; ow0 < g->ow; ow0 += tw) {
        int64_t r = g->ow - ow0 < tw ? g->ow - ow0 : tw;
        for (int64_t i = 0; i < g->kh; i++)
            a.rows[i] = rows[i] ? rows[i] + ow0 * a.xs : NULL;
        for (int64_t v0 = 0; v0 < vtot; v0 += 4) {
            int64_t v = vtot - v0 < 4 ? vtot - v0 : 4;
            a.wt = wt + v0 * 16;
            a.bias = bias ? bias + v0 * 16 : NULL;
            a.y = yrow + ow0 * cout + v0 * 16;
            fwd_table[v - 1][r](&a);
        }
    }
}

typedef struct rows_args {
    const byol__conv_geom *g;
    const float *x, *wt, *bias;
    float *y;
} rows_args;

static void fwd_range(void *arg, int64_t t0, int64_t t1)
{
    const rows_args *a = arg;
    float band[BAND_FLOATS];
    ring rg = { -1, 0 };
    for (int64_t t = t0; t < t1; t++)
        fwd_row(a->g, a->x, a->wt, a->bias, a->y, t / a->g->oh, t % a->g->oh, band, &rg);
}

int byol__conv_direct_forward(const byol__conv_geom *g, const float *x,
                              const float *wt, const float *bias, float *y)
{
    /* x [n, h, w, cin], wt [K, cout], bias [cout] or NULL -> y [n, oh, ow, cout].
     * Each thread takes whole output rows (a static split), so no output
     * depends on the thread count. */
    if (!fwd_ok(g))
        return 0;
    const int64_t rows = g->n * g->oh;
    rows_args a = { g, x, wt, bias, y };
    byol__parallel_for(rows, rows * g->ow * g->cout >= BYOL__PAR_MIN, fwd_range, &a);
    return 1;
}

#else /* !HAVE_DIRECT */

int byol__conv_direct_forward(const byol__conv_geom *g, const float *x,
                              const float *wt, const float *bias, float *y)
{
    (void)g, (void)x, (void)wt, (void)bias, (void)y;
    return 0;
}

#endif
