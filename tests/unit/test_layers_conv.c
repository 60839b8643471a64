/* Convolution: geometry, forward and backward against a direct double
 * reference, finite differences, chunked im2col, accumulation and the same
 * bits for 1 and 2 threads; the same for Winograd F(2x2, 3x3) and
 * F(4x4, 3x3). */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"
#include "nn/winograd.h"

typedef struct conv_case {
    byol__conv_geom g;
    int bias;
    float *x, *w, *b, *wp, *y, *dy, *scratch;
    float *dw, *db;   /* parameter gradients the dx callback writes into */
} conv_case;

static size_t conv_xlen(const byol__conv_geom *g)
{
    return (size_t)(g->n * g->h * g->w * g->cin);
}

static size_t conv_ylen(const byol__conv_geom *g)
{
    return (size_t)(g->n * g->oh * g->ow * g->cout);
}

static size_t conv_wlen(const byol__conv_geom *g)
{
    return (size_t)(g->cout * g->cin * g->kh * g->kw);
}

static void conv_setup(conv_case *c, byol__conv_geom g, int bias,
                       uint32_t seed)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(byol__conv_geom_init(&g), 0);
    c->g = g;
    c->bias = bias;
    c->x = frand(conv_xlen(&g), seed, 1.0f);
    c->w = frand(conv_wlen(&g), seed + 1, 0.5f);
    c->b = bias ? frand((size_t)g.cout, seed + 2, 0.5f) : NULL;
    c->wp = fbuf(byol__conv2d_packed_size(&g));
    c->y = fbuf(conv_ylen(&g));
    c->dy = frand(conv_ylen(&g), seed + 3, 1.0f);
    c->scratch = fbuf(byol__conv2d_scratch(&g));
    c->dw = fbuf(conv_wlen(&g));
    c->db = fbuf((size_t)g.cout);
    ffill(c->dw, conv_wlen(&g), 0.0f);
    ffill(c->db, (size_t)g.cout, 0.0f);
}

static void conv_free(conv_case *c)
{
    free(c->x); free(c->w); free(c->b); free(c->wp); free(c->y);
    free(c->dy); free(c->scratch); free(c->dw); free(c->db);
}

static void conv_fwd(void *p)
{
    conv_case *c = p;
    byol__conv2d_pack(&c->g, c->w, c->wp);
    byol__conv2d_forward(&c->g, c->x, c->w, c->wp, c->b, c->y, c->scratch);
}

static void conv_bwd(void *p, float *dx, int accum)
{
    conv_case *c = p;
    byol__conv2d_pack(&c->g, c->w, c->wp);
    byol__conv2d_backward(&c->g, c->x, c->w, c->wp, c->dy, dx, accum, c->dw,
                          c->bias ? c->db : NULL, c->scratch);
}

/* Direct convolution, forward and backward, in double. */
static void conv_ref(const conv_case *c, double *y, double *dx, double *dw,
                     double *db)
{
    const byol__conv_geom *g = &c->g;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t o = 0; o < g->cout; o++)
            for (int64_t oh = 0; oh < g->oh; oh++)
                for (int64_t ow = 0; ow < g->ow; ow++) {
                    int64_t yi = nhwc(g->oh, g->ow, g->cout, n, oh, ow, o);
                    double s = c->b ? c->b[o] : 0.0, gy = c->dy[yi];
                    db[o] += gy;
                    for (int64_t ci = 0; ci < g->cin; ci++)
                        for (int64_t i = 0; i < g->kh; i++)
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t ih = oh * g->stride - g->pad + i;
                                int64_t iw = ow * g->stride - g->pad + j;
                                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w)
                                    continue;
                                int64_t xi = nhwc(g->h, g->w, g->cin, n, ih, iw, ci);
                                int64_t wi = ((o * g->cin + ci) * g->kh + i) * g->kw + j;
                                s += (double)c->w[wi] * c->x[xi];
                                dx[xi] += (double)c->w[wi] * gy;
                                dw[wi] += (double)c->x[xi] * gy;
                            }
                    y[yi] = s;
                }
}

