/* byol_file.h and byol_error_name() through the public API only: kinds,
 * tensors and metadata of files saved by byol_net_save() and
 * byol_trainer_save(), refusal of malformed files with exactly the message
 * byol_net_load() gives, the writers (round trips, bad arguments, atomic
 * failures), allocation failures, and the name of every status code
 * checked against the header text itself. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

#define NET "net.arch=cnn-small net.width=0.25 seed=3"
#define TRAINER NET " train.batch_size=4 train.total_steps=7 byol.proj_hidden=32 " \
                "byol.proj_out=16 byol.pred_hidden=32"

/* ---- helpers -------------------------------------------------------------- */

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][sizeof tmp_dir + 256 + 2];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, name);
    return buf[k];
}

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmp_dir, "/tmp/byol_file_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

/* Flat, except for folders the tests remove themselves. */
static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmp_dir);
    struct dirent *de;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlink(tmp_path(de->d_name));
    closedir(d);
    return rmdir(tmp_dir);
}

static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void assert_msg_has(const char *what)
{
    if (!strstr(byol_last_error(), what))
        fail_msg("message '%s' lacks '%s'", byol_last_error(), what);
}

static byol_net *make_net(void)
{
    byol_config *cfg;
    byol_net *net = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, NET));
    assert_byol_ok(byol_net_create(cfg, &net));
    byol_config_destroy(cfg);
    return net;
}

static byol_file_tensor tensor_struct(void)
{
    byol_file_tensor t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    return t;
}

static const char *meta(const byol_file *f, const char *key)
{
    const char *v = NULL;
    assert_byol_ok(byol_file_metadata_find(f, key, &v));
    return v;
}

/* ---- error names ------------------------------------------------------------ */

/* The names as the preprocessor spells the macros: a second source beside
 * the header text read below. */
#define NAMED(code) { code, #code }
static const struct {
    int code;
    const char *name;
} spelled[] = {
    NAMED(BYOL_OK),           NAMED(BYOL_DONE),        NAMED(BYOL_E_GENERIC),
    NAMED(BYOL_E_NOMEM),      NAMED(BYOL_E_INVALID_ARG), NAMED(BYOL_E_BAD_STATE),
    NAMED(BYOL_E_SHAPE),      NAMED(BYOL_E_UNSUPPORTED), NAMED(BYOL_E_IO),
    NAMED(BYOL_E_DECODE),     NAMED(BYOL_E_FORMAT),    NAMED(BYOL_E_NONFINITE),
    NAMED(BYOL_E_CANCELLED),  NAMED(BYOL_E_ABI),       NAMED(BYOL_E_BLAS),
    NAMED(BYOL_E_KEY),        NAMED(BYOL_E_RANGE),     NAMED(BYOL_E_COMM),
};

static void test_error_names_spelled_by_the_preprocessor(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof spelled / sizeof spelled[0]; i++) {
        assert_string_equal(byol_error_name(spelled[i].code), spelled[i].name);
        assert_string_not_equal(byol_strerror(spelled[i].code), "unknown status code");
    }
    const int unknown[] = { -17, -1000, 2, 42, INT_MIN, INT_MAX };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(byol_error_name(unknown[i]), "BYOL_E_UNKNOWN");
        assert_string_equal(byol_strerror(unknown[i]), "unknown status code");
    }
    /* static storage: the same pointer every time */
    assert_ptr_equal(byol_error_name(BYOL_E_IO), byol_error_name(BYOL_E_IO));
}

/* Every "#define BYOL_E_X (-n)" of byol_common.h (and BYOL_OK, BYOL_DONE of
 * byol_data.h), read from the header text, so a code appended to the
 * header but not to the library's table fails here. */
static int header_codes(const char *file, const char *prefix, int *codes, char names[][40],
                        int max, int n)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "include/byol/%s", file);
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("%s: %s (run the tests from the source tree)", path, strerror(errno));
    while (fgets(line, sizeof line, fp) && n < max) {
        char name[40];
        int value;
        if ((sscanf(line, "#define %39s (%d)", name, &value) == 2 ||
             sscanf(line, "#define %39s %d", name, &value) == 2) &&
            !strncmp(name, prefix, strlen(prefix))) {
            codes[n] = value;
            snprintf(names[n++], sizeof names[0], "%s", name);
        }
    }
    fclose(fp);
    return n;
}

