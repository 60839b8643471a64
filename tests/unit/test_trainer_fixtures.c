/* The BYOL step against PyTorch (tests/ref/gen_byol_fixtures.py): the same
 * initial weights and views, three consecutive steps; each step's loss and
 * every online and target tensor after the third must match within 1e-4
 * relative error. */
#include <stdlib.h>

#include "test_util.h"

#include "train/trainer.h"
#include "io/safetensors.h"

static const char *meta(const byol__st_file *f, const char *key)
{
    const char *v = byol__st_meta(f, key);
    if (!v)
        fail_msg("fixture metadata has no '%s'", key);
    return v;
}

/* Walks every tensor of the net and its fixture twin "<prefix><name>":
 * copies the fixture's values in (check = 0) or compares with them. */
static void match_part(const byol__st_file *f, const char *prefix, byol_net *net, int check)
{
    for (int64_t i = 0; i < byol_net_tensor_count(net); i++) {
        byol_tensor_info info = { .struct_size = sizeof info };
        char key[300];
        assert_byol_ok(byol_net_tensor_info(net, i, &info));
        snprintf(key, sizeof key, "%s%s", prefix, info.name);
        const byol__st_tensor *t = byol__st_find(f, key);
        if (!t)
            fail_msg("fixture has no %s", key);
        assert_int_equal(t->nbytes, (size_t)info.numel * sizeof(float));
        float *mine = byol_net_buffer(net, info.buffer, NULL) + info.offset;
        if (!check) {
            memcpy(mine, t->data, t->nbytes);
            continue;
        }
        float *ref = malloc(t->nbytes);
        memcpy(ref, t->data, t->nbytes);
        tu_assert_close(key, mine, ref, (size_t)info.numel, 1e-4, 1e-6);
        free(ref);
    }
}

static float scalar(const byol__st_file *f, const char *key)
{
    const byol__st_tensor *t = byol__st_find(f, key);
    if (!t || t->dtype != BYOL__ST_F32)
        fail_msg("fixture has no F32 scalar %s", key);
    float v;
    memcpy(&v, t->data, sizeof v);
    return v;
}

static void run_fixture(const char *name, const char *settings)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", tu_fixtures_dir(), name);
    byol__st_file *f = NULL;
    assert_byol_ok(byol__st_open(path, &f));
    char keys[1024];
    snprintf(keys, sizeof keys,
             "%s train.batch_size=%s train.total_steps=%s train.warmup_steps=%s optim.name=lars "
             "optim.lr=%s optim.eta=%s optim.momentum=%s optim.weight_decay=%s optim.clip_lr=0 "
             "ema.tau_base=%s byol.proj_hidden=128 byol.proj_out=64 byol.pred_hidden=128",
             settings, meta(f, "batch"), meta(f, "total_steps"), meta(f, "warmup_steps"),
             meta(f, "base_lr"), meta(f, "lars_eta"), meta(f, "momentum"),
             meta(f, "weight_decay"), meta(f, "tau_base"));
    byol_config *cfg;
    byol_trainer *t = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, keys));
    assert_byol_ok(byol_trainer_create(cfg, NULL, &t));
    byol_config_destroy(cfg);
    static const char *const part[3] = { "encoder", "projector", "predictor" };
    for (int k = 0; k < 3; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "init.online.%s.", part[k]);
        match_part(f, prefix, t->online[k], 0);
    }
    /* the target starts as a copy of the online encoder and projector */
    memcpy(t->tparams, t->params, (size_t)t->ntarget * sizeof(float));
    for (int k = 0; k < 2; k++) {
        int64_t ns;
        float *src = byol_net_buffer(t->online[k], BYOL_BUFFER_STATE, &ns);
        memcpy(byol_net_buffer(t->target[k], BYOL_BUFFER_STATE, NULL), src, (size_t)ns * 4);
    }
    for (int s = 0; s < 3; s++) {
        char k1[32], k2[32], kl[32];
        snprintf(k1, sizeof k1, "step%d.view1", s);
        snprintf(k2, sizeof k2, "step%d.view2", s);
        const byol__st_tensor *v1 = byol__st_find(f, k1), *v2 = byol__st_find(f, k2);
        assert_non_null(v1);
        assert_non_null(v2);
        float *x1 = malloc(v1->nbytes), *x2 = malloc(v2->nbytes);
        memcpy(x1, v1->data, v1->nbytes);
        memcpy(x2, v2->data, v2->nbytes);
        byol_step_stats st = { .struct_size = sizeof st };
        byol_tensor t1 = { sizeof t1, 4, { v1->shape[0], v1->shape[1], v1->shape[2], v1->shape[3] }, x1 };
        byol_tensor t2 = { sizeof t2, 4, { v2->shape[0], v2->shape[1], v2->shape[2], v2->shape[3] }, x2 };
        assert_byol_ok(byol_trainer_step(t, &t1, &t2, &st));
        snprintf(kl, sizeof kl, "step%d.loss", s);
        float want = scalar(f, kl), got = (float)st.loss;
        if (!(fabs(got - want) <= 1e-4 * fabs(want)))
            fail_msg("%s: step %d loss %.8g, PyTorch %.8g", name, s, got, want);
        free(x1);
        free(x2);
    }
    for (int k = 0; k < 3; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "final.online.%s.", part[k]);
        match_part(f, prefix, t->online[k], 1);
        if (k < 2) {
            snprintf(prefix, sizeof prefix, "final.target.%s.", part[k]);
            match_part(f, prefix, t->target[k], 1);
        }
    }
    byol_trainer_destroy(t);
    byol__st_close(f);
}

static void test_cnn_small_three_steps(void **state)
{
    (void)state;
    run_fixture("byol_cnn_small", "net.arch=cnn-small nn.conv_algo=im2col");
}

static void test_resnet18_cifar_three_steps(void **state)
{
    (void)state;
    run_fixture("byol_resnet18_cifar", "net.arch=resnet18-cifar net.width=0.125 "
                "nn.conv_algo=im2col");
}

/* Three full steps through Winograd F(2x2)'s layers stay within the same
 * bounds (F(4x4): see test_net_fixtures.c). */
static void test_resnet18_cifar_winograd_three_steps(void **state)
{
    (void)state;
    run_fixture("byol_resnet18_cifar", "net.arch=resnet18-cifar net.width=0.125 "
                "nn.conv_algo=winograd2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn_small_three_steps),
        cmocka_unit_test(test_resnet18_cifar_three_steps),
        cmocka_unit_test(test_resnet18_cifar_winograd_three_steps),
    };
    return cmocka_run_group_tests_name("trainer_fixtures", tests, NULL, NULL);
}
