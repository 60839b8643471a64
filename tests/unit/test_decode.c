/* Image decoding (byol_image_decode*) and PNG writing.
 *
 * Inputs are written byte by byte here from the format descriptions (PNG
 * chunks with zlib, BMP, TGA, PNM, GIF), not with stb_image_write, and
 * every converted pixel is compared with a hand computation of the
 * documented formulas, so a decoder setting or a conversion bug cannot
 * cancel itself out. Real photographs come from $BYOL_DATA_DIR/photos. */
#include <pthread.h>

#include "test_util.h"
#include "data_util.h"

/* ---- hand-made files ----------------------------------------------------- */

/* 24-bit BMP, bottom-up rows of BGR padded to 4 bytes; pix is RGB top-down. */
static size_t make_bmp(uint8_t *out, int w, int h, const uint8_t *pix)
{
    size_t stride = ((size_t)w * 3 + 3) & ~(size_t)3, size = 54 + stride * h;
    memset(out, 0, size);
    out[0] = 'B';
    out[1] = 'M';
    out[2] = (uint8_t)size;
    out[10] = 54;  /* pixel data offset */
    out[14] = 40;  /* BITMAPINFOHEADER */
    out[18] = (uint8_t)w;
    out[22] = (uint8_t)h;
    out[26] = 1;   /* planes */
    out[28] = 24;  /* bits per pixel */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                out[54 + (h - 1 - y) * stride + x * 3 + c] = pix[(y * w + x) * 3 + 2 - c];
    return size;
}

/* Uncompressed 32-bit TGA, top-left origin; pix is RGBA. */
static size_t make_tga(uint8_t *out, int w, int h, const uint8_t *pix)
{
    memset(out, 0, 18);
    out[2] = 2;          /* true color */
    out[12] = (uint8_t)w;
    out[14] = (uint8_t)h;
    out[16] = 32;
    out[17] = 0x28;      /* 8 alpha bits, top-left origin */
    for (int i = 0; i < w * h; i++) {
        out[18 + 4 * i] = pix[4 * i + 2];
        out[18 + 4 * i + 1] = pix[4 * i + 1];
        out[18 + 4 * i + 2] = pix[4 * i];
        out[18 + 4 * i + 3] = pix[4 * i + 3];
    }
    return 18 + 4 * (size_t)w * h;
}

/* A 1x1 GIF of two frames: red (palette entry 0), then black (entry 1).
 * LZW with 2-bit codes: clear (4), the index, end (5), packed LSB first. */
static const uint8_t two_frame_gif[] =
    "GIF89a\x01\x00\x01\x00\x80\x00\x00" "\xff\x00\x00" "\x00\x00\x00"
    "\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" "\x02\x02\x44\x01\x00"
    "\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" "\x02\x02\x4c\x01\x00" ";";

/* ---- decoding helpers ---------------------------------------------------- */

/* Decodes du_dir/name with data.channels=channels and checks every byte. */
static void expect_pixels(const char *name, int channels, int h, int w, const uint8_t *want)
{
    char settings[32];
    snprintf(settings, sizeof settings, "data.channels=%d", channels);
    byol_config *cfg = tu_config(settings);
    byol_image img = { .struct_size = sizeof img };
    assert_byol_ok(byol_image_decode(cfg, du_path(name), &img));
    assert_int_equal(img.height, h);
    assert_int_equal(img.width, w);
    assert_int_equal(img.channels, channels);
    for (int i = 0; i < h * w * channels; i++)
        if (img.data[i] != want[i])
            fail_msg("%s, %d channels: byte %d is %u, expected %u", name, channels, i,
                     img.data[i], want[i]);
    byol_image_release(&img);
    assert_null(img.data);
    byol_config_destroy(cfg);
}

