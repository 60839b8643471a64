/* The augmenter's public functions: determinism across threads and call
 * orders, what changes a view, presets, one channel, and every error path
 * (bad settings named at create, bad arguments and images, allocation
 * failures). */
#include <pthread.h>

#include "augment_util.h"

#include "augment/augment.h"

/* A deterministic h x w x c image with smooth gradients and noise. */
static byol_image make_image(int32_t h, int32_t w, int32_t c, uint32_t seed)
{
    byol_image img = { sizeof img, h, w, c, malloc((size_t)h * w * c) };
    assert_non_null(img.data);
    uint32_t s = seed * 2654435761u + 1;
    for (int32_t y = 0; y < h; y++)
        for (int32_t x = 0; x < w; x++)
            for (int32_t k = 0; k < c; k++) {
                s = s * 1664525u + 1013904223u;
                img.data[((size_t)y * w + x) * c + k] =
                    (uint8_t)((x * 255 / w + y * 97 / h + k * 60 + (s >> 28)) & 255);
            }
    return img;
}

static size_t view_len(const byol_augmenter *aug)
{
    int64_t d[3];
    assert_byol_ok(byol_augmenter_dims(aug, d));
    return (size_t)(d[0] * d[1] * d[2]);
}

/* ---- determinism ----------------------------------------------------------------- */

#define JOBS 12

typedef struct job {
    int64_t epoch, index;
    int32_t view;
} job;

static const job jobs[JOBS] = {
    { 0, 0, 1 }, { 0, 0, 2 }, { 0, 1, 1 }, { 1, 0, 1 }, { 0, 7, 2 }, { 5, 123456789, 1 },
    { 0, (int64_t)1 << 32, 1 }, { 0, ((int64_t)1 << 62) - 1, 2 }, { 4294967295LL, 3, 2 },
    { 2, 9, 1 }, { 2, 9, 2 }, { 3, 11, 1 },
};

typedef struct worker {
    const byol_augmenter *aug;
    const byol_image *img;
    float *out;      /* JOBS views */
    size_t len;
    int reverse;
    int rc;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int k = 0; k < JOBS; k++) {
        const int j = w->reverse ? JOBS - 1 - k : k;
        int rc = byol_augmenter_view(w->aug, w->img, jobs[j].epoch, jobs[j].index, jobs[j].view,
                                     w->out + (size_t)j * w->len);
        if (rc != BYOL_OK && w->rc == BYOL_OK)
            w->rc = rc;
    }
    return NULL;
}

/* Two threads in opposite orders on one const augmenter give the bytes of
 * a serial run; every job differs from every other (each (epoch, index,
 * view) has its own draws). Blur, solarise and jitter are all on. */
