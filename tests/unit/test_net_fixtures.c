/* Networks against PyTorch: the committed fixtures (tests/ref/gen_net_fixtures.py)
 * hold weights, inputs, outputs, input gradients, every parameter gradient and
 * the BatchNorm state after one training forward, computed by PyTorch. */
#include "test_util.h"

#include "io/safetensors.h"
#include "nn/nn.h"

typedef struct fixture {
    const char *net;       /* fixture file stem */
    const char *settings;  /* libbyol config */
} fixture;

/* im2col is the exact path the fixtures pin. Winograd F(2x2) stays within
 * the same 1e-4. F(4x4) (nn.conv_algo=winograd) does not, for a reason
 * that is not its accuracy: its outputs are off by ~3e-6 relative (the
 * layer tests), enough to move a few of the 131072 ReLU inputs of a
 * 16-channel layer across 0, and a flipped ReLU mask changes a BatchNorm
 * bias gradient, a sum over the batch, by up to 1e-2 relative. */
static const fixture resnet = { "resnet18_cifar",
                                "net.arch=resnet18-cifar net.width=0.25 nn.conv_algo=im2col" };
static const fixture resnet_wino = { "resnet18_cifar",
                                     "net.arch=resnet18-cifar net.width=0.25 nn.conv_algo=winograd2" };
static const fixture cnn = { "cnn_small", "net.arch=cnn-small nn.conv_algo=im2col" };

static byol__st_file *open_fixture(const char *stem, const char *kind)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s.safetensors", tu_fixtures_dir(), stem, kind);
    byol__st_file *f = NULL;
    assert_byol_ok(byol__st_open(path, &f));
    return f;
}

static const float *fx(const byol__st_file *f, const char *name, size_t *n)
{
    const byol__st_tensor *t = byol__st_find(f, name);
    if (!t)
        fail_msg("fixture %s has no tensor '%s'", byol__st_label(f), name);
    assert_int_equal(t->dtype, BYOL__ST_F32);
    *n = t->nbytes / sizeof(float);
    return t->data; /* the reader keeps data 8-byte aligned in its own buffer */
}

static byol_net *make_net(const fixture *fx_, int64_t batch, int threads)
{
    byol_config *cfg;
    byol_net *net;
    char path[512];
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, fx_->settings));
    assert_byol_ok(byol_config_set_int(cfg, "threads", threads));
    assert_byol_ok(byol_net_create(cfg, &net));
    byol_config_destroy(cfg);
    snprintf(path, sizeof path, "%s/%s.weights.safetensors", tu_fixtures_dir(), fx_->net);
    assert_byol_ok(byol_net_load(net, path, BYOL_LOAD_STRICT));
    assert_byol_ok(byol_net_plan(net, batch));
    return net;
}

static byol_tensor view(float *data, int32_t ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    byol_tensor t = BYOL_TENSOR_INIT;
    t.ndim = ndim;
    t.shape[0] = a;
    t.shape[1] = b;
    t.shape[2] = c;
    t.shape[3] = d;
    t.data = data;
    return t;
}

