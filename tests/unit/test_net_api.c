/* byol_net through its public API: presets, initialisation, errors, weight
 * files, the builder, determinism, embed, cancel and allocation failures;
 * and a net ending in BatchNorm + ReLU through the trainer's internal
 * passes, which must give the public passes' gradients. */
#include <unistd.h>

#include "test_util.h"

#include "nn/nn.h"

static byol_net *make(const char *settings)
{
    byol_config *cfg = tu_config(settings);
    byol_net *net = NULL;
    assert_byol_ok(byol_net_create(cfg, &net));
    byol_config_destroy(cfg);
    return net;
}

static byol_tensor view(float *data, int32_t ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    byol_tensor t = { sizeof t, ndim, { a, b, c, d }, data };
    return t;
}

static int64_t count_params(byol_net *net)
{
    int64_t n = 0;
    assert_non_null(byol_net_buffer(net, BYOL_BUFFER_PARAMS, &n));
    return n;
}

static const float *tensor(byol_net *net, const char *name, byol_tensor_info *out)
{
    for (int64_t i = 0; i < byol_net_tensor_count(net); i++) {
        byol_tensor_info info = { .struct_size = sizeof info };
        assert_byol_ok(byol_net_tensor_info(net, i, &info));
        if (!strcmp(info.name, name)) {
            *out = info;
            return byol_net_buffer(net, info.buffer, NULL) + info.offset;
        }
    }
    fail_msg("no tensor %s", name);
    return NULL;
}

/* Parameter counts of torchvision's models (their documentation lists them). */
static void test_presets_match_torchvision_sizes(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t params, out; } cases[] = {
        { "net.arch=resnet18 net.num_classes=1000", 11689512, 1000 },
        { "net.arch=resnet34 net.num_classes=1000", 21797672, 1000 },
        { "net.arch=resnet50 net.num_classes=1000", 25557032, 1000 },
        { "net.arch=resnet18", 11689512 - 513000, 512 },
        { "net.arch=resnet50-cifar", 25557032 - 2049000 - 9408 + 1728, 2048 },
        { "net.arch=resnet18-cifar net.width=0.5", -1, 256 },
        { "net.arch=cnn-small", 92896, 128 },
        /* 512*4096+4096 + 2*4096 + 4096*256 */
        { "net.arch=mlp", 512 * 4096 + 4096 + 2 * 4096 + 4096 * 256, 256 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        byol_net *net = make(cases[i].s);
        int32_t ndim;
        int64_t dims[3];
        assert_byol_ok(byol_net_output_dims(net, &ndim, dims));
        assert_int_equal(ndim, 1);
        assert_int_equal(dims[0], cases[i].out);
        if (cases[i].params > 0 && count_params(net) != cases[i].params)
            fail_msg("%s: %lld parameters, torchvision has %lld", cases[i].s,
                     (long long)count_params(net), (long long)cases[i].params);
        byol_net_destroy(net);
    }
}

static double stddev(const float *x, int64_t n)
{
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    return sqrt(s2 / n - (s / n) * (s / n));
}

static void test_initialisation(void **state)
{
    (void)state;
    byol_tensor_info info;
    byol_net *net = make("net.arch=resnet18 net.num_classes=1000 seed=3");
    /* kaiming normal, fan_out: std = sqrt(2 / (64*7*7)) */
    const float *w = tensor(net, "layer1.0.conv1.weight", &info);
    double want = sqrt(2.0 / (64 * 9));
    assert_true(fabs(stddev(w, info.numel) / want - 1) < 0.03);
    const float *fc = tensor(net, "fc.weight", &info);
    double bound = 1 / sqrt(512.0), mx = 0;
    for (int64_t i = 0; i < info.numel; i++)
        mx = fmax(mx, fabs(fc[i]));
    assert_true(mx <= bound && mx > 0.99 * bound);
    const float *g = tensor(net, "layer4.1.bn2.weight", &info);
    for (int64_t i = 0; i < info.numel; i++)
        assert_true(g[i] == 1.0f);
    const float *rv = tensor(net, "bn1.running_var", &info);
    assert_int_equal(info.buffer, BYOL_BUFFER_STATE);
    assert_true(rv[0] == 1.0f);
    byol_net *zero = make("net.arch=resnet18 net.zero_init_residual=1");
    g = tensor(zero, "layer1.0.bn2.weight", &info);
    for (int64_t i = 0; i < info.numel; i++)
        assert_true(g[i] == 0.0f);
    assert_true(tensor(zero, "layer1.0.bn1.weight", &info)[0] == 1.0f);
    /* Haiku: truncated normal 1/sqrt(fan_in) at 2 std, so std ~ 0.88/sqrt(fan_in) */
    byol_net *hk = make("net.arch=resnet18 net.init=haiku");
    w = tensor(hk, "layer2.0.conv2.weight", &info);
    double s = 1 / sqrt(128.0 * 9);
    assert_true(fabs(stddev(w, info.numel) / (0.8796 * s) - 1) < 0.03);
    for (int64_t i = 0; i < info.numel; i++)
        assert_true(fabs(w[i]) <= 2 * s + 1e-7);
    /* the seed fixes everything; another seed changes it */
    byol_net *same = make("net.arch=resnet18 net.num_classes=1000 seed=3");
    byol_net *other = make("net.arch=resnet18 net.num_classes=1000 seed=4");
    int64_t n = count_params(net);
    assert_memory_equal(byol_net_buffer(net, 0, NULL), byol_net_buffer(same, 0, NULL), n * 4);
    assert_memory_not_equal(byol_net_buffer(net, 0, NULL), byol_net_buffer(other, 0, NULL), n * 4);
    byol_net_destroy(net);
    byol_net_destroy(zero);
    byol_net_destroy(hk);
    byol_net_destroy(same);
    byol_net_destroy(other);
}

