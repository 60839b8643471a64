/* Decoding and image folders on data the test makes itself, so both are
 * covered in any clone (the photographs and CIFAR-10 JPEGs that
 * test_decode.c and test_dataset.c read may be absent there): smooth
 * gradients written as PNG by byol_image_write_png, as RGBA PNG and as
 * gray, RGB and RGBA BMP and JPEG by stb_image_write (Debian's libstb-dev),
 * into a class-folder tree with a nested folder and a bad file. Decoded
 * pixels must equal what was written for PNG and BMP; JPEG (quality 100,
 * which stb writes without chroma subsampling) must be within a mean
 * absolute error of JPEG_MEAN_TOL and a largest one of JPEG_MAX_TOL (measured at
 * 3 channels: 0.67 and 1 on rgb/r2.jpg). */
#include <stb_image_write.h>

#include "test_util.h"
#include "data_util.h"

#define JPEG_MEAN_TOL 1.0
#define JPEG_MAX_TOL 3

enum { BYOL_PNG, STB_PNG, STB_BMP, STB_JPG };

/* One written image: its path, format, size, channels and class. */
typedef struct written {
    const char *name;
    int format;
    int h, w, c;
    int label;
} written;

/* In the order the folder lists them: classes, then os.walk's order. */
static const written files[] = {
    { "tree/gray/g0.png", BYOL_PNG, 20, 24, 1, 0 },
    { "tree/gray/g1.bmp", STB_BMP, 17, 13, 1, 0 },
    { "tree/gray/g2.jpg", STB_JPG, 16, 16, 1, 0 },
    { "tree/rgb/r0.png", BYOL_PNG, 21, 25, 3, 1 },
    { "tree/rgb/r1.bmp", STB_BMP, 19, 22, 3, 1 },
    { "tree/rgb/r2.jpg", STB_JPG, 24, 32, 3, 1 },
    { "tree/rgb/sub/r3.JPEG", STB_JPG, 16, 24, 3, 1 },
    { "tree/rgba/a0.png", STB_PNG, 9, 11, 4, 2 },
    { "tree/rgba/a1.bmp", STB_BMP, 10, 7, 4, 2 },
};
enum { NFILES = sizeof files / sizeof files[0] };
static const char *const classes[] = { "gray", "rgb", "rgba", "zbad" };

/* A smooth gradient, different per image and channel (alpha too, which
 * the decoder must drop). */
static unsigned value(int i, int y, int x, int c)
{
    return 30u + 3u * (unsigned)x + 2u * (unsigned)y + 20u * (unsigned)c + 5u * (unsigned)i;
}

/* Byte k of image i decoded to `channels`, by the documented rules: gray
 * replicated, alpha dropped, RGB to gray by BT.601 luma (halves up). */
static unsigned expected(int i, int k, int channels)
{
    const written *f = &files[i];
    int pix = k / channels, y = pix / f->w, x = pix % f->w;
    if (f->c == 1)
        return value(i, y, x, 0);
    if (channels == 3)
        return value(i, y, x, k % 3);
    return (299u * value(i, y, x, 0) + 587u * value(i, y, x, 1) + 114u * value(i, y, x, 2) +
            500u) / 1000u;
}

static void write_one(int i)
{
    const written *f = &files[i];
    const char *path = du_path(f->name);
    uint8_t *p = malloc((size_t)f->h * f->w * f->c);
    assert_non_null(p);
    for (int k = 0; k < f->h * f->w * f->c; k++)
        p[k] = (uint8_t)value(i, k / f->c / f->w, k / f->c % f->w, k % f->c);
    byol_image img = { sizeof img, f->h, f->w, f->c, p };
    if (f->format == BYOL_PNG)
        assert_byol_ok(byol_image_write_png(path, &img));
    else if (f->format == STB_PNG)
        assert_true(stbi_write_png(path, f->w, f->h, f->c, p, f->w * f->c));
    else if (f->format == STB_BMP)
        assert_true(stbi_write_bmp(path, f->w, f->h, f->c, p));
    else
        assert_true(stbi_write_jpg(path, f->w, f->h, f->c, p, 100));
    free(p);
}

