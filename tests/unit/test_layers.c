/* Unit tests of the layer kernels (src/nn/kernels.h).
 *
 * Three kinds of check, each able to fail on its own:
 * - forward (and, for conv, backward) against naive references written here
 *   in double with direct loops (tolerance 1e-5 relative);
 * - gradients against central finite differences of loss = sum(y * r) for
 *   a random r. Inputs are O(1), the step is eps = 1e-2 (in float, the
 *   step actually taken is recomputed in double), and the loss is summed in
 *   double. For layers that are linear in each input (conv, linear, add,
 *   flatten, pooling and ReLU away from their kinks) central differences
 *   are exact up to float rounding of the outputs, about 1e-7 / (2 eps) =
 *   1e-5 relative; for BatchNorm the truncation error is O(eps^2) = 1e-4.
 *   A tolerance of 1e-2 on max|fd - grad| / max|grad| leaves two orders of
 *   magnitude of margin and still catches any indexing or formula error,
 *   which shows up as an O(1) relative error;
 * - accumulation semantics (accum = 0 overwrites, accum = 1 adds, parameter
 *   gradients always add) and bitwise determinism across thread counts. */
#include "test_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

#define FD_EPS 1e-2f
#define FD_TOL 1e-2
#define REF_TOL 1e-5
/* Finite differences probe at most this many entries per tensor. */
#define FD_MAX_PROBES 192

/* ---- small helpers -------------------------------------------------------- */

static float *fbuf(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static float *frand(size_t n, uint32_t seed, float scale)
{
    float *p = fbuf(n);
    tu_fill(p, n, seed, scale);
    return p;
}

static void ffill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

static float *to_float(const double *d, size_t n)
{
    float *p = fbuf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)d[i];
    return p;
}

static double *dbuf(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

static void assert_close_d(const char *what, const float *got,
                           const double *ref, size_t n, double rtol)
{
    float *r = to_float(ref, n);
    tu_assert_close(what, got, r, n, rtol, rtol);
    free(r);
}

/* Distinct values 0.05 apart in shuffled order, so no max-pool window has a
 * tie and a step of FD_EPS never changes which element wins. */
static void fill_distinct(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.05f * (float)((double)i - (double)n / 2);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
    for (size_t i = n; i > 1; i--) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        size_t j = (size_t)(s % i);
        float t = x[i - 1]; x[i - 1] = x[j]; x[j] = t;
    }
}

/* Values at least 0.1 away from 0, so ReLU's kink is never crossed. */
static void push_from_zero(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] < 0 ? x[i] - 0.1f : x[i] + 0.1f;
}

static int64_t nhwc(int64_t h, int64_t w, int64_t c, int64_t n, int64_t y,
                    int64_t x, int64_t ch)
{
    return ((n * h + y) * w + x) * c + ch;
}

/* ---- finite differences --------------------------------------------------- */

typedef void (*fwd_fn)(void *ctx);

typedef struct fd_param {
    const char *name;
    float *p;            /* tensor perturbed in place */
    size_t n;
    const float *grad;   /* analytic d loss / d p */
} fd_param;

static double dot_loss(const float *y, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * (double)r[i];
    return s;
}

static double fd_at(fwd_fn f, void *ctx, const float *y, const float *r,
                    size_t ny, float *p)
{
    float orig = *p;
    float hi = orig + FD_EPS, lo = orig - FD_EPS;
    *p = hi;
    f(ctx);
    double lp = dot_loss(y, r, ny);
    *p = lo;
    f(ctx);
    double lm = dot_loss(y, r, ny);
    *p = orig;
    return (lp - lm) / ((double)hi - (double)lo);
}

/* Compares every param's analytic gradient with central differences on up
 * to FD_MAX_PROBES evenly spread entries; f recomputes y from the params. */
static void fd_check(const char *what, fwd_fn f, void *ctx, const float *y,
                     const float *r, size_t ny, const fd_param *ps, int np)
{
    for (int k = 0; k < np; k++) {
        const fd_param *q = &ps[k];
        size_t step = q->n > FD_MAX_PROBES ? q->n / FD_MAX_PROBES : 1;
        double md = 0, mr = 0;
        for (size_t i = step / 2; i < q->n; i += step) {
            double fd = fd_at(f, ctx, y, r, ny, &q->p[i]);
            double d = fabs(fd - (double)q->grad[i]);
            md = d > md ? d : md;
            mr = fabs(fd) > mr ? fabs(fd) : mr;
        }
        double rel = mr > 0 ? md / mr : md;
        if (!(rel <= FD_TOL))
            fail_msg("%s: d/d%s finite-difference error %.3g > %.3g "
                     "(max |grad| %.3g)", what, q->name, rel, FD_TOL, mr);
        assert_true(mr > 0);   /* a check on all-zero gradients proves nothing */
    }
    f(ctx);
}

/* accum = 0 must overwrite whatever dx held (NaN here) and accum = 1 must
 * add onto it; bwd writes d loss / d x into dx. */
typedef void (*bwd_fn)(void *ctx, float *dx, int accum);