static void test_bad_calls_give_specific_errors(void **state)
{
    (void)state;
    byol_net *net = make("net.arch=cnn-small");
    float x[8 * 28 * 28], y[8 * 128];
    tu_fill(x, 8 * 28 * 28, 1, 1.0f);
    byol_tensor tx = view(x, 4, 2, 1, 28, 28), ty = view(y, 2, 2, 128, 0, 0);
    assert_int_equal(byol_net_forward(net, &tx, &ty), BYOL_E_BAD_STATE);
    assert_non_null(strstr(byol_last_error(), "byol_net_plan"));
    assert_byol_ok(byol_net_plan(net, 2));
    assert_int_equal(byol_net_backward(net, &ty, NULL), BYOL_E_BAD_STATE);
    byol_tensor big = view(x, 4, 3, 1, 28, 28), bigy = view(y, 2, 3, 128, 0, 0);
    assert_int_equal(byol_net_forward(net, &big, &bigy), BYOL_E_SHAPE);
    assert_non_null(strstr(byol_last_error(), "batch 3 exceeds the planned 2"));
    byol_tensor wrong = view(x, 4, 2, 3, 28, 28);
    assert_int_equal(byol_net_forward(net, &wrong, &ty), BYOL_E_SHAPE);
    assert_non_null(strstr(byol_last_error(), "[2,3,28,28]"));
    byol_tensor wrongy = view(y, 2, 2, 64, 0, 0);
    assert_int_equal(byol_net_forward(net, &tx, &wrongy), BYOL_E_SHAPE);
    byol_tensor old = tx;
    old.struct_size = 8;
    assert_int_equal(byol_net_forward(net, &old, &ty), BYOL_E_ABI);
    assert_int_equal(byol_net_forward(NULL, &tx, &ty), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_net_forward(net, NULL, &ty), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_net_plan(net, 0), BYOL_E_INVALID_ARG);
    assert_null(byol_net_buffer(net, 7, NULL));
    byol_tensor_info info = { .struct_size = sizeof info };
    assert_int_equal(byol_net_tensor_info(net, 999, &info), BYOL_E_RANGE);
    info.struct_size = 4;
    assert_int_equal(byol_net_tensor_info(net, 0, &info), BYOL_E_ABI);

    /* a non-finite input changes nothing, not even BatchNorm statistics */
    int64_t ns;
    float *st = byol_net_buffer(net, BYOL_BUFFER_STATE, &ns);
    float *before = malloc((size_t)ns * sizeof *before);
    memcpy(before, st, (size_t)ns * sizeof *before);
    x[100] = NAN;
    assert_int_equal(byol_net_forward(net, &tx, &ty), BYOL_E_NONFINITE);
    assert_non_null(strstr(byol_last_error(), "element 100"));
    x[100] = INFINITY;
    assert_int_equal(byol_net_forward(net, &tx, &ty), BYOL_E_NONFINITE);
    assert_memory_equal(before, st, (size_t)ns * sizeof *before);
    x[100] = 0.5f;
    /* the handle stays usable; eval forward gives no backward */
    assert_byol_ok(byol_net_forward(net, &tx, &ty));
    assert_byol_ok(byol_net_backward(net, &ty, NULL));
    assert_byol_ok(byol_net_set_training(net, 0));
    assert_byol_ok(byol_net_forward(net, &tx, &ty));
    assert_int_equal(byol_net_backward(net, &ty, NULL), BYOL_E_BAD_STATE);
    free(before);
    byol_net_destroy(net);
    byol_net_destroy(NULL);

    byol_config *cfg;
    byol_net *tiny = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, "net.arch=cnn-small net.image_size=1"));
    assert_int_equal(byol_net_create(cfg, &tiny), BYOL_E_SHAPE);
    assert_non_null(strstr(byol_last_error(), "image size 1 is too small"));
    assert_null(tiny);
    byol_config_destroy(cfg);
}