static byol__conv_geom geom(int64_t n, int64_t h, int64_t w, int64_t cin,
                            int64_t cout, int64_t k, int64_t s, int64_t p)
{
    byol__conv_geom g = { n, h, w, cin, cout, k, k, s, p, 0, 0, 0, 0 };
    return g;
}

typedef struct conv_spec {
    const char *name;
    byol__conv_geom g;
    int bias;
} conv_spec;

static const conv_spec conv_specs[] = {
    { "3x3 s1 p1", { 2, 7, 5, 3, 4, 3, 3, 1, 1, 0, 0, 0, 0 }, 1 },
    { "3x3 s2 p1", { 2, 8, 7, 5, 3, 3, 3, 2, 1, 0, 0, 0, 0 }, 0 },
    { "1x1 s1 p0", { 2, 5, 6, 4, 6, 1, 1, 1, 0, 0, 0, 0, 0 }, 1 },
    { "1x1 s2 p0", { 2, 7, 6, 4, 5, 1, 1, 2, 0, 0, 0, 0, 0 }, 0 },
    { "7x7 s2 p3", { 1, 11, 9, 3, 4, 7, 7, 2, 3, 0, 0, 0, 0 }, 1 },
    { "3x2 s3 p2", { 2, 8, 10, 3, 2, 3, 2, 3, 2, 0, 0, 0, 0 }, 0 },
    { "1x1 s1 p1", { 1, 4, 3, 2, 3, 1, 1, 1, 1, 0, 0, 0, 0 }, 1 },
};
#define N_CONV_SPECS (sizeof conv_specs / sizeof conv_specs[0])

/* Forward, dx, dw, db against the direct double reference. */
static void conv_check_ref_tol(const char *name, conv_case *c, double tol)
{
    const byol__conv_geom *g = &c->g;
    size_t nx = conv_xlen(g), ny = conv_ylen(g), nw = conv_wlen(g);
    double *y = dbuf(ny), *dx = dbuf(nx), *dw = dbuf(nw), *db = dbuf((size_t)g->cout);
    conv_ref(c, y, dx, dw, db);
    float *gx = fbuf(nx);
    char msg[160];
    conv_fwd(c);
    snprintf(msg, sizeof msg, "conv %s forward", name);
    assert_close_d(msg, c->y, y, ny, tol);
    ffill(c->dw, nw, 0.0f);
    ffill(c->db, (size_t)g->cout, 0.0f);
    conv_bwd(c, gx, 0);
    snprintf(msg, sizeof msg, "conv %s dx", name);
    assert_close_d(msg, gx, dx, nx, tol);
    snprintf(msg, sizeof msg, "conv %s dw", name);
    assert_close_d(msg, c->dw, dw, nw, tol);
    if (c->bias) {
        snprintf(msg, sizeof msg, "conv %s db", name);
        assert_close_d(msg, c->db, db, (size_t)g->cout, REF_TOL);
    }
    free(y); free(dx); free(dw); free(db); free(gx);
}

static void conv_check_ref(const char *name, conv_case *c)
{
    conv_check_ref_tol(name, c, REF_TOL);
}

static void test_conv_reference(void **state)
{
    (void)state;
    for (size_t s = 0; s < N_CONV_SPECS; s++)
        for (int bias = 0; bias < 2; bias++) {
            conv_case c;
            conv_setup(&c, conv_specs[s].g, bias, (uint32_t)(10 + s));
            conv_check_ref(conv_specs[s].name, &c);
            conv_free(&c);
        }
}

