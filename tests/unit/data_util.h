/* Helpers of the tests that read and write files (decoding, datasets,
 * safetensors): a scratch folder, files written byte by byte, tiny
 * hand-made images, and the rule for real data that is absent. Include
 * after test_util.h. */
#ifndef BYOL_DATA_UTIL_H
#define BYOL_DATA_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "byol/byol_data.h"

/* ---- scratch folder ------------------------------------------------------ */

static char du_dir[64];

/* du_dir/name; a few results stay valid at once. */
static inline const char *du_path(const char *name)
{
    static char buf[8][sizeof du_dir + 256 + 2];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", du_dir, name);
    return buf[k];
}

static inline int du_setup(void **state)
{
    (void)state;
    strcpy(du_dir, "/tmp/byol_data_XXXXXX");
    return mkdtemp(du_dir) ? 0 : -1;
}

static inline int du_remove_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    if (lstat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    if (!(d = opendir(path)))
        return -1;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(path) + strlen(de->d_name) + 2;
        char *sub = malloc(n);
        if (sub && strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(sub, n, "%s/%s", path, de->d_name);
            du_remove_tree(sub);
        }
        free(sub);
    }
    closedir(d);
    return rmdir(path);
}

static inline int du_teardown(void **state)
{
    (void)state;
    return du_remove_tree(du_dir);
}

static inline void du_mkdir(const char *name)
{
    if (mkdir(du_path(name), 0755) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", du_path(name), strerror(errno));
}

/* Number of entries in du_dir whose name contains ".tmp." (leftovers of
 * an interrupted atomic save). */
static inline int du_count_temp_files(void)
{
    DIR *d = opendir(du_dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* Writes bytes as du_dir/name (gzip-compressed when gz). */
static inline void du_write(const char *name, const void *bytes, size_t len, int gz)
{
    const char *path = du_path(name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        assert_non_null(g);
        assert_int_equal(gzwrite(g, bytes, (unsigned)len), (int)len);
        assert_int_equal(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

/* Fails unless the last error message contains every needle. */
static inline void du_msg_has(const char *a, const char *b)
{
    const char *msg = byol_last_error();
    if (!strstr(msg, a) || (b && !strstr(msg, b)))
        fail_msg("error message \"%s\" does not mention \"%s\"%s%s%s", msg, a, b ? " and \"" : "",
                 b ? b : "", b ? "\"" : "");
}

/* ---- tiny images, written from the format descriptions ------------------- */

static inline void du_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline size_t du_png_chunk(uint8_t *out, const char *type, const uint8_t *data, size_t len)
{
    du_be32(out, (uint32_t)len);
    memcpy(out + 4, type, 4);
    if (len)
        memcpy(out + 8, data, len);
    du_be32(out + 8 + len, (uint32_t)crc32(0, out + 4, (uInt)(len + 4)));
    return 12 + len;
}

/* A PNG of 8-bit samples: color 0 gray, 2 RGB, 3 palette, 4 gray+alpha,
 * 6 RGBA; rows unfiltered. plte/trns may be NULL. Returns the size. */
static inline size_t du_png(uint8_t *out, int w, int h, int color, const uint8_t *pix,
                       const uint8_t *plte, size_t plte_len, const uint8_t *trns,
                       size_t trns_len)
{
    static const int channels[7] = { 1, 0, 3, 1, 2, 0, 4 };
    size_t row = (size_t)w * channels[color], n = 8;
    uint8_t ihdr[13] = { 0 }, raw[8192], z[8192];
    uLongf zlen = sizeof z;
    assert_true((row + 1) * h <= sizeof raw);
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    du_be32(ihdr, (uint32_t)w);
    du_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;
    ihdr[9] = (uint8_t)color;
    n += du_png_chunk(out + n, "IHDR", ihdr, 13);
    if (plte)
        n += du_png_chunk(out + n, "PLTE", plte, plte_len);
    if (trns)
        n += du_png_chunk(out + n, "tRNS", trns, trns_len);
    for (int y = 0; y < h; y++) {
        raw[y * (row + 1)] = 0; /* filter: none */
        memcpy(raw + y * (row + 1) + 1, pix + y * row, row);
    }
    assert_int_equal(compress(z, &zlen, raw, (uLong)((row + 1) * h)), Z_OK);
    n += du_png_chunk(out + n, "IDAT", z, zlen);
    n += du_png_chunk(out + n, "IEND", NULL, 0);
    return n;
}

static inline size_t du_pnm(uint8_t *out, int w, int h, int channels, const uint8_t *pix)
{
    int n = sprintf((char *)out, "P%d\n%d %d\n255\n", channels == 1 ? 5 : 6, w, h);
    memcpy(out + n, pix, (size_t)w * h * channels);
    return (size_t)n + (size_t)w * h * channels;
}

/* ---- real data ----------------------------------------------------------- */

/* 1 when path exists. Else, in a user's clone, a visible SKIPPED line and
 * a skip (cmocka counts it); with BYOL_REQUIRE_DATA=1 (.ci/run sets it, as
 * CI has the data) a failure saying what is missing and how to get it. */
static inline int du_require(const char *what, const char *path, const char *how)
{
    struct stat st;
    const char *require = getenv("BYOL_REQUIRE_DATA");
    if (stat(path, &st) == 0)
        return 1;
    if (!require || strcmp(require, "1")) {
        printf("SKIPPED: %s not found (%s is missing). %s\n", what, path, how);
        fflush(stdout);
        skip();
        return 0;
    }
    fail_msg("%s not found: %s is missing. %s (BYOL_REQUIRE_DATA=1: real data is mandatory.)",
             what, path, how);
    return 0;
}

/* Folder of the four Fashion-MNIST gzip IDX files: BYOL_FASHION_MNIST, else
 * where Debian's dataset-fashion-mnist puts them. NULL after a skip
 * (du_require: missing files are a skip unless BYOL_REQUIRE_DATA=1). */
static inline const char *du_fashion_mnist_dir(void)
{
    static const char *names[4] = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" };
    const char *dir = getenv("BYOL_FASHION_MNIST");
    char path[1024];
    if (!dir || !*dir)
        dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!du_require("Fashion-MNIST", path, "Install it with 'apt-get install -y "
                        "dataset-fashion-mnist' (Debian/Ubuntu), or point BYOL_FASHION_MNIST "
                        "at a folder holding train-images-idx3-ubyte.gz, "
                        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                        "t10k-labels-idx1-ubyte.gz."))
            return NULL;
    }
    return dir;
}

#endif
