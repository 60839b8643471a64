/* What the readers do with files that are not what they seem (issue 13,
 * items 2 and 5, and two of its smaller points):
 * - a FIFO (or a folder) given as a weight file, a checkpoint, a dataset's
 *   labels, an image, is refused at once with BYOL_E_IO naming it, where
 *   the open used to wait forever for a writer (each test runs under an
 *   alarm, so a regression kills the program instead of hanging it);
 * - a valid weight file padded with gigabytes of junk is refused with
 *   BYOL_E_FORMAT from its header and size alone, in milliseconds and
 *   without the junk ever becoming resident memory;
 * - a gzip IDX file followed by bytes that are no gzip member is refused,
 *   while members one after the other are one stream;
 * - an IDX labels path that is a folder is an error, not an unlabelled set. */
#include <sys/resource.h>
#include <time.h>

#include "test_util.h"
#include "data_util.h"

#define NET "net.arch=cnn-small net.width=0.25 seed=3"
#define TRAINER NET " train.batch_size=4 train.total_steps=7 byol.proj_hidden=32 " \
                "byol.proj_out=16 byol.pred_hidden=32"
/* Seconds a refusal may take before the alarm ends the program. */
#define HANG_LIMIT 10

static int setup(void **state)
{
    alarm(HANG_LIMIT);
    return du_setup(state);
}

static int teardown(void **state)
{
    alarm(0);
    return du_teardown(state);
}

static byol_net *make_net(void)
{
    byol_config *cfg = tu_config(NET);
    byol_net *net = NULL;
    assert_byol_ok(byol_net_create(cfg, &net));
    byol_config_destroy(cfg);
    return net;
}