/* Analytic gradients of every conv tensor vs finite differences. */
static void conv_check_fd(const char *name, conv_case *c)
{
    const byol__conv_geom *g = &c->g;
    size_t nx = conv_xlen(g), ny = conv_ylen(g), nw = conv_wlen(g);
    float *dx = fbuf(nx);
    ffill(c->dw, nw, 0.0f);
    ffill(c->db, (size_t)g->cout, 0.0f);
    conv_bwd(c, dx, 0);
    fd_param ps[] = { { "x", c->x, nx, dx }, { "w", c->w, nw, c->dw },
                      { "b", c->b, (size_t)g->cout, c->db } };
    char msg[64];
    snprintf(msg, sizeof msg, "conv %s", name);
    fd_check(msg, conv_fwd, c, c->y, c->dy, ny, ps, c->bias ? 3 : 2);
    free(dx);
}

static void test_conv_gradcheck(void **state)
{
    (void)state;
    for (size_t s = 0; s < N_CONV_SPECS; s++) {
        conv_case c;
        conv_setup(&c, conv_specs[s].g, conv_specs[s].bias, (uint32_t)(20 + s));
        conv_check_fd(conv_specs[s].name, &c);
        conv_free(&c);
    }
}

/* A geometry whose im2col matrix spans several chunks, with boundaries in
 * the middle of an output row and across images. */
static void test_conv_chunked(void **state)
{
    (void)state;
    conv_case c;
    conv_setup(&c, geom(3, 34, 33, 64, 5, 3, 1, 1), 1, 40);
    size_t full = (size_t)(c.g.n * c.g.oh * c.g.ow * 9 * c.g.cin);
    if (byol__conv2d_scratch(&c.g) >= full)
        fail_msg("chunked case is not chunked (scratch %zu >= %zu)",
                 byol__conv2d_scratch(&c.g), full);
    conv_check_ref("chunked", &c);
    conv_check_fd("chunked", &c);
    conv_free(&c);
    /* A dW too large for per-block accumulators: split by columns. */
    conv_setup(&c, geom(4, 24, 24, 64, 128, 3, 1, 1), 0, 41);
    conv_check_ref("chunked, wide dW", &c);
    conv_free(&c);
}

static void test_conv_accum(void **state)
{
    (void)state;
    const size_t pick[] = { 0, 2, 3 };   /* im2col, 1x1 direct, 1x1 s2 */
    for (size_t s = 0; s < 3; s++) {
        conv_case c;
        conv_setup(&c, conv_specs[pick[s]].g, 1, (uint32_t)(50 + s));
        size_t nx = conv_xlen(&c.g), nw = conv_wlen(&c.g);
        char msg[64];
        snprintf(msg, sizeof msg, "conv %s dx", conv_specs[pick[s]].name);
        check_accum(msg, conv_bwd, &c, nx);
        /* dw, db always add: two passes from zero give twice one pass. */
        float *dx = fbuf(nx), *w1 = fbuf(nw), *b1 = fbuf((size_t)c.g.cout);
        ffill(c.dw, nw, 0.0f);
        ffill(c.db, (size_t)c.g.cout, 0.0f);
        conv_bwd(&c, dx, 0);
        for (size_t i = 0; i < nw; i++)
            w1[i] = 2.0f * c.dw[i];
        for (int64_t i = 0; i < c.g.cout; i++)
            b1[i] = 2.0f * c.db[i];
        conv_bwd(&c, dx, 0);
        tu_assert_close("conv dw accumulates", c.dw, w1, nw, 1e-6, 1e-6);
        tu_assert_close("conv db accumulates", c.db, b1, (size_t)c.g.cout,
                        1e-6, 1e-6);
        /* dx = NULL (a first layer) still yields dw. */
        ffill(c.dw, nw, 0.0f);
        byol__conv2d_backward(&c.g, c.x, c.w, c.wp, c.dy, NULL, 0, c.dw, NULL,
                              c.scratch);
        for (size_t i = 0; i < nw; i++)
            w1[i] *= 0.5f;
        tu_assert_close("conv dw with dx = NULL", c.dw, w1, nw, 1e-6, 1e-6);
        free(dx); free(w1); free(b1);
        conv_free(&c);
    }
}