/* Decoding must fail with code, and the message name the file and `what`. */
static void expect_failure(const byol_config *cfg, const char *path, int code, const char *what)
{
    byol_image img = { .struct_size = sizeof img, .data = (uint8_t *)&img };
    int rc = byol_image_decode(cfg, path, &img);
    if (rc != code)
        fail_msg("%s: status %d (%s), expected %d: %s", path, rc, byol_strerror(rc), code,
                 byol_last_error());
    assert_null(img.data);
    du_msg_has(path, what);
}

/* ---- conversions checked by hand -----------------------------------------------------
 * Gray = round(0.299 R + 0.587 G + 0.114 B), halves up:
 *   (255,0,0) -> 76.245 -> 76      (0,255,0) -> 149.685 -> 150
 *   (0,0,255) -> 29.07 -> 29       (10,20,30) -> 18.15 -> 18
 *   (200,100,50) -> 124.2 -> 124   (2,0,0) -> 0.598 -> 1
 *   (0,0,250) -> 28.5 -> 29 (a half: rounds up; truncation or stb's own
 *   (77 R + 150 G + 29 B) >> 8 would give 28). */

static void test_palette_png(void **state)
{
    (void)state;
    /* entry 0 red at alpha 0, entry 1 green at alpha 128, entry 2 opaque */
    const uint8_t plte[9] = { 255, 0, 0, 0, 255, 0, 10, 20, 30 }, trns[2] = { 0, 128 };
    const uint8_t idx[6] = { 0, 1, 2, 2, 1, 0 };
    const uint8_t rgb[18] = { 255, 0, 0, 0, 255, 0, 10, 20, 30,
                              10, 20, 30, 0, 255, 0, 255, 0, 0 };
    const uint8_t gray[6] = { 76, 150, 18, 18, 150, 76 };
    uint8_t file[1024];
    du_write("palette.png", file, du_png(file, 3, 2, 3, idx, plte, 9, trns, 2), 0);
    expect_pixels("palette.png", 3, 2, 3, rgb);   /* alpha dropped, not composited */
    expect_pixels("palette.png", 1, 2, 3, gray);
}

/* A pixel past the end of the palette is black (stb 2.27 alone would read
 * leftover stack bytes there); the palette is mended in a copy. */
static void test_index_past_palette(void **state)
{
    (void)state;
    const uint8_t plte[6] = { 10, 20, 30, 40, 50, 60 }, idx[3] = { 1, 5, 0 };
    const uint8_t rgb[9] = { 40, 50, 60, 0, 0, 0, 10, 20, 30 };
    uint8_t file[1024];
    du_write("short_palette.png", file, du_png(file, 3, 1, 3, idx, plte, 6, NULL, 0), 0);
    expect_pixels("short_palette.png", 3, 1, 3, rgb);
    /* an 8-bit BMP: 14 + 40 header bytes, 2 palette entries (BGRA), one row
     * of 3 indices padded to 4 bytes */
    uint8_t bmp[14 + 40 + 8 + 4] = { 'B', 'M', sizeof bmp, 0, 0, 0, 0, 0, 0, 0, 62, 0, 0, 0,
                                     40, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 8, 0 };
    memcpy(bmp + 54, "\x1e\x14\x0a\x00\x3c\x32\x28\x00", 8);
    memcpy(bmp + 62, "\x01\x07\x00\x00", 4);
    du_write("short_palette.bmp", bmp, sizeof bmp, 0);
    expect_pixels("short_palette.bmp", 3, 1, 3, rgb);
    bmp[10] = 0;  /* pixel data "inside" the header: stb would read no palette */
    du_write("no_palette.bmp", bmp, sizeof bmp, 0);
    expect_failure(NULL, du_path("no_palette.bmp"), BYOL_E_DECODE, "corrupt BMP");
}

static void test_gray_alpha_and_gray_png(void **state)
{
    (void)state;
    const uint8_t ga[4] = { 10, 0, 200, 255 }, g[2] = { 10, 200 };
    const uint8_t g3[6] = { 10, 10, 10, 200, 200, 200 };
    uint8_t file[1024];
    du_write("ga.png", file, du_png(file, 2, 1, 4, ga, NULL, 0, NULL, 0), 0);
    expect_pixels("ga.png", 1, 1, 2, g);    /* gray 10 at alpha 0 stays 10 */
    expect_pixels("ga.png", 3, 1, 2, g3);
    du_write("g.png", file, du_png(file, 1, 2, 0, g, NULL, 0, NULL, 0), 0);
    expect_pixels("g.png", 3, 2, 1, g3);
}