static void check_accum(const char *what, bwd_fn bwd, void *ctx, size_t n)
{
    float *g0 = fbuf(n), *gz = fbuf(n), *acc = frand(n, 99, 1.0f);
    float *want = fbuf(n);
    ffill(g0, n, NAN);
    bwd(ctx, g0, 0);
    ffill(gz, n, 0.0f);
    bwd(ctx, gz, 0);
    if (memcmp(g0, gz, n * sizeof(float)) != 0)
        fail_msg("%s: accum=0 result depends on the old dx contents", what);
    for (size_t i = 0; i < n; i++)
        want[i] = acc[i] + g0[i];
    bwd(ctx, acc, 1);
    char msg[128];
    snprintf(msg, sizeof msg, "%s accum=1", what);
    tu_assert_close(msg, acc, want, n, 1e-5, 1e-6);
    free(g0); free(gz); free(acc); free(want);
}

/* ---- GEMM ----------------------------------------------------------------- */

static void gemm_ref(int ta, int tb, int64_t m, int64_t n, int64_t k,
                     float alpha, const float *a, int64_t lda, const float *b,
                     int64_t ldb, float beta, const float *c0, int64_t ldc,
                     double *out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
            }
            double cv = beta == 0.0f ? 0.0 : (double)beta * c0[i * ldc + j];
            out[i * n + j] = alpha * s + cv;
        }
}

static void gemm_case(int64_t limit, int ta, int tb, int64_t m, int64_t n,
                      int64_t k, int64_t pad, float beta)
{
    /* Padded leading dimensions, so a small limit also cuts by rows. */
    int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    int64_t ar = ta ? k : m, br = tb ? n : k;
    float *a = frand((size_t)(ar * lda), 1, 1.0f);
    float *b = frand((size_t)(br * ldb), 2, 1.0f);
    float *c = frand((size_t)(m * ldc), 3, 1.0f);
    double *ref = dbuf((size_t)(m * n));
    if (beta == 0.0f)
        ffill(c, (size_t)(m * ldc), NAN);
    gemm_ref(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c, ldc, ref);
    byol__gemm_limited(limit, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c,
                       ldc);
    float *got = fbuf((size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        memcpy(got + i * n, c + i * ldc, (size_t)n * sizeof(float));
    char msg[96];
    snprintf(msg, sizeof msg, "gemm limit=%lld ta=%d tb=%d beta=%g",
             (long long)limit, ta, tb, beta);
    assert_close_d(msg, got, ref, (size_t)(m * n), REF_TOL);
    free(a); free(b); free(c); free(ref); free(got);
}

static void test_gemm_split(void **state)
{
    (void)state;
    const int64_t limits[] = { 3, 4, 1000 };
    for (int l = 0; l < 3; l++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                gemm_case(limits[l], ta, tb, 7, 5, 9, 0, 0.0f);
                gemm_case(limits[l], ta, tb, 7, 5, 9, 2, 0.5f);
                gemm_case(limits[l], ta, tb, 1, 8, 3, 1, 1.0f);
            }
    gemm_case(INT32_MAX, 0, 1, 33, 17, 65, 3, 1.0f);
}

static void test_gemm_empty_k(void **state)
{
    (void)state;
    float c[6] = { 1, 2, 3, 4, 5, NAN };
    float a[1] = { 0 }, b[1] = { 0 };
    byol__gemm(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 2.0f, c, 3);
    assert_true(c[0] == 2.0f && c[4] == 10.0f);
    byol__gemm(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c, 3);
    for (int i = 0; i < 6; i++)
        assert_true(c[i] == 0.0f);
}

/* byol__gemm's threaded blocks: right, and the same bits for 1 and 2
 * threads (the provider's own threading would not give that). */
static void test_gemm_blocked(void **state)
{
    (void)state;
    const int64_t shapes[][3] = { { 300, 200, 150 }, { 40, 700, 300 } };
    for (int s = 0; s < 2; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], blk;
        assert_true(byol__gemm_blocks(m, n, k, &blk) > 1);
        float *a = frand((size_t)(k * m), 1, 1.0f), *b = frand((size_t)(k * n), 2, 1.0f);
        float *c1 = frand((size_t)(m * n), 3, 1.0f), *c2 = fbuf((size_t)(m * n));
        double *ref = dbuf((size_t)(m * n));
        memcpy(c2, c1, (size_t)(m * n) * sizeof(float));
        gemm_ref(1, 0, m, n, k, 1.0f, a, m, b, n, 0.5f, c1, n, ref);
        byol__set_threads(1);
        byol__gemm(1, 0, m, n, k, 1.0f, a, m, b, n, 0.5f, c1, n);
        byol__set_threads(2);
        byol__gemm(1, 0, m, n, k, 1.0f, a, m, b, n, 0.5f, c2, n);
        assert_close_d("gemm blocked", c2, ref, (size_t)(m * n), REF_TOL);
        assert_memory_equal(c1, c2, (size_t)(m * n) * sizeof(float));
        free(a); free(b); free(c1); free(c2); free(ref);
    }
}

/* ---- layout --------------------------------------------------------------- */

static void test_layout(void **state)
{
    (void)state;
    const int64_t n = 2, c = 37, h = 5, w = 9;   /* not multiples of a tile */
    const size_t len = (size_t)(n * c * h * w);
    float *x = frand(len, 5, 1.0f), *y = fbuf(len), *z = fbuf(len);
    byol__nchw_to_nhwc(n, c, h, w, x, y);
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t a = 0; a < h; a++)
                for (int64_t b = 0; b < w; b++)
                    assert_true(y[nhwc(h, w, c, i, a, b, ch)] ==
                                x[((i * c + ch) * h + a) * w + b]);
    byol__nhwc_to_nchw(n, c, h, w, y, z);
    assert_memory_equal(x, z, len * sizeof(float));
    /* Flatten of NHWC is PyTorch's flatten of the NCHW tensor. */
    byol__flatten_forward(n, h, w, c, y, z);
    assert_memory_equal(x, z, len * sizeof(float));
    free(x); free(y); free(z);
}

