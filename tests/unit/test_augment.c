/* The augmenter's operations against independent computations.
 *
 * Expected values come from tests/ref/gen_augment_fixtures.py (float64
 * numpy written from the reference specification, cross-checked there
 * against colorsys, torchvision, PIL and torch; see its docstring), stored
 * in tests/fixtures/augment/ (BYOL_FIXTURES). libbyol computes in float32,
 * so values in [0, 1] agree to a few float32 roundings: TOL_UNIT (2e-6
 * absolute) is about 30 ulps at 1, and the smallest formula error these
 * cases can show (a wrong weight, a missing clip, a swapped operation)
 * moves some value by more than 1e-3. Resized pixels are in 0..255 units
 * and are compared relative to their largest magnitude (TOL_REL), as are
 * the normalised outputs of whole pipelines (values up to ~2.6).
 * Crop boxes, tap counts and solarisation are exact. */
#include "augment_util.h"

#include "augment/augment.h"
#include "io/safetensors.h"

#define TOL_UNIT 2e-6
#define TOL_REL 2e-6

/* ---- fixture access --------------------------------------------------------- */

static byol__st_file *open_fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/augment/%s.safetensors", tu_fixtures_dir(), name);
    byol__st_file *f = NULL;
    assert_byol_ok(byol__st_open(path, &f));
    return f;
}

static const byol__st_tensor *need(const byol__st_file *f, const char *name, int32_t dtype)
{
    const byol__st_tensor *t = byol__st_find(f, name);
    if (!t)
        fail_msg("%s: no tensor '%s'", byol__st_label(f), name);
    if (t->dtype != dtype)
        fail_msg("%s: tensor '%s' has dtype %d, want %d", byol__st_label(f), name,
                 (int)t->dtype, (int)dtype);
    return t;
}

/* A copy of a tensor of `dtype` (the file's data may be unaligned); *n its
 * element count when n is not NULL. */
static void *copy_of(const byol__st_file *f, const char *name, int32_t dtype, size_t *n)
{
    const byol__st_tensor *t = need(f, name, dtype);
    void *x = malloc(t->nbytes + 8);
    assert_non_null(x);
    memcpy(x, t->data, t->nbytes);
    if (n)
        *n = t->nbytes / byol__st_dtype_size(dtype);
    return x;
}

static float *floats(const byol__st_file *f, const char *name, size_t *n)
{
    return copy_of(f, name, BYOL__ST_F32, n);
}

static double *doubles(const byol__st_file *f, const char *name, size_t *n)
{
    return copy_of(f, name, BYOL__ST_F64, n);
}

static int32_t *ints(const byol__st_file *f, const char *name, size_t *n)
{
    return copy_of(f, name, BYOL__ST_I32, n);
}

static double scalar(const byol__st_file *f, const char *name)
{
    double *x = doubles(f, name, NULL), v = x[0];
    free(x);
    return v;
}

/* A byol_image over a U8 [h, w, c] tensor (pixels copied; free img->data). */
static byol_image image(const byol__st_file *f, const char *name)
{
    const byol__st_tensor *t = need(f, name, BYOL__ST_U8);
    assert_int_equal(t->ndim, 3);
    byol_image img = { sizeof img, (int32_t)t->shape[0], (int32_t)t->shape[1],
                       (int32_t)t->shape[2], malloc(t->nbytes) };
    assert_non_null(img.data);
    memcpy(img.data, t->data, t->nbytes);
    return img;
}

static void assert_abs(const char *what, const float *got, const float *want, size_t n,
                       double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol))
            fail_msg("%s[%zu] = %.9g, want %.9g (tol %.1g)", what, i, (double)got[i],
                     (double)want[i], tol);
}

/* ---- colour -------------------------------------------------------------------- */

static void test_hsv(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("color");
    size_t n;
    float *rgb = floats(f, "rgb", &n), *hsv = floats(f, "hsv", NULL);
    for (size_t i = 0; i < n / 3; i++) {
        float h[3], back[3];
        byol__rgb_to_hsv(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], &h[0], &h[1], &h[2]);
        assert_abs("rgb_to_hsv", h, hsv + 3 * i, 3, TOL_UNIT);
        /* From the reference's HSV, so each direction is checked alone. */
        byol__hsv_to_rgb(hsv[3 * i], hsv[3 * i + 1], hsv[3 * i + 2], &back[0], &back[1], &back[2]);
        assert_abs("hsv_to_rgb", back, rgb + 3 * i, 3, TOL_UNIT);
    }
    free(rgb);
    free(hsv);
    byol__st_close(f);
}