static void test_rgba_png_and_tga(void **state)
{
    (void)state;
    const uint8_t rgba[8] = { 200, 100, 50, 0, 0, 0, 250, 255 };
    const uint8_t rgb[6] = { 200, 100, 50, 0, 0, 250 }, gray[2] = { 124, 29 };
    uint8_t file[1024];
    du_write("rgba.png", file, du_png(file, 2, 1, 6, rgba, NULL, 0, NULL, 0), 0);
    expect_pixels("rgba.png", 3, 1, 2, rgb);
    expect_pixels("rgba.png", 1, 1, 2, gray);
    du_write("rgba.tga", file, make_tga(file, 2, 1, rgba), 0);
    expect_pixels("rgba.tga", 3, 1, 2, rgb);
    expect_pixels("rgba.tga", 1, 1, 2, gray);
}

static void test_bmp_pnm_gif(void **state)
{
    (void)state;
    const uint8_t rgb[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 2, 0, 0 };
    const uint8_t gray[4] = { 76, 150, 29, 1 };
    const uint8_t pgm[4] = { 0, 7, 128, 255 };
    const uint8_t pgm3[12] = { 0, 0, 0, 7, 7, 7, 128, 128, 128, 255, 255, 255 };
    const uint8_t red[3] = { 255, 0, 0 }, red_gray[1] = { 76 };
    uint8_t file[1024];
    du_write("rgb.bmp", file, make_bmp(file, 2, 2, rgb), 0);   /* rows stored bottom-up */
    expect_pixels("rgb.bmp", 3, 2, 2, rgb);
    expect_pixels("rgb.bmp", 1, 2, 2, gray);
    du_write("rgb.ppm", file, du_pnm(file, 2, 2, 3, rgb), 0);
    expect_pixels("rgb.ppm", 3, 2, 2, rgb);
    expect_pixels("rgb.ppm", 1, 2, 2, gray);
    du_write("g.pgm", file, du_pnm(file, 2, 2, 1, pgm), 0);
    expect_pixels("g.pgm", 1, 2, 2, pgm);
    expect_pixels("g.pgm", 3, 2, 2, pgm3);
    memcpy(file, two_frame_gif, sizeof two_frame_gif - 1);
    du_write("two.gif", file, sizeof two_frame_gif - 1, 0);
    expect_pixels("two.gif", 3, 1, 1, red);                   /* the first frame only */
    expect_pixels("two.gif", 1, 1, 1, red_gray);
}

static void test_rounding_half_up(void **state)
{
    (void)state;
    const uint8_t rgb[9] = { 0, 0, 250, 200, 100, 50, 10, 20, 30 };
    const uint8_t gray[3] = { 29, 124, 18 };
    uint8_t file[256];
    du_write("half.ppm", file, du_pnm(file, 3, 1, 3, rgb), 0);
    expect_pixels("half.ppm", 1, 1, 3, gray);
}

/* ---- the photographs ----------------------------------------------------- */

static const struct photo {
    const char *name;
    int height, width, gray;  /* gray: a 1-channel file */
} photos[] = {
    { "astronaut.png", 512, 512, 0 },     { "camera.png", 512, 512, 1 },
    { "chelsea.png", 300, 451, 0 },       { "coffee.png", 400, 600, 0 },
    { "foo3x5x4indexed.png", 3, 5, 0 },   { "green_palette.png", 240, 320, 0 },
    { "hubble_deep_field.jpg", 872, 1000, 0 }, { "palette_color.png", 10, 10, 0 },
    { "rocket.jpg", 427, 640, 0 },
};

