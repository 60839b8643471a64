/* BYOL's regression loss and collapse monitor against closed forms. */
#include "test_util.h"

#include "train/loss.h"

static void test_loss_closed_forms(void **state)
{
    (void)state;
    /* same direction 0, opposite 4, orthogonal 2, scale-free */
    const float p[3][3] = { { 1, 2, 2 }, { 1, 2, 2 }, { 3, 0, 0 } };
    const float z[3][3] = { { 2, 4, 4 }, { -1, -2, -2 }, { 0, 0.5f, 0 } };
    for (int i = 0; i < 3; i++) {
        double want = i == 0 ? 0.0 : i == 1 ? 4.0 : 2.0;
        assert_true(fabs(byol__regression_loss(1, 3, p[i], z[i], NULL, 1) - want) < 1e-12);
    }
    /* 2 - 2 cos on random rows, summed over the batch */
    float a[5 * 7], b[5 * 7];
    tu_fill(a, 35, 1, 1.0f);
    tu_fill(b, 35, 2, 1.0f);
    double want = 0;
    for (int i = 0; i < 5; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int j = 0; j < 7; j++) {
            ab += (double)a[i * 7 + j] * b[i * 7 + j];
            aa += (double)a[i * 7 + j] * a[i * 7 + j];
            bb += (double)b[i * 7 + j] * b[i * 7 + j];
        }
        want += 2 - 2 * ab / sqrt(aa * bb);
    }
    assert_true(fabs(byol__regression_loss(5, 7, a, b, NULL, 1) - want) < 1e-6);
    /* below the norm floor p_hat = p / 1e-6 (here 0): the loss is |z_hat|^2 = 1 */
    const float zero[3] = { 0, 0, 0 };
    assert_true(fabs(byol__regression_loss(1, 3, zero, z[0], NULL, 1) - 1.0) < 1e-12);
}

static void test_loss_gradient(void **state)
{
    (void)state;
    enum { N = 3, D = 6 };
    float p[N * D], z[N * D], dp[N * D];
    tu_fill(p, N * D, 3, 1.0f);
    tu_fill(z, N * D, 4, 1.0f);
    const float scale = 0.25f;
    byol__regression_loss(N, D, p, z, dp, scale);
    for (int k = 0; k < N * D; k++) {
        float keep = p[k], eps = 1e-3f;
        p[k] = keep + eps;
        double up = byol__regression_loss(N, D, p, z, NULL, 1);
        p[k] = keep - eps;
        double down = byol__regression_loss(N, D, p, z, NULL, 1);
        p[k] = keep;
        double fd = scale * (up - down) / (2.0 * eps);
        if (fabs(fd - dp[k]) > 1e-3 * (1 + fabs(fd)))
            fail_msg("dp[%d] = %g, finite difference %g", k, dp[k], fd);
    }
}

/* The monitor of one batch z [n, d] (d <= 2), as the trainer computes it. */
static double collapse_std(int64_t n, int64_t d, const float *z)
{
    double sums[4];
    byol__collapse_sums(n, d, z, sums);
    return byol__collapse_finish(n, d, sums);
}

static void test_collapse_monitor(void **state)
{
    (void)state;
    const float same[3 * 2] = { 1, 1, 2, 2, 5, 5 };
    assert_true(collapse_std(3, 2, same) < 1e-12);
    /* rows e1 and -e1: dim 0 is {1, -1} (std sqrt 2), dim 1 is {0, 0} */
    const float spread[2 * 2] = { 3, 0, -0.5f, 0 };
    assert_true(fabs(collapse_std(2, 2, spread) - sqrt(2.0) / 2) < 1e-12);
    assert_true(collapse_std(1, 2, spread) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_closed_forms),
        cmocka_unit_test(test_loss_gradient),
        cmocka_unit_test(test_collapse_monitor),
    };
    return cmocka_run_group_tests_name("byol_loss", tests, NULL, NULL);
}