static void test_save_load(void **state)
{
    (void)state;
    const char *path = tu_tmp_path("w.safetensors");
    byol_net *a = make("net.arch=resnet18-cifar net.width=0.25 seed=1");
    byol_net *b = make("net.arch=resnet18-cifar net.width=0.25 seed=2");
    int64_t n = count_params(a), ns;
    assert_byol_ok(byol_net_save(a, path));
    assert_byol_ok(byol_net_load(b, path, BYOL_LOAD_STRICT));
    assert_memory_equal(byol_net_buffer(a, 0, NULL), byol_net_buffer(b, 0, NULL), n * 4);
    byol_net_buffer(a, BYOL_BUFFER_STATE, &ns);
    assert_memory_equal(byol_net_buffer(a, 2, NULL), byol_net_buffer(b, 2, NULL), ns * 4);

    /* a wrong network's file is refused by name and changes nothing */
    byol_net *c = make("net.arch=cnn-small seed=5");
    float *pc = byol_net_buffer(c, 0, NULL);
    int64_t nc = count_params(c);
    float *keep = malloc((size_t)nc * 4);
    memcpy(keep, pc, (size_t)nc * 4);
    assert_int_equal(byol_net_load(c, path, BYOL_LOAD_STRICT), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "conv1.weight"));
    assert_non_null(strstr(byol_last_error(), path));
    assert_memory_equal(keep, pc, (size_t)nc * 4);

    /* truncated and missing files */
    size_t size;
    unsigned char *bytes = tu_slurp(path, &size);
    assert_byol_ok(byol_net_load_buffer(b, bytes, size, BYOL_LOAD_STRICT));
    assert_int_equal(byol_net_load_buffer(b, bytes, size - 100, BYOL_LOAD_STRICT),
                     BYOL_E_FORMAT);
    assert_int_equal(byol_net_load(b, tu_tmp_path("missing.safetensors"), 0), BYOL_E_IO);
    assert_non_null(strstr(byol_last_error(), "missing.safetensors"));
    assert_int_equal(byol_net_save(a, "/nonexistent-dir/w.safetensors"), BYOL_E_IO);
    assert_non_null(strstr(byol_last_error(), "/nonexistent-dir/w.safetensors"));

    /* extra tensors (a classifier) are refused unless asked to skip them */
    byol_net *cls = make("net.arch=resnet18-cifar net.width=0.25 net.num_classes=10");
    assert_byol_ok(byol_net_save(cls, path));
    assert_int_equal(byol_net_load(b, path, BYOL_LOAD_STRICT), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "unexpected tensor 'fc."));
    assert_byol_ok(byol_net_load(b, path, BYOL_LOAD_IGNORE_UNEXPECTED));
    assert_byol_ok(byol_net_load(b, path, BYOL_LOAD_IGNORE_CLASSIFIER));
    assert_int_equal(byol_net_load(cls, tu_tmp_path("w.safetensors"), 0), BYOL_OK);
    /* ... but IGNORE_CLASSIFIER skips fc.* only: a deeper net's extra layer is refused */
    byol_net *deep = make("net.arch=resnet34 net.width=0.0625 net.image_size=32");
    byol_net *shallow = make("net.arch=resnet18 net.width=0.0625 net.image_size=32");
    assert_byol_ok(byol_net_save(deep, path));
    assert_int_equal(byol_net_load(shallow, path, BYOL_LOAD_IGNORE_CLASSIFIER), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "unexpected tensor 'layer1.2."));
    byol_net_destroy(deep);
    byol_net_destroy(shallow);
    free(bytes);
    free(keep);
    unlink(path);
    byol_net_destroy(a);
    byol_net_destroy(b);
    byol_net_destroy(c);
    byol_net_destroy(cls);
}