static void test_error_names_match_the_header_text(void **state)
{
    (void)state;
    int codes[64];
    char names[64][40];
    int n = header_codes("byol_common.h", "BYOL_E_", codes, names, 64, 0);
    n = header_codes("byol_common.h", "BYOL_OK", codes, names, 64, n);
    n = header_codes("byol_data.h", "BYOL_DONE", codes, names, 64, n);
    assert_true(n >= 17);
    for (int i = 0; i < n; i++)
        assert_string_equal(byol_error_name(codes[i]), names[i]);
    /* and the library knows no code the header lacks */
    for (int code = -200; code <= 200; code++) {
        int listed = 0;
        for (int i = 0; i < n; i++)
            listed |= codes[i] == code;
        if (!listed)
            assert_string_equal(byol_error_name(code), "BYOL_E_UNKNOWN");
    }
}

/* ---- reading files the library wrote ---------------------------------------------- */

static void check_net_tensors(const byol_file *f, const byol_net *net, const char *prefix)
{
    float *params = byol_net_buffer((byol_net *)net, BYOL_BUFFER_PARAMS, NULL);
    float *stats = byol_net_buffer((byol_net *)net, BYOL_BUFFER_STATE, NULL);
    for (int64_t i = 0; i < byol_net_tensor_count(net); i++) {
        byol_tensor_info ti = { .struct_size = sizeof ti };
        byol_file_tensor ft = tensor_struct();
        char name[256];
        assert_byol_ok(byol_net_tensor_info(net, i, &ti));
        snprintf(name, sizeof name, "%s%s", prefix, ti.name);
        assert_byol_ok(byol_file_tensor_find(f, name, &ft));
        assert_string_equal(ft.name, name);
        assert_int_equal(ft.dtype, BYOL_DTYPE_F32);
        assert_int_equal(ft.ndim, ti.ndim);
        for (int d = 0; d < BYOL_FILE_MAX_DIMS; d++)
            assert_int_equal(ft.shape[d], d < ti.ndim ? ti.shape[d] : 0);
        assert_int_equal(ft.numel, ti.numel);
        assert_int_equal(ft.nbytes, (uint64_t)ti.numel * 4);
        const float *src = (ti.buffer == BYOL_BUFFER_PARAMS ? params : stats) + ti.offset;
        assert_memory_equal(ft.data, src, ft.nbytes);
    }
}

static void test_weight_file(void **state)
{
    (void)state;
    const char *path = tmp_path("w.safetensors");
    byol_net *net = make_net();
    assert_byol_ok(byol_net_save(net, path));
    byol_file *f = NULL;
    assert_byol_ok(byol_file_open(path, &f));
    assert_int_equal(byol_file_kind(f), BYOL_FILE_TENSORS);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(byol_file_size(f), st.st_size);
    /* the floats, plus one I64 scalar num_batches_tracked per BatchNorm (3) */
    assert_int_equal(byol_file_tensor_count(f), byol_net_tensor_count(net) + 3);
    check_net_tensors(f, net, "");
    byol_file_tensor t = tensor_struct();
    assert_byol_ok(byol_file_tensor_find(f, "bn1.num_batches_tracked", &t));
    assert_int_equal(t.dtype, BYOL_DTYPE_I64);
    assert_int_equal(t.ndim, 0);
    assert_int_equal(t.numel, 1);
    assert_int_equal(t.nbytes, 8);
    /* header order is state_dict order: the first tensor is conv1.weight */
    assert_byol_ok(byol_file_tensor_info(f, 0, &t));
    assert_string_equal(t.name, "conv1.weight");
    assert_int_equal(byol_file_metadata_count(f), 2);
    assert_string_equal(meta(f, "format"), "pt");
    assert_string_equal(meta(f, "producer"), "libbyol " BYOL_VERSION_STRING);
    const char *k, *v;
    assert_byol_ok(byol_file_metadata_entry(f, 0, &k, &v));
    assert_string_equal(k, "format"); /* keys in strcmp order */
    assert_byol_ok(byol_file_metadata_entry(f, 1, &k, &v));
    assert_string_equal(k, "producer");
    byol_file_close(f);
    byol_net_destroy(net);
}