static void test_conv_geom(void **state)
{
    (void)state;
    byol__conv_geom g = geom(1, 32, 32, 3, 8, 3, 2, 1);
    assert_int_equal(byol__conv_geom_init(&g), 0);
    assert_int_equal(g.oh, 16);
    assert_int_equal(g.ow, 16);
    g = geom(1, 224, 224, 3, 8, 7, 2, 3);
    assert_int_equal(byol__conv_geom_init(&g), 0);
    assert_int_equal(g.oh, 112);
    g = geom(1, 2, 2, 3, 8, 5, 1, 1);   /* kernel larger than padded input */
    assert_int_equal(byol__conv_geom_init(&g), -1);
    g = geom(1, 4, 4, 3, 8, 3, 0, 1);
    assert_int_equal(byol__conv_geom_init(&g), -1);
    /* 1x1 stride-1 convolutions need no scratch at all. */
    g = geom(64, 8, 8, 256, 512, 1, 1, 0);
    assert_int_equal(byol__conv_geom_init(&g), 0);
    assert_int_equal(byol__conv2d_scratch(&g), 0);
}

/* ---- determinism across thread counts ------------------------------------- */

typedef struct conv_out {
    float *y, *dx, *dw, *db;
} conv_out;

static conv_out conv_run(conv_case *c, int threads)
{
    conv_out o;
    size_t nw = conv_wlen(&c->g);
    byol__set_threads(threads);
    o.y = fbuf(conv_ylen(&c->g));
    o.dx = fbuf(conv_xlen(&c->g));
    o.dw = fbuf(nw);
    o.db = fbuf((size_t)c->g.cout);
    ffill(o.dw, nw, 0.0f);
    ffill(o.db, (size_t)c->g.cout, 0.0f);
    byol__conv2d_pack(&c->g, c->w, c->wp);
    byol__conv2d_forward(&c->g, c->x, c->w, c->wp, c->b, o.y, c->scratch);
    byol__conv2d_backward(&c->g, c->x, c->w, c->wp, c->dy, o.dx, 0, o.dw, o.db,
                          c->scratch);
    byol__set_threads(2);
    return o;
}

static void conv_out_free(conv_out *o)
{
    free(o->y); free(o->dx); free(o->dw); free(o->db);
}

static void test_conv_determinism(void **state)
{
    (void)state;
    const byol__conv_geom gs[] = {
        { 3, 34, 33, 64, 48, 3, 3, 1, 1, 0, 0, 0, 0 },   /* chunked */
        { 8, 16, 16, 64, 128, 3, 3, 2, 1, 0, 0, 0, 0 },
        { 8, 16, 16, 64, 96, 1, 1, 1, 0, 0, 0, 0, 0 },
        { 32, 32, 32, 3, 16, 3, 3, 1, 1, 0, 0, 0, 0 },   /* dW split by depth */
    };
    for (size_t s = 0; s < sizeof gs / sizeof gs[0]; s++) {
        conv_case c;
        conv_setup(&c, gs[s], 1, (uint32_t)(60 + s));
        conv_out a = conv_run(&c, 1), b = conv_run(&c, 2);
        assert_memory_equal(a.y, b.y, conv_ylen(&c.g) * sizeof(float));
        assert_memory_equal(a.dx, b.dx, conv_xlen(&c.g) * sizeof(float));
        assert_memory_equal(a.dw, b.dw, conv_wlen(&c.g) * sizeof(float));
        assert_memory_equal(a.db, b.db, (size_t)c.g.cout * sizeof(float));
        conv_out_free(&a);
        conv_out_free(&b);
        conv_free(&c);
    }
}

/* ---- the direct forward: the bits of a sequential sum ---------------------- */

/* y as the GEMM on im2col's matrix computes it when it adds one product at
 * a time in order of k = (kh, kw, cin), padding taps as zeros, then the
 * bias: what test_checkpoint_pin's cblas_sgemm does. */
