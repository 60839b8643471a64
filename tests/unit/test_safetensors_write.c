/* The safetensors writer: round trips (also of the reference fixtures),
 * the file layout, and failures that must leave the target as it was and
 * no temporary file behind. */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "safetensors_util.h"
#include "io/safetensors.h"

/* ---- round trip -------------------------------------------------------------- */

#define RT_N 9

typedef struct rt_set {
    float conv[4 * 3 * 3 * 3];
    double bias[5];
    int64_t step;
    int32_t idx[6];
    uint8_t mask[7];
    int64_t big[3];
    double quoted[2];
    byol__st_tensor t[RT_N];
} rt_set;

static void rt_tensor(byol__st_tensor *t, const char *name, int32_t dtype, int ndim,
                      const int64_t *shape, const void *data, size_t nbytes)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    t->data = data;
    t->nbytes = nbytes;
}

static void rt_fill(rt_set *s, uint32_t seed)
{
    static const int64_t s_conv[] = { 4, 3, 3, 3 }, s_bias[] = { 5 }, s_idx[] = { 2, 3 },
                         s_mask[] = { 7 }, s_empty[] = { 0, 16 }, s_big[] = { 3 },
                         s_q[] = { 1, 2 }, s_u8e[] = { 3, 0 };
    tu_fill(s->conv, 108, seed, 2.0f);
    for (int i = 0; i < 5; i++)
        s->bias[i] = 1.0 / (i + seed + 1.0);
    s->step = 123456789012ll + seed;
    for (int i = 0; i < 6; i++)
        s->idx[i] = (int32_t)((i - 3) * 1000003 + (int)seed);
    for (int i = 0; i < 7; i++)
        s->mask[i] = (uint8_t)(i * 37 + seed);
    s->big[0] = INT64_MIN;
    s->big[1] = INT64_MAX;
    s->big[2] = -(int64_t)seed;
    s->quoted[0] = -0.0;
    s->quoted[1] = 1e300;
    /* U8 of odd length before 8-byte dtypes: later data is misaligned in the
     * file, which readers must handle with memcpy. */
    rt_tensor(&s->t[0], "conv1.weight", BYOL__ST_F32, 4, s_conv, s->conv, sizeof s->conv);
    rt_tensor(&s->t[1], "mask", BYOL__ST_U8, 1, s_mask, s->mask, sizeof s->mask);
    rt_tensor(&s->t[2], "fc.bias", BYOL__ST_F64, 1, s_bias, s->bias, sizeof s->bias);
    rt_tensor(&s->t[3], "bn1.num_batches_tracked", BYOL__ST_I64, 0, NULL, &s->step, 8);
    rt_tensor(&s->t[4], "idx", BYOL__ST_I32, 2, s_idx, s->idx, sizeof s->idx);
    rt_tensor(&s->t[5], "empty", BYOL__ST_F32, 2, s_empty, NULL, 0);
    rt_tensor(&s->t[6], "limits", BYOL__ST_I64, 1, s_big, s->big, sizeof s->big);
    rt_tensor(&s->t[7], "we\"ird\\ n\xc3\xa9me\n\x01", BYOL__ST_F64, 2, s_q, s->quoted,
              sizeof s->quoted);
    rt_tensor(&s->t[8], "empty.u8", BYOL__ST_U8, 2, s_u8e, s->mask, 0);
}

static const char *const rt_meta[] = {
    "format", "byol",
    "note", "line1\nline2 \"quoted\" \\ \xc3\xa9 \xf0\x9f\x98\x80 \x1f",
    "empty", "",
};