/* A fresh TRAINER trainer, saved as path; the caller destroys it. */
static byol_trainer *saved_trainer(const char *path)
{
    byol_config *cfg = tu_config(TRAINER);
    byol_trainer *t = NULL;
    assert_byol_ok(byol_trainer_create(cfg, NULL, &t));
    assert_byol_ok(byol_trainer_save(t, path));
    byol_config_destroy(cfg);
    return t;
}

static void test_checkpoint(void **state)
{
    (void)state;
    const char *path = tmp_path("ck.safetensors");
    byol_trainer *t = saved_trainer(path);
    byol_file *f = NULL;
    assert_byol_ok(byol_file_open(path, &f));
    assert_int_equal(byol_file_kind(f), BYOL_FILE_CHECKPOINT);
    assert_string_equal(meta(f, "format"), "libbyol-checkpoint-1");
    assert_string_equal(meta(f, "libbyol_version"), BYOL_VERSION_STRING);
    assert_string_equal(meta(f, "step"), "0");
    assert_string_equal(meta(f, "total_steps"), "7");
    assert_non_null(strstr(meta(f, "config"), "net.width=0.25"));
    check_net_tensors(f, byol_trainer_encoder(t), "online.encoder.");
    byol_file_tensor ft = tensor_struct();
    assert_byol_ok(byol_file_tensor_find(f, "optim.momentum", &ft)); /* LARS */
    int64_t nparams = 0;
    byol_trainer_buffer(t, BYOL_BUFFER_PARAMS, &nparams);
    assert_int_equal(ft.numel, nparams);
    byol_file_close(f);
    byol_trainer_destroy(t);
}

/* The kind comes from the metadata "format" alone. */
static void test_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *format;
        int32_t kind;
    } cases[] = {
        { "libbyol-checkpoint-1", BYOL_FILE_CHECKPOINT },
        { "libbyol-checkpoint-2", BYOL_FILE_CHECKPOINT_OTHER },
        { "libbyol-checkpoint-", BYOL_FILE_CHECKPOINT_OTHER },
        { "pt", BYOL_FILE_TENSORS },
        { "libbyol-checkpoint", BYOL_FILE_TENSORS },
        { NULL, BYOL_FILE_TENSORS },
    };
    const char *path = tmp_path("kind.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m[] = { "format", cases[i].format };
        assert_byol_ok(byol_file_write_safetensors(path, NULL, 0, m, cases[i].format ? 1 : 0));
        byol_file *f = NULL;
        assert_byol_ok(byol_file_open(path, &f));
        assert_int_equal(byol_file_kind(f), cases[i].kind);
        assert_int_equal(byol_file_tensor_count(f), 0);
        byol_file_close(f);
    }
    assert_int_equal(byol_file_kind(NULL), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const char *path = tmp_path("args.safetensors");
    byol_net *net = make_net();
    assert_byol_ok(byol_net_save(net, path));
    byol_net_destroy(net);
    byol_file *f = (byol_file *)1;
    assert_int_equal(byol_file_open(NULL, &f), BYOL_E_INVALID_ARG);
    assert_null(f);
    assert_int_equal(byol_file_open(path, NULL), BYOL_E_INVALID_ARG);
    assert_byol_ok(byol_file_open(path, &f));
    byol_file_tensor t = tensor_struct();
    int64_t n = byol_file_tensor_count(f);
    assert_int_equal(byol_file_tensor_info(f, n, &t), BYOL_E_RANGE);
    assert_msg_has(path);
    assert_int_equal(byol_file_tensor_info(f, -1, &t), BYOL_E_RANGE);
    assert_int_equal(byol_file_tensor_info(NULL, 0, &t), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_tensor_info(f, 0, NULL), BYOL_E_INVALID_ARG);
    t.struct_size = sizeof t - 1;
    assert_int_equal(byol_file_tensor_info(f, 0, &t), BYOL_E_ABI);
    assert_int_equal(byol_file_tensor_find(f, "conv1.weight", &t), BYOL_E_ABI);
    t.struct_size = sizeof t;
    assert_int_equal(byol_file_tensor_find(f, "no.such", &t), BYOL_E_KEY);
    assert_msg_has("no.such");
    assert_msg_has(path);
    assert_int_equal(byol_file_tensor_find(f, NULL, &t), BYOL_E_INVALID_ARG);
    const char *k = "x", *v = "x";
    assert_int_equal(byol_file_metadata_entry(f, 2, &k, &v), BYOL_E_RANGE);
    assert_int_equal(byol_file_metadata_entry(f, 0, NULL, &v), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_metadata_find(f, "step", &v), BYOL_E_KEY);
    assert_null(v);
    assert_msg_has("step");
    assert_int_equal(byol_file_metadata_find(NULL, "format", &v), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_size(NULL), 0);
    assert_int_equal(byol_file_tensor_count(NULL), 0);
    assert_int_equal(byol_file_metadata_count(NULL), 0);
    /* a caller with a newer, larger struct: only the known fields change */
    struct {
        byol_file_tensor t;
        int64_t later;
    } big;
    memset(&big, 0, sizeof big);
    big.t.struct_size = sizeof big;
    big.later = 77;
    assert_byol_ok(byol_file_tensor_info(f, 0, &big.t));
    assert_string_equal(big.t.name, "conv1.weight");
    assert_int_equal(big.later, 77);
    byol_file_close(f);
    byol_file_close(NULL);
}