static void conv_sequential(const conv_case *c, float *y)
{
    const byol__conv_geom *g = &c->g;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t oh = 0; oh < g->oh; oh++)
            for (int64_t ow = 0; ow < g->ow; ow++)
                for (int64_t o = 0; o < g->cout; o++) {
                    float s = 0.0f;
                    for (int64_t i = 0; i < g->kh; i++)
                        for (int64_t j = 0; j < g->kw; j++)
                            for (int64_t ci = 0; ci < g->cin; ci++) {
                                int64_t ih = oh * g->stride - g->pad + i;
                                int64_t iw = ow * g->stride - g->pad + j;
                                int in = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w;
                                float x = in ? c->x[nhwc(g->h, g->w, g->cin, n, ih, iw, ci)]
                                             : 0.0f;
                                s += x * c->w[((o * g->cin + ci) * g->kh + i) * g->kw + j];
                            }
                    y[nhwc(g->oh, g->ow, g->cout, n, oh, ow, o)] = c->b ? s + c->b[o] : s;
                }
}

/* Geometries the AVX-512 forward takes (cout a multiple of 16, small K):
 * tiles with a remainder, two channel blocks, stride 2, padding 2, 1x1. */
static void test_conv_direct_bits(void **state)
{
    (void)state;
    const conv_spec specs[] = {
        { "stem 3x3", { 2, 7, 9, 3, 16, 3, 3, 1, 1, 0, 0, 0, 0 }, 1 },
        { "3x3 s2, 32 out", { 2, 8, 7, 3, 32, 3, 3, 2, 1, 0, 0, 0, 0 }, 0 },
        { "1x1 s2 shortcut", { 2, 7, 6, 16, 32, 1, 1, 2, 0, 0, 0, 0, 0 }, 0 },
        { "80 out, 40 wide", { 1, 5, 40, 3, 80, 3, 3, 1, 1, 0, 0, 0, 0 }, 1 },
        { "3x3 s3 p2", { 2, 8, 10, 2, 48, 3, 3, 3, 2, 0, 0, 0, 0 }, 1 },
    };
    if (!byol__cpu_avx512()) {
        print_message("      skipped: this CPU has no AVX-512F, so convolutions use im2col\n");
        return;
    }
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        conv_case c;
        conv_setup(&c, specs[s].g, specs[s].bias, (uint32_t)(70 + s));
        float *want = fbuf(conv_ylen(&c.g));
        conv_sequential(&c, want);
        conv_fwd(&c);
        if (memcmp(c.y, want, conv_ylen(&c.g) * sizeof(float)) != 0)
            fail_msg("conv %s: direct forward differs from the sequential sum", specs[s].name);
        /* and agrees with im2col + BLAS, which may sum in another order */
        byol__cpu_force_avx512(0);
        conv_fwd(&c);
        byol__cpu_force_avx512(-1);
        tu_assert_close(specs[s].name, c.y, want, conv_ylen(&c.g), 1e-5, 1e-5);
        free(want);
        conv_free(&c);
    }
}

/* ---- Winograd F(2x2, 3x3) and F(4x4, 3x3) ------------------------------------ */

/* Its outputs are sums of transformed values, each rounded: against the
 * double reference, relative to the largest output, F(2x2) was off by at
 * most 7e-7 and F(4x4), whose transforms have entries up to 8 and 1/24,
 * by 2e-6 to 6e-6 on the resnet18-cifar layers (16 to 128 channels) and
 * 1.9e-5 with 512 channels; dW, a sum over the whole batch, by up to
 * 1.1e-5 with F(4x4) (8 images of 32x32). */
#define WINO_TOL 2e-5

static const conv_spec wino_specs[] = {
    { "16->32, 6x5, pad 1", { 2, 6, 5, 16, 32, 3, 3, 1, 1, 0, 0, 1, 0 }, 1 },
    { "32->16, 7x7, pad 0", { 1, 7, 7, 32, 16, 3, 3, 1, 0, 0, 0, 1, 0 }, 0 },
    { "16->16, 5x6, pad 2", { 2, 5, 6, 16, 16, 3, 3, 1, 2, 0, 0, 1, 0 }, 1 },
    { "64->48, 9x9 (blocks)", { 9, 9, 9, 64, 48, 3, 3, 1, 1, 0, 0, 1, 0 }, 0 },
    { "16->16, 8 x 32x32", { 8, 32, 32, 16, 16, 3, 3, 1, 1, 0, 0, 1, 0 }, 0 },
};
#define N_WINO_SPECS (sizeof wino_specs / sizeof wino_specs[0])