/* A load refuses, with the net unchanged: flag bits it does not know, a
 * non-finite value (named with its tensor and index) and a tensor of
 * another dtype (named by its safetensors name); a save or load names the
 * public function called with an empty path. */
static void test_load_refuses_bad_input(void **state)
{
    (void)state;
    const char *path = tu_tmp_path("good.safetensors"), *bad = tu_tmp_path("bad.safetensors");
    byol_net *a = make("net.arch=cnn-small seed=1"), *b = make("net.arch=cnn-small seed=2");
    int64_t n = count_params(b), ns;
    float *pb = byol_net_buffer(b, BYOL_BUFFER_PARAMS, NULL);
    float *sb = byol_net_buffer(b, BYOL_BUFFER_STATE, &ns);
    float *keep = malloc((size_t)(n + ns) * 4);
    memcpy(keep, pb, (size_t)n * 4);
    memcpy(keep + n, sb, (size_t)ns * 4);
    assert_byol_ok(byol_net_save(a, path));
    size_t size;
    unsigned char *bytes = tu_slurp(path, &size);

    assert_int_equal(byol_net_load(b, path, 12345), BYOL_E_INVALID_ARG);
    assert_non_null(strstr(byol_last_error(), "byol_net_load: unknown flag bits 0x3038"));
    assert_int_equal(byol_net_load_buffer(b, bytes, size, 1u << 31), BYOL_E_INVALID_ARG);
    assert_non_null(strstr(byol_last_error(),
                           "byol_net_load_buffer: unknown flag bits 0x80000000"));

    tu_rewrite(path, bad, NULL, "bn2.running_var", NAN);
    assert_int_equal(byol_net_load(b, bad, BYOL_LOAD_STRICT), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "tensor 'bn2.running_var' holds NaN at index 3"));
    assert_non_null(strstr(byol_last_error(), bad));
    tu_rewrite(path, bad, NULL, "conv3.weight", INFINITY);
    free(bytes);
    bytes = tu_slurp(bad, &size);
    assert_int_equal(byol_net_load_buffer(b, bytes, size, BYOL_LOAD_IGNORE_UNEXPECTED),
                     BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "'conv3.weight' holds an infinity at index 3"));

    byol_tensor_info info;
    tensor(b, "conv1.weight", &info);
    int32_t ints[1024] = { 0 };
    assert_true(info.numel <= 1024);
    byol_file_tensor t = { .struct_size = sizeof t, .dtype = BYOL_DTYPE_I32,
                           .name = "conv1.weight", .ndim = info.ndim,
                           .nbytes = (uint64_t)info.numel * 4, .data = ints };
    memcpy(t.shape, info.shape, sizeof info.shape);
    assert_byol_ok(byol_file_write_safetensors(bad, &t, 1, NULL, 0));
    assert_int_equal(byol_net_load(b, bad, BYOL_LOAD_STRICT), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "'conv1.weight' has dtype I32, expected F32"));
    assert_memory_equal(keep, pb, (size_t)n * 4);
    assert_memory_equal(keep + n, sb, (size_t)ns * 4);

    byol_config *cfg = tu_config(NULL);
    assert_int_equal(byol_net_save(a, ""), BYOL_E_INVALID_ARG);
    assert_string_equal(byol_last_error(), "byol_net_save: empty path");
    assert_int_equal(byol_net_export(a, cfg, ""), BYOL_E_INVALID_ARG);
    assert_string_equal(byol_last_error(), "byol_net_export: empty path");
    assert_int_equal(byol_net_load(a, "", 0), BYOL_E_INVALID_ARG);
    assert_string_equal(byol_last_error(), "byol_net_load: empty path");
    byol_config_destroy(cfg);
    free(bytes);
    free(keep);
    unlink(path);
    unlink(bad);
    byol_net_destroy(a);
    byol_net_destroy(b);
}

/* num_batches_tracked counts training forwards, is saved and loaded with
 * the weights, and byol_net_counter() reads it by its state_dict name. */