typedef struct flat_case {
    int64_t n, h, w, c;
    float *x, *y, *dy;
} flat_case;

static void flat_fwd(void *p)
{
    flat_case *f = p;
    byol__flatten_forward(f->n, f->h, f->w, f->c, f->x, f->y);
}

static void flat_bwd(void *p, float *dx, int accum)
{
    flat_case *f = p;
    byol__flatten_backward(f->n, f->h, f->w, f->c, f->dy, dx, accum);
}

static void test_flatten_grad(void **state)
{
    (void)state;
    flat_case f = { 2, 3, 4, 5, NULL, NULL, NULL };
    size_t len = (size_t)(f.n * f.h * f.w * f.c);
    f.x = frand(len, 1, 1.0f);
    f.y = fbuf(len);
    f.dy = frand(len, 2, 1.0f);
    float *dx = fbuf(len);
    flat_bwd(&f, dx, 0);
    fd_param ps[] = { { "x", f.x, len, dx } };
    fd_check("flatten", flat_fwd, &f, f.y, f.dy, len, ps, 1);
    check_accum("flatten dx", flat_bwd, &f, len);
    free(f.x); free(f.y); free(f.dy); free(dx);
}

/* ---- convolution ---------------------------------------------------------- */

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
    byol__conv2d_forward(&c->g, c->x, c->wp, c->b, c->y, c->scratch);
}