static void test_same_bytes_any_thread_or_order(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("seed=99 augment.size=40 augment.view2.blur_p=0.5 "
                                    "augment.view1.solarize_p=0.5");
    byol_image img = make_image(57, 83, 3, 1);
    const size_t len = view_len(aug);
    float *serial = malloc(JOBS * len * sizeof(float));
    assert_non_null(serial);
    for (int j = 0; j < JOBS; j++)
        assert_byol_ok(byol_augmenter_view(aug, &img, jobs[j].epoch, jobs[j].index, jobs[j].view,
                                           serial + (size_t)j * len));
    worker w[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (worker){ aug, &img, malloc(JOBS * len * sizeof(float)), len, i, BYOL_OK };
        assert_non_null(w[i].out);
        assert_int_equal(pthread_create(&t[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_byol_ok(w[i].rc);
        assert_memory_equal(w[i].out, serial, JOBS * len * sizeof(float));
        free(w[i].out);
    }
    for (int a = 0; a < JOBS; a++)
        for (int b = a + 1; b < JOBS; b++)
            if (!memcmp(serial + (size_t)a * len, serial + (size_t)b * len, len * sizeof(float)))
                fail_msg("jobs %d and %d gave the same view", a, b);
    free(serial);
    free(img.data);
    byol_augmenter_destroy(aug);
}

/* The streams of distinct (epoch, index, view) differ, including indices
 * that differ only above bit 31 and epochs that differ only in low bits. */
static void test_streams_distinct(void **state)
{
    (void)state;
    const int64_t hi = (int64_t)1 << 32;
    const job keys[] = { { 0, 0, 1 }, { 0, 0, 2 }, { 1, 0, 1 }, { 0, 1, 1 }, { 0, hi, 1 },
                         { 0, hi, 2 }, { 0, 2 * hi, 1 }, { 0, hi + 1, 1 }, { 1, hi, 1 } };
    const int n = (int)(sizeof keys / sizeof keys[0]);
    uint32_t first[16][4];
    for (int i = 0; i < n; i++) {
        byol__rng r;
        byol__aug_rng(&r, 42, keys[i].epoch, keys[i].index, keys[i].view);
        for (int k = 0; k < 4; k++)
            first[i][k] = byol__rng_u32(&r);
    }
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (!memcmp(first[a], first[b], sizeof first[a]))
                fail_msg("streams %d and %d are equal", a, b);
    /* And the seed changes everything. */
    byol__rng r1, r2;
    byol__aug_rng(&r1, 1, 0, 0, 1);
    byol__aug_rng(&r2, 2, 0, 0, 1);
    assert_true(byol__rng_u32(&r1) != byol__rng_u32(&r2));
}

/* Draws depend on the image's size, never its pixels; seed changes views. */
static void test_draws_independent_of_pixels(void **state)
{
    (void)state;
    byol_augmenter *a = tu_augmenter("seed=1 augment.size=16");
    byol_augmenter *b = tu_augmenter("seed=2 augment.size=16");
    byol_image i1 = make_image(30, 30, 3, 1), i2 = make_image(30, 30, 3, 2);
    for (int64_t k = 0; k < 50; k++) {
        byol__aug_params p1, p2;
        byol__aug_draw(a, 0, k, 1, i1.height, i1.width, &p1);
        byol__aug_draw(a, 0, k, 1, i2.height, i2.width, &p2);
        assert_memory_equal(&p1, &p2, sizeof p1);
    }
    const size_t len = view_len(a);
    float *x = malloc(len * sizeof *x), *y = malloc(len * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    assert_byol_ok(byol_augmenter_view(a, &i1, 0, 0, 1, x));
    assert_byol_ok(byol_augmenter_view(b, &i1, 0, 0, 1, y));
    assert_true(memcmp(x, y, len * sizeof *x) != 0);
    free(x);
    free(y);
    free(i1.data);
    free(i2.data);
    byol_augmenter_destroy(a);
    byol_augmenter_destroy(b);
}

/* ---- behaviour visible in the output ------------------------------------------------- */

/* Grayscale always, nothing else colour: the three un-normalised channels
 * are equal; and eval of a same-size image with eval_crop 1 is the image. */
static void test_gray_and_identity_eval(void **state)
{
    (void)state;
    const char *norm = "augment.mean=\"0.1,0.2,0.3\" augment.std=\"0.5,0.25,0.125\"";
    char settings[512];
    snprintf(settings, sizeof settings,
             "augment.size=20 augment.view1.gray_p=1 augment.view1.jitter_p=0 "
             "augment.view1.blur_p=0 augment.eval_crop=1 %s", norm);
    byol_augmenter *aug = tu_augmenter(settings);
    const float mean[3] = { 0.1f, 0.2f, 0.3f }, std[3] = { 0.5f, 0.25f, 0.125f };
    byol_image img = make_image(20, 20, 3, 5);
    float out[3 * 20 * 20];
    assert_byol_ok(byol_augmenter_view(aug, &img, 0, 17, 1, out));
    for (int i = 0; i < 400; i++) {
        const float r = out[i] * std[0] + mean[0];
        assert_true(fabsf(out[400 + i] * std[1] + mean[1] - r) < 1e-6f);
        assert_true(fabsf(out[800 + i] * std[2] + mean[2] - r) < 1e-6f);
    }
    assert_byol_ok(byol_augmenter_eval(aug, &img, out));
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 400; i++) {
            const float want = ((float)img.data[i * 3 + c] / 255.0f - mean[c]) / std[c];
            assert_true(fabsf(out[c * 400 + i] - want) < 1e-6f);
        }
    free(img.data);
    byol_augmenter_destroy(aug);
}

/* One channel (fashion-mnist): views work; grayscale, saturation and hue
 * are skipped, so gray_p changes nothing. */
static void test_one_channel(void **state)
{
    (void)state;
    byol_config *cfg = NULL;
    byol_augmenter *a = NULL, *b = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_apply_preset(cfg, "fashion-mnist"));
    assert_byol_ok(byol_config_parse(cfg, "augment.view1.jitter_p=1 augment.view1.gray_p=0"));
    assert_byol_ok(byol_augmenter_create(cfg, &a));
    assert_byol_ok(byol_config_parse(cfg, "augment.view1.gray_p=1"));
    assert_byol_ok(byol_augmenter_create(cfg, &b));
    int64_t d[3];
    assert_byol_ok(byol_augmenter_dims(a, d));
    assert_int_equal(d[0], 1);
    assert_int_equal(d[1], 28);
    assert_int_equal(d[2], 28);
    byol_image img = make_image(28, 28, 1, 3);
    float x[28 * 28], y[28 * 28];
    for (int64_t i = 0; i < 20; i++) {
        assert_byol_ok(byol_augmenter_view(a, &img, 0, i, 1, x));
        assert_byol_ok(byol_augmenter_view(b, &img, 0, i, 1, y));
        assert_memory_equal(x, y, sizeof x);
        assert_byol_ok(byol_augmenter_view(a, &img, 0, i, 2, y));
    }
    free(img.data);
    byol_augmenter_destroy(a);
    byol_augmenter_destroy(b);
    byol_config_destroy(cfg);
}

static void test_presets(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t c, s;
    } presets[] = { { "imagenet", 3, 224 }, { "cifar10", 3, 32 }, { "fashion-mnist", 1, 28 } };
    for (size_t i = 0; i < 3; i++) {
        byol_config *cfg = NULL;
        byol_augmenter *aug = NULL;
        assert_byol_ok(byol_config_create(&cfg));
        assert_byol_ok(byol_config_apply_preset(cfg, presets[i].name));
        assert_byol_ok(byol_augmenter_create(cfg, &aug));
        int64_t d[3];
        assert_byol_ok(byol_augmenter_dims(aug, d));
        assert_int_equal(d[0], presets[i].c);
        assert_int_equal(d[1], presets[i].s);
        assert_int_equal(d[2], presets[i].s);
        byol_image img = make_image(45, 61, (int32_t)presets[i].c, 9);
        float *out = malloc(view_len(aug) * sizeof *out);
        assert_non_null(out);
        assert_byol_ok(byol_augmenter_view(aug, &img, 0, 0, 1, out));
        assert_byol_ok(byol_augmenter_view(aug, &img, 0, 0, 2, out));
        assert_byol_ok(byol_augmenter_eval(aug, &img, out));
        free(out);
        free(img.data);
        byol_augmenter_destroy(aug);
        byol_config_destroy(cfg);
    }
    /* NULL config: the defaults (ImageNet's Table 6 at 224). */
    byol_augmenter *aug = NULL;
    assert_byol_ok(byol_augmenter_create(NULL, &aug));
    int64_t d[3];
    assert_byol_ok(byol_augmenter_dims(aug, d));
    assert_int_equal(d[1], 224);
    byol_augmenter_destroy(aug);
}

/* ---- errors ------------------------------------------------------------------------ */

/* Creating with `settings` fails with `code` and a message naming `key`. */
static void expect_create_error(const char *settings, int code, const char *key)
{
    byol_config *cfg = NULL;
    byol_augmenter *aug = (byol_augmenter *)&aug;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, settings));
    int rc = byol_augmenter_create(cfg, &aug);
    if (rc != code)
        fail_msg("'%s': code %d, want %d (%s)", settings, rc, code, byol_last_error());
    assert_null(aug);
    if (!strstr(byol_last_error(), key))
        fail_msg("'%s': message '%s' does not name '%s'", settings, byol_last_error(), key);
    byol_config_destroy(cfg);
}

