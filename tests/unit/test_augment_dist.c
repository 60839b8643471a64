/* Distributions of the augmenter's random draws (Table 6 defaults).
 *
 * N draws of each view with a fixed seed (byol__aug_draw is a pure
 * function, so the test always sees the same numbers). Every frequency must
 * lie within 5 binomial standard deviations of its probability: a correct
 * draw fails with probability below 1e-6 per check, while a probability off
 * by 0.02 (e.g. 0.8 vs 0.82) is caught. Ranges are checked both ways: no
 * value outside, and values within 1% of each end (with N = 20000 a correct
 * uniform misses a 1% end with probability 0.99^20000 ~ 1e-87), so a range
 * scaled wrongly fails. Means of uniforms are checked within 5 standard
 * errors. Crop areas under clamping are compared with the mean computed by
 * numerical integration of the reference's formula. */
#include "augment_util.h"

#include "augment/augment.h"

#define N 20000

/* k successes in n trials against probability p, within 5 sigma (exact at 0 and 1). */
static void assert_rate(const char *what, int64_t k, int64_t n, double p)
{
    const double rate = (double)k / (double)n, sd = sqrt(p * (1 - p) / (double)n);
    if (!(fabs(rate - p) <= 5 * sd))
        fail_msg("%s: rate %.4f over %lld draws, want %.4f +- %.4f", what, rate, (long long)n, p,
                 5 * sd);
}

/* Streaming summary of one drawn value. */
typedef struct stat {
    double sum, min, max;
    int64_t n;
} stat;

static void stat_add(stat *s, double v)
{
    if (s->n == 0 || v < s->min)
        s->min = v;
    if (s->n == 0 || v > s->max)
        s->max = v;
    s->sum += v;
    s->n++;
}

/* Values of a uniform on [lo, hi): inside, reaching both ends, mean within 5 se. */
static void assert_uniform(const char *what, const stat *s, double lo, double hi)
{
    const double w = hi - lo, mean = s->sum / (double)s->n;
    const double se = w / sqrt(12.0 * (double)s->n);
    if (s->min < lo || s->max >= hi)
        fail_msg("%s: values in [%.6g, %.6g], outside [%g, %g)", what, s->min, s->max, lo, hi);
    if (s->min > lo + 0.01 * w || s->max < hi - 0.01 * w)
        fail_msg("%s: values in [%.6g, %.6g] do not reach the ends of [%g, %g)", what, s->min,
                 s->max, lo, hi);
    if (!(fabs(mean - (lo + hi) / 2) <= 5 * se))
        fail_msg("%s: mean %.6g, want %.6g +- %.3g", what, mean, (lo + hi) / 2, 5 * se);
}

/* ---- coins -------------------------------------------------------------------------- */

static void coins_of_view(const byol_augmenter *aug, int32_t view, const double want[5])
{
    static const char *names[5] = { "flip", "jitter", "grayscale", "blur", "solarize" };
    int64_t k[5] = { 0 };
    for (int64_t i = 0; i < N; i++) {
        byol__aug_params p;
        byol__aug_draw(aug, 3, i, view, 224, 224, &p);
        k[0] += p.flip;
        k[1] += p.jitter;
        k[2] += p.gray;
        k[3] += p.blur;
        k[4] += p.solarize;
    }
    for (int j = 0; j < 5; j++) {
        char what[64];
        snprintf(what, sizeof what, "view %d %s", (int)view, names[j]);
        assert_rate(what, k[j], N, want[j]);
    }
}

static void test_coins_table6(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("seed=20240607");
    const double v1[5] = { 0.5, 0.8, 0.2, 1.0, 0.0 }, v2[5] = { 0.5, 0.8, 0.2, 0.1, 0.2 };
    coins_of_view(aug, 1, v1);
    coins_of_view(aug, 2, v2);
    byol_augmenter_destroy(aug);
}

