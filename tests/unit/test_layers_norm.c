/* BatchNorm: training forward, running statistics, evaluation forward,
 * finite differences, the same bits for 1 and 2 threads, and the fused
 * ReLU (the same bits as BatchNorm then the ReLU kernels). */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

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
    byol__bn_apply(b->m, b->c, b->x, b->mean, b->rstd, b->gamma, b->beta, 0, b->y);
}

static void bn_bwd(void *p, float *dx, int accum)
{
    bn_case *b = p;
    double *ds = dbuf((size_t)b->c), *dd = dbuf((size_t)b->c);
    bn_fwd(b);
    byol__bn_backward_sums(b->m, b->c, b->x, b->dy, NULL, b->mean, b->rstd, ds, dd);
    byol__bn_backward_apply(b->m, b->c, b->m, b->x, b->dy, NULL, b->mean, b->rstd,
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
                          b.beta, 0, b.y);
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

/* ---- determinism across thread counts ------------------------------------- */

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


/* BatchNorm with the ReLU fused, against BatchNorm and then
 * byol__relu_forward / byol__relu_backward: the same bits, forward (train
 * and eval) and backward (dx overwritten and accumulated, dgamma, dbeta).
 * Some dy are NaN where the ReLU's output is 0: the mask must drop them
 * as the ReLU's backward does. */
static void test_bn_relu_fused(void **state)
{
    (void)state;
    const int64_t m = 3000, c = 40;
    const size_t len = (size_t)(m * c);
    bn_case b;
    bn_setup(&b, m, c, 21);
    float *y1 = fbuf(len), *dx1 = frand(len, 30, 1.0f), *dx2 = fbuf(len);
    float *g1 = fbuf(len), *dg = fbuf((size_t)c), *db = fbuf((size_t)c);
    double *ds = dbuf((size_t)c), *dd = dbuf((size_t)c);
    bn_fwd(&b);
    byol__relu_forward((int64_t)len, b.y, y1);
    byol__bn_apply(m, c, b.x, b.mean, b.rstd, b.gamma, b.beta, 1, b.y);
    assert_memory_equal(y1, b.y, len * sizeof(float));
    for (size_t i = 0; i < len; i += 7)
        if (y1[i] == 0.0f)
            b.dy[i] = NAN;
    for (int accum = 0; accum < 2; accum++) {
        memcpy(dx2, dx1, len * sizeof(float));
        ffill(b.dgamma, (size_t)c, 0.0f), ffill(b.dbeta, (size_t)c, 0.0f);
        ffill(dg, (size_t)c, 0.0f), ffill(db, (size_t)c, 0.0f);
        byol__relu_backward((int64_t)len, y1, b.dy, g1, 0);
        byol__bn_backward_sums(m, c, b.x, g1, NULL, b.mean, b.rstd, ds, dd);
        byol__bn_backward_apply(m, c, m, b.x, g1, NULL, b.mean, b.rstd, b.gamma, ds, dd,
                                dx1, accum, dg, db);
        byol__bn_backward_sums(m, c, b.x, b.dy, y1, b.mean, b.rstd, ds, dd);
        byol__bn_backward_apply(m, c, m, b.x, b.dy, y1, b.mean, b.rstd, b.gamma, ds, dd,
                                dx2, accum, b.dgamma, b.dbeta);
        assert_memory_equal(dx1, dx2, len * sizeof(float));
        assert_memory_equal(dg, b.dgamma, (size_t)c * sizeof(float));
        assert_memory_equal(db, b.dbeta, (size_t)c * sizeof(float));
        for (size_t i = 0; i < len; i++)
            assert_false(isnan(dx2[i]));
    }
    byol__bn_forward_eval(m, c, b.x, b.run_mean, b.run_var, 1e-5f, b.gamma, b.beta, 0, y1);
    byol__relu_forward((int64_t)len, y1, y1);
    byol__bn_forward_eval(m, c, b.x, b.run_mean, b.run_var, 1e-5f, b.gamma, b.beta, 1, b.y);
    assert_memory_equal(y1, b.y, len * sizeof(float));
    free(y1); free(dx1); free(dx2); free(g1); free(dg); free(db); free(ds); free(dd);
    bn_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_forward),
        cmocka_unit_test(test_bn_running_stats),
        cmocka_unit_test(test_bn_eval),
        cmocka_unit_test(test_bn_gradcheck),
        cmocka_unit_test(test_bn_determinism),
        cmocka_unit_test(test_bn_relu_fused),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