static const struct photo *find_photo(const char *name)
{
    for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++)
        if (!strcmp(photos[i].name, name))
            return &photos[i];
    return NULL;
}

/* RGB and gray decodes of one photo: sizes as documented, gray = the
 * formula applied to the RGB decode, a gray file's RGB has equal channels. */
static void check_photo(const char *path, const struct photo *p)
{
    byol_config *gray_cfg = tu_config("data.channels=1");
    byol_image rgb = { .struct_size = sizeof rgb }, g = { .struct_size = sizeof g };
    assert_byol_ok(byol_image_decode(NULL, path, &rgb));
    assert_byol_ok(byol_image_decode(gray_cfg, path, &g));
    assert_int_equal(rgb.height, p->height);
    assert_int_equal(rgb.width, p->width);
    assert_int_equal(rgb.channels, 3);
    assert_int_equal(g.channels, 1);
    for (int i = 0; i < p->height * p->width; i++) {
        const uint8_t *c = rgb.data + 3 * i;
        unsigned want = (299u * c[0] + 587u * c[1] + 114u * c[2] + 500u) / 1000u;
        if (g.data[i] != want || (p->gray && (c[0] != c[1] || c[1] != c[2])))
            fail_msg("%s: pixel %d: RGB (%u,%u,%u), gray %u, expected gray %u", path, i, c[0],
                     c[1], c[2], g.data[i], want);
    }
    byol_image_release(&rgb);
    byol_image_release(&g);
    byol_config_destroy(gray_cfg);
}

/* Every file of the photos folder decodes as documented; truncated.jpg is
 * cut inside a Huffman table segment, before any scan: BYOL_E_DECODE,
 * "truncated JPEG data: the file ends before component 1 of 3 is decoded"
 * (libbyol's own check; stb_image alone fails there without a reason). */
static void test_photos(void **state)
{
    (void)state;
    char dir[512], path[1024];
    int seen = 0, truncated = 0;
    snprintf(dir, sizeof dir, "%s/photos", tu_data_dir());
    if (!du_require("the test photographs", dir, "They ship in ../shared/data/photos; "
                    "BYOL_DATA_DIR names another data folder."))
        return;
    DIR *d = opendir(dir);
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        const struct photo *p = find_photo(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!strcmp(de->d_name, "truncated.jpg")) {
            expect_failure(NULL, path, BYOL_E_DECODE, "truncated JPEG data: the file ends "
                           "before component 1 of 3 is decoded");
            truncated = 1;
        } else if (p) {
            check_photo(path, p);
            seen++;
        } else {
            fail_msg("%s: a photo this test does not know; add it to photos[]", path);
        }
    }
    closedir(d);
    assert_int_equal(seen, (int)(sizeof photos / sizeof photos[0]));
    assert_true(truncated);
}

/* ---- writing PNG --------------------------------------------------------- */

static void round_trip(int channels)
{
    char settings[32];
    uint8_t pix[7 * 5 * 3];
    float noise[sizeof pix];
    byol_image img = { sizeof img, 7, 5, channels, pix }, back = { .struct_size = sizeof back };
    tu_fill(noise, sizeof pix, 11u + (unsigned)channels, 1.0f);
    for (size_t i = 0; i < sizeof pix; i++)
        pix[i] = (uint8_t)(127.5f + 127.5f * noise[i]);
    snprintf(settings, sizeof settings, "data.channels=%d", channels);
    byol_config *cfg = tu_config(settings);
    /* twice: the second write replaces the first */
    assert_byol_ok(byol_image_write_png(du_path("rt.png"), &img));
    assert_byol_ok(byol_image_write_png(du_path("rt.png"), &img));
    assert_byol_ok(byol_image_decode(cfg, du_path("rt.png"), &back));
    assert_int_equal(back.height, 7);
    assert_int_equal(back.width, 5);
    assert_int_equal(back.channels, channels);
    assert_memory_equal(back.data, pix, 7 * 5 * (size_t)channels);
    byol_image_release(&back);
    byol_config_destroy(cfg);
}