/* ---- refusing what the loads refuse -------------------------------------------------- */

/* byol_file_open() and byol_net_load() on the same bytes: the same refusal
 * (code and message), or for an accepted file a net load that fails only
 * on tensor names, dtypes or shapes. Returns 1 if the file was refused. */
static int same_verdict(const char *path, byol_net *net)
{
    byol_file *f = NULL;
    int rc_file = byol_file_open(path, &f);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", byol_last_error());
    byol_file_close(f);
    int rc_net = byol_net_load(net, path, BYOL_LOAD_STRICT);
    if (rc_file != BYOL_OK) {
        if (rc_net != rc_file || strcmp(msg, byol_last_error()))
            fail_msg("%s: byol_file_open gave %s '%s', byol_net_load %s '%s'", path,
                     byol_error_name(rc_file), msg, byol_error_name(rc_net), byol_last_error());
        assert_null(f);
        return 1;
    }
    if (rc_net != BYOL_OK && rc_net != BYOL_E_FORMAT)
        fail_msg("%s: readable, but byol_net_load gave %s: %s", path, byol_error_name(rc_net),
                 byol_last_error());
    return 0;
}

static void test_refuses_what_net_load_refuses(void **state)
{
    (void)state;
    const char *good = tmp_path("good.safetensors"), *bad = tmp_path("bad.safetensors");
    byol_net *net = make_net();
    assert_byol_ok(byol_net_save(net, good));
    size_t len;
    unsigned char *bytes = tu_slurp(good, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | bytes[i];
    const size_t cuts[] = { 0, 1, 7, 8, 9, 16, 8 + hlen / 2, 8 + hlen - 1, 8 + hlen,
                            8 + hlen + 1, len / 2, len - 4, len - 1 };
    int refused = 0, cases = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++, cases++) {
        spit(bad, bytes, cuts[i]);
        refused += same_verdict(bad, net);
    }
    /* one byte changed: the length field, the braces, quotes, digits, ... */
    const size_t at[] = { 0, 3, 7, 8, 9, 10, 8 + hlen / 3, 8 + hlen / 2, 8 + hlen - 1 };
    const unsigned char to[] = { '}', 0, 0xFF, '"', ' ', '9', ',' };
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (size_t j = 0; j < sizeof to / sizeof to[0]; j++, cases++) {
            unsigned char keep = bytes[at[i]];
            bytes[at[i]] = to[j];
            spit(bad, bytes, len);
            refused += same_verdict(bad, net);
            bytes[at[i]] = keep;
        }
    assert_int_equal(same_verdict(good, net), 0);
    /* every truncation is refused; so are most one-byte changes */
    assert_true(refused >= (int)(sizeof cuts / sizeof cuts[0]) + 30);
    print_message("      %d damaged files, %d refused by both, the rest read by both\n", cases,
                  refused);
    assert_int_equal(same_verdict(tmp_path("missing"), net), 1);
    assert_int_equal(byol_file_open(tmp_dir, &(byol_file *){ NULL }), BYOL_E_IO);
    free(bytes);
    byol_net_destroy(net);
}

