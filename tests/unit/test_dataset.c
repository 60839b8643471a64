/* Datasets: image folders, IDX files, CIFAR batches, caller memory, and
 * the real CIFAR-10 JPEG folders and Fashion-MNIST.
 *
 * The small files are written here byte by byte from the format
 * descriptions, with pixel values from a formula, so every image a dataset
 * returns is compared with an independent computation. The real data is
 * checked against the counts its publishers give, and Fashion-MNIST's
 * pixels against a plain zlib read of the file. */
#include <pthread.h>

#include "test_util.h"
#include "data_util.h"
#include "data/dataset.h"

/* ---- helpers ------------------------------------------------------------- */

static byol_dataset *open_ok(const char *settings, const char *path)
{
    byol_config *cfg = tu_config(settings);
    byol_dataset *ds = NULL;
    int rc = byol_dataset_open(cfg, path, &ds);
    if (rc != BYOL_OK)
        fail_msg("byol_dataset_open(%s) with \"%s\": status %d: %s", path,
                 settings ? settings : "", rc, byol_last_error());
    byol_config_destroy(cfg);
    return ds;
}

/* Opening must fail with code and a message naming `a` (and `b`). */
static void open_fails(const char *settings, const char *path, int code, const char *a,
                       const char *b)
{
    byol_config *cfg = tu_config(settings);
    byol_dataset *ds = (byol_dataset *)&cfg;  /* must be reset to NULL */
    int rc = byol_dataset_open(cfg, path, &ds);
    if (rc != code)
        fail_msg("byol_dataset_open(%s): status %d (%s), expected %d: %s", path, rc,
                 byol_strerror(rc), code, byol_last_error());
    assert_null(ds);
    du_msg_has(a, b);
    byol_config_destroy(cfg);
}

static int32_t label_of(const byol_dataset *ds, int64_t i)
{
    int32_t l = -2;
    assert_byol_ok(byol_dataset_label(ds, i, &l));
    return l;
}

/* Image i must be h x w x c with byte k equal to want(i, k). */
static void expect_image(const byol_dataset *ds, int64_t i, int h, int w, int c,
                         unsigned (*want)(int64_t, int), const char *what)
{
    byol_image img = { .struct_size = sizeof img };
    assert_byol_ok(byol_dataset_get(ds, i, &img));
    assert_int_equal(img.height, h);
    assert_int_equal(img.width, w);
    assert_int_equal(img.channels, c);
    for (int k = 0; k < h * w * c; k++)
        if (img.data[k] != want(i, k))
            fail_msg("%s: image %lld, byte %d is %u, expected %u", what, (long long)i, k,
                     img.data[k], want(i, k));
    byol_image_release(&img);
}

static unsigned luma(unsigned r, unsigned g, unsigned b)
{
    return (299u * r + 587u * g + 114u * b + 500u) / 1000u;  /* BT.601, halves up */
}

/* ---- image folders ------------------------------------------------------- */

/* One gray pixel of value v as a PGM or a PNG file. */
static void write_pixel(const char *name, uint8_t v, int png)
{
    uint8_t file[256];
    du_write(name, file, png ? du_png(file, 1, 1, 0, &v, NULL, 0, NULL, 0)
                             : du_pnm(file, 1, 1, 1, &v), 0);
}

static unsigned folder_pixel(int64_t i, int k)
{
    (void)k;
    return (unsigned)(10 * (i + 1));  /* 10, 20, 30, ... in the dataset's order */
}

/* Warnings the library logs while a test runs. */
static char warnings[4096];

static void keep_warning(int level, const char *msg, void *user)
{
    (void)user;
    if (level == BYOL_LOG_WARN && strlen(warnings) + strlen(msg) + 2 < sizeof warnings) {
        strcat(warnings, msg);
        strcat(warnings, "\n");
    }
}

static void warnings_start(void)
{
    warnings[0] = '\0';
    byol_set_log_callback(keep_warning, NULL, BYOL_LOG_WARN);
}

static void warnings_stop(void)
{
    byol_set_log_callback(NULL, NULL, 0);
}