static void test_counters(void **state)
{
    (void)state;
    byol_net *a = make("net.arch=cnn-small seed=1");
    byol_net *b = make("net.arch=cnn-small seed=2");
    float *x = calloc(2 * 28 * 28, sizeof *x), y[2 * 128];
    byol_tensor tx = view(x, 4, 2, 1, 28, 28), ty = view(y, 2, 2, 128, 0, 0);
    int64_t v = -1;
    assert_byol_ok(byol_net_counter(a, "bn1.num_batches_tracked", &v));
    assert_int_equal(v, 0);
    assert_byol_ok(byol_net_plan(a, 2));
    assert_byol_ok(byol_net_set_training(a, 1));
    assert_byol_ok(byol_net_forward(a, &tx, &ty));
    assert_byol_ok(byol_net_forward(a, &tx, &ty));
    assert_byol_ok(byol_net_set_training(a, 0));
    assert_byol_ok(byol_net_forward(a, &tx, &ty));  /* eval: not counted */
    assert_byol_ok(byol_net_embed(a, &tx, &ty));
    assert_byol_ok(byol_net_counter(a, "bn1.num_batches_tracked", &v));
    assert_int_equal(v, 2);

    const char *path = tu_tmp_path("counters.safetensors");
    assert_byol_ok(byol_net_save(a, path));
    assert_byol_ok(byol_net_load(b, path, BYOL_LOAD_STRICT));
    assert_byol_ok(byol_net_counter(b, "bn1.num_batches_tracked", &v));
    assert_int_equal(v, 2);

    v = -1;
    assert_int_equal(byol_net_counter(a, "bn1.running_var", &v), BYOL_E_KEY);
    assert_non_null(strstr(byol_last_error(), "'bn1.running_var'"));
    assert_int_equal(v, -1);
    assert_int_equal(byol_net_counter(a, "conv1.num_batches_tracked", &v), BYOL_E_KEY);
    assert_int_equal(byol_net_counter(NULL, "bn1.num_batches_tracked", &v), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_net_counter(a, NULL, &v), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_net_counter(a, "bn1.num_batches_tracked", NULL), BYOL_E_INVALID_ARG);
    unlink(path);
    free(x);
    byol_net_destroy(a);
    byol_net_destroy(b);
}

/* byol_net_export records the settings that rebuild the net (the input
 * it takes, not the config's 0) beside the same weights byol_net_save writes. */