static void test_fuzz_corpus(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/corpus/safetensors";
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("%s: %s (run the tests from the source tree)", dir, strerror(errno));
    byol_net *net = make_net();
    struct dirent *de;
    int refused = 0, read = 0;
    while ((de = readdir(d)) != NULL) {
        char path[600];
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int r = same_verdict(path, net);
        /* the corpus names its files bad_* or valid_* */
        if (r != !strncmp(de->d_name, "bad_", 4))
            fail_msg("%s: %s", path, r ? "refused" : "read");
        refused += r;
        read += !r;
    }
    closedir(d);
    byol_net_destroy(net);
    print_message("      corpus: %d refused, %d read\n", refused, read);
    assert_true(refused >= 10 && read >= 3);
}

/* ---- writing ------------------------------------------------------------------- */

static void test_write_safetensors_round_trip(void **state)
{
    (void)state;
    const char *path = tmp_path("rt.safetensors");
    float f32[6] = { 1, -2, 3.5f, 0, 1e-3f, 7 };
    double f64[2] = { 0.25, -1e300 };
    int64_t i64 = -5;
    int32_t i32[3] = { 1, -1, 1 << 30 };
    uint8_t u8[5] = { 0, 1, 2, 254, 255 };
    byol_file_tensor t[6];
    for (int i = 0; i < 6; i++)
        t[i] = tensor_struct();
    t[0] = (byol_file_tensor){ sizeof t[0], BYOL_DTYPE_F32, "x.f32", 2, 0, { 2, 3 }, 0, 24, f32 };
    t[1] = (byol_file_tensor){ sizeof t[0], BYOL_DTYPE_F64, "f64", 1, 0, { 2 }, 0, 16, f64 };
    t[2] = (byol_file_tensor){ sizeof t[0], BYOL_DTYPE_I64, "scalar", 0, 0, { 0 }, 0, 8, &i64 };
    t[3] = (byol_file_tensor){ sizeof t[0], BYOL_DTYPE_I32, "i32", 1, 0, { 3 }, 0, 12, i32 };
    t[4] = (byol_file_tensor){ sizeof t[0], BYOL_DTYPE_U8, "u8 \xc3\xa9", 3, 0, { 5, 1, 1 },
                               0, 5, u8 };
    t[5] = (byol_file_tensor){ sizeof t[0], BYOL_DTYPE_F32, "empty", 2, 0, { 0, 4 }, 0, 0, NULL };
    const char *m[] = { "b", "two", "a", "", "quote\"\n", "\\" };
    assert_byol_ok(byol_file_write_safetensors(path, t, 6, m, 3));
    byol_file *f = NULL;
    assert_byol_ok(byol_file_open(path, &f));
    assert_int_equal(byol_file_tensor_count(f), 6);
    for (int i = 0; i < 6; i++) {
        byol_file_tensor r = tensor_struct();
        assert_byol_ok(byol_file_tensor_info(f, i, &r));
        assert_string_equal(r.name, t[i].name);
        assert_int_equal(r.dtype, t[i].dtype);
        assert_int_equal(r.ndim, t[i].ndim);
        assert_memory_equal(r.shape, t[i].shape, sizeof r.shape);
        assert_int_equal(r.nbytes, t[i].nbytes);
        if (r.nbytes)
            assert_memory_equal(r.data, t[i].data, r.nbytes);
    }
    byol_file_tensor r = tensor_struct();
    assert_byol_ok(byol_file_tensor_find(f, "scalar", &r));
    assert_int_equal(r.numel, 1);
    assert_byol_ok(byol_file_tensor_find(f, "empty", &r));
    assert_int_equal(r.numel, 0);
    assert_string_equal(meta(f, "a"), "");
    assert_string_equal(meta(f, "b"), "two");
    assert_string_equal(meta(f, "quote\"\n"), "\\");
    byol_file_close(f);
    /* the data section starts 8-byte aligned */
    size_t len;
    unsigned char *bytes = tu_slurp(path, &len);
    assert_int_equal(bytes[0] % 8, 0);
    free(bytes);
}