static int32_t op_code(const char *name)
{
    static const char *names[4] = { "brightness", "contrast", "saturation", "hue" };
    for (int32_t i = 0; i < 4; i++)
        if (!strcmp(name, names[i]))
            return i;
    fail_msg("unknown operation '%s'", name);
    return -1;
}

/* Every "op<i>.<mode>.<op>" tensor: that operation on "image" with "op<i>.value". */
static void test_jitter_ops(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("color");
    size_t n, checked = 0;
    float *img = floats(f, "image", &n);
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t t = 0; t < byol__st_count(f); t++) {
        const char *name = byol__st_get(f, t)->name;
        int i;
        char mode[32], op[32], key[64];
        if (sscanf(name, "op%d.%31[a-z].%31s", &i, mode, op) != 3)
            continue;
        snprintf(key, sizeof key, "op%d.value", i);
        float *want = floats(f, name, NULL);
        memcpy(x, img, n * sizeof *x);
        byol__aug_jitter_op(x, 3, n / 3,
                            strcmp(mode, "tf") ? BYOL__JITTER_TORCHVISION : BYOL__JITTER_TF,
                            op_code(op), (float)scalar(f, key));
        assert_abs(name, x, want, n, TOL_UNIT);
        free(want);
        checked++;
    }
    assert_int_equal(checked, 16);
    free(x);
    free(img);
    byol__st_close(f);
}

/* One channel: brightness and contrast act; grayscale of three channels. */
static void test_one_channel_and_gray(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int32_t mode, op;
        float value;
    } cases[] = {
        { "one.tf.brightness", BYOL__JITTER_TF, BYOL__OP_BRIGHTNESS, 0.2f },
        { "one.tf.contrast", BYOL__JITTER_TF, BYOL__OP_CONTRAST, 1.3f },
        { "one.torchvision.brightness", BYOL__JITTER_TORCHVISION, BYOL__OP_BRIGHTNESS, 0.7f },
        { "one.torchvision.contrast", BYOL__JITTER_TORCHVISION, BYOL__OP_CONTRAST, 0.6f },
    };
    byol__st_file *f = open_fixture("color");
    size_t n;
    float *img = floats(f, "image", &n);
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float *want = floats(f, cases[i].name, NULL);
        memcpy(x, img, n / 3 * sizeof *x);
        byol__aug_jitter_op(x, 1, n / 3, cases[i].mode, cases[i].op, cases[i].value);
        assert_abs(cases[i].name, x, want, n / 3, TOL_UNIT);
        free(want);
    }
    const char *gray[2] = { "gray.tf", "gray.torchvision" };
    for (int32_t mode = 0; mode < 2; mode++) {
        float *want = floats(f, gray[mode], NULL);
        memcpy(x, img, n * sizeof *x);
        byol__aug_grayscale(x, n / 3, mode);
        assert_abs(gray[mode], x, want, n, TOL_UNIT);
        free(want);
    }
    free(x);
    free(img);
    byol__st_close(f);
}

/* ---- blur, solarise ------------------------------------------------------------------- */

static void test_blur_taps(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("blur");
    size_t n;
    int32_t *size = ints(f, "taps.size", &n), *taps = ints(f, "taps.taps", NULL);
    for (size_t i = 0; i < n; i++) {
        if (byol__aug_blur_taps(size[i], 0) != taps[i])
            fail_msg("size %d: %d taps, want %d", size[i], byol__aug_blur_taps(size[i], 0), taps[i]);
    }
    assert_int_equal(byol__aug_blur_taps(224, 0), 23); /* the reference's table */
    assert_int_equal(byol__aug_blur_taps(224, 9), 9);  /* an explicit setting wins */
    free(size);
    free(taps);
    byol__st_close(f);
}