static void conv_bwd(void *p, float *dx, int accum)
{
    conv_case *c = p;
    byol__conv2d_pack(&c->g, c->w, c->wp);
    byol__conv2d_backward(&c->g, c->x, c->wp, c->dy, dx, accum, c->dw,
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
    byol__conv_geom g = { n, h, w, cin, cout, k, k, s, p, 0, 0 };
    return g;
}

typedef struct conv_spec {
    const char *name;
    byol__conv_geom g;
    int bias;
} conv_spec;

static const conv_spec conv_specs[] = {
    { "3x3 s1 p1", { 2, 7, 5, 3, 4, 3, 3, 1, 1, 0, 0 }, 1 },
    { "3x3 s2 p1", { 2, 8, 7, 5, 3, 3, 3, 2, 1, 0, 0 }, 0 },
    { "1x1 s1 p0", { 2, 5, 6, 4, 6, 1, 1, 1, 0, 0, 0 }, 1 },
    { "1x1 s2 p0", { 2, 7, 6, 4, 5, 1, 1, 2, 0, 0, 0 }, 0 },
    { "7x7 s2 p3", { 1, 11, 9, 3, 4, 7, 7, 2, 3, 0, 0 }, 1 },
    { "3x2 s3 p2", { 2, 8, 10, 3, 2, 3, 2, 3, 2, 0, 0 }, 0 },
    { "1x1 s1 p1", { 1, 4, 3, 2, 3, 1, 1, 1, 1, 0, 0 }, 1 },
};
#define N_CONV_SPECS (sizeof conv_specs / sizeof conv_specs[0])

/* Forward, dx, dw, db against the direct double reference. */
static void conv_check_ref(const char *name, conv_case *c)
{
    const byol__conv_geom *g = &c->g;
    size_t nx = conv_xlen(g), ny = conv_ylen(g), nw = conv_wlen(g);
    double *y = dbuf(ny), *dx = dbuf(nx), *dw = dbuf(nw), *db = dbuf((size_t)g->cout);
    conv_ref(c, y, dx, dw, db);
    float *gx = fbuf(nx);
    char msg[96];
    conv_fwd(c);
    snprintf(msg, sizeof msg, "conv %s forward", name);
    assert_close_d(msg, c->y, y, ny, REF_TOL);
    ffill(c->dw, nw, 0.0f);
    ffill(c->db, (size_t)g->cout, 0.0f);
    conv_bwd(c, gx, 0);
    snprintf(msg, sizeof msg, "conv %s dx", name);
    assert_close_d(msg, gx, dx, nx, REF_TOL);
    snprintf(msg, sizeof msg, "conv %s dw", name);
    assert_close_d(msg, c->dw, dw, nw, REF_TOL);
    if (c->bias) {
        snprintf(msg, sizeof msg, "conv %s db", name);
        assert_close_d(msg, c->db, db, (size_t)g->cout, REF_TOL);
    }
    free(y); free(dx); free(dw); free(db); free(gx);
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
        byol__conv2d_backward(&c.g, c.x, c.wp, c.dy, NULL, 0, c.dw, NULL,
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

/* ---- BatchNorm ------------------------------------------------------------ */

typedef struct bn_case {
    int64_t m, c;
    float *x, *gamma, *beta, *y, *dy;
    float *mean, *rstd, *run_mean, *run_var;
    float *dgamma, *dbeta;
    double *s, *q;
} bn_case;

static void bn_setup(bn_case *b, int64_t m, int64_t c, uint32_t seed)
{
    memset(b, 0, sizeof *b);
    b->m = m;
    b->c = c;
    size_t len = (size_t)(m * c);
    b->x = frand(len, seed, 1.0f);
    /* Per-channel offsets, as after a conv, so the variance is taken from
     * sums with some cancellation. Kept O(1): PyTorch's x * alpha + shift
     * form loses |mean / std| * 6e-8 relative, which larger offsets would
     * push past the 1e-5 reference tolerance. */
    for (size_t i = 0; i < len; i++)
        b->x[i] += 0.4f * (float)(i % (size_t)c % 5);
    b->gamma = frand((size_t)c, seed + 1, 1.0f);
    b->beta = frand((size_t)c, seed + 2, 1.0f);
    b->y = fbuf(len);
    b->dy = frand(len, seed + 3, 1.0f);
    b->mean = fbuf((size_t)c);
    b->rstd = fbuf((size_t)c);
    b->run_mean = frand((size_t)c, seed + 4, 1.0f);
    b->run_var = frand((size_t)c, seed + 5, 0.5f);
    for (int64_t j = 0; j < c; j++)
        b->run_var[j] += 1.0f;
    b->dgamma = fbuf((size_t)c);
    b->dbeta = fbuf((size_t)c);
    b->s = dbuf((size_t)c);
    b->q = dbuf((size_t)c);
}

static void bn_free(bn_case *b)
{
    free(b->x); free(b->gamma); free(b->beta); free(b->y); free(b->dy);
    free(b->mean); free(b->rstd); free(b->run_mean); free(b->run_var);
    free(b->dgamma); free(b->dbeta); free(b->s); free(b->q);
}

static void bn_fwd(void *p)
{
    bn_case *b = p;
    byol__bn_sums(b->m, b->c, b->x, b->s, b->q);
    byol__bn_stats(b->m, b->c, b->s, b->q, 1e-5f, 0.1f, 1, b->mean, b->rstd,
                   b->run_mean, b->run_var);
    byol__bn_apply(b->m, b->c, b->x, b->mean, b->rstd, b->gamma, b->beta, b->y);
}

static void bn_bwd(void *p, float *dx, int accum)
{
    bn_case *b = p;
    double *ds = dbuf((size_t)b->c), *dd = dbuf((size_t)b->c);
    bn_fwd(b);
    byol__bn_backward_sums(b->m, b->c, b->x, b->dy, b->mean, b->rstd, ds, dd);
    byol__bn_backward_apply(b->m, b->c, b->m, b->x, b->dy, b->mean, b->rstd,
                            b->gamma, ds, dd, dx, accum, b->dgamma, b->dbeta);
    free(ds); free(dd);
}

/* Biased mean and variance of column j in double. */
static void col_stats(const bn_case *b, int64_t j, double *mu, double *var)
{
    double s = 0, q = 0;
    for (int64_t i = 0; i < b->m; i++)
        s += b->x[i * b->c + j];
    *mu = s / (double)b->m;
    for (int64_t i = 0; i < b->m; i++) {
        double d = b->x[i * b->c + j] - *mu;
        q += d * d;
    }
    *var = q / (double)b->m;
}

static void bn_check_forward(int64_t m, int64_t c, uint32_t seed)
{
    bn_case b;
    bn_setup(&b, m, c, seed);
    double *ref = dbuf((size_t)(m * c));
    for (int64_t j = 0; j < c; j++) {
        double mu, var;
        col_stats(&b, j, &mu, &var);
        for (int64_t i = 0; i < m; i++)
            ref[i * c + j] = (b.x[i * c + j] - mu) / sqrt(var + 1e-5) *
                             b.gamma[j] + b.beta[j];
    }
    bn_fwd(&b);
    assert_close_d("bn train forward", b.y, ref, (size_t)(m * c), REF_TOL);
    free(ref);
    bn_free(&b);
}

static void test_bn_forward(void **state)
{
    (void)state;
    bn_check_forward(4 * 6 * 5, 7, 1);      /* 2-D: N*H*W rows */
    bn_check_forward(16, 300, 2);           /* 1-D, wide: column blocks */
    bn_check_forward(20000, 3, 3);          /* many row groups */
    bn_check_forward(3000, 600, 4);         /* groups and blocks */
}

static void bn_check_running(int unbiased)
{
    bn_case b;
    bn_setup(&b, 50, 9, 7);
    float *rm0 = fbuf(9), *rv0 = fbuf(9);
    memcpy(rm0, b.run_mean, 9 * sizeof(float));
    memcpy(rv0, b.run_var, 9 * sizeof(float));
    byol__bn_sums(b.m, b.c, b.x, b.s, b.q);
    byol__bn_stats(b.m, b.c, b.s, b.q, 1e-3f, 0.25f, unbiased, b.mean, b.rstd,
                   b.run_mean, b.run_var);
    double rm[9], rv[9], mean[9], rstd[9];
    for (int j = 0; j < 9; j++) {
        double mu, var;
        col_stats(&b, j, &mu, &var);
        double v = unbiased ? var * 50.0 / 49.0 : var;
        rm[j] = 0.75 * rm0[j] + 0.25 * mu;
        rv[j] = 0.75 * rv0[j] + 0.25 * v;
        mean[j] = mu;
        rstd[j] = 1.0 / sqrt(var + (double)1e-3f);
    }
    assert_close_d("bn running mean", b.run_mean, rm, 9, 1e-6);
    assert_close_d("bn running var", b.run_var, rv, 9, 1e-6);
    assert_close_d("bn mean", b.mean, mean, 9, 1e-6);
    assert_close_d("bn rstd", b.rstd, rstd, 9, 1e-6);
    free(rm0); free(rv0);
    bn_free(&b);
}

static void test_bn_running_stats(void **state)
{
    (void)state;
    bn_check_running(1);
    bn_check_running(0);
}

static void test_bn_eval(void **state)
{
    (void)state;
    bn_case b;
    bn_setup(&b, 37, 11, 9);
    double *ref = dbuf(37 * 11);
    for (int64_t i = 0; i < 37; i++)
        for (int64_t j = 0; j < 11; j++)
            ref[i * 11 + j] = (b.x[i * 11 + j] - b.run_mean[j]) /
                              sqrt((double)b.run_var[j] + 1e-5) * b.gamma[j] +
                              b.beta[j];
    byol__bn_forward_eval(37, 11, b.x, b.run_mean, b.run_var, 1e-5f, b.gamma,
                          b.beta, b.y);
    assert_close_d("bn eval forward", b.y, ref, 37 * 11, REF_TOL);
    free(ref);
    bn_free(&b);
}

static void bn_check_fd(const char *what, int64_t m, int64_t c, uint32_t seed)
{
    bn_case b;
    bn_setup(&b, m, c, seed);
    size_t len = (size_t)(m * c);
    float *dx = fbuf(len);
    ffill(b.dgamma, (size_t)c, 0.0f);
    ffill(b.dbeta, (size_t)c, 0.0f);
    bn_bwd(&b, dx, 0);
    fd_param ps[] = { { "x", b.x, len, dx },
                      { "gamma", b.gamma, (size_t)c, b.dgamma },
                      { "beta", b.beta, (size_t)c, b.dbeta } };
    fd_check(what, bn_fwd, &b, b.y, b.dy, len, ps, 3);
    check_accum(what, bn_bwd, &b, len);
    free(dx);
    bn_free(&b);
}

static void test_bn_gradcheck(void **state)
{
    (void)state;
    bn_check_fd("bn 2-D", 2 * 3 * 5, 6, 11);
    bn_check_fd("bn 1-D", 16, 7, 12);
}

/* ---- ReLU, add, pooling, linear ------------------------------------------ */

typedef struct ew_case {
    int64_t len;
    float *x, *x2, *y, *dy;
} ew_case;

static void relu_fwd(void *p)
{
    ew_case *e = p;
    byol__relu_forward(e->len, e->x, e->y);
}

static void relu_bwd(void *p, float *dx, int accum)
{
    ew_case *e = p;
    byol__relu_forward(e->len, e->x, e->y);
    byol__relu_backward(e->len, e->y, e->dy, dx, accum);
}

static void test_relu(void **state)
{
    (void)state;
    ew_case e = { 100000, NULL, NULL, NULL, NULL };   /* parallel path */
    size_t n = (size_t)e.len;
    e.x = frand(n, 1, 1.0f);
    push_from_zero(e.x, n);
    e.y = fbuf(n);
    e.dy = frand(n, 2, 1.0f);
    relu_fwd(&e);
    for (size_t i = 0; i < n; i++)
        assert_true(e.y[i] == (e.x[i] > 0 ? e.x[i] : 0.0f));
    float *dx = fbuf(n);
    relu_bwd(&e, dx, 0);
    fd_param ps[] = { { "x", e.x, n, dx } };
    fd_check("relu", relu_fwd, &e, e.y, e.dy, n, ps, 1);
    check_accum("relu", relu_bwd, &e, n);
    /* NaN propagates as in PyTorch; in place is allowed. */
    e.x[0] = NAN;
    byol__relu_forward(e.len, e.x, e.x);
    assert_true(isnan(e.x[0]));
    free(e.x); free(e.y); free(e.dy); free(dx);
}

static void add_fwd(void *p)
{
    ew_case *e = p;
    byol__add_forward(e->len, e->x, e->x2, e->y);
}

static void add_bwd(void *p, float *dx, int accum)
{
    ew_case *e = p;
    byol__copy_grad(e->len, e->dy, dx, accum);
}

static void test_add(void **state)
{
    (void)state;
    ew_case e = { 70000, NULL, NULL, NULL, NULL };
    size_t n = (size_t)e.len;
    e.x = frand(n, 1, 1.0f);
    e.x2 = frand(n, 2, 1.0f);
    e.y = fbuf(n);
    e.dy = frand(n, 3, 1.0f);
    float *da = fbuf(n), *db = fbuf(n);
    add_bwd(&e, da, 0);
    add_bwd(&e, db, 0);
    fd_param ps[] = { { "a", e.x, n, da }, { "b", e.x2, n, db } };
    fd_check("add", add_fwd, &e, e.y, e.dy, n, ps, 2);
    for (size_t i = 0; i < n; i++)
        assert_true(e.y[i] == e.x[i] + e.x2[i]);
    check_accum("copy_grad", add_bwd, &e, n);
    free(e.x); free(e.x2); free(e.y); free(e.dy); free(da); free(db);
}

typedef struct pool_case {
    byol__pool_geom g;
    float *x, *y, *dy;
    int32_t *am;
} pool_case;

static size_t pool_xlen(const byol__pool_geom *g)
{
    return (size_t)(g->n * g->h * g->w * g->c);
}

static size_t pool_ylen(const byol__pool_geom *g)
{
    return (size_t)(g->n * g->oh * g->ow * g->c);
}

static void pool_fwd(void *p)
{
    pool_case *q = p;
    byol__maxpool_forward(&q->g, q->x, q->y, q->am);
}

static void pool_bwd(void *p, float *dx, int accum)
{
    pool_case *q = p;
    pool_fwd(q);
    byol__maxpool_backward(&q->g, q->am, q->dy, dx, accum);
}

/* Reference max-pool: max over the in-image part of each window (padding
 * is -inf) and the row-major index of the first maximum. */
static void pool_ref(const pool_case *q, float *y, int32_t *am)
{
    const byol__pool_geom *g = &q->g;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t oh = 0; oh < g->oh; oh++)
            for (int64_t ow = 0; ow < g->ow; ow++)
                for (int64_t c = 0; c < g->c; c++) {
                    float best = -INFINITY;
                    int32_t arg = -1;
                    for (int64_t i = 0; i < g->k; i++)
                        for (int64_t j = 0; j < g->k; j++) {
                            int64_t ih = oh * g->stride - g->pad + i;
                            int64_t iw = ow * g->stride - g->pad + j;
                            if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w)
                                continue;
                            float v = q->x[nhwc(g->h, g->w, g->c, n, ih, iw, c)];
                            if (arg < 0 || v > best) {
                                best = v;
                                arg = (int32_t)(ih * g->w + iw);
                            }
                        }
                    int64_t yi = nhwc(g->oh, g->ow, g->c, n, oh, ow, c);
                    y[yi] = best;
                    am[yi] = arg;
                }
}

static void pool_setup(pool_case *q, byol__pool_geom g, uint32_t seed)
{
    assert_int_equal(byol__pool_geom_init(&g), 0);
    q->g = g;
    q->x = fbuf(pool_xlen(&g));
    fill_distinct(q->x, pool_xlen(&g), seed);
    q->y = fbuf(pool_ylen(&g));
    q->dy = frand(pool_ylen(&g), seed + 1, 1.0f);
    q->am = malloc(pool_ylen(&g) * sizeof(int32_t));
    assert_non_null(q->am);
}

static void pool_free(pool_case *q)
{
    free(q->x); free(q->y); free(q->dy); free(q->am);
}

static void pool_check(const char *what, byol__pool_geom g, uint32_t seed)
{
    pool_case q;
    pool_setup(&q, g, seed);
    size_t nx = pool_xlen(&q.g), ny = pool_ylen(&q.g);
    float *ry = fbuf(ny), *dx = fbuf(nx);
    int32_t *ram = malloc(ny * sizeof(int32_t));
    assert_non_null(ram);
    pool_ref(&q, ry, ram);
    pool_fwd(&q);
    assert_memory_equal(q.y, ry, ny * sizeof(float));
    assert_memory_equal(q.am, ram, ny * sizeof(int32_t));
    pool_bwd(&q, dx, 0);
    fd_param ps[] = { { "x", q.x, nx, dx } };
    fd_check(what, pool_fwd, &q, q.y, q.dy, ny, ps, 1);
    check_accum(what, pool_bwd, &q, nx);
    free(ry); free(dx); free(ram);
    pool_free(&q);
}

static void test_maxpool(void **state)
{
    (void)state;
    byol__pool_geom a = { 2, 7, 6, 3, 3, 2, 1, 0, 0 };
    byol__pool_geom b = { 2, 6, 9, 4, 2, 2, 0, 0, 0 };
    byol__pool_geom big = { 4, 32, 32, 64, 3, 2, 1, 0, 0 };   /* parallel */
    pool_check("maxpool 3x3 s2 p1", a, 1);
    pool_check("maxpool 2x2 s2", b, 2);
    pool_check("maxpool big", big, 3);
}

static void test_maxpool_ties_and_shape(void **state)
{
    (void)state;
    /* PyTorch floor mode: (h + 2p - k) / s + 1. */
    byol__pool_geom g = { 1, 32, 31, 1, 3, 2, 1, 0, 0 };
    assert_int_equal(byol__pool_geom_init(&g), 0);
    assert_int_equal(g.oh, 16);
    assert_int_equal(g.ow, 16);
    byol__pool_geom bad = { 1, 4, 4, 1, 2, 2, 2, 0, 0 };   /* pad > k/2 */
    assert_int_equal(byol__pool_geom_init(&bad), -1);
    /* All-equal and all -inf windows pick the first in-image position. */
    byol__pool_geom t = { 1, 4, 4, 2, 3, 2, 1, 0, 0 };
    assert_int_equal(byol__pool_geom_init(&t), 0);
    float x[32], y[8];
    int32_t am[8];
    for (int i = 0; i < 16; i++) {
        x[2 * i] = 1.0f;
        x[2 * i + 1] = -INFINITY;
    }
    byol__maxpool_forward(&t, x, y, am);
    const int32_t first[4] = { 0, 1, 4, 5 };   /* (0,0) (0,1) (1,0) (1,1) */
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 2; c++)
            assert_int_equal(am[2 * p + c], first[p]);
    assert_true(y[0] == 1.0f && isinf(y[1]) && y[1] < 0);
    /* A NaN wins its window, as in PyTorch. */
    x[2 * 5] = NAN;
    byol__maxpool_forward(&t, x, y, am);
    assert_true(isnan(y[0]));
    assert_int_equal(am[0], 5);
}