static void test_png_round_trip(void **state)
{
    (void)state;
    round_trip(1);
    round_trip(3);
    assert_int_equal(du_count_temp_files(), 0);
}

static void test_png_write_errors(void **state)
{
    (void)state;
    uint8_t pix[12] = { 0 };
    byol_image img = { sizeof img, 2, 2, 3, pix };
    assert_int_equal(byol_image_write_png(du_path("no-such-folder/x.png"), &img), BYOL_E_IO);
    du_msg_has("no-such-folder/x.png", strerror(ENOENT));
    /* the target is a folder: refused before any temporary file, the folder stays */
    du_mkdir("a-folder.png");
    assert_int_equal(byol_image_write_png(du_path("a-folder.png"), &img), BYOL_E_IO);
    du_msg_has("a-folder.png", "is a directory");
    assert_int_equal(du_count_temp_files(), 0);
    img.channels = 2;
    assert_int_equal(byol_image_write_png(du_path("x.png"), &img), BYOL_E_INVALID_ARG);
    img.channels = 3;
    img.data = NULL;
    assert_int_equal(byol_image_write_png(du_path("x.png"), &img), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_image_write_png(du_path("x.png"), NULL), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_image_write_png(NULL, &img), BYOL_E_INVALID_ARG);
}

/* ---- limits and bad files ------------------------------------------------ */

/* A PNG header announcing 20000 x 20000 gray, and no pixel data at all:
 * only a check made before decoding can give BYOL_E_RANGE for it. */
static void test_max_pixels_before_decoding(void **state)
{
    (void)state;
    uint8_t file[64], ihdr[13] = { 0 }, pix[16] = { 0 };
    size_t n = 8;
    memcpy(file, "\x89PNG\r\n\x1a\n", 8);
    du_be32(ihdr, 20000);   /* 4e8 gray pixels: within stb's own limit of 2^30 bytes */
    du_be32(ihdr + 4, 20000);
    ihdr[8] = 8;
    n += du_png_chunk(file + n, "IHDR", ihdr, 13);
    n += du_png_chunk(file + n, "IEND", NULL, 0);
    du_write("bomb.png", file, n, 0);
    expect_failure(NULL, du_path("bomb.png"), BYOL_E_RANGE, "data.max_pixels=100000000");
    du_msg_has("20000x20000", "400000000 pixels");

    /* 30000 x 30000 RGB(A) is over stb's own limit, whose header pass
     * refuses it as "too large": max_pixels must speak first, as for GIF */
    for (uint8_t color = 2; color <= 6; color += 4) {
        n = 8;
        du_be32(ihdr, 30000);
        du_be32(ihdr + 4, 30000);
        ihdr[9] = color;
        n += du_png_chunk(file + n, "IHDR", ihdr, 13);
        n += du_png_chunk(file + n, "IEND", NULL, 0);
        du_write("huge.png", file, n, 0);
        expect_failure(NULL, du_path("huge.png"), BYOL_E_RANGE, "data.max_pixels=100000000");
        du_msg_has("30000x30000 PNG", "900000000 pixels");
    }
    /* a JPEG frame header (SOF0, 3 components) of 30000 x 30000 after an
     * APP0 segment, and nothing else */
    static const uint8_t jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 'J', 'F',
                                    0xff, 0xc0, 0x00, 0x11, 8, 0x75, 0x30, 0x75, 0x30, 3,
                                    1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 0xff, 0xd9 };
    du_write("huge.jpg", jpeg, sizeof jpeg, 0);
    expect_failure(NULL, du_path("huge.jpg"), BYOL_E_RANGE, "data.max_pixels=100000000");
    du_msg_has("30000x30000 JPEG", "900000000 pixels");

    uint8_t small[512];
    du_write("4x4.png", small, du_png(small, 4, 4, 0, pix, NULL, 0, NULL, 0), 0);
    byol_config *cfg = tu_config("data.max_pixels=15");
    expect_failure(cfg, du_path("4x4.png"), BYOL_E_RANGE, "data.max_pixels=15");
    assert_byol_ok(byol_config_parse(cfg, "data.max_pixels=16"));
    byol_image img = { .struct_size = sizeof img };
    assert_byol_ok(byol_image_decode(cfg, du_path("4x4.png"), &img));
    byol_image_release(&img);
    byol_config_destroy(cfg);
}