static void check_against(const fixture *f_, int threads)
{
    byol__st_file *io = open_fixture(f_->net, "io");
    byol_net *net = make_net(f_, 4, threads);
    size_t nx, ny, n;
    const float *x = fx(io, "input", &nx);
    const float *dy = fx(io, "dy", &ny);
    int64_t dims[3];
    assert_byol_ok(byol_net_input_dims(net, dims));
    float *xc = malloc(nx * sizeof *xc), *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx);
    memcpy(xc, x, nx * sizeof *xc);
    byol_tensor tx = view(xc, 4, 4, dims[0], dims[1], dims[2]);
    byol_tensor ty = view(y, 2, 4, (int64_t)ny / 4, 0, 0);
    byol_tensor tdy = view((float *)(uintptr_t)dy, 2, 4, (int64_t)ny / 4, 0, 0);
    byol_tensor tdx = view(dx, 4, 4, dims[0], dims[1], dims[2]);

    assert_byol_ok(byol_net_set_training(net, 0));
    assert_byol_ok(byol_net_forward(net, &tx, &ty));
    tu_assert_close("eval_output", y, fx(io, "eval_output", &n), ny, 1e-4, 1e-6);

    assert_byol_ok(byol_net_set_training(net, 1));
    assert_byol_ok(byol_net_zero_grad(net));
    assert_byol_ok(byol_net_forward(net, &tx, &ty));
    tu_assert_close("output", y, fx(io, "output", &n), ny, 1e-4, 1e-6);
    assert_byol_ok(byol_net_backward(net, &tdy, &tdx));
    tu_assert_close("dx", dx, fx(io, "dx", &n), nx, 1e-4, 1e-6);

    int64_t checked = 0;
    for (int64_t i = 0; i < byol_net_tensor_count(net); i++) {
        byol_tensor_info info = { .struct_size = sizeof info };
        char name[300];
        assert_byol_ok(byol_net_tensor_info(net, i, &info));
        int is_param = info.buffer == BYOL_BUFFER_PARAMS;
        snprintf(name, sizeof name, "%s.%s", is_param ? "grad" : "state", info.name);
        const float *ref = fx(io, name, &n);
        assert_int_equal(n, (size_t)info.numel);
        float *got = byol_net_buffer(net, is_param ? BYOL_BUFFER_GRADS : BYOL_BUFFER_STATE, NULL);
        tu_assert_close(name, got + info.offset, ref, n, 1e-4, 1e-6);
        checked++;
    }
    assert_true(checked > 10);
    /* the counters, as the state_dict holds them */
    byol__st_list l = { 0 };
    size_t counters = 0;
    assert_byol_ok(byol__nn_entries(net, "", &l));
    for (size_t i = 0; i < l.n; i++) {
        if (l.t[i].dtype != BYOL__ST_I64)
            continue;
        char name[300];
        snprintf(name, sizeof name, "state.%s", l.t[i].name);
        const byol__st_tensor *t = byol__st_find(io, name);
        assert_non_null(t);
        int64_t want, got;
        memcpy(&want, t->data, sizeof want);
        memcpy(&got, l.t[i].data, sizeof got);
        assert_int_equal(got, want);
        counters++;
    }
    assert_true(counters > 2);
    byol__st_list_free(&l);
    free(xc);
    free(y);
    free(dx);
    byol_net_destroy(net);
    byol__st_close(io);
}

static void test_resnet18_cifar_matches_pytorch(void **state)
{
    (void)state;
    check_against(&resnet, 2);
}

static void test_resnet18_cifar_winograd_matches_pytorch(void **state)
{
    (void)state;
    check_against(&resnet_wino, 2);
}

static void test_cnn_small_matches_pytorch(void **state)
{
    (void)state;
    check_against(&cnn, 2);
}

static void test_one_thread_matches_pytorch(void **state)
{
    (void)state;
    check_against(&cnn, 1);
}

/* The net's state_dict names and shapes are exactly PyTorch's. */
static void test_names_match_state_dict(void **state)
{
    (void)state;
    const fixture *all[2] = { &resnet, &cnn };
    for (int k = 0; k < 2; k++) {
        byol__st_file *w = open_fixture(all[k]->net, "weights");
        byol_net *net = make_net(all[k], 1, 0);
        size_t floats = 0;
        for (int64_t i = 0; i < byol_net_tensor_count(net); i++) {
            byol_tensor_info info = { .struct_size = sizeof info };
            assert_byol_ok(byol_net_tensor_info(net, i, &info));
            const byol__st_tensor *t = byol__st_find(w, info.name);
            if (!t)
                fail_msg("%s: libbyol tensor %s not in the PyTorch state_dict", all[k]->net, info.name);
            assert_int_equal(t->ndim, info.ndim);
            for (int d = 0; d < info.ndim; d++)
                assert_int_equal(t->shape[d], info.shape[d]);
            floats++;
        }
        /* every PyTorch entry is either a float tensor above or a BN counter */
        size_t counters = 0;
        for (size_t i = 0; i < byol__st_count(w); i++)
            counters += strstr(byol__st_get(w, i)->name, "num_batches_tracked") != NULL;
        assert_int_equal(floats + counters, byol__st_count(w));
        byol_net_destroy(net);
        byol__st_close(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_match_state_dict),
        cmocka_unit_test(test_cnn_small_matches_pytorch),
        cmocka_unit_test(test_resnet18_cifar_matches_pytorch),
        cmocka_unit_test(test_resnet18_cifar_winograd_matches_pytorch),
        cmocka_unit_test(test_one_thread_matches_pytorch),
    };
    return cmocka_run_group_tests_name("net_fixtures", tests, NULL, NULL);
}