static void test_conv_winograd(void **state)
{
    (void)state;
    for (size_t s = 0; s < N_WINO_SPECS; s++)
        for (int k = 0; k < 4; k++) {
            const int avx = k & 1, m = k < 2 ? 2 : 4;
            byol__conv_geom g = wino_specs[s].g;
            g.winograd = m;
            conv_case c;
            conv_setup(&c, g, wino_specs[s].bias, (uint32_t)(80 + s));
            assert_true(byol__wino_fits(&c.g));
            char name[96];
            snprintf(name, sizeof name, "winograd F(%d) %s%s", m, wino_specs[s].name,
                     avx ? "" : ", BLAS products");
            byol__cpu_force_avx512(avx ? -1 : 0);
            conv_check_ref_tol(name, &c, WINO_TOL);
            check_accum(name, conv_bwd, &c, conv_xlen(&c.g));
            byol__cpu_force_avx512(-1);
            conv_free(&c);
        }
}

/* nn.precision=bf16: the products of F(2x2) take bf16 operands (8
 * significant bits, so rounding of up to 2^-9) into fp32 sums. Against the
 * double reference, relative to the largest value, y, dx and dW were off
 * by 3.4e-3 to 5.1e-3 on these geometries (y and dx with F(4x4), which
 * bf16 never runs, by 3e-2 to 7e-2). */
#define WINO_BF16_TOL 1e-2

static void winograd_bf16_cases(int amx)
{
    for (size_t s = 0; s < N_WINO_SPECS; s++) {
        byol__conv_geom g = wino_specs[s].g;
        g.winograd = 2;
        g.bf16 = 1;
        conv_case c;
        conv_setup(&c, g, wino_specs[s].bias, (uint32_t)(80 + s));
        char name[96];
        snprintf(name, sizeof name, "winograd F(2) bf16%s %s", amx ? " AMX" : "",
                 wino_specs[s].name);
        conv_check_ref_tol(name, &c, WINO_BF16_TOL);
        check_accum(name, conv_bwd, &c, conv_xlen(&c.g));
        conv_free(&c);
    }
}

static void test_conv_winograd_bf16(void **state)
{
    (void)state;
    on_bf16_units(winograd_bf16_cases);
}

/* nn.precision=bf16 in the layers Winograd leaves to im2col GEMMs
 * (gemm_bf16.c): stride 2, 1x1 (straight to the GEMM), and 3x3 stride 1
 * with Winograd not asked for. Within the bf16 bound of the
 * Winograd test, and not within fp32's (the products did run in bf16);
 * the same bits on 1 and 3 threads. */
static void im2col_bf16_cases(int amx)
{
    static const conv_spec specs[] = {
        { "3x3 s2 p1", { 2, 9, 8, 16, 32, 3, 3, 2, 1, 0, 0, 0, 1 }, 1 },
        { "1x1 s1 p0", { 2, 6, 5, 32, 16, 1, 1, 1, 0, 0, 0, 0, 1 }, 1 },
        { "1x1 s2 p0", { 2, 7, 6, 48, 32, 1, 1, 2, 0, 0, 0, 0, 1 }, 0 },
        { "3x3 s1 p1", { 3, 40, 37, 16, 16, 3, 3, 1, 1, 0, 0, 0, 1 }, 0 },
    };
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        conv_case c;
        conv_setup(&c, specs[s].g, specs[s].bias, (uint32_t)(60 + s));
        char name[96];
        snprintf(name, sizeof name, "im2col bf16%s %s", amx ? " AMX" : "", specs[s].name);
        conv_check_ref_tol(name, &c, WINO_BF16_TOL);
        check_accum(name, conv_bwd, &c, conv_xlen(&c.g));
        /* forward against fp32's: the bf16 rounding shows */
        size_t ny = conv_ylen(&c.g);
        float *y16 = fbuf(ny);
        conv_fwd(&c);
        memcpy(y16, c.y, ny * sizeof(float));
        c.g.bf16 = 0;
        conv_fwd(&c);
        assert_true(tu_rel_err(y16, c.y, ny, &(double){ 0 }) > 1e-5);
        free(y16);
        /* the same bits on 1 and 3 threads */
        c.g.bf16 = 1;
        conv_out o1 = conv_run(&c, 1), o3 = conv_run(&c, 3);
        assert_memory_equal(o1.y, o3.y, ny * sizeof(float));
        assert_memory_equal(o1.dx, o3.dx, conv_xlen(&c.g) * sizeof(float));
        assert_memory_equal(o1.dw, o3.dw, conv_wlen(&c.g) * sizeof(float));
        conv_out_free(&o1);
        conv_out_free(&o3);
        conv_free(&c);
    }
}