static void test_bad_files(void **state)
{
    (void)state;
    uint8_t file[2048], pix[32 * 32];
    for (size_t i = 0; i < sizeof pix; i++)
        pix[i] = (uint8_t)(i * 7919u >> 3);
    size_t n = du_png(file, 32, 32, 0, pix, NULL, 0, NULL, 0);
    du_write("empty.png", file, 0, 0);
    expect_failure(NULL, du_path("empty.png"), BYOL_E_DECODE, "empty file");
    du_write("text.jpg", "this is not an image\n", 21, 0);
    expect_failure(NULL, du_path("text.jpg"), BYOL_E_DECODE, "not an image");
    du_write("cut.png", file, n - 40, 0);  /* into the IDAT chunk */
    expect_failure(NULL, du_path("cut.png"), BYOL_E_DECODE, "PNG");
    du_write("cut.pgm", "P5\n4 4\n255\n0123456789abcde", 26, 0);
    expect_failure(NULL, du_path("cut.pgm"), BYOL_E_DECODE, "truncated PNM data: 26 bytes "
                   "where the header announces 27");
    /* one byte short: stb 2.27 would return uninitialised rows */
    du_write("cut.tga", file, make_tga(file, 4, 4, pix) - 1, 0);
    expect_failure(NULL, du_path("cut.tga"), BYOL_E_DECODE, "truncated TGA data: 81 bytes "
                   "where the header announces 82");
    /* fill bytes before SOI (stb accepts them), a frame and no scan */
    static const char noscan[] = "\xff\xff\xff\xd8\xff\xc0\x00\x11\x08\x00\x08\x00\x08"
                                 "\x03\x01\x22\x00\x02\x11\x00\x03\x11\x00\xff\xd9";
    du_write("noscan.jpg", noscan, sizeof noscan - 1, 0);
    expect_failure(NULL, du_path("noscan.jpg"), BYOL_E_DECODE, "corrupt JPEG: component 1 of "
                   "3 is never decoded by a scan");
    du_write("layers.psd", "8BPS\0\1\0\0\0\0\0\0\0\3", 14, 0);
    expect_failure(NULL, du_path("layers.psd"), BYOL_E_DECODE, "PSD images are not supported");
    expect_failure(NULL, du_path("missing.png"), BYOL_E_IO, strerror(ENOENT));
    /* a folder where a file is expected: unreadable even for root */
    expect_failure(NULL, du_dir, BYOL_E_IO, "not a regular file");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t file[256], pix[4] = { 1, 2, 3, 4 };
    size_t n = du_png(file, 2, 2, 0, pix, NULL, 0, NULL, 0);
    byol_image img = { .struct_size = sizeof img };
    byol_config *cfg = tu_config("data.channels=2");
    assert_int_equal(byol_image_decode_memory(cfg, file, n, "x", &img), BYOL_E_RANGE);
    du_msg_has("data.channels=2", NULL);
    byol_config_destroy(cfg);
    img.struct_size = 8;
    assert_int_equal(byol_image_decode_memory(NULL, file, n, "x", &img), BYOL_E_ABI);
    img.struct_size = sizeof img;
    assert_int_equal(byol_image_decode_memory(NULL, file, n, "x", NULL), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_image_decode_memory(NULL, NULL, 5, "x", &img), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_image_decode(NULL, NULL, &img), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_image_decode_memory(NULL, "junk", 4, NULL, &img), BYOL_E_DECODE);
    du_msg_has("<memory>", NULL);
    assert_byol_ok(byol_image_decode_memory(NULL, file, n, "x", &img));
    assert_int_equal(img.channels, 3);
    assert_int_equal(img.data[3 * 3 + 2], 4);
    byol_image_release(&img);
    byol_image_release(&img);  /* twice is harmless: data is NULL */
    byol_image_release(NULL);
}