static void test_create_errors(void **state)
{
    (void)state;
    static const struct {
        const char *settings, *key;
    } bad[] = {
        { "augment.view1.crop_area_min=0.9 augment.view1.crop_area_max=0.5",
          "augment.view1.crop_area_min" },
        { "augment.view2.crop_ratio_min=2 augment.view2.crop_ratio_max=1.5",
          "augment.view2.crop_ratio_max" },
        { "augment.view2.blur_sigma_min=3 augment.view2.blur_sigma_max=2",
          "augment.view2.blur_sigma_min" },
        { "augment.mean=\"0.5,0.5\"", "augment.mean" },
        { "augment.mean=\"0.5,0.5,0.5,0.5\"", "augment.mean" },
        { "augment.mean=\"0.5,abc,0.5\"", "augment.mean" },
        { "augment.mean=\"0.5,,0.5\"", "augment.mean" },
        { "augment.mean=\"0.5,0.5,0.5,\"", "augment.mean" },
        { "augment.mean=\"\"", "augment.mean" },
        { "augment.mean=\"0.5,nan,0.5\"", "augment.mean" },
        { "augment.mean=\"0.5,0x1p-1,0.5\"", "augment.mean" }, /* the settings' forms */
        { "augment.mean=\"+0.5,0.5,0.5\"", "augment.mean" },
        { "augment.mean=\"0.5,0.5,1e999\"", "augment.mean" },
        { "augment.mean=\"0.5,0.5,.\"", "augment.mean" },
        { "augment.std=\"0.2,0,0.2\"", "augment.std" },
        { "augment.std=\"0.2,0.2,-1\"", "augment.std" },
        { "augment.std=\"0.2 0.2 0.2\"", "augment.std" },
        { "data.channels=1", "augment.mean" }, /* ImageNet's 3 means for 1 channel */
        { "data.channels=2", "data.channels" },
        { "augment.blur_taps=4", "augment.blur_taps" },
    };
    assert_int_equal(byol_augmenter_create(NULL, NULL), BYOL_E_INVALID_ARG);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_create_error(bad[i].settings, BYOL_E_RANGE, bad[i].key);
    /* Spaces around the numbers are fine. */
    byol_augmenter *aug = tu_augmenter("augment.mean=\" 0.5 , 0.25,0.125 \"");
    byol_augmenter_destroy(aug);
}