/* Other probabilities, so a coin hard-wired to the defaults fails. */
static void test_coins_other(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter(
        "seed=7 augment.view1.flip_p=0.1 augment.view1.jitter_p=0.35 augment.view1.gray_p=0.9 "
        "augment.view1.blur_p=0.45 augment.view1.solarize_p=0.65 augment.view2.flip_p=1 "
        "augment.view2.jitter_p=0 augment.view2.gray_p=1 augment.view2.blur_p=0 "
        "augment.view2.solarize_p=1");
    const double v1[5] = { 0.1, 0.35, 0.9, 0.45, 0.65 }, v2[5] = { 1, 0, 1, 0, 1 };
    coins_of_view(aug, 1, v1);
    coins_of_view(aug, 2, v2);
    byol_augmenter_destroy(aug);
}

/* ---- jitter values and order, sigma ----------------------------------------------------- */

static void values_of_view(const byol_augmenter *aug, int32_t view, const double lo[5],
                           const double hi[5])
{
    static const char *names[5] = { "brightness", "contrast", "saturation", "hue", "sigma" };
    stat s[5];
    memset(s, 0, sizeof s);
    for (int64_t i = 0; i < N; i++) {
        byol__aug_params p;
        byol__aug_draw(aug, 0, i, view, 64, 48, &p);
        const double v[5] = { p.brightness, p.contrast, p.saturation, p.hue, p.sigma };
        for (int j = 0; j < 5; j++)
            stat_add(&s[j], v[j]);
    }
    for (int j = 0; j < 5; j++) {
        char what[64];
        snprintf(what, sizeof what, "view %d %s", (int)view, names[j]);
        assert_uniform(what, &s[j], lo[j], hi[j]);
    }
}

static void test_jitter_values(void **state)
{
    (void)state;
    byol_augmenter *tf = tu_augmenter("seed=11");
    const double lo[5] = { -0.4, 0.6, 0.8, -0.1, 0.1 }, hi[5] = { 0.4, 1.4, 1.2, 0.1, 2.0 };
    values_of_view(tf, 1, lo, hi);
    values_of_view(tf, 2, lo, hi);
    byol_augmenter_destroy(tf);

    /* torchvision: a brightness factor; other strengths and sigma range. */
    byol_augmenter *tv = tu_augmenter(
        "seed=12 augment.jitter=torchvision augment.view2.brightness=0.8 "
        "augment.view2.contrast=0.1 augment.view2.saturation=0.5 augment.view2.hue=0.3 "
        "augment.view2.blur_sigma_min=0.5 augment.view2.blur_sigma_max=0.75");
    const double lo1[5] = { 0.6, 0.6, 0.8, -0.1, 0.1 }, hi1[5] = { 1.4, 1.4, 1.2, 0.1, 2.0 };
    const double lo2[5] = { 0.2, 0.9, 0.5, -0.3, 0.5 }, hi2[5] = { 1.8, 1.1, 1.5, 0.3, 0.75 };
    values_of_view(tv, 1, lo1, hi1);
    values_of_view(tv, 2, lo2, hi2);
    byol_augmenter_destroy(tv);
}

static int32_t perm_index(const int32_t o[4])
{
    /* Lehmer code of a permutation of 0..3: 0..23. */
    int32_t code = 0;
    for (int i = 0; i < 4; i++) {
        int32_t smaller = 0;
        for (int j = i + 1; j < 4; j++)
            smaller += o[j] < o[i];
        code = code * (4 - i) + smaller;
    }
    return code;
}

/* Every one of the 24 orders appears with probability 1/24. */
static void test_jitter_order(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("seed=5");
    int64_t count[24] = { 0 };
    for (int64_t i = 0; i < N; i++) {
        byol__aug_params p;
        byol__aug_draw(aug, 1, i, 2, 32, 32, &p);
        assert_int_equal(p.nops, 4);
        count[perm_index(p.order)]++;
    }
    for (int k = 0; k < 24; k++) {
        char what[32];
        snprintf(what, sizeof what, "order #%d", k);
        assert_rate(what, count[k], N, 1.0 / 24);
    }
    byol_augmenter_destroy(aug);
}

/* A strength of 0 leaves its operation out; one channel leaves out
 * saturation and hue, keeping the others in their drawn order. */