/* ---- threads ------------------------------------------------------------- */

/* Each thread decodes inputs that fail at different stages of stb_image
 * with different reasons; every message must carry its own input's name and
 * reason, so a failure reason shared between threads would show. */
typedef struct worker {
    int id;
    const uint8_t *good, *bad_zlib, *cut;
    size_t good_len, bad_zlib_len, cut_len;
    char failure[512];
} worker;

static int check_one(worker *w, const uint8_t *b, size_t n, const char *kind, int want_rc,
                     const char *reason)
{
    char name[64];
    byol_image img = { .struct_size = sizeof img };
    snprintf(name, sizeof name, "%s-of-thread-%d", kind, w->id);
    int rc = byol_image_decode_memory(NULL, b, n, name, &img);
    byol_image_release(&img);
    if (rc == want_rc && (rc == BYOL_OK || (strstr(byol_last_error(), name) &&
                                            strstr(byol_last_error(), reason))))
        return 0;
    snprintf(w->failure, sizeof w->failure, "%s: status %d, message \"%s\"", name, rc,
             byol_last_error());
    return -1;
}

static void *decode_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 300; i++)
        if (check_one(w, w->bad_zlib, w->bad_zlib_len, "badzlib", BYOL_E_DECODE,
                      "bad zlib header") ||
            check_one(w, w->good, w->good_len, "good", BYOL_OK, "") ||
            check_one(w, (const uint8_t *)"junk!", 5, "junk", BYOL_E_DECODE, "not an image") ||
            check_one(w, w->cut, w->cut_len, "cut", BYOL_E_DECODE, "truncated PNG data"))
            break;
    return NULL;
}

static void test_errors_under_threads(void **state)
{
    (void)state;
    enum { N = 6 };
    uint8_t good[512], bad[512], pix[16] = { 9 };
    size_t good_len = du_png(good, 4, 4, 0, pix, NULL, 0, NULL, 0);
    memcpy(bad, good, good_len);
    bad[8 + 25 + 8] ^= 0xff;  /* the first byte of the zlib stream in IDAT */
    worker w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){ i, good, bad, good, good_len, good_len, good_len - 12, "" };
        assert_int_equal(pthread_create(&t[i], NULL, decode_worker, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < N; i++)
        if (w[i].failure[0])
            fail_msg("%s", w[i].failure);
}

/* ---- allocation failures ------------------------------------------------- */

static int decode_and_release(void *arg)
{
    byol_image img = { .struct_size = sizeof img };
    int rc = byol_image_decode(NULL, arg, &img);
    if (rc != BYOL_OK && img.data)
        fail_msg("a failed decode left out->data set");
    byol_image_release(&img);
    return rc;
}

static int write_png_file(void *arg)
{
    static uint8_t pix[6 * 4 * 3];
    byol_image img = { sizeof img, 6, 4, 3, pix };
    return byol_image_write_png(arg, &img);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    uint8_t file[512], pix[16] = { 3 };
    du_write("oom.png", file, du_png(file, 4, 4, 0, pix, NULL, 0, NULL, 0), 0);
    assert_true(tu_each_allocation_fails(decode_and_release, (void *)du_path("oom.png"), NULL)
                >= 2);
    assert_true(tu_each_allocation_fails(write_png_file, (void *)du_path("oomw.png"), NULL)
                >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_palette_png),
        cmocka_unit_test(test_index_past_palette),
        cmocka_unit_test(test_gray_alpha_and_gray_png),
        cmocka_unit_test(test_rgba_png_and_tga),
        cmocka_unit_test(test_bmp_pnm_gif),
        cmocka_unit_test(test_rounding_half_up),
        cmocka_unit_test(test_photos),
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_png_write_errors),
        cmocka_unit_test(test_max_pixels_before_decoding),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_errors_under_threads),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, du_setup, du_teardown);
}