/* Elements are struct_size apart: a caller with a newer header passes
 * larger structs; one smaller than 1.3's, misaligned or absurdly large is
 * refused. */
static void test_write_struct_sizes(void **state)
{
    (void)state;
    const char *path = tmp_path("sizes.safetensors");
    float x[2] = { 1, 2 }, y[1] = { 3 };
    struct newer {
        byol_file_tensor t;
        int64_t later[3];
    } v[2];
    memset(v, 0, sizeof v);
    v[0].t = (byol_file_tensor){ sizeof v[0], BYOL_DTYPE_F32, "x", 1, 0, { 2 }, 0, 8, x };
    v[1].t = (byol_file_tensor){ sizeof v[0], BYOL_DTYPE_F32, "y", 1, 0, { 1 }, 0, 4, y };
    assert_byol_ok(byol_file_write_safetensors(path, &v[0].t, 2, NULL, 0));
    byol_file *f = NULL;
    byol_file_tensor r = tensor_struct();
    assert_byol_ok(byol_file_open(path, &f));
    assert_byol_ok(byol_file_tensor_info(f, 1, &r));
    assert_string_equal(r.name, "y");
    byol_file_close(f);
    v[1].t.struct_size = sizeof v[1].t;
    assert_int_equal(byol_file_write_safetensors(path, &v[0].t, 2, NULL, 0), BYOL_E_ABI);
    assert_msg_has("tensor 1");
    byol_file_tensor small = { sizeof small - 8, BYOL_DTYPE_F32, "x", 1, 0, { 2 }, 0, 8, x };
    assert_int_equal(byol_file_write_safetensors(path, &small, 1, NULL, 0), BYOL_E_ABI);
    /* a size no struct can have would step past the array: misaligned, or huge */
    v[0].t.struct_size = sizeof v[0] + 4;
    assert_int_equal(byol_file_write_safetensors(path, &v[0].t, 1, NULL, 0), BYOL_E_ABI);
    assert_msg_has("is not that of a byol_file_tensor");
    v[0].t.struct_size = 0x7fff0000u;
    assert_int_equal(byol_file_write_safetensors(path, &v[0].t, 2, NULL, 0), BYOL_E_ABI);
    assert_msg_has("is not that of a byol_file_tensor");
}