static void test_jitter_skips(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("seed=5 augment.view1.contrast=0 augment.view1.hue=0");
    byol_augmenter *one = tu_augmenter("seed=5 data.channels=1 augment.mean=0.5 augment.std=0.25");
    for (int64_t i = 0; i < 2000; i++) {
        byol__aug_params p, q, full;
        byol__aug_draw(aug, 0, i, 1, 32, 32, &p);
        byol__aug_draw(one, 0, i, 2, 32, 32, &q);
        byol__aug_draw(aug, 0, i, 2, 32, 32, &full);
        assert_int_equal(p.nops, 2);
        assert_int_equal(q.nops, 2);
        for (int k = 0; k < 2; k++) {
            assert_true(p.order[k] == BYOL__OP_BRIGHTNESS || p.order[k] == BYOL__OP_SATURATION);
            assert_true(q.order[k] == BYOL__OP_BRIGHTNESS || q.order[k] == BYOL__OP_CONTRAST);
        }
        /* Same stream (seed, epoch, index, view 2): q keeps full's order of B and C. */
        int32_t kept[2], m = 0;
        for (int k = 0; k < 4; k++)
            if (full.order[k] <= BYOL__OP_CONTRAST)
                kept[m++] = full.order[k];
        assert_int_equal(q.order[0], kept[0]);
        assert_int_equal(q.order[1], kept[1]);
    }
    byol_augmenter_destroy(one);
    byol_augmenter_destroy(aug);
}

/* ---- crop ---------------------------------------------------------------------------------- */

/* Unclamped draws (area at most 0.5 with ratios in [3/4, 4/3] never exceed a
 * side): area fraction uniform on [0.08, 0.5], log-ratio uniform on
 * [log 3/4, log 4/3], up to the rounding of w and h (at most 0.5 px on
 * sides of at least 245 px: 0.2% of a side, 0.004 in log-ratio). */
static void test_crop_unclamped(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("seed=3 augment.view1.crop_area_max=0.5");
    const int32_t side = 1000;
    stat area = { 0 }, lr = { 0 }, ox = { 0 }, oy = { 0 };
    for (int64_t i = 0; i < N; i++) {
        byol__aug_params p;
        byol__aug_draw(aug, 0, i, 1, side, side, &p);
        const byol__box *b = &p.box;
        assert_true(b->x >= 0 && b->y >= 0 && b->x + b->w <= side && b->y + b->h <= side);
        stat_add(&area, (double)b->w * b->h / ((double)side * side));
        stat_add(&lr, log((double)b->w / b->h));
        stat_add(&ox, (b->x + 0.5) / (side - b->w + 1));
        stat_add(&oy, (b->y + 0.5) / (side - b->h + 1));
    }
    const double eps_a = 0.003, eps_r = 0.005;
    if (area.min < 0.08 - eps_a || area.max > 0.5 + eps_a || area.min > 0.09 || area.max < 0.49)
        fail_msg("area fractions in [%g, %g], want [0.08, 0.5]", area.min, area.max);
    if (lr.min < log(0.75) - eps_r || lr.max > log(4.0 / 3) + eps_r ||
        lr.min > log(0.75) + 0.01 || lr.max < log(4.0 / 3) - 0.01)
        fail_msg("log-ratios in [%g, %g], want [%g, %g]", lr.min, lr.max, log(0.75), log(4.0 / 3));
    const double se_a = 0.42 / sqrt(12.0 * N), se_r = (log(4.0 / 3) - log(0.75)) / sqrt(12.0 * N);
    assert_true(fabs(area.sum / N - 0.29) <= 5 * se_a + 0.001);
    assert_true(fabs(lr.sum / N) <= 5 * se_r);
    /* Offsets: uniform over the free positions, mean at the middle. */
    assert_true(fabs(ox.sum / N - 0.5) <= 5 / sqrt(12.0 * N));
    assert_true(fabs(oy.sum / N - 0.5) <= 5 / sqrt(12.0 * N));
    byol_augmenter_destroy(aug);
}

/* E[min(sqrt(a r), 1) * min(sqrt(a / r), 1)] for a ~ U[a0, a1], log r ~
 * U[log r0, log r1]: the mean clamped area fraction of a square image
 * (midpoint rule on a 1000 x 1000 grid; the integrand is Lipschitz, so the
 * error is far below the test's 5 se). */