static void test_blur(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("blur");
    for (int i = 0; i < 4; i++) {
        char key[64];
        size_t nk, nx;
        snprintf(key, sizeof key, "blur%d.kernel", i);
        float *want_k = floats(f, key, &nk);
        snprintf(key, sizeof key, "blur%d.sigma", i);
        const double sigma = scalar(f, key);
        float k[64];
        byol__aug_blur_kernel(sigma, (int32_t)nk, k);
        assert_abs("blur kernel", k, want_k, nk, 1e-7);

        snprintf(key, sizeof key, "blur%d.x", i);
        const byol__st_tensor *t = need(f, key, BYOL__ST_F32);
        float *x = floats(f, key, &nx), *tmp = malloc(nx * sizeof *tmp);
        assert_non_null(tmp);
        snprintf(key, sizeof key, "blur%d.y", i);
        float *want = floats(f, key, NULL);
        byol__aug_blur(x, (int32_t)t->shape[0], (int32_t)t->shape[1], (int32_t)t->shape[2], k,
                       (int32_t)nk, tmp);
        assert_abs(key, x, want, nx, TOL_UNIT);
        free(want);
        free(tmp);
        free(x);
        free(want_k);
    }
    byol__st_close(f);
}

static void test_solarize(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("blur");
    size_t n;
    float *x0 = floats(f, "solarize.x", &n), *x = malloc(n * sizeof *x);
    assert_non_null(x);
    const char *names[2] = { "solarize.y50", "solarize.y30" };
    const float thresholds[2] = { 0.5f, 0.3f };
    for (int i = 0; i < 2; i++) {
        float *want = floats(f, names[i], NULL);
        memcpy(x, x0, n * sizeof *x);
        byol__aug_solarize(x, n, thresholds[i]);
        assert_abs(names[i], x, want, n, 0.0);
        free(want);
    }
    /* x == threshold is solarised (DM: where(x < t, x, 1 - x)). */
    float half = 0.5f;
    byol__aug_solarize(&half, 1, 0.5f);
    assert_true(half == 0.5f);
    float t = 0.3f;
    byol__aug_solarize(&t, 1, 0.3f);
    assert_true(t == 1.0f - 0.3f);
    free(x);
    free(x0);
    byol__st_close(f);
}

/* ---- resize, crop geometry ---------------------------------------------------------------- */

static void test_resize(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("resize");
    byol_image img3 = image(f, "image"), img1 = image(f, "image1");
    int checked = 0;
    for (int i = 0;; i++) {
        char key[64];
        snprintf(key, sizeof key, "case%d.box", i);
        if (!byol__st_find(f, key))
            break;
        int32_t *c = ints(f, key, NULL);
        const byol__box box = { c[0], c[1], c[2], c[3] };
        const byol_image *img = c[6] ? &img1 : &img3;
        size_t n;
        snprintf(key, sizeof key, "case%d.out", i);
        float *want = floats(f, key, &n);
        assert_int_equal(n, (size_t)img->channels * c[4] * c[4]);
        float *got = malloc(n * sizeof *got);
        assert_non_null(got);
        assert_byol_ok(byol__aug_resize(img, &box, c[5] ? BYOL__INTERP_BILINEAR
                                                        : BYOL__INTERP_BICUBIC, c[4], got));
        tu_assert_close(key, got, want, n, TOL_REL, 0);
        free(got);
        free(want);
        free(c);
        checked++;
    }
    assert_int_equal(checked, 10);
    free(img3.data);
    free(img1.data);
    byol__st_close(f);
}