static void test_export_records_settings(void **state)
{
    (void)state;
    const char *path = tu_tmp_path("export.safetensors");
    byol_config *cfg = tu_config("net.arch=cnn-small net.width=0.25 ema.tau_base=0.99 "
                                 "augment.size=28 data.channels=1 augment.mean=0.5 "
                                 "augment.std=0.25");
    byol_net *net = NULL, *back = NULL;
    assert_byol_ok(byol_net_create(cfg, &net));
    assert_byol_ok(byol_net_export(net, cfg, path));
    byol_file *f = NULL;
    assert_byol_ok(byol_file_open(path, &f));
    assert_int_equal(byol_file_kind(f), BYOL_FILE_TENSORS);
    static const char *const want[][2] = {
        { "net.arch", "cnn-small" }, { "net.width", "0.25" }, { "net.in_channels", "1" },
        { "net.image_size", "28" }, { "data.channels", "1" }, { "augment.size", "28" },
        { "augment.mean", "0.5" }, { "augment.std", "0.25" }, { "format", "pt" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *value = NULL;
        assert_byol_ok(byol_file_metadata_find(f, want[i][0], &value));
        assert_string_equal(value, want[i][1]);
    }
    byol_file_close(f);
    assert_byol_ok(byol_config_parse(cfg, "seed=9"));
    assert_byol_ok(byol_net_create(cfg, &back));
    assert_byol_ok(byol_net_load(back, path, BYOL_LOAD_STRICT));
    assert_memory_equal(byol_net_buffer(net, 0, NULL), byol_net_buffer(back, 0, NULL),
                        (size_t)count_params(net) * 4);
    assert_int_equal(byol_net_export(net, NULL, path), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_net_export(net, cfg, "/nonexistent-dir/e.safetensors"), BYOL_E_IO);
    unlink(path);
    byol_net_destroy(net);
    byol_net_destroy(back);
    byol_config_destroy(cfg);
}

/* cnn-small rebuilt by hand with the builder computes the same bits. */
static void test_builder_matches_preset(void **state)
{
    (void)state;
    byol_builder *b;
    byol_net *built = NULL, *preset = make("net.arch=cnn-small seed=9");
    int32_t y;
    assert_byol_ok(byol_builder_create(NULL, 1, 28, 28, &b));
    assert_byol_ok(byol_builder_conv2d(b, "conv1", 0, 32, 3, 1, 1, 0, &y));
    assert_byol_ok(byol_builder_batchnorm(b, "bn1", y, &y));
    assert_byol_ok(byol_builder_relu(b, y, &y));
    assert_byol_ok(byol_builder_maxpool(b, y, 2, 2, 0, &y));
    assert_byol_ok(byol_builder_conv2d(b, "conv2", y, 64, 3, 1, 1, 0, &y));
    assert_byol_ok(byol_builder_batchnorm(b, "bn2", y, &y));
    assert_byol_ok(byol_builder_relu(b, y, &y));
    assert_byol_ok(byol_builder_maxpool(b, y, 2, 2, 0, &y));
    assert_byol_ok(byol_builder_conv2d(b, "conv3", y, 128, 3, 1, 1, 0, &y));
    assert_byol_ok(byol_builder_batchnorm(b, "bn3", y, &y));
    assert_byol_ok(byol_builder_relu(b, y, &y));
    int32_t out;
    assert_byol_ok(byol_builder_avgpool(b, y, &out));
    /* errors leave the builder usable */
    assert_int_equal(byol_builder_linear(b, "fc", y, 10, 1, NULL), BYOL_E_SHAPE);
    assert_int_equal(byol_builder_conv2d(b, "conv1", y, 8, 3, 1, 1, 0, NULL), BYOL_E_INVALID_ARG);
    assert_non_null(strstr(byol_last_error(), "conv1"));
    assert_int_equal(byol_builder_relu(b, 99, NULL), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_builder_conv2d(b, "big", y, 8, 9, 1, 0, 0, NULL), BYOL_E_SHAPE);
    assert_int_equal(byol_builder_add(b, y, out, NULL), BYOL_E_SHAPE);
    assert_int_equal(byol_builder_finish(b, 99, &built), BYOL_E_INVALID_ARG);
    assert_byol_ok(byol_builder_finish(b, out, &built));
    byol_builder_destroy(b);

    const char *path = tu_tmp_path("p.safetensors");
    assert_byol_ok(byol_net_save(preset, path));
    assert_byol_ok(byol_net_load(built, path, BYOL_LOAD_STRICT));
    unlink(path);
    float x[2 * 784], y1[256], y2[256], d1[2 * 784], d2[2 * 784];
    tu_fill(x, 2 * 784, 3, 1.0f);
    byol_tensor tx = view(x, 4, 2, 1, 28, 28);
    byol_tensor t1 = view(y1, 2, 2, 128, 0, 0), t2 = view(y2, 2, 2, 128, 0, 0);
    byol_tensor td1 = view(d1, 4, 2, 1, 28, 28), td2 = view(d2, 4, 2, 1, 28, 28);
    assert_byol_ok(byol_net_plan(built, 2));
    assert_byol_ok(byol_net_plan(preset, 2));
    assert_byol_ok(byol_net_forward(built, &tx, &t1));
    assert_byol_ok(byol_net_forward(preset, &tx, &t2));
    assert_memory_equal(y1, y2, sizeof y1);
    assert_byol_ok(byol_net_backward(built, &t1, &td1));
    assert_byol_ok(byol_net_backward(preset, &t1, &td2));
    assert_memory_equal(d1, d2, sizeof d1);
    byol_net_destroy(built);
    byol_net_destroy(preset);
}

/* One forward+backward of resnet18-cifar under modes ("nn.conv_algo=...");
 * returns output and gradients. */
static void step(const char *modes, int threads, float *y, float *grads, int64_t ng)
{
    char s[160];
    snprintf(s, sizeof s, "net.arch=resnet18-cifar net.width=0.25 seed=11 threads=%d %s",
             threads, modes);
    byol_net *net = make(s);
    float *x = malloc(8 * 3 * 32 * 32 * sizeof *x), dy[8 * 128];
    tu_fill(x, 8 * 3 * 32 * 32, 5, 2.0f);
    tu_fill(dy, 8 * 128, 6, 1.0f);
    byol_tensor tx = view(x, 4, 8, 3, 32, 32), ty = view(y, 2, 8, 128, 0, 0);
    byol_tensor tdy = view(dy, 2, 8, 128, 0, 0);
    assert_byol_ok(byol_net_plan(net, 8));
    assert_byol_ok(byol_net_forward(net, &tx, &ty));
    assert_byol_ok(byol_net_backward(net, &tdy, NULL));
    assert_int_equal(count_params(net), ng);
    memcpy(grads, byol_net_buffer(net, BYOL_BUFFER_GRADS, NULL), (size_t)ng * sizeof *grads);
    free(x);
    byol_net_destroy(net);
}

static void test_same_bits_any_run_any_threads(void **state)
{
    (void)state;
    byol_net *probe = make("net.arch=resnet18-cifar net.width=0.25");
    int64_t ng = count_params(probe);
    byol_net_destroy(probe);
    /* bf16 computes in fp32 where the CPU lacks it: then it is winograd again */
    static const char *const algos[] = { "nn.conv_algo=im2col", "nn.conv_algo=winograd",
                                         "nn.conv_algo=winograd2", "nn.precision=bf16" };
    for (int a = 0; a < 4; a++) {
        float y[3][8 * 128];
        float *g[3];
        for (int r = 0; r < 3; r++) {
            g[r] = malloc((size_t)ng * sizeof(float));
            step(algos[a], r == 2 ? 1 : 2, y[r], g[r], ng);
        }
        assert_memory_equal(y[0], y[1], sizeof y[0]);
        assert_memory_equal(g[0], g[1], (size_t)ng * sizeof(float));
        assert_memory_equal(y[0], y[2], sizeof y[0]);
        assert_memory_equal(g[0], g[2], (size_t)ng * sizeof(float));
        for (int r = 0; r < 3; r++)
            free(g[r]);
    }
}

static void test_embed_and_accumulation(void **state)
{
    (void)state;
    byol_net *net = make("net.arch=cnn-small seed=2");
    float x[10 * 784], e[10 * 128], y[4 * 128], dy[4 * 128];
    tu_fill(x, 10 * 784, 8, 1.0f);
    tu_fill(dy, 4 * 128, 9, 1.0f);
    assert_byol_ok(byol_net_plan(net, 4));
    byol_tensor tx = view(x, 4, 10, 1, 28, 28), te = view(e, 2, 10, 128, 0, 0);
    assert_byol_ok(byol_net_embed(net, &tx, &te)); /* 3 chunks of at most 4 */
    assert_byol_ok(byol_net_set_training(net, 0));
    byol_tensor t4 = view(x + 4 * 784, 4, 4, 1, 28, 28), ty = view(y, 2, 4, 128, 0, 0);
    assert_byol_ok(byol_net_forward(net, &t4, &ty));
    assert_memory_equal(y, e + 4 * 128, sizeof y);
    assert_byol_ok(byol_net_set_training(net, 1));
    /* gradients accumulate until zeroed */
    int64_t ng = count_params(net);
    float *g = byol_net_buffer(net, BYOL_BUFFER_GRADS, NULL);
    float *once = malloc((size_t)ng * 4);
    byol_tensor tdy = view(dy, 2, 4, 128, 0, 0);
    byol_tensor t0 = view(x, 4, 4, 1, 28, 28);
    assert_byol_ok(byol_net_forward(net, &t0, &ty));
    assert_byol_ok(byol_net_backward(net, &tdy, NULL));
    memcpy(once, g, (size_t)ng * 4);
    assert_byol_ok(byol_net_backward(net, &tdy, NULL));
    for (int64_t i = 0; i < ng; i++)
        assert_true(g[i] == 2 * once[i]);
    assert_byol_ok(byol_net_zero_grad(net));
    for (int64_t i = 0; i < ng; i++)
        assert_true(g[i] == 0.0f);
    /* embed invalidates a pending backward */
    assert_byol_ok(byol_net_embed(net, &tx, &te));
    assert_int_equal(byol_net_backward(net, &tdy, NULL), BYOL_E_BAD_STATE);
    free(once);
    byol_net_destroy(net);
}

static int cancel_after(void *user)
{
    int *left = user;
    return (*left)-- <= 0;
}

static void test_cancel(void **state)
{
    (void)state;
    byol_net *net = make("net.arch=cnn-small");
    float x[784], y[128];
    byol_tensor tx = view(x, 4, 1, 1, 28, 28), ty = view(y, 2, 1, 128, 0, 0);
    tu_fill(x, 784, 1, 1.0f);
    int left = 3;
    assert_byol_ok(byol_net_plan(net, 1));
    assert_byol_ok(byol_net_set_cancel(net, cancel_after, &left));
    assert_int_equal(byol_net_forward(net, &tx, &ty), BYOL_E_CANCELLED);
    assert_byol_ok(byol_net_set_cancel(net, NULL, NULL));
    assert_byol_ok(byol_net_forward(net, &tx, &ty));
    byol_net_destroy(net);
}

/* ---- allocation failures --------------------------------------------------- */

/* Creates, plans, runs, saves and loads a net; returns the first failure. */
static int lifecycle(void *arg)
{
    const char *path = arg;
    byol_config *cfg = NULL;
    byol_net *net = NULL;
    float x[2 * 3 * 32 * 32], y[2 * 32], dx[2 * 3 * 32 * 32];
    tu_fill(x, sizeof x / sizeof x[0], 4, 1.0f);
    byol_tensor tx = view(x, 4, 2, 3, 32, 32), ty = view(y, 2, 2, 32, 0, 0);
    byol_tensor tdx = view(dx, 4, 2, 3, 32, 32);
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, "net.arch=resnet18-cifar net.width=0.0625");
    if (rc == BYOL_OK)
        rc = byol_net_create(cfg, &net);
    if (rc == BYOL_OK)
        rc = byol_net_plan(net, 2);
    if (rc == BYOL_OK)
        rc = byol_net_forward(net, &tx, &ty);
    if (rc == BYOL_OK)
        rc = byol_net_backward(net, &ty, &tdx);
    if (rc == BYOL_OK)
        rc = byol_net_save(net, path);
    if (rc == BYOL_OK)
        rc = byol_net_load(net, path, BYOL_LOAD_STRICT);
    byol_net_destroy(net);
    byol_config_destroy(cfg);
    return rc;
}

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    return size;
}