static double clamped_area_mean(double a0, double a1, double r0, double r1)
{
    const int g = 1000;
    double sum = 0;
    for (int i = 0; i < g; i++) {
        const double a = a0 + (a1 - a0) * (i + 0.5) / g;
        for (int j = 0; j < g; j++) {
            const double r = exp(log(r0) + (log(r1) - log(r0)) * (j + 0.5) / g);
            sum += fmin(sqrt(a * r), 1) * fmin(sqrt(a / r), 1);
        }
    }
    return sum / ((double)g * g);
}

/* Reference-mode draws of `view` on a square image: inside it, mean area
 * fraction as the clamped formula says; returns how many were clamped. */
static int64_t check_clamped_mean(const byol_augmenter *aug, int32_t view, double want)
{
    const int32_t side = 500;
    double sum = 0, sum2 = 0;
    int64_t clamped = 0;
    for (int64_t i = 0; i < N; i++) {
        byol__aug_params p;
        byol__aug_draw(aug, 2, i, view, side, side, &p);
        const byol__box *b = &p.box;
        assert_true(b->w >= 1 && b->h >= 1 && b->x + b->w <= side && b->y + b->h <= side);
        const double a = (double)b->w * b->h / ((double)side * side);
        sum += a;
        sum2 += a * a;
        clamped += b->w == side || b->h == side;
    }
    /* 0.002 covers the rounding of w and h to pixels. */
    const double mean = sum / N, se = sqrt((sum2 / N - mean * mean) / N);
    if (!(fabs(mean - want) <= 5 * se + 0.002))
        fail_msg("view %d: mean clamped area %.5f, want %.5f +- %.5f", (int)view, mean, want,
                 5 * se + 0.002);
    return clamped;
}

/* The reference clamps w and h to the image. View 1 has the defaults (the
 * clamp moves the mean area only from 0.54 to 0.534); view 2 has wide
 * ratios, where it moves the mean from 0.65 to 0.519, far outside the
 * bounds, so a missing or wrong clamp fails. */
static void test_crop_reference_clamped(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("seed=4 augment.view2.crop_area_min=0.3 "
                                    "augment.view2.crop_ratio_min=0.2 augment.view2.crop_ratio_max=5");
    const double want1 = clamped_area_mean(0.08, 1.0, 0.75, 4.0 / 3);
    const double want2 = clamped_area_mean(0.3, 1.0, 0.2, 5.0);
    assert_true(fabs(want2 - 0.65) > 0.1);
    assert_true(check_clamped_mean(aug, 1, want1) > N / 50);
    assert_true(check_clamped_mean(aug, 2, want2) > N / 4);
    byol_augmenter_destroy(aug);
}

/* torchvision mode keeps the ratio in range (or falls back to the whole
 * square image) and the area within [0.08, 1]. */
static void test_crop_torchvision(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("seed=9 augment.crop=torchvision");
    const int32_t side = 400;
    int64_t full = 0;
    for (int64_t i = 0; i < N; i++) {
        byol__aug_params p;
        byol__aug_draw(aug, 0, i, 1, side, side, &p);
        const byol__box *b = &p.box;
        const double r = (double)b->w / b->h, a = (double)b->w * b->h / ((double)side * side);
        assert_true(b->x + b->w <= side && b->y + b->h <= side);
        assert_true(r >= 0.75 * 0.99 && r <= 4.0 / 3 * 1.01);
        assert_true(a >= 0.08 * 0.99 && a <= 1.0);
        full += b->w == side && b->h == side;
    }
    /* Accepted draws hit exactly side x side with tiny probability, so the
     * whole-image crops are fallbacks after 10 failed tries; P(one try
     * fails) <= 0.25, so fallbacks are under 0.25^10 of draws: ~0. */
    assert_true(full < 5);
    byol_augmenter_destroy(aug);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coins_table6),
        cmocka_unit_test(test_coins_other),
        cmocka_unit_test(test_jitter_values),
        cmocka_unit_test(test_jitter_order),
        cmocka_unit_test(test_jitter_skips),
        cmocka_unit_test(test_crop_unclamped),
        cmocka_unit_test(test_crop_reference_clamped),
        cmocka_unit_test(test_crop_torchvision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