typedef struct avg_case {
    int64_t n, hw, c;
    float *x, *y, *dy;
} avg_case;

static void avg_fwd(void *p)
{
    avg_case *a = p;
    byol__avgpool_forward(a->n, a->hw, a->c, a->x, a->y);
}

static void avg_bwd(void *p, float *dx, int accum)
{
    avg_case *a = p;
    byol__avgpool_backward(a->n, a->hw, a->c, a->dy, dx, accum);
}

static void test_avgpool(void **state)
{
    (void)state;
    avg_case a = { 3, 5, 4, NULL, NULL, NULL };
    size_t nx = 60, ny = 12;
    a.x = frand(nx, 1, 1.0f);
    a.y = fbuf(ny);
    a.dy = frand(ny, 2, 1.0f);
    double ref[12] = { 0 };
    for (int64_t i = 0; i < 3; i++)
        for (int64_t p = 0; p < 5; p++)
            for (int64_t c = 0; c < 4; c++)
                ref[i * 4 + c] += a.x[(i * 5 + p) * 4 + c] / 5.0;
    avg_fwd(&a);
    assert_close_d("avgpool forward", a.y, ref, ny, REF_TOL);
    float *dx = fbuf(nx);
    avg_bwd(&a, dx, 0);
    fd_param ps[] = { { "x", a.x, nx, dx } };
    fd_check("avgpool", avg_fwd, &a, a.y, a.dy, ny, ps, 1);
    check_accum("avgpool", avg_bwd, &a, nx);
    free(a.x); free(a.y); free(a.dy); free(dx);
}