static int setup(void **state)
{
    const char *dirs[] = { "tree", "tree/gray", "tree/rgb", "tree/rgb/sub", "tree/rgba",
                           "tree/zbad" };
    if (du_setup(state) != 0)
        return -1;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        du_mkdir(dirs[i]);
    for (int i = 0; i < NFILES; i++)
        write_one(i);
    du_write("tree/zbad/bad.jpg", "\xff\xd8\xff not a JPEG after all", 25, 0);
    return 0;
}

/* img must be image i at `channels`: exact, or within the JPEG bounds. */
static void expect_image(const byol_image *img, int i, int channels)
{
    const written *f = &files[i];
    double sum = 0;
    int worst = 0, n = f->h * f->w * channels;
    assert_int_equal(img->height, f->h);
    assert_int_equal(img->width, f->w);
    assert_int_equal(img->channels, channels);
    for (int k = 0; k < n; k++) {
        int d = abs((int)img->data[k] - (int)expected(i, k, channels));
        sum += d;
        worst = d > worst ? d : worst;
        if (f->format != STB_JPG && d != 0)
            fail_msg("%s at %d channels: byte %d is %u, expected %u", f->name, channels, k,
                     img->data[k], expected(i, k, channels));
    }
    if (sum / n > JPEG_MEAN_TOL || worst > JPEG_MAX_TOL)
        fail_msg("%s at %d channels: mean error %.3f, largest %d (bounds %.1f, %d)", f->name,
                 channels, sum / n, worst, JPEG_MEAN_TOL, JPEG_MAX_TOL);
}

static byol_config *channels_config(int channels)
{
    char settings[32];
    snprintf(settings, sizeof settings, "data.channels=%d", channels);
    return tu_config(settings);
}

/* Every file, decoded by path, as 1 and as 3 channels. */
static void test_decode_written_files(void **state)
{
    (void)state;
    for (int channels = 1; channels <= 3; channels += 2) {
        byol_config *cfg = channels_config(channels);
        for (int i = 0; i < NFILES; i++) {
            byol_image img = { .struct_size = sizeof img };
            assert_byol_ok(byol_image_decode(cfg, du_path(files[i].name), &img));
            expect_image(&img, i, channels);
            byol_image_release(&img);
        }
        byol_config_destroy(cfg);
    }
}

/* The tree as a dataset: classes, labels, sources, sizes, pixels, and the
 * bad file named when it is read. */
static void test_folder_of_written_files(void **state)
{
    (void)state;
    for (int channels = 1; channels <= 3; channels += 2) {
        byol_config *cfg = channels_config(channels);
        byol_dataset *ds = NULL;
        assert_byol_ok(byol_dataset_open(cfg, du_path("tree"), &ds));
        assert_int_equal(byol_dataset_size(ds), NFILES + 1);
        assert_int_equal(byol_dataset_num_classes(ds), 4);
        for (int k = 0; k < 4; k++)
            assert_string_equal(byol_dataset_class_name(ds, k), classes[k]);
        for (int i = 0; i <= NFILES; i++) {
            int32_t label = -1;
            byol_image img = { .struct_size = sizeof img };
            assert_byol_ok(byol_dataset_label(ds, i, &label));
            assert_int_equal(label, i < NFILES ? files[i].label : 3);
            assert_string_equal(byol_dataset_source(ds, i),
                                i < NFILES ? files[i].name + 5 : "zbad/bad.jpg");
            if (i == NFILES) {
                assert_int_equal(byol_dataset_get(ds, i, &img), BYOL_E_DECODE);
                du_msg_has("tree/zbad/bad.jpg", NULL);
                continue;
            }
            assert_byol_ok(byol_dataset_get(ds, i, &img));
            expect_image(&img, i, channels);
            byol_image_release(&img);
        }
        byol_dataset_destroy(ds);
        byol_config_destroy(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_written_files),
        cmocka_unit_test(test_folder_of_written_files),
    };
    return cmocka_run_group_tests(tests, setup, du_teardown);
}