static void test_conv_im2col_bf16(void **state)
{
    (void)state;
    on_bf16_units(im2col_bf16_cases);
}

/* The bf16 product kernels alone (AMX tiles where the CPU has them, and
 * vdpbf16ps) against double sums of the same bf16 operands, on every edge
 * of their blocking: rows past 16 and 32, 16 or 32 columns left, k in
 * partial groups of 32 and past the AMX kernel's 512-k pieces, and both
 * layouts of a (pairs along rows, as the forward's; rows along pairs, as
 * the weight gradient's). Products of bf16 are exact in fp32, so only the
 * sums round: at most k * 2^-24 of the sum of |terms| each, far below
 * any indexing error. */
static uint16_t bf16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)(u >> 16);   /* truncated: exactly a bf16 value */
}

static double bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void check_matmul_bf16(int64_t m, int64_t n, int64_t k, int pair_major, int accum)
{
    float *af = frand((size_t)(m * k), (uint32_t)(m * 7 + k), 1.0f);
    float *bf = frand((size_t)(k * n), (uint32_t)(n * 5 + k), 1.0f);
    const int64_t ldc = n + 16 * pair_major;   /* rows of c apart: n, or more */
    float *c0 = frand((size_t)(m * ldc), (uint32_t)(m + n), 1.0f), *c = fbuf((size_t)(m * ldc));
    uint16_t *a = malloc((size_t)(m * k) * 2), *b = malloc((size_t)(k * n) * 2);
    assert_true(a && b);
    /* a's pair p of row r at r * ars + p * aps; b [k/2, n, 2] */
    const int64_t ars = pair_major ? 2 : k, aps = pair_major ? 2 * m : 2;
    for (int64_t r = 0; r < m; r++)
        for (int64_t p = 0; p < k; p++)
            a[r * ars + (p / 2) * aps + p % 2] = bf16_bits(af[r * k + p]);
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < n; j++)
            b[((p / 2) * n + j) * 2 + p % 2] = bf16_bits(bf[p * n + j]);
    memcpy(c, c0, (size_t)(m * ldc) * sizeof(float));
    byol__wino_matmul_bf16(m, n, k, a, ars, aps, b, c, ldc, accum);
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            double s = accum ? c0[r * ldc + j] : 0, mag = fabs(s);
            for (int64_t p = 0; p < k; p++) {
                double t = bf16_value(a[r * ars + (p / 2) * aps + p % 2]) *
                           bf16_value(b[((p / 2) * n + j) * 2 + p % 2]);
                s += t;
                mag += fabs(t);
            }
            double err = fabs(c[r * ldc + j] - s);
            if (err > (double)(k + 1) * 0x1p-24 * mag + 1e-30)
                fail_msg("bf16 product (%s) m=%lld n=%lld k=%lld %s%s: c[%lld][%lld] = %g, "
                         "want %g", byol__cpu_amx() ? "AMX" : "vdpbf16ps",
                         (long long)m, (long long)n, (long long)k,
                         pair_major ? "pair-major" : "row-major", accum ? " accum" : "",
                         (long long)r, (long long)j, (double)c[r * ldc + j], s);
            if (j + 1 == n)
                for (int64_t e = n; e < ldc; e++)   /* between rows: untouched */
                    assert_true(c[r * ldc + e] == c0[r * ldc + e]);
        }
    free(af), free(bf), free(c0), free(c), free(a), free(b);
}