static void test_folder_classes(void **state)
{
    (void)state;
    const char *dirs[] = { "f", "f/b", "f/a", "f/c", "f/.hidden", "f/a/nested" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        du_mkdir(dirs[i]);
    write_pixel("f/a/2.pgm", 20, 0);
    write_pixel("f/a/10.PGM", 10, 0);  /* "10.PGM" < "2.pgm" by strcmp; any case */
    write_pixel("f/b/z.png", 40, 1);
    write_pixel("f/a/.x.pgm", 99, 0);  /* hidden */
    write_pixel("f/a/nested/n.pgm", 30, 0);  /* after the files of f/a */
    write_pixel("f/.hidden/q.pgm", 99, 0);
    du_write("f/a/notes.txt", "not an image", 12, 0);
    warnings_start();
    byol_dataset *ds = open_ok(NULL, du_path("f"));
    warnings_stop();
    assert_int_equal(byol_dataset_size(ds), 4);
    assert_int_equal(byol_dataset_num_classes(ds), 3);  /* c is a class with no image */
    if (!strstr(warnings, "class folder \"c\" holds no image files: class 2"))
        fail_msg("no warning about the empty class folder c; logged: \"%s\"", warnings);
    assert_string_equal(byol_dataset_class_name(ds, 0), "a");
    assert_string_equal(byol_dataset_class_name(ds, 1), "b");
    assert_string_equal(byol_dataset_class_name(ds, 2), "c");
    assert_null(byol_dataset_class_name(ds, 3));
    assert_null(byol_dataset_class_name(ds, -1));
    assert_int_equal(label_of(ds, 0), 0);
    assert_int_equal(label_of(ds, 1), 0);
    assert_int_equal(label_of(ds, 2), 0);
    assert_int_equal(label_of(ds, 3), 1);
    for (int i = 0; i < 4; i++)
        expect_image(ds, i, 1, 1, 3, folder_pixel, "class folder");
    byol_dataset_destroy(ds);
}

/* Images at any depth of a class folder, in torchvision's order: the
 * folders sorted by path ("s" < "s-b" < "s/deep"), each one's files by
 * name; a link back to an enclosing folder is skipped with a warning. */
static void test_folder_nested(void **state)
{
    (void)state;
    const char *dirs[] = { "deep",        "deep/a",        "deep/a/s", "deep/a/s/deep",
                           "deep/a/s-b",  "deep/b",        "deep/b/empty", "deep/c" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        du_mkdir(dirs[i]);
    write_pixel("deep/a/z.pgm", 10, 0);         /* the class folder's own files first */
    write_pixel("deep/a/s/x.pgm", 20, 0);
    write_pixel("deep/a/s-b/y.png", 30, 1);
    write_pixel("deep/a/s/deep/w.pgm", 40, 0);
    write_pixel("deep/c/v.pgm", 50, 0);
    assert_int_equal(symlink("..", du_path("deep/c/loop")), 0);  /* the dataset root */
    assert_int_equal(symlink(".", du_path("deep/a/s/self")), 0);
    warnings_start();
    byol_dataset *ds = open_ok(NULL, du_path("deep"));
    warnings_stop();
    assert_int_equal(byol_dataset_size(ds), 5);
    assert_int_equal(byol_dataset_num_classes(ds), 3);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(label_of(ds, i), i < 4 ? 0 : 2);
        expect_image(ds, i, 1, 1, 3, folder_pixel, "nested folders");
    }
    const char *want[] = { "class folder \"b\" holds no image files: class 1 has no samples",
                           "deep/c/loop: a link back to an enclosing folder, skipped",
                           "deep/a/s/self: a link back to an enclosing folder, skipped" };
    for (int i = 0; i < 3; i++)
        if (!strstr(warnings, want[i]))
            fail_msg("no warning \"%s\"; logged: \"%s\"", want[i], warnings);
    byol_dataset_destroy(ds);
}

/* Each image's path relative to the folder opened; none for records. */
static void test_sources(void **state)
{
    (void)state;
    static const char *const want[5] = { "a/z.pgm", "a/s/x.pgm", "a/s-b/y.png",
                                         "a/s/deep/w.pgm", "c/v.pgm" };
    char root[600];
    snprintf(root, sizeof root, "%s/", du_path("deep"));  /* a trailing slash too */
    for (int slash = 0; slash < 2; slash++) {
        byol_dataset *ds = open_ok(NULL, slash ? root : du_path("deep"));
        for (int i = 0; i < 5; i++)
            assert_string_equal(byol_dataset_source(ds, i), want[i]);
        assert_null(byol_dataset_source(ds, 5));
        assert_null(byol_dataset_source(ds, -1));
        byol_dataset_destroy(ds);
    }
    byol_dataset *ds = open_ok(NULL, du_path("loose"));
    assert_string_equal(byol_dataset_source(ds, 0), "x.pgm");
    assert_string_equal(byol_dataset_source(ds, 2), "z.ppm");
    byol_dataset_destroy(ds);
    ds = open_ok(NULL, du_path("plain-images-idx3-ubyte"));
    assert_null(byol_dataset_source(ds, 0));
    byol_dataset_destroy(ds);
    const uint8_t g[1] = { 7 };
    assert_byol_ok(byol_dataset_from_memory(NULL, g, 1, 1, 1, 1, NULL, &ds));
    assert_null(byol_dataset_source(ds, 0));
    byol_dataset_destroy(ds);
    assert_null(byol_dataset_source(NULL, 0));
}

static void test_folder_unlabeled_and_bad(void **state)
{
    (void)state;
    du_mkdir("loose");
    write_pixel("loose/y.png", 20, 1);
    write_pixel("loose/x.pgm", 10, 0);
    write_pixel("loose/z.ppm", 30, 0);
    byol_dataset *ds = open_ok("data.channels=1 data.format=folder", du_path("loose"));
    assert_int_equal(byol_dataset_size(ds), 3);
    assert_int_equal(byol_dataset_num_classes(ds), 0);
    assert_null(byol_dataset_class_name(ds, 0));
    assert_int_equal(label_of(ds, 2), -1);
    for (int i = 0; i < 3; i++)
        expect_image(ds, i, 1, 1, 1, folder_pixel, "loose files");
    byol_dataset_destroy(ds);

    du_mkdir("empty");
    open_fails(NULL, du_path("empty"), BYOL_E_FORMAT, du_path("empty"), "empty folder");
    du_mkdir("hollow");
    du_mkdir("hollow/a");
    du_write("hollow/a/readme.md", "x", 1, 0);
    open_fails(NULL, du_path("hollow"), BYOL_E_FORMAT, du_path("hollow"), "hold no image");
    du_mkdir("mixed");
    du_mkdir("mixed/a");
    write_pixel("mixed/x.pgm", 1, 0);
    open_fails(NULL, du_path("mixed"), BYOL_E_FORMAT, du_path("mixed"), "both");
    open_fails("data.format=folder", du_path("loose/x.pgm"), BYOL_E_FORMAT, "x.pgm",
               "needs a folder");

    /* a bad file is found when read, and named */
    du_mkdir("broken");
    du_write("broken/bad.png", "\x89PNG\r\n\x1a\n garbage", 17, 0);
    ds = open_ok(NULL, du_path("broken"));
    byol_image img = { .struct_size = sizeof img };
    assert_int_equal(byol_dataset_get(ds, 0, &img), BYOL_E_DECODE);
    assert_null(img.data);
    du_msg_has("broken/bad.png", NULL);
    byol_dataset_destroy(ds);
}

/* ---- IDX ----------------------------------------------------------------- */

#define IDX_N 3
#define IDX_H 2
#define IDX_W 3
static const uint8_t idx_labels[IDX_N] = { 2, 0, 5 };

static unsigned idx_pixel(int64_t i, int k)
{
    return (unsigned)(40 * i + 7 * k + 1);
}

static unsigned idx_pixel_rgb(int64_t i, int k)
{
    return idx_pixel(i, k / 3);
}

/* An unsigned-byte IDX file: dims then elements; extra > 0 appends bytes,
 * extra < 0 drops them. */
static void write_idx(const char *name, int ndims, const uint32_t *dims, const uint8_t *data,
                      int extra, int gz)
{
    uint8_t buf[8192] = { 0, 0, 0x08, (uint8_t)ndims };
    size_t n = 4, count = 1;
    for (int d = 0; d < ndims; d++) {
        du_be32(buf + n, dims[d]);
        n += 4;
        count *= dims[d];
    }
    assert_true(n + count + 1 <= sizeof buf);
    memcpy(buf + n, data, count);
    du_write(name, buf, (size_t)((int)(n + count) + extra), gz);
}

static void write_idx_pair(const char *prefix, int gz, int with_labels)
{
    const uint32_t img_dims[3] = { IDX_N, IDX_H, IDX_W }, lab_dims[1] = { IDX_N };
    uint8_t pix[IDX_N * IDX_H * IDX_W];
    char name[128];
    for (int i = 0; i < IDX_N; i++)
        for (int k = 0; k < IDX_H * IDX_W; k++)
            pix[i * IDX_H * IDX_W + k] = (uint8_t)idx_pixel(i, k);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    write_idx(name, 3, img_dims, pix, 0, gz);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    if (with_labels)
        write_idx(name, 1, lab_dims, idx_labels, 0, gz);
}

static void check_idx(const byol_dataset *ds, int labeled)
{
    assert_int_equal(byol_dataset_size(ds), IDX_N);
    assert_int_equal(byol_dataset_num_classes(ds), labeled ? 6 : 0);  /* largest label + 1 */
    if (labeled)
        assert_string_equal(byol_dataset_class_name(ds, 5), "5");
    for (int i = 0; i < IDX_N; i++) {
        assert_int_equal(label_of(ds, i), labeled ? idx_labels[i] : -1);
        expect_image(ds, i, IDX_H, IDX_W, 3, idx_pixel_rgb, "IDX");
    }
}

static void test_idx_files(void **state)
{
    (void)state;
    write_idx_pair("plain", 0, 1);
    write_idx_pair("zipped", 1, 1);
    write_idx_pair("alone", 0, 0);
    byol_dataset *ds = open_ok(NULL, du_path("plain-images-idx3-ubyte"));
    check_idx(ds, 1);
    byol_dataset_destroy(ds);
    ds = open_ok(NULL, du_path("zipped-images-idx3-ubyte.gz"));
    check_idx(ds, 1);
    byol_dataset_destroy(ds);
    ds = open_ok("data.channels=1", du_path("zipped-images-idx3-ubyte.gz"));
    expect_image(ds, 2, IDX_H, IDX_W, 1, idx_pixel, "IDX gray");
    byol_dataset_destroy(ds);
    ds = open_ok(NULL, du_path("alone-images-idx3-ubyte"));
    check_idx(ds, 0);
    byol_dataset_destroy(ds);
    /* data.labels names the labels file */
    char settings[600];
    snprintf(settings, sizeof settings, "data.labels=\"%s\"",
             du_path("zipped-labels-idx1-ubyte.gz"));
    ds = open_ok(settings, du_path("alone-images-idx3-ubyte"));
    check_idx(ds, 1);
    byol_dataset_destroy(ds);
}

static void test_idx_folder(void **state)
{
    (void)state;
    du_mkdir("mnist");
    write_idx_pair("mnist/train", 1, 1);
    const uint32_t dims[3] = { 1, 1, 1 };
    write_idx("mnist/t10k-images-idx3-ubyte", 3, dims, (const uint8_t *)"\x2a", 0, 0);
    byol_dataset *ds = open_ok(NULL, du_path("mnist"));
    check_idx(ds, 1);
    byol_dataset_destroy(ds);
    ds = open_ok("data.split=test", du_path("mnist"));
    assert_int_equal(byol_dataset_size(ds), 1);
    assert_int_equal(byol_dataset_num_classes(ds), 0);
    byol_dataset_destroy(ds);
}

static void test_idx_bad(void **state)
{
    (void)state;
    const uint32_t dims[3] = { IDX_N, IDX_H, IDX_W }, two[1] = { 2 };
    uint8_t pix[IDX_N * IDX_H * IDX_W + 1] = { 0 };
    write_idx("short-images-idx3-ubyte", 3, dims, pix, -1, 0);
    open_fails(NULL, du_path("short-images-idx3-ubyte"), BYOL_E_FORMAT,
               "short-images-idx3-ubyte: the IDX header announces 3x2x3, 34 bytes with the "
               "header, but the file holds 33 bytes", NULL);
    write_idx("long-images-idx3-ubyte.gz", 3, dims, pix, 1, 1);
    open_fails(NULL, du_path("long-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "long-images-idx3-ubyte.gz", "34 bytes with the header, but the file holds 35");
    write_idx_pair("few", 0, 0);
    write_idx("few-labels-idx1-ubyte", 1, two, idx_labels, 0, 0);
    open_fails(NULL, du_path("few-images-idx3-ubyte"), BYOL_E_FORMAT,
               "few-labels-idx1-ubyte: 2 labels for the 3 images", "few-images-idx3-ubyte");
    du_write("float-images", "\0\0\x0d\x03\0\0\0\1\0\0\0\1\0\0\0\1\0\0\0\0", 20, 0);
    open_fails("data.format=idx", du_path("float-images"), BYOL_E_FORMAT, "float-images",
               "element type 0x0d");
    /* a gzip stream cut short */
    uint8_t big[4096];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 24);
    const uint32_t big_dims[3] = { 4, 32, 32 };
    write_idx("cut-images-idx3-ubyte.gz", 3, big_dims, big, 0, 1);
    struct stat st;
    assert_int_equal(stat(du_path("cut-images-idx3-ubyte.gz"), &st), 0);
    assert_int_equal(truncate(du_path("cut-images-idx3-ubyte.gz"), st.st_size / 2), 0);
    open_fails(NULL, du_path("cut-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "cut-images-idx3-ubyte.gz", "gzip");
    open_fails("data.format=idx", du_path("nothing-images-idx3-ubyte"), BYOL_E_IO,
               "nothing-images-idx3-ubyte", strerror(ENOENT));
    char settings[600];
    snprintf(settings, sizeof settings, "data.labels=\"%s\"", du_path("no-labels"));
    open_fails(settings, du_path("plain-images-idx3-ubyte"), BYOL_E_IO, "no-labels", NULL);
    open_fails("data.format=idx", du_path("f"), BYOL_E_IO, "train-images-idx3-ubyte", NULL);
}

/* A labels file that is a FIFO or a folder (named by data.labels, or found
 * beside the images) is an error naming it, at once: the open used to wait
 * for a writer, and a sibling that was no regular file gave an unlabelled
 * set. (The alarm kills the program if a regression hangs again.) */
static void test_idx_labels_not_a_file(void **state)
{
    (void)state;
    char settings[600];
    alarm(10);
    write_idx_pair("fifo", 0, 1);
    assert_int_equal(mkfifo(du_path("labels-fifo"), 0600), 0);
    snprintf(settings, sizeof settings, "data.labels=\"%s\"", du_path("labels-fifo"));
    open_fails(settings, du_path("fifo-images-idx3-ubyte"), BYOL_E_IO, "labels-fifo",
               "is a FIFO");
    du_mkdir("labels-folder");
    snprintf(settings, sizeof settings, "data.labels=\"%s\"", du_path("labels-folder"));
    open_fails(settings, du_path("fifo-images-idx3-ubyte"), BYOL_E_IO, "labels-folder",
               "is a directory");
    unlink(du_path("fifo-labels-idx1-ubyte"));
    assert_int_equal(mkfifo(du_path("fifo-labels-idx1-ubyte"), 0600), 0);
    open_fails(NULL, du_path("fifo-images-idx3-ubyte"), BYOL_E_IO, "fifo-labels-idx1-ubyte",
               "is a FIFO");
    unlink(du_path("fifo-labels-idx1-ubyte"));
    du_mkdir("fifo-labels-idx1-ubyte");
    open_fails(NULL, du_path("fifo-images-idx3-ubyte"), BYOL_E_IO, "fifo-labels-idx1-ubyte",
               "is a directory");
    rmdir(du_path("fifo-labels-idx1-ubyte"));
    assert_int_equal(symlink("no-such-labels", du_path("fifo-labels-idx1-ubyte")), 0);
    open_fails(NULL, du_path("fifo-images-idx3-ubyte"), BYOL_E_IO, "fifo-labels-idx1-ubyte",
               NULL);
    /* the images file itself (refused by its type before the labels too) */
    assert_int_equal(mkfifo(du_path("images-fifo"), 0600), 0);
    open_fails("data.format=idx", du_path("images-fifo"), BYOL_E_IO, "images-fifo", NULL);
    alarm(0);
}

/* The bytes of a file, gzip-compressed as `members` members one after the
 * other, then `extra` (not compressed), written as name. */
static void write_gz_members(const char *name, const uint8_t *bytes, size_t len, int members,
                             const void *extra, size_t extra_len)
{
    FILE *out = fopen(du_path(name), "wb");
    assert_non_null(out);
    for (int m = 0; m < members; m++) {
        size_t from = len * (size_t)m / (size_t)members, to = len * (size_t)(m + 1) / members;
        uint8_t z[1024];
        z_stream zs = { 0 };
        assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
                         Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)(bytes + from);
        zs.avail_in = (uInt)(to - from);
        zs.next_out = z;
        zs.avail_out = sizeof z;
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        assert_int_equal(fwrite(z, 1, sizeof z - zs.avail_out, out), sizeof z - zs.avail_out);
        deflateEnd(&zs);
    }
    if (extra_len)
        assert_int_equal(fwrite(extra, 1, extra_len, out), extra_len);
    assert_int_equal(fclose(out), 0);
}

/* Several gzip members are one stream (RFC 1952; gunzip and zlib's gzread
 * read them so); bytes after the last one that begin no member are an
 * error, where gzread silently ignored them. */
static void test_idx_gzip_members_and_trailing_data(void **state)
{
    (void)state;
    static const uint8_t zeros[16], junk[] = "JUNK", half_magic[] = { 0x1f };
    size_t len;
    write_idx_pair("members", 0, 0);
    uint8_t *plain = tu_slurp(du_path("members-images-idx3-ubyte"), &len);
    write_gz_members("three-images-idx3-ubyte.gz", plain, len, 3, NULL, 0);
    byol_dataset *ds = open_ok(NULL, du_path("three-images-idx3-ubyte.gz"));
    check_idx(ds, 0);
    byol_dataset_destroy(ds);
    write_gz_members("junk-images-idx3-ubyte.gz", plain, len, 1, junk, 4);
    open_fails(NULL, du_path("junk-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "junk-images-idx3-ubyte.gz", "trailing data after the gzip stream");
    write_gz_members("zeros-images-idx3-ubyte.gz", plain, len, 1, zeros, sizeof zeros);
    open_fails("data.format=idx", du_path("zeros-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "zeros-images-idx3-ubyte.gz", "trailing data");
    write_gz_members("half-images-idx3-ubyte.gz", plain, len, 2, half_magic, 1);
    open_fails(NULL, du_path("half-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "half-images-idx3-ubyte.gz", "trailing data");
    free(plain);
}

/* The buffer parser itself, as the fuzz target calls it. */
static void test_idx_parse(void **state)
{
    (void)state;
    const uint8_t ok[12] = { 0, 0, 8, 1, 0, 0, 0, 4, 9, 8, 7, 6 };
    byol__idx idx;
    assert_byol_ok(byol__idx_parse(ok, sizeof ok, "ok", 1, &idx));
    assert_int_equal(idx.dims[0], 4);
    assert_int_equal(idx.data_len, 4);
    assert_int_equal(idx.data[3], 6);
    assert_int_equal(byol__idx_parse(ok, 11, "cut", 1, &idx), BYOL_E_FORMAT);
    assert_int_equal(byol__idx_parse(ok, sizeof ok, "dims", 3, &idx), BYOL_E_FORMAT);
    assert_int_equal(byol__idx_parse(ok, 3, "tiny", 1, &idx), BYOL_E_FORMAT);
    const uint8_t huge[16] = { 0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
                               255, 255 };
    assert_int_equal(byol__idx_parse(huge, sizeof huge, "huge", 3, &idx), BYOL_E_FORMAT);
    du_msg_has("huge", NULL);
    const uint8_t zero[16] = { 0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1 };
    assert_int_equal(byol__idx_parse(zero, sizeof zero, "zero", 3, &idx), BYOL_E_FORMAT);
    du_msg_has("dimension 0 is 0", NULL);
}

/* ---- CIFAR --------------------------------------------------------------- */

/* Channel c (0 R, 1 G, 2 B) of pixel p of record r. */
static uint8_t cifar_value(int64_t r, int c, int p)
{
    return (uint8_t)(r * 31 + c * 71 + p * 3 + p / 32);
}

static unsigned cifar_rgb(int64_t r, int k)
{
    return cifar_value(r, k % 3, k / 3);
}

static unsigned cifar_gray(int64_t r, int k)
{
    return luma(cifar_value(r, 0, k), cifar_value(r, 1, k), cifar_value(r, 2, k));
}

/* n records from `first` (their global index) with labels from label(r). */
static void write_cifar(const char *name, int edition, int first, int n,
                        const uint8_t *labels)
{
    size_t head = edition == 10 ? 1 : 2, rs = head + 3072;
    uint8_t *buf = malloc(rs * (size_t)n);
    assert_non_null(buf);
    for (int i = 0; i < n; i++) {
        uint8_t *rec = buf + rs * (size_t)i;
        memcpy(rec, labels + head * (size_t)(first + i), head);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++)
                rec[head + 1024 * c + p] = cifar_value(first + i, c, p);  /* CHW planes */
    }
    du_write(name, buf, rs * (size_t)n, 0);
    free(buf);
}

static const uint8_t c10_labels[6] = { 3, 0, 9, 1, 1, 7 };
static const char c10_meta[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\n"
                               "ship\ntruck\n\n";

static void test_cifar10(void **state)
{
    (void)state;
    du_mkdir("c10");
    for (int k = 1; k <= 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "c10/data_batch_%d.bin", k);
        write_cifar(name, 10, k - 1, 1, c10_labels);
    }
    write_cifar("c10/test_batch.bin", 10, 5, 1, c10_labels);
    du_write("c10/batches.meta.txt", c10_meta, sizeof c10_meta - 1, 0);
    byol_dataset *ds = open_ok(NULL, du_path("c10"));
    assert_int_equal(byol_dataset_size(ds), 5);
    assert_int_equal(byol_dataset_num_classes(ds), 10);
    assert_string_equal(byol_dataset_class_name(ds, 0), "airplane");
    assert_string_equal(byol_dataset_class_name(ds, 9), "truck");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(label_of(ds, i), c10_labels[i]);
        expect_image(ds, i, 32, 32, 3, cifar_rgb, "CIFAR-10");
    }
    byol_dataset_destroy(ds);
    ds = open_ok("data.split=test data.channels=1", du_path("c10"));
    assert_int_equal(byol_dataset_size(ds), 1);
    assert_int_equal(label_of(ds, 0), 7);
    byol_image img = { .struct_size = sizeof img };
    assert_byol_ok(byol_dataset_get(ds, 0, &img));
    for (int p = 0; p < 1024; p++)
        assert_int_equal(img.data[p], cifar_gray(5, p));
    byol_image_release(&img);
    byol_dataset_destroy(ds);
    /* one batch file; the names file next to it still counts */
    ds = open_ok(NULL, du_path("c10/data_batch_2.bin"));
    assert_int_equal(byol_dataset_size(ds), 1);
    assert_int_equal(label_of(ds, 0), 0);
    assert_string_equal(byol_dataset_class_name(ds, 0), "airplane");
    byol_dataset_destroy(ds);
    /* a folder missing some of its batches (an interrupted download) is
     * refused, naming them */
    unlink(du_path("c10/data_batch_2.bin"));
    unlink(du_path("c10/data_batch_5.bin"));
    open_fails(NULL, du_path("c10"), BYOL_E_FORMAT, "data_batch_2.bin, data_batch_5.bin",
               "missing");
}

static void test_cifar100(void **state)
{
    (void)state;
    const uint8_t labels[4] = { 3, 42, 19, 99 };  /* (coarse, fine) per record */
    char names[1000] = "";
    du_mkdir("c100");
    write_cifar("c100/train.bin", 100, 0, 2, labels);
    byol_dataset *ds = open_ok(NULL, du_path("c100"));
    assert_int_equal(byol_dataset_size(ds), 2);
    assert_int_equal(byol_dataset_num_classes(ds), 100);
    assert_int_equal(label_of(ds, 0), 42);
    assert_int_equal(label_of(ds, 1), 99);
    assert_string_equal(byol_dataset_class_name(ds, 42), "42");
    byol_dataset_destroy(ds);
    for (int k = 0; k < 20; k++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "coarse %d\r\n", k);
    du_write("c100/coarse_label_names.txt", names, strlen(names), 0);
    ds = open_ok("data.cifar_labels=coarse", du_path("c100/train.bin"));
    assert_int_equal(byol_dataset_num_classes(ds), 20);
    assert_int_equal(label_of(ds, 1), 19);
    assert_string_equal(byol_dataset_class_name(ds, 19), "coarse 19");
    expect_image(ds, 1, 32, 32, 3, cifar_rgb, "CIFAR-100");
    byol_dataset_destroy(ds);
}

static void test_cifar_bad(void **state)
{
    (void)state;
    uint8_t labels[4] = { 1, 12, 0, 0 };
    du_mkdir("cbad");
    write_cifar("cbad/data_batch_1.bin", 10, 0, 2, c10_labels);
    FILE *f = fopen(du_path("cbad/data_batch_1.bin"), "ab");
    assert_non_null(f);
    fputs("extra", f);
    fclose(f);
    open_fails(NULL, du_path("cbad/data_batch_1.bin"), BYOL_E_FORMAT,
               "data_batch_1.bin: 6151 bytes is not a whole number of 3073-byte CIFAR-10 "
               "records", NULL);
    write_cifar("cbad/test_batch.bin", 10, 0, 2, labels);
    open_fails(NULL, du_path("cbad/test_batch.bin"), BYOL_E_FORMAT,
               "test_batch.bin: record 1: label 12", NULL);
    du_write("cbad/odd.bin", labels, 4, 0);
    open_fails(NULL, du_path("cbad/odd.bin"), BYOL_E_FORMAT, "odd.bin",
               "not a whole number of CIFAR-10 (3073-byte) or CIFAR-100 (3074-byte)");
    du_write("cbad/empty.bin", labels, 0, 0);
    open_fails(NULL, du_path("cbad/empty.bin"), BYOL_E_FORMAT, "empty.bin", "empty");
    du_mkdir("cnames");
    write_cifar("cnames/data_batch_1.bin", 10, 0, 1, c10_labels);
    du_write("cnames/batches.meta.txt", "a\nb\n", 4, 0);
    open_fails(NULL, du_path("cnames/data_batch_1.bin"), BYOL_E_FORMAT, "batches.meta.txt",
               "fewer class names where CIFAR-10 has 10");
    open_fails("data.split=test", du_path("cnames"), BYOL_E_IO, "cnames", "test_batch.bin");
}

/* Sizes that fit both editions are refused by name only: the parser. */
static void test_cifar_parse(void **state)
{
    (void)state;
    size_t both = 3073u * 3074u;
    uint8_t *buf = calloc(both, 1);
    byol__cifar c;
    assert_non_null(buf);
    assert_int_equal(byol__cifar_parse(buf, both, "both.bin", 0, &c), BYOL_E_FORMAT);
    du_msg_has("both.bin", "alike");
    assert_byol_ok(byol__cifar_parse(buf, both, "data_batch_1.bin", 10, &c));
    assert_int_equal(c.count, 3074);
    assert_byol_ok(byol__cifar_parse(buf, both, "train.bin", 100, &c));
    assert_int_equal(c.count, 3073);
    assert_int_equal(byol__cifar_edition("x/data_batch_3.bin"), 10);
    assert_int_equal(byol__cifar_edition("test_batch.bin"), 10);
    assert_int_equal(byol__cifar_edition("/a/b/test.bin"), 100);
    assert_int_equal(byol__cifar_edition("/a/b/other.bin"), 0);
    free(buf);
}

/* ---- caller memory ------------------------------------------------------- */

static void test_memory(void **state)
{
    (void)state;
    uint8_t px[2 * 1 * 2 * 3] = { 255, 0, 0, 0, 255, 0, 0, 0, 250, 10, 20, 30 };
    const int32_t labels[2] = { 4, 1 };
    byol_config *gray = tu_config("data.channels=1");
    byol_dataset *ds = NULL;
    byol_image img = { .struct_size = sizeof img };
    assert_byol_ok(byol_dataset_from_memory(gray, px, 2, 1, 2, 3, labels, &ds));
    memset(px, 0, sizeof px);  /* the dataset holds its own copy */
    assert_int_equal(byol_dataset_size(ds), 2);
    assert_int_equal(byol_dataset_num_classes(ds), 5);
    assert_int_equal(label_of(ds, 0), 4);
    assert_byol_ok(byol_dataset_get(ds, 1, &img));
    assert_int_equal(img.channels, 1);
    assert_int_equal(img.data[0], 29);  /* 0.114 * 250 = 28.5, rounded up */
    assert_int_equal(img.data[1], 18);
    byol_image_release(&img);
    byol_dataset_destroy(ds);

    const uint8_t g[2] = { 7, 200 };
    assert_byol_ok(byol_dataset_from_memory(NULL, g, 2, 1, 1, 1, NULL, &ds));
    assert_int_equal(byol_dataset_num_classes(ds), 0);
    assert_int_equal(label_of(ds, 1), -1);
    assert_byol_ok(byol_dataset_get(ds, 1, &img));
    assert_int_equal(img.channels, 3);
    assert_memory_equal(img.data, "\xc8\xc8\xc8", 3);
    byol_image_release(&img);
    byol_dataset_destroy(ds);

    const int32_t bad_label[2] = { 0, -1 };
    assert_int_equal(byol_dataset_from_memory(NULL, g, 2, 1, 1, 1, bad_label, &ds),
                     BYOL_E_INVALID_ARG);
    assert_null(ds);
    assert_int_equal(byol_dataset_from_memory(NULL, g, 0, 1, 1, 1, NULL, &ds), BYOL_E_SHAPE);
    assert_int_equal(byol_dataset_from_memory(NULL, g, 1, 1, 1, 2, NULL, &ds), BYOL_E_SHAPE);
    assert_int_equal(byol_dataset_from_memory(NULL, g, 1, 0, 1, 1, NULL, &ds), BYOL_E_SHAPE);
    assert_int_equal(byol_dataset_from_memory(NULL, NULL, 1, 1, 1, 1, NULL, &ds),
                     BYOL_E_INVALID_ARG);
    assert_int_equal(byol_dataset_from_memory(NULL, g, 1, 1, 1, 1, NULL, NULL),
                     BYOL_E_INVALID_ARG);
    byol_config *two = tu_config("data.channels=2");
    assert_int_equal(byol_dataset_from_memory(two, g, 1, 1, 1, 1, NULL, &ds), BYOL_E_RANGE);
    du_msg_has("data.channels", NULL);
    byol_config_destroy(two);
    byol_config_destroy(gray);
}

static void test_accessors_and_arguments(void **state)
{
    (void)state;
    const uint8_t g[3] = { 1, 2, 3 };
    byol_dataset *ds = NULL;
    byol_image img = { .struct_size = sizeof img };
    int32_t l;
    assert_byol_ok(byol_dataset_from_memory(NULL, g, 3, 1, 1, 1, NULL, &ds));
    assert_int_equal(byol_dataset_label(ds, 3, &l), BYOL_E_RANGE);
    du_msg_has("index 3 is outside [0, 3)", NULL);
    assert_int_equal(byol_dataset_label(ds, -1, &l), BYOL_E_RANGE);
    assert_int_equal(byol_dataset_get(ds, 3, &img), BYOL_E_RANGE);
    assert_int_equal(byol_dataset_label(ds, 0, NULL), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_dataset_label(NULL, 0, &l), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_dataset_get(NULL, 0, &img), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_dataset_get(ds, 0, NULL), BYOL_E_INVALID_ARG);
    img.struct_size = 4;
    assert_int_equal(byol_dataset_get(ds, 0, &img), BYOL_E_ABI);
    byol_dataset_destroy(ds);
    assert_int_equal(byol_dataset_size(NULL), 0);
    assert_int_equal(byol_dataset_num_classes(NULL), 0);
    assert_null(byol_dataset_class_name(NULL, 0));
    byol_dataset_destroy(NULL);

    assert_int_equal(byol_dataset_open(NULL, NULL, &ds), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_dataset_open(NULL, du_dir, NULL), BYOL_E_INVALID_ARG);
    open_fails(NULL, du_path("no-such-thing"), BYOL_E_IO, "no-such-thing", strerror(ENOENT));
    open_fails("data.channels=2", du_path("loose"), BYOL_E_RANGE, "data.channels", NULL);
    du_write("notes.txt", "hello", 5, 0);
    open_fails(NULL, du_path("notes.txt"), BYOL_E_FORMAT, "notes.txt", "data.format");
}

/* ---- threads ------------------------------------------------------------- */

#define SHARED_N 24

typedef struct reader {
    const byol_dataset *ds;
    uint64_t sums[SHARED_N];
    int failed;
} reader;

static uint64_t image_sum(const byol_image *img)
{
    uint64_t s = 0;
    for (int k = 0; k < img->height * img->width * img->channels; k++)
        s = s * 31 + img->data[k];
    return s;
}

/* Reads every image five times; the label must be i / 8 (three class
 * folders of eight, sorted). */
static void *read_all(void *arg)
{
    reader *r = arg;
    for (int pass = 0; pass < 5; pass++)
        for (int i = 0; i < SHARED_N; i++) {
            byol_image img = { .struct_size = sizeof img };
            int32_t l;
            if (byol_dataset_get(r->ds, i, &img) != BYOL_OK ||
                byol_dataset_label(r->ds, i, &l) != BYOL_OK || l != i / 8) {
                r->failed = 1;
                return NULL;
            }
            r->sums[i] = image_sum(&img);
            byol_image_release(&img);
        }
    return NULL;
}

/* Several threads read one dataset at once and see what one thread sees. */
static void test_concurrent_reads(void **state)
{
    (void)state;
    char name[64];
    uint8_t file[1024], pix[64];
    du_mkdir("shared");
    for (int i = 0; i < SHARED_N; i++) {
        snprintf(name, sizeof name, "shared/class%d", i / 8);
        du_mkdir(name);
        for (int k = 0; k < 64; k++)
            pix[k] = (uint8_t)(i * 13 + k * 5);
        snprintf(name, sizeof name, "shared/class%d/img%02d.png", i / 8, i);
        du_write(name, file, du_png(file, 8, 8, 0, pix, NULL, 0, NULL, 0), 0);
    }
    byol_dataset *ds = open_ok(NULL, du_path("shared"));
    reader serial = { .ds = ds }, r[4];
    pthread_t t[4];
    read_all(&serial);
    assert_false(serial.failed);
    for (int i = 0; i < 4; i++) {
        r[i] = (reader){ .ds = ds };
        assert_int_equal(pthread_create(&t[i], NULL, read_all, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_false(r[i].failed);
        assert_memory_equal(r[i].sums, serial.sums, sizeof serial.sums);
    }
    byol_dataset_destroy(ds);
}

/* ---- allocation failures ------------------------------------------------- */

static int open_and_read(void *path)
{
    byol_dataset *ds = NULL;
    byol_image img = { .struct_size = sizeof img };
    int rc = byol_dataset_open(NULL, path, &ds);
    if (rc != BYOL_OK && ds)
        fail_msg("a failed open returned a dataset");
    if (rc == BYOL_OK)
        rc = byol_dataset_get(ds, byol_dataset_size(ds) - 1, &img);
    byol_image_release(&img);
    byol_dataset_destroy(ds);
    return rc;
}

static int from_memory(void *arg)
{
    static const uint8_t px[4 * 3] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    static const int32_t labels[4] = { 0, 3, 1, 1 };
    byol_dataset *ds = NULL;
    (void)arg;
    int rc = byol_dataset_from_memory(NULL, px, 4, 1, 1, 3, labels, &ds);
    byol_dataset_destroy(ds);
    return rc;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    du_mkdir("oomf");
    du_mkdir("oomf/a");
    du_mkdir("oomf/b");
    write_pixel("oomf/a/1.pgm", 1, 0);
    write_pixel("oomf/b/2.png", 2, 1);
    du_mkdir("oomf/b/sub");
    write_pixel("oomf/b/sub/3.pgm", 3, 0);
    du_mkdir("oomi");
    write_idx_pair("oomi/train", 1, 1);
    du_mkdir("oomc");
    for (int k = 1; k <= 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "oomc/data_batch_%d.bin", k);
        write_cifar(name, 10, k - 1, 1, c10_labels);
    }
    du_write("oomc/batches.meta.txt", c10_meta, sizeof c10_meta - 1, 0);
    const char *paths[3] = { "oomf", "oomi", "oomc" };
    for (int i = 0; i < 3; i++)
        assert_true(tu_each_allocation_fails(open_and_read, (void *)du_path(paths[i]), NULL)
                    >= 4);
    assert_true(tu_each_allocation_fails(from_memory, NULL, NULL) >= 3);
}

/* ---- real data ----------------------------------------------------------- */

static const char *const cifar_names[10] = { "airplane", "automobile", "bird", "cat", "deer",
                                             "dog", "frog", "horse", "ship", "truck" };

/* Counts, class names, labels grouped by class in sorted order, and a
 * decoded image at the start and the end of every class. */
static void check_cifar_jpg(const char *dir, int64_t per_class)
{
    byol_dataset *ds = open_ok(NULL, dir);
    int64_t counts[10] = { 0 };
    assert_int_equal(byol_dataset_size(ds), 10 * per_class);
    assert_int_equal(byol_dataset_num_classes(ds), 10);
    for (int k = 0; k < 10; k++)
        assert_string_equal(byol_dataset_class_name(ds, k), cifar_names[k]);
    for (int64_t i = 0; i < byol_dataset_size(ds); i++) {
        int32_t l = label_of(ds, i);
        if (l != i / per_class)
            fail_msg("%s: image %lld has label %d, expected %lld", dir, (long long)i, (int)l,
                     (long long)(i / per_class));
        counts[l]++;
    }
    for (int k = 0; k < 10; k++) {
        assert_int_equal(counts[k], per_class);
        for (int end = 0; end < 2; end++) {
            byol_image img = { .struct_size = sizeof img };
            assert_byol_ok(byol_dataset_get(ds, k * per_class + end * (per_class - 1), &img));
            assert_int_equal(img.height, 32);
            assert_int_equal(img.width, 32);
            assert_int_equal(img.channels, 3);
            byol_image_release(&img);
        }
    }
    byol_dataset_destroy(ds);
}

static void test_cifar10_jpg(void **state)
{
    (void)state;
    const char *root = getenv("BYOL_CIFAR10_JPG");
    char train[1024], test[1024];
    if (!root || !*root)
        root = "build/data/cifar10-jpg";
    snprintf(train, sizeof train, "%s/train", root);
    snprintf(test, sizeof test, "%s/test", root);
    if (!du_require("the CIFAR-10 JPEG folders", train, "'make data' unpacks them from "
                    "$BYOL_DATA_DIR/cifar10-jpg/cifar10-jpg.tar.gz into build/data/cifar10-jpg; "
                    "BYOL_CIFAR10_JPG names another folder holding train/ and test/.") ||
        !du_require("the CIFAR-10 JPEG folders", test, "Run 'make data'."))
        return;
    check_cifar_jpg(train, 5000);
    check_cifar_jpg(test, 1000);
}

/* The whole decompressed file, read with zlib alone. */
static uint8_t *gunzip_all(const char *path, size_t len)
{
    gzFile gz = gzopen(path, "rb");
    uint8_t *buf = malloc(len);
    assert_non_null(gz);
    assert_non_null(buf);
    for (size_t got = 0; got < len;) {
        int n = gzread(gz, buf + got, (unsigned)(len - got > (1u << 30) ? 1u << 30 : len - got));
        if (n <= 0)
            fail_msg("%s: short or bad gzip read at %zu of %zu bytes", path, got, len);
        got += (size_t)n;
    }
    gzclose(gz);
    return buf;
}

static void check_fashion(const char *dir, const char *prefix, int64_t n)
{
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    byol_dataset *ds = open_ok(strcmp(prefix, "t10k") ? "data.channels=1"
                                                      : "data.channels=1 data.split=test", dir);
    uint8_t *raw = gunzip_all(images, 16 + (size_t)n * 784), *lab = gunzip_all(labels, 8 + n);
    int64_t counts[10] = { 0 };
    const int64_t probe[4] = { 0, 1, n / 2 + 7, n - 1 };
    assert_int_equal(byol_dataset_size(ds), n);
    assert_int_equal(byol_dataset_num_classes(ds), 10);
    for (int64_t i = 0; i < n; i++) {
        int32_t l = label_of(ds, i);
        assert_int_equal(l, lab[8 + i]);
        counts[l]++;
    }
    for (int k = 0; k < 10; k++)
        assert_int_equal(counts[k], n / 10);
    for (int j = 0; j < 4; j++) {
        byol_image img = { .struct_size = sizeof img };
        assert_byol_ok(byol_dataset_get(ds, probe[j], &img));
        assert_int_equal(img.height, 28);
        assert_int_equal(img.width, 28);
        assert_int_equal(img.channels, 1);
        assert_memory_equal(img.data, raw + 16 + (size_t)probe[j] * 784, 784);
        byol_image_release(&img);
    }
    free(raw);
    free(lab);
    byol_dataset_destroy(ds);
    /* the images file itself, recognised by its IDX magic under gzip */
    ds = open_ok(NULL, images);
    assert_int_equal(byol_dataset_size(ds), n);
    assert_int_equal(byol_dataset_num_classes(ds), 10);
    byol_dataset_destroy(ds);
}

static void test_fashion_mnist(void **state)
{
    (void)state;
    const char *dir = du_fashion_mnist_dir();
    if (!dir)
        return;
    check_fashion(dir, "train", 60000);
    check_fashion(dir, "t10k", 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder_classes),
        cmocka_unit_test(test_folder_nested),
        cmocka_unit_test(test_folder_unlabeled_and_bad),
        cmocka_unit_test(test_idx_files),
        cmocka_unit_test(test_sources),
        cmocka_unit_test(test_idx_folder),
        cmocka_unit_test(test_idx_bad),
        cmocka_unit_test(test_idx_labels_not_a_file),
        cmocka_unit_test(test_idx_gzip_members_and_trailing_data),
        cmocka_unit_test(test_idx_parse),
        cmocka_unit_test(test_cifar10),
        cmocka_unit_test(test_cifar100),
        cmocka_unit_test(test_cifar_bad),
        cmocka_unit_test(test_cifar_parse),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_accessors_and_arguments),
        cmocka_unit_test(test_concurrent_reads),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_cifar10_jpg),
        cmocka_unit_test(test_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, du_setup, du_teardown);
}