static void check_round_trip(const byol__st_file *f, const rt_set *s)
{
    assert_int_equal(byol__st_count(f), RT_N);
    for (size_t i = 0; i < RT_N; i++) {
        const byol__st_tensor *w = &s->t[i], *r = byol__st_get(f, i);
        assert_non_null(r);
        assert_string_equal(r->name, w->name);
        assert_ptr_equal(byol__st_find(f, w->name), r);
        assert_int_equal(r->dtype, w->dtype);
        assert_int_equal(r->ndim, w->ndim);
        for (int d = 0; d < w->ndim; d++)
            assert_int_equal(r->shape[d], w->shape[d]);
        assert_int_equal(r->nbytes, w->nbytes);
        if (w->nbytes)
            assert_memory_equal(r->data, w->data, w->nbytes);
    }
    assert_int_equal(byol__st_meta_count(f), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(byol__st_meta(f, rt_meta[2 * i]), rt_meta[2 * i + 1]);
}

static void test_round_trip(void **state)
{
    (void)state;
    rt_set *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    const char *path = du_path("rt.safetensors");
    byol__st_file *f = NULL;
    size_t len;
    unsigned char *img;
    uint64_t hlen, total = 0;

    rt_fill(a, 1);
    assert_byol_ok(byol__st_write(path, a->t, RT_N, rt_meta, 3));
    assert_byol_ok(byol__st_open(path, &f));
    check_round_trip(f, a);
    byol__st_close(f);

    /* Layout: header padded with spaces to 8-byte alignment, data packed in
     * the given order right after it. */
    img = tu_slurp(path, &len);
    hlen = get_le(img, 8);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(img[8], '{');
    for (size_t i = 0; i < RT_N; i++)
        total += a->t[i].nbytes;
    assert_int_equal(len, 8 + hlen + total);
    size_t end = 8 + (size_t)hlen;
    while (img[end - 1] == ' ')
        end--;
    assert_int_equal(img[end - 1], '}');
    assert_true(8 + hlen - end < 8);
    assert_memory_equal(img + 8 + hlen, a->conv, sizeof a->conv);
    free(img);

    /* Overwriting replaces the file and leaves no temporary behind. */
    rt_fill(b, 2);
    assert_byol_ok(byol__st_write(path, b->t, RT_N, rt_meta, 3));
    assert_byol_ok(byol__st_open(path, &f));
    check_round_trip(f, b);
    byol__st_close(f);
    assert_int_equal(du_count_temp_files(), 0);

    /* No tensors, no metadata. */
    assert_byol_ok(byol__st_write(du_path("none.safetensors"), NULL, 0, NULL, 0));
    assert_byol_ok(byol__st_open(du_path("none.safetensors"), &f));
    assert_int_equal(byol__st_count(f), 0);
    byol__st_close(f);
    img = tu_slurp(du_path("none.safetensors"), &len);
    assert_int_equal(len, 16);
    assert_memory_equal(img + 8, "{}      ", 8);
    free(img);
    free(a);
    free(b);
}

/* Real files written by tests/ref/st.py from PyTorch state_dicts. */
static void test_reads_reference_fixtures(void **state)
{
    (void)state;
    static const char *const names[] = {
        "cnn_small.weights.safetensors", "resnet18_cifar.weights.safetensors",
        "cnn_small.io.safetensors", "resnet18_cifar.io.safetensors",
    };
    int found = 0;
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        byol__st_file *f = NULL;
        snprintf(path, sizeof path, "%s/%s", tu_fixtures_dir(), names[i]);
        if (access(path, R_OK) != 0)
            continue;
        found++;
        assert_byol_ok(byol__st_open(path, &f));
        assert_true(byol__st_count(f) > 0);
        assert_non_null(byol__st_meta(f, "net"));
        /* rewriting it and reading it back gives the same tensors */
        const char *copy = du_path("fixture_copy.safetensors");
        size_t n = byol__st_count(f);
        byol__st_tensor *ts = calloc(n, sizeof *ts);
        for (size_t k = 0; k < n; k++)
            ts[k] = *byol__st_get(f, k);
        const char *meta[] = { "net", byol__st_meta(f, "net") };
        assert_byol_ok(byol__st_write(copy, ts, n, meta, 1));
        byol__st_file *g = NULL;
        assert_byol_ok(byol__st_open(copy, &g));
        assert_int_equal(byol__st_count(g), n);
        for (size_t k = 0; k < n; k++) {
            const byol__st_tensor *x = byol__st_get(f, k), *y = byol__st_get(g, k);
            assert_string_equal(x->name, y->name);
            assert_int_equal(x->nbytes, y->nbytes);
            assert_memory_equal(x->data, y->data, x->nbytes);
        }
        byol__st_close(g);
        free(ts);
        byol__st_close(f);
    }
    if (!found)
        skip();
}

/* ---- writer failures --------------------------------------------------------- */