/* A same-size bicubic resize is the identity (TF's table gives weights 0, 1, 0, 0). */
static void test_resize_identity(void **state)
{
    (void)state;
    uint8_t px[5 * 4 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    byol_image img = { sizeof img, 5, 4, 3, px };
    const byol__box box = { 0, 1, 4, 4 };
    float out[3 * 4 * 4];
    for (int32_t interp = 0; interp < 2; interp++) {
        assert_byol_ok(byol__aug_resize(&img, &box, interp, 4, out));
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                    assert_true(out[(c * 4 + y) * 4 + x] == (float)px[((y + 1) * 4 + x) * 3 + c]);
    }
}

static void test_crop_geometry(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("crop");
    size_t np;
    double *p = doubles(f, "params", &np), *u = doubles(f, "u", NULL);
    int32_t *box = ints(f, "box", NULL);
    for (size_t i = 0; i < np / 7; i++) {
        const double *q = p + 7 * i;
        byol__aug_view v = { .area_min = q[3], .area_max = q[4], .ratio_min = q[5],
                             .ratio_max = q[6] };
        byol__box b;
        byol__aug_crop_box(&v, (int32_t)q[0], (int32_t)q[1], (int32_t)q[2],
                           u + BYOL__CROP_UNIFORMS * i, &b);
        const int32_t *want = box + 4 * i;
        if (b.x != want[0] || b.y != want[1] || b.w != want[2] || b.h != want[3])
            fail_msg("crop case %zu (mode %g, %gx%g): box %d,%d %dx%d, want %d,%d %dx%d", i, q[0],
                     q[1], q[2], b.x, b.y, b.w, b.h, want[0], want[1], want[2], want[3]);
    }
    assert_int_equal(np / 7, 88);
    size_t nc;
    double *c = doubles(f, "center", &nc);
    for (size_t i = 0; i < nc / 7; i++) {
        const double *q = c + 7 * i;
        byol__box b;
        byol__aug_center_box((int32_t)q[0], (int32_t)q[1], q[2], &b);
        assert_int_equal(b.x, (int32_t)q[3]);
        assert_int_equal(b.y, (int32_t)q[4]);
        assert_int_equal(b.w, (int32_t)q[5]);
        assert_int_equal(b.h, (int32_t)q[6]);
    }
    free(c);
    free(box);
    free(u);
    free(p);
    byol__st_close(f);
}

/* ---- whole pipelines ----------------------------------------------------------------------- */

static void params_from(const double *v, byol__aug_params *p)
{
    memset(p, 0, sizeof *p);
    p->box = (byol__box){ (int32_t)v[0], (int32_t)v[1], (int32_t)v[2], (int32_t)v[3] };
    p->flip = (int32_t)v[4];
    p->jitter = (int32_t)v[5];
    p->nops = (int32_t)v[6];
    for (int i = 0; i < 4; i++)
        p->order[i] = (int32_t)v[7 + i];
    p->brightness = v[11];
    p->contrast = v[12];
    p->saturation = v[13];
    p->hue = v[14];
    p->gray = (int32_t)v[15];
    p->blur = (int32_t)v[16];
    p->sigma = v[17];
    p->solarize = (int32_t)v[18];
    p->threshold = v[19];
}

static void test_pipeline(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("pipeline");
    int checked = 0;
    for (int i = 0;; i++) {
        char key[64];
        snprintf(key, sizeof key, "case%d.config", i);
        const char *settings = byol__st_meta(f, key);
        if (!settings)
            break;
        snprintf(key, sizeof key, "case%d.image", i);
        byol_image img = image(f, byol__st_meta(f, key));
        byol_augmenter *aug = tu_augmenter(settings);
        byol__aug_params p;
        snprintf(key, sizeof key, "case%d.params", i);
        double *v = doubles(f, key, NULL);
        params_from(v, &p);
        size_t n;
        snprintf(key, sizeof key, "case%d.out", i);
        float *want = floats(f, key, &n), *got = malloc(n * sizeof *got);
        assert_non_null(got);
        assert_byol_ok(byol__aug_apply(aug, &p, &img, got));
        tu_assert_close(key, got, want, n, TOL_REL, 0);
        free(got);
        free(want);
        free(v);
        free(img.data);
        byol_augmenter_destroy(aug);
        checked++;
    }
    assert_int_equal(checked, 4);
    byol__st_close(f);
}

static void test_eval(void **state)
{
    (void)state;
    byol__st_file *f = open_fixture("pipeline");
    for (int i = 0; i < 2; i++) {
        char key[64];
        snprintf(key, sizeof key, "eval%d.config", i);
        byol_augmenter *aug = tu_augmenter(byol__st_meta(f, key));
        snprintf(key, sizeof key, "eval%d.image", i);
        byol_image img = image(f, byol__st_meta(f, key));
        size_t n;
        snprintf(key, sizeof key, "eval%d.out", i);
        float *want = floats(f, key, &n), *got = malloc(n * sizeof *got);
        assert_non_null(got);
        int64_t dims[3];
        assert_byol_ok(byol_augmenter_dims(aug, dims));
        assert_int_equal(n, (size_t)(dims[0] * dims[1] * dims[2]));
        assert_byol_ok(byol_augmenter_eval(aug, &img, got));
        tu_assert_close(key, got, want, n, TOL_REL, 0);
        free(got);
        free(want);
        free(img.data);
        byol_augmenter_destroy(aug);
    }
    byol__st_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hsv),
        cmocka_unit_test(test_jitter_ops),
        cmocka_unit_test(test_one_channel_and_gray),
        cmocka_unit_test(test_blur_taps),
        cmocka_unit_test(test_blur),
        cmocka_unit_test(test_solarize),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_resize_identity),
        cmocka_unit_test(test_crop_geometry),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