typedef struct lin_case {
    int64_t n, in, out;
    float *x, *w, *b, *y, *dy, *dw, *db;
} lin_case;

static void lin_fwd(void *p)
{
    lin_case *l = p;
    byol__linear_forward(l->n, l->in, l->out, l->x, l->w, l->b, l->y);
}

static void lin_bwd(void *p, float *dx, int accum)
{
    lin_case *l = p;
    byol__linear_backward(l->n, l->in, l->out, l->x, l->w, l->dy, dx, accum,
                          l->dw, l->b ? l->db : NULL);
}

static void lin_check(int bias)
{
    lin_case l = { 5, 7, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    size_t nx = 35, nw = 28, ny = 20;
    l.x = frand(nx, 1, 1.0f);
    l.w = frand(nw, 2, 1.0f);
    l.b = bias ? frand(4, 3, 1.0f) : NULL;
    l.y = fbuf(ny);
    l.dy = frand(ny, 4, 1.0f);
    l.dw = fbuf(nw);
    l.db = fbuf(4);
    ffill(l.dw, nw, 0.0f);
    ffill(l.db, 4, 0.0f);
    double ref[20];
    for (int64_t i = 0; i < 5; i++)
        for (int64_t o = 0; o < 4; o++) {
            double s = bias ? l.b[o] : 0.0;
            for (int64_t k = 0; k < 7; k++)
                s += (double)l.x[i * 7 + k] * l.w[o * 7 + k];
            ref[i * 4 + o] = s;
        }
    lin_fwd(&l);
    assert_close_d("linear forward", l.y, ref, ny, REF_TOL);
    float *dx = fbuf(nx);
    lin_bwd(&l, dx, 0);
    fd_param ps[] = { { "x", l.x, nx, dx }, { "w", l.w, nw, l.dw },
                      { "b", l.b, 4, l.db } };
    fd_check(bias ? "linear+bias" : "linear", lin_fwd, &l, l.y, l.dy, ny, ps,
             bias ? 3 : 2);
    check_accum("linear dx", lin_bwd, &l, nx);
    free(l.x); free(l.w); free(l.b); free(l.y); free(l.dy); free(l.dw);
    free(l.db); free(dx);
}

static void test_linear(void **state)
{
    (void)state;
    lin_check(1);
    lin_check(0);
}

static void test_colsum(void **state)
{
    (void)state;
    const int64_t shapes[][2] = { { 5000, 3 }, { 70, 1000 }, { 9000, 130 } };
    for (int s = 0; s < 3; s++) {
        int64_t m = shapes[s][0], c = shapes[s][1];
        float *x = frand((size_t)(m * c), 1, 1.0f), *db = frand((size_t)c, 2, 1.0f);
        double *ref = dbuf((size_t)c);
        for (int64_t j = 0; j < c; j++) {
            ref[j] = db[j];
            for (int64_t i = 0; i < m; i++)
                ref[j] += x[i * c + j];
        }
        byol__colsum_add(m, c, x, db);
        assert_close_d("colsum_add", db, ref, (size_t)c, REF_TOL);
        free(x); free(db); free(ref);
    }
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
    byol__conv2d_forward(&c->g, c->x, c->wp, c->b, o.y, c->scratch);
    byol__conv2d_backward(&c->g, c->x, c->wp, c->dy, o.dx, 0, o.dw, o.db,
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
        { 3, 34, 33, 64, 48, 3, 3, 1, 1, 0, 0 },   /* chunked */
        { 8, 16, 16, 64, 128, 3, 3, 2, 1, 0, 0 },
        { 8, 16, 16, 64, 96, 1, 1, 1, 0, 0, 0 },
        { 32, 32, 32, 3, 16, 3, 3, 1, 1, 0, 0 },   /* dW split by depth */
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

static void bn_run(bn_case *b, int threads, float *y, float *dx, double *sums)
{
    byol__set_threads(threads);
    ffill(b->dgamma, (size_t)b->c, 0.0f);
    ffill(b->dbeta, (size_t)b->c, 0.0f);
    bn_bwd(b, dx, 0);
    memcpy(y, b->y, (size_t)(b->m * b->c) * sizeof(float));
    memcpy(sums, b->s, (size_t)b->c * sizeof(double));
    memcpy(sums + b->c, b->q, (size_t)b->c * sizeof(double));
    byol__set_threads(2);
}

static void test_bn_determinism(void **state)
{
    (void)state;
    const int64_t shapes[][2] = { { 8 * 32 * 32, 64 }, { 256, 4096 }, { 1024, 512 } };
    for (int s = 0; s < 3; s++) {
        bn_case b;
        int64_t m = shapes[s][0], c = shapes[s][1];
        bn_setup(&b, m, c, (uint32_t)(70 + s));
        size_t len = (size_t)(m * c);
        float *y1 = fbuf(len), *y2 = fbuf(len), *d1 = fbuf(len), *d2 = fbuf(len);
        float *g1 = fbuf((size_t)(2 * c));
        double *s1 = dbuf((size_t)(2 * c)), *s2 = dbuf((size_t)(2 * c));
        bn_run(&b, 1, y1, d1, s1);
        memcpy(g1, b.dgamma, (size_t)c * sizeof(float));
        memcpy(g1 + c, b.dbeta, (size_t)c * sizeof(float));
        bn_run(&b, 2, y2, d2, s2);
        assert_memory_equal(s1, s2, (size_t)(2 * c) * sizeof(double));
        assert_memory_equal(y1, y2, len * sizeof(float));
        assert_memory_equal(d1, d2, len * sizeof(float));
        assert_memory_equal(g1, b.dgamma, (size_t)c * sizeof(float));
        assert_memory_equal(g1 + c, b.dbeta, (size_t)c * sizeof(float));
        free(y1); free(y2); free(d1); free(d2); free(g1); free(s1); free(s2);
        bn_free(&b);
    }
}

static int group_setup(void **state)
{
    (void)state;
    byol__set_threads(2);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_split),
        cmocka_unit_test(test_gemm_empty_k),
        cmocka_unit_test(test_gemm_blocked),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_flatten_grad),
        cmocka_unit_test(test_conv_geom),
        cmocka_unit_test(test_conv_reference),
        cmocka_unit_test(test_conv_gradcheck),
        cmocka_unit_test(test_conv_chunked),
        cmocka_unit_test(test_conv_accum),
        cmocka_unit_test(test_conv_determinism),
        cmocka_unit_test(test_bn_forward),
        cmocka_unit_test(test_bn_running_stats),
        cmocka_unit_test(test_bn_eval),
        cmocka_unit_test(test_bn_gradcheck),
        cmocka_unit_test(test_bn_determinism),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_maxpool_ties_and_shape),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_colsum),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