static void matmul_bf16_cases(int amx)
{
    (void)amx;
    static const int64_t ms[] = { 1, 7, 16, 17, 32, 45 }, ns[] = { 16, 32, 48, 80 };
    static const int64_t ks[] = { 2, 16, 32, 34, 62, 1026 };
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
        for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
            for (size_t l = 0; l < sizeof ks / sizeof *ks; l++)
                check_matmul_bf16(ms[i], ns[j], ks[l], (int)(i + l) % 2, (int)(j % 2));
}

static void test_matmul_bf16(void **state)
{
    (void)state;
    on_bf16_units(matmul_bf16_cases);
}

/* Geometries Winograd leaves to im2col, even when asked for it. */
static void test_conv_winograd_fits(void **state)
{
    (void)state;
    const byol__conv_geom no[] = {
        { 1, 8, 8, 3, 16, 3, 3, 1, 1, 0, 0, 4, 0 },    /* RGB input */
        { 1, 8, 8, 16, 24, 3, 3, 1, 1, 0, 0, 4, 0 },   /* 24 outputs */
        { 1, 8, 8, 16, 16, 3, 3, 2, 1, 0, 0, 4, 0 },   /* stride 2 */
        { 1, 8, 8, 16, 16, 5, 5, 1, 2, 0, 0, 4, 0 },   /* 5x5 */
        { 1, 8, 8, 16, 16, 3, 3, 1, 3, 0, 0, 4, 0 },   /* pad 3 */
        { 1, 8, 8, 16, 16, 3, 3, 1, 1, 0, 0, 0, 0 },   /* not asked */
    };
    for (size_t s = 0; s < sizeof no / sizeof no[0]; s++) {
        byol__conv_geom g = no[s];
        assert_int_equal(byol__conv_geom_init(&g), 0);
        assert_false(byol__wino_fits(&g));
    }
}

/* Tiles split into many blocks: the same bits on 1, 2 and 3 threads, with
 * F(2x2), F(4x4) and F(2x2) in bf16 (where the CPU has it). */
static void test_conv_winograd_determinism(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        const int m = k == 1 ? 4 : 2, bf16 = k == 2 && byol__cpu_bf16();
        conv_case c;
        conv_setup(&c, (byol__conv_geom){ 12, 16, 15, 16, 16, 3, 3, 1, 1, 0, 0, m, bf16 }, 1,
                   90);
        conv_out a = conv_run(&c, 1);
        for (int t = 2; t <= 3; t++) {
            conv_out b = conv_run(&c, t);
            assert_memory_equal(a.y, b.y, conv_ylen(&c.g) * sizeof(float));
            assert_memory_equal(a.dx, b.dx, conv_xlen(&c.g) * sizeof(float));
            assert_memory_equal(a.dw, b.dw, conv_wlen(&c.g) * sizeof(float));
            conv_out_free(&b);
        }
        conv_out_free(&a);
        conv_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_geom),
        cmocka_unit_test(test_conv_reference),
        cmocka_unit_test(test_conv_gradcheck),
        cmocka_unit_test(test_conv_chunked),
        cmocka_unit_test(test_conv_accum),
        cmocka_unit_test(test_conv_determinism),
        cmocka_unit_test(test_conv_direct_bits),
        cmocka_unit_test(test_conv_winograd),
        cmocka_unit_test(test_conv_winograd_bf16),
        cmocka_unit_test(test_matmul_bf16),
        cmocka_unit_test(test_conv_im2col_bf16),
        cmocka_unit_test(test_conv_winograd_fits),
        cmocka_unit_test(test_conv_winograd_determinism),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