static void test_writer_rejects_bad_arguments(void **state)
{
    (void)state;
    float x[4] = { 0 };
    const int64_t shape[] = { 4 };
    byol__st_tensor t[2];
    const char *path = du_path("bad_args.safetensors");
    const char *dup_meta[] = { "k", "1", "k", "2" };
    const char *null_meta[] = { "k", NULL };

    rt_tensor(&t[0], "a", BYOL__ST_F32, 1, shape, x, sizeof x);
    rt_tensor(&t[1], "a", BYOL__ST_F32, 1, shape, x, sizeof x);
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    du_msg_has("duplicate tensor name 'a'", NULL);
    t[1].name = "b";
    t[1].nbytes = 12;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    du_msg_has("tensor 'b': nbytes 12", NULL);
    t[1].nbytes = sizeof x;
    t[1].dtype = 99;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    du_msg_has("tensor 'b': unknown dtype 99", NULL);
    t[1].dtype = BYOL__ST_F32;
    t[1].name = "__metadata__";
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].name = "bad\xff";
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].name = "b";
    t[1].ndim = 9;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].ndim = 1;
    t[1].shape[0] = -4;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].shape[0] = 4;
    t[1].data = NULL;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].data = x;
    assert_int_equal(byol__st_write(path, t, 2, dup_meta, 2), BYOL_E_INVALID_ARG);
    du_msg_has("duplicate metadata key 'k'", NULL);
    assert_int_equal(byol__st_write(path, t, 2, null_meta, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__st_write(NULL, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(du_count_temp_files(), 0);
    assert_byol_ok(byol__st_write(path, t, 2, NULL, 0));
}

static void test_write_into_missing_folder(void **state)
{
    (void)state;
    float x[2] = { 1, 2 };
    const int64_t shape[] = { 2 };
    byol__st_tensor t;
    const char *path = du_path("no-such-folder/w.safetensors");
    rt_tensor(&t, "x", BYOL__ST_F32, 1, shape, x, sizeof x);
    assert_int_equal(byol__st_write(path, &t, 1, NULL, 0), BYOL_E_IO);
    du_msg_has(path, NULL);
    du_msg_has(strerror(ENOENT), NULL);
    assert_int_equal(du_count_temp_files(), 0);
    assert_int_equal(access(du_path("no-such-folder"), F_OK), -1);
}

/* The target is a folder: refused before any temporary file is made. */
static void test_folder_target_refused(void **state)
{
    (void)state;
    float x[2] = { 1, 2 };
    const int64_t shape[] = { 2 };
    byol__st_tensor t;
    const char *path = du_path("a-folder");
    rt_tensor(&t, "x", BYOL__ST_F32, 1, shape, x, sizeof x);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(byol__st_write(path, &t, 1, NULL, 0), BYOL_E_IO);
    du_msg_has(path, NULL);
    du_msg_has("is a directory", NULL);
    assert_int_equal(du_count_temp_files(), 0);
    assert_int_equal(rmdir(path), 0);
}

/* A write that fails half way (file size limit, EFBIG) leaves the old file
 * byte-identical and no temporary file. */
static void test_failed_write_keeps_target(void **state)
{
    (void)state;
    const char *path = du_path("keep.safetensors");
    static float big[64 * 1024];
    const int64_t shape[] = { 64 * 1024 };
    byol__st_tensor t;
    struct rlimit old, lim;
    size_t len0, len1;
    unsigned char *before, *after;
    void (*old_handler)(int);

    rt_tensor(&t, "small", BYOL__ST_F32, 1, shape, big, 16);
    t.shape[0] = 4;
    assert_byol_ok(byol__st_write(path, &t, 1, NULL, 0));
    before = tu_slurp(path, &len0);

    rt_tensor(&t, "big", BYOL__ST_F32, 1, shape, big, sizeof big);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    old_handler = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = byol__st_write(path, &t, 1, NULL, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(rc, BYOL_E_IO);
    du_msg_has(path, NULL);
    du_msg_has(strerror(EFBIG), NULL);
    after = tu_slurp(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(du_count_temp_files(), 0);
    free(before);
    free(after);
}

/* Every allocation the writer makes may fail: each failure is NOMEM with
 * nothing leaked, names the file and leaves the old file as it was. */
typedef struct oom_write {
    const char *path;
    const rt_set *set;           /* what to write */
    const unsigned char *before; /* the file's bytes before */
    size_t before_len;
} oom_write;

static int write_set(void *arg)
{
    const oom_write *w = arg;
    return byol__st_write(w->path, w->set->t, RT_N, rt_meta, 3);
}

static void target_untouched(void *arg)
{
    const oom_write *w = arg;
    size_t len;
    du_msg_has(w->path, NULL);
    unsigned char *now = tu_slurp(w->path, &len);
    assert_int_equal(len, w->before_len);
    assert_memory_equal(now, w->before, w->before_len);
    free(now);
    assert_int_equal(du_count_temp_files(), 0);
}

static void test_writer_allocation_failures(void **state)
{
    (void)state;
    rt_set *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    oom_write w = { du_path("oomw.safetensors"), b, NULL, 0 };
    unsigned char *before;
    rt_fill(a, 3);
    rt_fill(b, 4);
    assert_byol_ok(byol__st_write(w.path, a->t, RT_N, rt_meta, 3));
    before = tu_slurp(w.path, &w.before_len);
    w.before = before;
    assert_true(tu_each_allocation_fails(write_set, &w, target_untouched) >= 2);
    byol__st_file *f = NULL;
    assert_byol_ok(byol__st_open(w.path, &f));
    check_round_trip(f, b);
    byol__st_close(f);
    free(before);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reads_reference_fixtures),
        cmocka_unit_test(test_writer_rejects_bad_arguments),
        cmocka_unit_test(test_write_into_missing_folder),
        cmocka_unit_test(test_folder_target_refused),
        cmocka_unit_test(test_failed_write_keeps_target),
        cmocka_unit_test(test_writer_allocation_failures),
    };
    return cmocka_run_group_tests_name("safetensors_write", tests, du_setup, du_teardown);
}
