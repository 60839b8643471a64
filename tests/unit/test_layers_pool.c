/* Max pooling (reference, argmax, ties, NaN, shape) and global average
 * pooling, with finite differences and accumulation. */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_maxpool_ties_and_shape),
        cmocka_unit_test(test_avgpool),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
