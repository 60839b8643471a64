/* The preview grid: byol_preview_write's layout (upscaled cells, the label
 * row and column in the built-in font, the views' pixels) and
 * byol_preview_write_sample's seeded draw across classes. */
#include "test_util.h"
#include "data/preview.h"

enum { N = 40, H = 12, W = 10, C = 3, S = 8, SF = C * S * S };
enum { GAP = BYOL__PREVIEW_GAP, T = BYOL__PREVIEW_TEXT, K = 14, CELL = S * K }; /* 8 * 14 >= 112 */

static uint8_t pixels[N * H * W * C];
static int32_t labels[N];
static char png[64];

static byol_config *make_cfg(const char *extra)
{
    byol_config *cfg = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_apply_preset(cfg, "cifar10"));
    assert_byol_ok(byol_config_parse(cfg, "augment.size=8 seed=11"));
    if (extra)
        assert_byol_ok(byol_config_parse(cfg, extra));
    return cfg;
}

/* N images; labels 0 for the first 25, then 1, 2, 3 in turn (unbalanced). */
static byol_dataset *make_dataset(int labelled)
{
    byol_dataset *ds = NULL;
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)((i * 2654435761u) >> 13);
    for (int i = 0; i < N; i++)
        labels[i] = i < 25 ? 0 : 1 + i % 3;
    assert_byol_ok(byol_dataset_from_memory(NULL, pixels, N, H, W, C, labelled ? labels : NULL,
                                            &ds));
    return ds;
}

static byol_image read_png(void)
{
    byol_image img = { .struct_size = sizeof img };
    assert_byol_ok(byol_image_decode(NULL, png, &img));
    return img;
}

/* Text s at (x, y) of img: every pixel of each glyph's 6 x 7 box (scaled
 * by T) is black where the glyph has a dot, white elsewhere. */
static void expect_text(const byol_image *img, int x, int y, const char *s)
{
    for (int i = 0; s[i]; i++) {
        const uint8_t *g = byol__glyph(s[i]);
        for (int col = 0; col < 6 * T; col++)
            for (int row = 0; row < 7 * T; row++) {
                int dot = col < 5 * T && (g[col / T] >> (row / T) & 1);
                int px = x + i * BYOL__PREVIEW_ADVANCE + col;
                uint8_t got = img->data[((y + row) * img->width + px) * C];
                if (got != (dot ? 0 : 255))
                    fail_msg("\"%s\", character %d, pixel (%d, %d): %u, expected %s", s, i, col,
                             row, got, dot ? "black" : "white");
            }
    }
}

static void test_layout_and_labels(void **state)
{
    (void)state;
    byol_config *cfg = make_cfg(NULL), *plain = make_cfg("augment.mean=\"0,0,0\" "
                                                         "augment.std=\"1,1,1\"");
    byol_dataset *ds = make_dataset(1);
    byol_augmenter *aug = NULL;
    assert_byol_ok(byol_preview_write(cfg, ds, 25, 3, png));
    byol_image grid = read_png();
    const int left = GAP + 1 * BYOL__PREVIEW_ADVANCE + GAP, top = GAP + 7 * T + GAP;
    assert_true(CELL >= 96);
    assert_int_equal(grid.width, left + 3 * (CELL + GAP));
    assert_int_equal(grid.height, top + 3 * (CELL + GAP));
    /* the label row names the columns; each row names its class */
    expect_text(&grid, left, GAP, "eval crop");
    expect_text(&grid, left + CELL + GAP, GAP, "view 1");
    expect_text(&grid, left + 2 * (CELL + GAP), GAP, "view 2");
    for (int r = 0; r < 3; r++) {
        char name[8];
        snprintf(name, sizeof name, "%d", (int)labels[25 + r]);
        expect_text(&grid, GAP, top + r * (CELL + GAP) + (CELL - 7 * T) / 2, name);
    }
    /* row 1, column 2 is view 2 of image 26, un-normalised, each pixel K x K */
    assert_byol_ok(byol_augmenter_create(plain, &aug));
    byol_image img = { sizeof img, H, W, C, pixels + 26 * H * W * C };
    float v[SF];
    assert_byol_ok(byol_augmenter_view(aug, &img, 0, 26, 2, v));
    int y0 = top + CELL + GAP, x0 = left + 2 * (CELL + GAP);
    for (int y = 0; y < CELL; y++)
        for (int x = 0; x < CELL; x++)
            for (int c = 0; c < C; c++) {
                int want = (int)lrintf(v[(c * S + y / K) * S + x / K] * 255.0f);
                int got = grid.data[((y0 + y) * grid.width + x0 + x) * C + c];
                if (abs(got - want) > 1)
                    fail_msg("view 2 at (%d, %d, %d): %d, expected %d", y, x, c, got, want);
            }
    assert_int_equal(grid.data[0], 255); /* the white frame */
    assert_int_equal(byol_preview_write(cfg, ds, 38, 3, png), BYOL_E_RANGE);
    assert_int_equal(byol_preview_write(cfg, ds, 0, 0, png), BYOL_E_RANGE);
    assert_int_equal(byol_preview_write(cfg, NULL, 0, 1, png), BYOL_E_INVALID_ARG);
    byol_image_release(&grid);
    byol_augmenter_destroy(aug);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    byol_config_destroy(plain);
}