static void test_call_errors(void **state)
{
    (void)state;
    byol_augmenter *aug = tu_augmenter("augment.size=8");
    byol_image img = make_image(10, 12, 3, 4), gray = make_image(10, 12, 1, 4);
    float out[3 * 8 * 8];
    int64_t d[3];
    assert_int_equal(byol_augmenter_dims(NULL, d), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_dims(aug, NULL), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(NULL, &img, 0, 0, 1, out), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, NULL, 0, 0, 1, out), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &img, 0, 0, 1, NULL), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &img, 0, 0, 0, out), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &img, 0, 0, 3, out), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &img, -1, 0, 1, out), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &img, (int64_t)1 << 32, 0, 1, out),
                     BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &img, 0, -1, 1, out), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &img, 0, (int64_t)1 << 62, 1, out),
                     BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_view(aug, &gray, 0, 0, 1, out), BYOL_E_SHAPE);
    assert_non_null(strstr(byol_last_error(), "data.channels"));
    assert_int_equal(byol_augmenter_eval(aug, &gray, out), BYOL_E_SHAPE);
    assert_int_equal(byol_augmenter_eval(NULL, &img, out), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_augmenter_eval(aug, &img, NULL), BYOL_E_INVALID_ARG);
    byol_image bad = img;
    bad.height = 0;
    assert_int_equal(byol_augmenter_view(aug, &bad, 0, 0, 1, out), BYOL_E_SHAPE);
    bad = img;
    bad.data = NULL;
    assert_int_equal(byol_augmenter_eval(aug, &bad, out), BYOL_E_INVALID_ARG);
    /* Limits are inclusive where the stream mapping allows. */
    assert_byol_ok(byol_augmenter_view(aug, &img, 4294967295LL, ((int64_t)1 << 62) - 1, 2, out));
    byol_augmenter_destroy(NULL);
    free(img.data);
    free(gray.data);
    byol_augmenter_destroy(aug);
}

/* ---- allocation failures ---------------------------------------------------------------- */

/* Create, one view with blur (resize and blur scratch), eval, destroy. */
static int create_view_eval(void *arg)
{
    const byol_image *img = arg;
    byol_config *cfg = NULL;
    byol_augmenter *aug = NULL;
    float out[3 * 12 * 12];
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, "augment.size=12 augment.view1.blur_p=1");
    if (rc == BYOL_OK)
        rc = byol_augmenter_create(cfg, &aug);
    if (rc == BYOL_OK)
        rc = byol_augmenter_view(aug, img, 0, 0, 1, out);
    if (rc == BYOL_OK)
        rc = byol_augmenter_eval(aug, img, out);
    byol_augmenter_destroy(aug);
    byol_config_destroy(cfg);
    return rc;
}

/* Every allocation failing in turn gives BYOL_E_NOMEM and leaks nothing. */
static void test_alloc_failures(void **state)
{
    (void)state;
    byol_image img = make_image(20, 16, 3, 8);
    /* At least: the augmenter, the view's resize and blur scratch, eval's resize. */
    assert_true(tu_each_allocation_fails(create_view_eval, &img, NULL) >= 4);
    free(img.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_any_thread_or_order),
        cmocka_unit_test(test_streams_distinct),
        cmocka_unit_test(test_draws_independent_of_pixels),
        cmocka_unit_test(test_gray_and_identity_eval),
        cmocka_unit_test(test_one_channel),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_call_errors),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