/* Every bad argument is refused before the file is touched. */
static void test_write_bad_arguments_keep_the_file(void **state)
{
    (void)state;
    const char *path = tmp_path("keep.safetensors");
    float x[4] = { 1, 2, 3, 4 };
    byol_file_tensor good = { sizeof good, BYOL_DTYPE_F32, "x", 1, 0, { 4 }, 0, 16, x };
    assert_byol_ok(byol_file_write_safetensors(path, &good, 1, NULL, 0));
    size_t len0, len1;
    unsigned char *before = tu_slurp(path, &len0);
    byol_file_tensor bad[8];
    for (int i = 0; i < 8; i++)
        bad[i] = good;
    bad[0].nbytes = 12;            /* not the shape's size */
    bad[1].dtype = 99;             /* unknown dtype */
    bad[2].ndim = 9;               /* too many dimensions */
    bad[3].shape[0] = -4;          /* negative size */
    bad[4].name = NULL;
    bad[5].name = "__metadata__";  /* reserved */
    bad[6].name = "\xff";          /* not UTF-8 */
    bad[7].data = NULL;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(byol_file_write_safetensors(path, &bad[i], 1, NULL, 0),
                         BYOL_E_INVALID_ARG);
        assert_msg_has(path);
    }
    byol_file_tensor twice[2] = { good, good };
    assert_int_equal(byol_file_write_safetensors(path, twice, 2, NULL, 0), BYOL_E_INVALID_ARG);
    assert_msg_has("duplicate");
    const char *m[] = { "k", "1", "k", "2" };
    assert_int_equal(byol_file_write_safetensors(path, &good, 1, m, 2), BYOL_E_INVALID_ARG);
    const char *mnull[] = { "k", NULL };
    assert_int_equal(byol_file_write_safetensors(path, &good, 1, mnull, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_safetensors(path, NULL, 1, NULL, 0), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_safetensors(path, &good, -1, NULL, 0), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_safetensors(path, &good, 1, NULL, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_safetensors("", &good, 1, NULL, 0), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_safetensors(NULL, &good, 1, NULL, 0), BYOL_E_INVALID_ARG);
    unsigned char *after = tu_slurp(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(count_temp_files(tmp_dir), 0);
    free(before);
    free(after);
}

static void test_write_atomic_parts(void **state)
{
    (void)state;
    const char *path = tmp_path("parts.bin");
    const void *parts[] = { "head", NULL, "body", "" };
    const size_t sizes[] = { 4, 0, 4, 0 };
    assert_byol_ok(byol_file_write_atomic(path, parts, sizes, 4));
    size_t len;
    unsigned char *got = tu_slurp(path, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(got, "headbody", 8);
    free(got);
    assert_byol_ok(byol_file_write_atomic(path, NULL, NULL, 0));
    got = tu_slurp(path, &len);
    assert_int_equal(len, 0);
    free(got);
    const void *nul[] = { NULL };
    const size_t one[] = { 1 };
    assert_int_equal(byol_file_write_atomic(path, nul, one, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_atomic(path, parts, NULL, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_atomic(path, parts, sizes, -1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_atomic(NULL, parts, sizes, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_file_write_atomic("", parts, sizes, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(count_temp_files(tmp_dir), 0);
}

static void test_write_atomic_missing_folder(void **state)
{
    (void)state;
    const char *path = tmp_path("no-such-folder/x.bin");
    const void *parts[] = { "x" };
    const size_t sizes[] = { 1 };
    assert_int_equal(byol_file_write_atomic(path, parts, sizes, 1), BYOL_E_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(ENOENT));
    float x = 1;
    byol_file_tensor t = { sizeof t, BYOL_DTYPE_F32, "x", 0, 0, { 0 }, 0, 4, &x };
    assert_int_equal(byol_file_write_safetensors(path, &t, 1, NULL, 0), BYOL_E_IO);
    assert_msg_has(path);
}

/* A folder the process may not write into (not for root, who may): the
 * old file stays, and no temporary file is left. */
static void test_write_atomic_unwritable_folder(void **state)
{
    (void)state;
    if (geteuid() == 0) {
        print_message("      skipped: root writes into read-only folders (the EFBIG case "
                      "below covers a failed write)\n");
        return;
    }
    char dir[sizeof tmp_dir + 8], path[sizeof dir + 16];
    snprintf(dir, sizeof dir, "%s/ro", tmp_dir);
    snprintf(path, sizeof path, "%s/f.bin", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    const void *old[] = { "old" }, *new[] = { "new!" };
    const size_t old_n[] = { 3 }, new_n[] = { 4 };
    assert_byol_ok(byol_file_write_atomic(path, old, old_n, 1));
    assert_int_equal(chmod(dir, 0500), 0);
    int rc = byol_file_write_atomic(path, new, new_n, 1);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(rc, BYOL_E_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(EACCES));
    size_t len;
    unsigned char *got = tu_slurp(path, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "old", 3);
    free(got);
    assert_int_equal(count_temp_files(dir), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* A write that fails half way (file size limit: EFBIG, for root too)
 * leaves the previous file byte for byte, and no temporary file. */
static void test_write_atomic_failure_keeps_the_file(void **state)
{
    (void)state;
    const char *path = tmp_path("efbig.bin");
    static char big[64 * 1024];
    const void *old[] = { "previous" }, *parts[] = { big, big };
    const size_t old_n[] = { 8 }, sizes[] = { sizeof big, sizeof big };
    assert_byol_ok(byol_file_write_atomic(path, old, old_n, 1));
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 4096;
    void (*handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = byol_file_write_atomic(path, parts, sizes, 2);
    float *f32 = (float *)(void *)big;
    byol_file_tensor t = { sizeof t, BYOL_DTYPE_F32, "big", 1, 0, { sizeof big / 4 }, 0,
                           sizeof big, f32 };
    int rc_st = byol_file_write_safetensors(path, &t, 1, NULL, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, handler);
    assert_int_equal(rc, BYOL_E_IO);
    assert_int_equal(rc_st, BYOL_E_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(EFBIG));
    size_t len;
    unsigned char *got = tu_slurp(path, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(got, "previous", 8);
    free(got);
    assert_int_equal(count_temp_files(tmp_dir), 0);
}

/* ---- allocation failures ----------------------------------------------------------- */

static int open_and_describe(void *arg)
{
    byol_file *f = NULL;
    int rc = byol_file_open(arg, &f);
    if (rc == BYOL_OK) {
        byol_file_tensor t = tensor_struct();
        assert_byol_ok(byol_file_tensor_find(f, "online.encoder.conv1.weight", &t));
        assert_int_equal(byol_file_kind(f), BYOL_FILE_CHECKPOINT);
    } else
        assert_null(f);
    byol_file_close(f);
    return rc;
}

static void test_open_allocation_failures(void **state)
{
    (void)state;
    const char *path = tmp_path("oom.safetensors");
    byol_trainer_destroy(saved_trainer(path));
    assert_true(tu_each_allocation_fails(open_and_describe, (void *)path, NULL) >= 4);
}

typedef struct write_job {
    const char *path;
    size_t len0;
    unsigned char *before;
    int safetensors;
} write_job;

static int write_new(void *arg)
{
    write_job *j = arg;
    static float x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    if (j->safetensors) {
        byol_file_tensor t = { sizeof t, BYOL_DTYPE_F32, "x", 2, 0, { 2, 4 }, 0, 32, x };
        const char *m[] = { "format", "pt" };
        return byol_file_write_safetensors(j->path, &t, 1, m, 1);
    }
    const void *parts[] = { "new ", x };
    const size_t sizes[] = { 4, sizeof x };
    return byol_file_write_atomic(j->path, parts, sizes, 2);
}

/* After each failure the previous file is intact. */
static void still_old(void *arg)
{
    write_job *j = arg;
    size_t len;
    unsigned char *now = tu_slurp(j->path, &len);
    assert_int_equal(len, j->len0);
    assert_memory_equal(now, j->before, len);
    free(now);
    assert_int_equal(count_temp_files(tmp_dir), 0);
}

static void test_write_allocation_failures(void **state)
{
    (void)state;
    for (int st = 0; st < 2; st++) {
        write_job j = { tmp_path(st ? "oomw.safetensors" : "oomw.bin"), 0, NULL, st };
        const void *old[] = { "old" };
        const size_t old_n[] = { 3 };
        assert_byol_ok(byol_file_write_atomic(j.path, old, old_n, 1));
        j.before = tu_slurp(j.path, &j.len0);
        assert_true(tu_each_allocation_fails(write_new, &j, still_old) >= 1);
        free(j.before);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names_spelled_by_the_preprocessor),
        cmocka_unit_test(test_error_names_match_the_header_text),
        cmocka_unit_test(test_weight_file),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_refuses_what_net_load_refuses),
        cmocka_unit_test(test_fuzz_corpus),
        cmocka_unit_test(test_write_safetensors_round_trip),
        cmocka_unit_test(test_write_struct_sizes),
        cmocka_unit_test(test_write_bad_arguments_keep_the_file),
        cmocka_unit_test(test_write_atomic_parts),
        cmocka_unit_test(test_write_atomic_missing_folder),
        cmocka_unit_test(test_write_atomic_unwritable_folder),
        cmocka_unit_test(test_write_atomic_failure_keeps_the_file),
        cmocka_unit_test(test_open_allocation_failures),
        cmocka_unit_test(test_write_allocation_failures),
    };
    return cmocka_run_group_tests_name("file_api", tests, setup_dir, remove_dir);
}