static long saved_size;

/* A failed save keeps the old file. */
static void same_file(void *path) { assert_int_equal(file_size(path), saved_size); }

static void test_allocation_failures(void **state)
{
    (void)state;
    char *path = tu_tmp_path("oom.safetensors");
    assert_int_equal(lifecycle(path), BYOL_OK); /* a previous file to protect */
    saved_size = file_size(path);
    assert_true(tu_each_allocation_fails(lifecycle, path, same_file) > 20);
    unlink(path);
}


/* Linear -> BatchNorm -> ReLU as the net's output. The trainer's internal
 * backward hands the output node the caller's dy directly; a ReLU fused
 * into the BatchNorm before it would never see it (the bug a review found
 * in the first fused version). Both passes must give the same gradients. */
static void test_output_relu_after_batchnorm(void **state)
{
    (void)state;
    byol_config *cfg = tu_config("seed=3");
    byol_builder *b;
    byol_net *net;
    int32_t y;
    assert_byol_ok(byol_builder_create(cfg, 5, 1, 1, &b));
    assert_byol_ok(byol_builder_linear(b, "fc", 0, 4, 1, &y));
    assert_byol_ok(byol_builder_batchnorm(b, "bn", y, &y));
    assert_byol_ok(byol_builder_relu(b, y, &y));
    assert_byol_ok(byol_builder_finish(b, y, &net));
    byol_builder_destroy(b);
    byol_config_destroy(cfg);
    assert_byol_ok(byol_net_plan(net, 6));
    assert_byol_ok(byol_net_set_training(net, 1));
    float x[30], dy[24], out[24];
    tu_fill(x, 30, 1, 1.0f);
    tu_fill(dy, 24, 2, 1.0f);
    byol_tensor tx = view(x, 2, 6, 5, 0, 0), ty = view(out, 2, 6, 4, 0, 0);
    byol_tensor tdy = view(dy, 2, 6, 4, 0, 0);
    /* the internal passes first, so nothing of the public ones' is left in
     * the arena for them */
    const float *yp;
    assert_byol_ok(byol_net_zero_grad(net));
    assert_byol_ok(byol__nn_forward(net, x, 6, &yp));
    assert_byol_ok(byol__nn_backward(net, dy, NULL));
    int64_t count;
    const float *grads = byol_net_buffer(net, BYOL_BUFFER_GRADS, &count);
    const size_t np = (size_t)count;
    float *g1 = malloc(np * sizeof(float));
    assert_non_null(g1);
    memcpy(g1, grads, np * sizeof(float));
    assert_byol_ok(byol_net_zero_grad(net));
    assert_byol_ok(byol_net_forward(net, &tx, &ty));
    assert_byol_ok(byol_net_backward(net, &tdy, NULL));
    double norm = 0;
    for (size_t i = 0; i < np; i++)
        norm += fabs(grads[i]);
    assert_true(norm > 0);
    assert_memory_equal(g1, grads, np * sizeof(float));
    free(g1);
    byol_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets_match_torchvision_sizes),
        cmocka_unit_test(test_initialisation),
        cmocka_unit_test(test_bad_calls_give_specific_errors),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_refuses_bad_input),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_export_records_settings),
        cmocka_unit_test(test_builder_matches_preset),
        cmocka_unit_test(test_same_bits_any_run_any_threads),
        cmocka_unit_test(test_embed_and_accumulation),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_output_relu_after_batchnorm),
    };
    return cmocka_run_group_tests_name("net_api", tests, NULL, NULL);
}