static const char *fifo(const char *name)
{
    const char *path = du_path(name);
    assert_int_equal(mkfifo(path, 0600), 0);
    return path;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- FIFOs and folders ---------------------------------------------------- */

static void test_net_load_fifo(void **state)
{
    (void)state;
    byol_net *net = make_net();
    const char *path = fifo("weights.safetensors");
    assert_int_equal(byol_net_load(net, path, 0), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
    assert_int_equal(byol_net_load(net, du_dir, 0), BYOL_E_IO);
    du_msg_has(du_dir, "is a directory");
    byol_net_destroy(net);
}

static void test_trainer_load_fifo(void **state)
{
    (void)state;
    byol_config *cfg = tu_config(TRAINER);
    byol_trainer *t = NULL;
    const char *path = fifo("ck.safetensors");
    assert_byol_ok(byol_trainer_create(cfg, NULL, &t));
    assert_int_equal(byol_trainer_load(t, path), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
    byol_trainer_destroy(t);
    byol_config_destroy(cfg);
}

static void test_file_open_fifo(void **state)
{
    (void)state;
    byol_file *f = (byol_file *)&f;  /* must be reset to NULL */
    const char *path = fifo("any.safetensors");
    assert_int_equal(byol_file_open(path, &f), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
    assert_null(f);
}

static void test_image_decode_fifo(void **state)
{
    (void)state;
    byol_image img = { .struct_size = sizeof img };
    const char *path = fifo("image.png");
    assert_int_equal(byol_image_decode(NULL, path, &img), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
}

/* An IDX images file with 2 images of 2x2 and 2 labels: name-images-idx3-ubyte
 * and name-labels-idx1-ubyte. */
static void write_idx_pair(const char *name)
{
    const uint8_t images[] = { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                               1, 2, 3, 4, 5, 6, 7, 8 };
    const uint8_t labels[] = { 0, 0, 8, 1, 0, 0, 0, 2, 1, 0 };
    char file[128];
    snprintf(file, sizeof file, "%s-images-idx3-ubyte", name);
    du_write(file, images, sizeof images, 0);
    snprintf(file, sizeof file, "%s-labels-idx1-ubyte", name);
    du_write(file, labels, sizeof labels, 0);
}

/* Opening must fail with code and a message naming a and b. */
static void open_fails(const char *settings, const char *path, int code, const char *a,
                       const char *b)
{
    byol_config *cfg = tu_config(settings);
    byol_dataset *ds = NULL;
    int rc = byol_dataset_open(cfg, path, &ds);
    if (rc != code)
        fail_msg("byol_dataset_open(%s): status %d (%s), expected %d: %s", path, rc,
                 byol_strerror(rc), code, byol_last_error());
    assert_null(ds);
    du_msg_has(a, b);
    byol_config_destroy(cfg);
}

static void test_idx_labels_fifo(void **state)
{
    (void)state;
    char settings[512];
    write_idx_pair("train");
    snprintf(settings, sizeof settings, "data.labels=%s", fifo("labels-fifo"));
    open_fails(settings, du_path("train-images-idx3-ubyte"), BYOL_E_IO, "labels-fifo",
               "is a FIFO");
    /* the images file itself (refused by its type before this issue too) */
    open_fails("data.format=idx", fifo("images-fifo"), BYOL_E_IO, "images-fifo", NULL);
}

/* The labels found beside the images (name-labels-idx1-ubyte) are a FIFO or
 * a folder: an error naming them, not an unlabelled set. */
static void test_idx_sibling_labels_not_a_file(void **state)
{
    (void)state;
    write_idx_pair("train");
    unlink(du_path("train-labels-idx1-ubyte"));
    fifo("train-labels-idx1-ubyte");
    open_fails(NULL, du_path("train-images-idx3-ubyte"), BYOL_E_IO, "train-labels-idx1-ubyte",
               "is a FIFO");
    open_fails(NULL, du_dir, BYOL_E_IO, "train-labels-idx1-ubyte", "is a FIFO");
    unlink(du_path("train-labels-idx1-ubyte"));
    du_mkdir("train-labels-idx1-ubyte");
    open_fails(NULL, du_path("train-images-idx3-ubyte"), BYOL_E_IO, "train-labels-idx1-ubyte",
               "is a directory");
}

static void test_idx_labels_folder(void **state)
{
    (void)state;
    char settings[512];
    write_idx_pair("train");
    du_mkdir("labels-folder");
    snprintf(settings, sizeof settings, "data.labels=%s", du_path("labels-folder"));
    open_fails(settings, du_path("train-images-idx3-ubyte"), BYOL_E_IO, "labels-folder",
               "is a directory");
}

/* ---- gzip streams --------------------------------------------------------- */

/* The file's bytes gzip-compressed as `members` members, then `extra`. */
static void write_gz(const char *name, const uint8_t *bytes, size_t len, int members,
                     const void *extra, size_t extra_len)
{
    FILE *out = fopen(du_path(name), "wb");
    assert_non_null(out);
    for (int m = 0; m < members; m++) {
        size_t from = len * (size_t)m / (size_t)members, to = len * (size_t)(m + 1) / members;
        uint8_t z[512];
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

static const uint8_t idx_images[] = { 0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                                      10, 20, 30, 40, 50, 60, 70, 80 };

static void test_gzip_trailing_data_refused(void **state)
{
    (void)state;
    static const uint8_t zeros[16], junk[] = "JUNK", half_magic[] = { 0x1f };
    write_gz("junk-images-idx3-ubyte.gz", idx_images, sizeof idx_images, 1, junk, 4);
    open_fails(NULL, du_path("junk-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "junk-images-idx3-ubyte.gz", "trailing data after the gzip stream");
    write_gz("zeros-images-idx3-ubyte.gz", idx_images, sizeof idx_images, 1, zeros, 16);
    open_fails("data.format=idx", du_path("zeros-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "zeros-images-idx3-ubyte.gz", "trailing data");
    write_gz("half-images-idx3-ubyte.gz", idx_images, sizeof idx_images, 2, half_magic, 1);
    open_fails(NULL, du_path("half-images-idx3-ubyte.gz"), BYOL_E_FORMAT,
               "half-images-idx3-ubyte.gz", "trailing data");
}

/* Members one after the other (as `cat a.gz b.gz` makes) are one stream. */
static void test_gzip_members_are_one_stream(void **state)
{
    (void)state;
    byol_config *cfg = tu_config("data.channels=1");
    byol_dataset *ds = NULL;
    byol_image img = { .struct_size = sizeof img };
    write_gz("three-images-idx3-ubyte.gz", idx_images, sizeof idx_images, 3, NULL, 0);
    assert_byol_ok(byol_dataset_open(cfg, du_path("three-images-idx3-ubyte.gz"), &ds));
    assert_int_equal(byol_dataset_size(ds), 2);
    assert_byol_ok(byol_dataset_get(ds, 1, &img));
    assert_memory_equal(img.data, idx_images + 20, 4);
    byol_image_release(&img);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

/* ---- a weight file padded with junk --------------------------------------- */

static long peak_rss_kb(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* A valid weight file followed by 8 GiB of zeros (a sparse hole: no disk):
 * refused from its header and size, fast, with resident memory growing by
 * far less than the file. */
static void test_padded_weight_file(void **state)
{
    (void)state;
    const uint64_t padded = (uint64_t)8 << 30;
    const char *path = du_path("padded.safetensors");
    byol_net *net = make_net();
    byol_file *f = NULL;
    struct stat st;
    char sizes[2][32];
    assert_byol_ok(byol_net_save(net, path));
    assert_int_equal(stat(path, &st), 0);
    snprintf(sizes[0], sizeof sizes[0], "holds %llu bytes", (unsigned long long)padded);
    snprintf(sizes[1], sizeof sizes[1], "declares %llu", (unsigned long long)st.st_size);
    assert_int_equal(truncate(path, (off_t)padded), 0);

    long rss0 = peak_rss_kb();
    double t0 = now();
    assert_int_equal(byol_net_load(net, path, 0), BYOL_E_FORMAT);
    double seconds = now() - t0;
    long grown_mb = (peak_rss_kb() - rss0) / 1024;
    if (seconds > 2 || grown_mb > 64)
        fail_msg("refusing a %llu-byte file took %.2f s and %ld MB of resident memory",
                 (unsigned long long)padded, seconds, grown_mb);
    du_msg_has(path, sizes[0]);
    du_msg_has(sizes[1], NULL);
    /* byol info's reader too */
    assert_int_equal(byol_file_open(path, &f), BYOL_E_FORMAT);
    du_msg_has(path, sizes[0]);
    assert_true((peak_rss_kb() - rss0) / 1024 <= 64);
    byol_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_net_load_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trainer_load_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_open_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_decode_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_labels_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_sibling_labels_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_labels_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_trailing_data_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_members_are_one_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_padded_weight_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
