/* Shared by the layer-kernel tests (test_layers_*.c, src/nn/kernels.h).
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
#ifndef BYOL_TEST_LAYERS_UTIL_H
#define BYOL_TEST_LAYERS_UTIL_H

#include "test_util.h"

#include "core/internal.h"

#define FD_EPS 1e-2f
#define FD_TOL 1e-2
#define REF_TOL 1e-5
/* Finite differences probe at most this many entries per tensor. */
#define FD_MAX_PROBES 192

/* ---- small helpers -------------------------------------------------------- */

static inline float *fbuf(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static inline float *frand(size_t n, uint32_t seed, float scale)
{
    float *p = fbuf(n);
    tu_fill(p, n, seed, scale);
    return p;
}

static inline void ffill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = v;
}

static inline float *to_float(const double *d, size_t n)
{
    float *p = fbuf(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)d[i];
    return p;
}

static inline double *dbuf(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

static inline void assert_close_d(const char *what, const float *got,
                                  const double *ref, size_t n, double rtol)
{
    float *r = to_float(ref, n);
    tu_assert_close(what, got, r, n, rtol, rtol);
    free(r);
}

static inline int64_t nhwc(int64_t h, int64_t w, int64_t c, int64_t n, int64_t y,
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

static inline double dot_loss(const float *y, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * (double)r[i];
    return s;
}

static inline double fd_at(fwd_fn f, void *ctx, const float *y, const float *r,
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
static inline void fd_check(const char *what, fwd_fn f, void *ctx, const float *y,
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

static inline void check_accum(const char *what, bwd_fn bwd, void *ctx, size_t n)
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

/* Every test group runs its kernels on 2 threads unless a test says otherwise. */
static inline int group_setup(void **state)
{
    (void)state;
    byol__set_threads(2);
    return 0;
}

/* ---- bf16 units ------------------------------------------------------------
 * fn(amx) on AMX tiles where the CPU has them (amx = 1), then on vdpbf16ps
 * (amx = 0); a skip message and nothing where the CPU has no AVX512_BF16. */
static inline void on_bf16_units(void (*fn)(int amx))
{
    if (!byol__cpu_bf16()) {
        print_message("      skipped: this CPU has no AVX512_BF16 (or BYOL_CPU_DISABLE)\n");
        return;
    }
    if (!byol__cpu_amx())
        print_message("      no AMX tiles here (or BYOL_CPU_DISABLE): vdpbf16ps only\n");
    for (int amx = byol__cpu_amx(); amx >= 0; amx--) {
        byol__cpu_force_amx(amx);
        fn(amx);
    }
    byol__cpu_force_amx(-1);
}

#endif