/* An unlabelled dataset's rows are labelled with the image's index. */
static void test_unlabelled_rows_name_the_index(void **state)
{
    (void)state;
    byol_config *cfg = make_cfg(NULL);
    byol_dataset *ds = make_dataset(0);
    assert_byol_ok(byol_preview_write(cfg, ds, 9, 2, png));
    byol_image grid = read_png();
    const int left = GAP + 3 * BYOL__PREVIEW_ADVANCE + GAP, top = GAP + 7 * T + GAP;
    assert_int_equal(grid.width, left + 3 * (CELL + GAP));
    expect_text(&grid, GAP, top + (CELL - 7 * T) / 2, "#9");
    expect_text(&grid, GAP, top + CELL + GAP + (CELL - 7 * T) / 2, "#10");
    byol_image_release(&grid);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

/* Distinct images; the classes take turns, so 8 images of 4 classes are
 * two of each though class 0 holds most images; a function of the seed. */
static void test_sample_spans_classes(void **state)
{
    (void)state;
    byol_dataset *ds = make_dataset(1);
    int64_t a[N], b[N], c[N];
    assert_int_equal(byol__preview_sample(ds, 7, 8, a), 8);
    assert_int_equal(byol__preview_sample(ds, 7, 8, b), 8);
    assert_int_equal(byol__preview_sample(ds, 8, 8, c), 8);
    assert_memory_equal(a, b, sizeof *a * 8);
    assert_memory_not_equal(a, c, sizeof *a * 8);
    int per_class[4] = { 0 };
    for (int i = 0; i < 8; i++) {
        per_class[labels[a[i]]]++;
        for (int j = 0; j < i; j++)
            assert_true(a[i] != a[j]);
    }
    for (int k = 0; k < 4; k++)
        assert_int_equal(per_class[k], 2);
    /* more than the dataset holds: each image once */
    assert_int_equal(byol__preview_sample(ds, 7, N + 5, a), N);
    int seen[N] = { 0 };
    for (int i = 0; i < N; i++)
        seen[a[i]]++;
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    byol_dataset_destroy(ds);

    ds = make_dataset(0);
    assert_int_equal(byol__preview_sample(ds, 3, 6, a), 6);
    assert_int_equal(byol__preview_sample(ds, 3, 6, b), 6);
    assert_memory_equal(a, b, sizeof *a * 6);
    for (int i = 0; i < 6; i++)
        assert_true(a[i] >= 0 && a[i] < N);
    byol_dataset_destroy(ds);
}

static uint8_t *file_bytes(size_t *len)
{
    FILE *f = fopen(png, "rb");
    uint8_t *buf = malloc(1 << 20);
    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* The same seed writes the same file; another seed another sample. */
static void test_write_sample_is_seeded(void **state)
{
    (void)state;
    byol_config *cfg = make_cfg(NULL), *other = make_cfg("seed=12");
    byol_dataset *ds = make_dataset(1);
    size_t n1, n2, n3;
    assert_byol_ok(byol_preview_write_sample(cfg, ds, 6, png));
    uint8_t *first = file_bytes(&n1);
    assert_byol_ok(byol_preview_write_sample(cfg, ds, 6, png));
    uint8_t *again = file_bytes(&n2);
    assert_byol_ok(byol_preview_write_sample(other, ds, 6, png));
    uint8_t *third = file_bytes(&n3);
    assert_int_equal(n1, n2);
    assert_memory_equal(first, again, n1);
    assert_true(n1 != n3 || memcmp(first, third, n1) != 0);
    byol_image grid = read_png();
    assert_int_equal(grid.height, GAP + 7 * T + GAP + 6 * (CELL + GAP));
    byol_image_release(&grid);
    assert_int_equal(byol_preview_write_sample(cfg, ds, 0, png), BYOL_E_RANGE);
    assert_int_equal(byol_preview_write_sample(cfg, ds, 257, png), BYOL_E_RANGE);
    assert_int_equal(byol_preview_write_sample(cfg, ds, 1, NULL), BYOL_E_INVALID_ARG);
    assert_byol_ok(byol_preview_write_sample(NULL, ds, 1, png)); /* defaults, seed 0 */
    free(first);
    free(again);
    free(third);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    byol_config_destroy(other);
}

static int write_sample(void *ds)
{
    return byol_preview_write_sample(NULL, ds, 4, png);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    byol_dataset *ds = make_dataset(1);
    assert_true(tu_each_allocation_fails(write_sample, ds, NULL) >= 3);
    byol_dataset_destroy(ds);
}

static int setup(void **state)
{
    (void)state;
    snprintf(png, sizeof png, "/tmp/byol_preview_%d.png", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(png);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_and_labels),
        cmocka_unit_test(test_unlabelled_rows_name_the_index),
        cmocka_unit_test(test_sample_spans_classes),
        cmocka_unit_test(test_write_sample_is_seeded),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
