/* Pinned checkpoint bytes: four fixed 3-step BYOL runs whose checkpoints
 * must stay byte for byte what libbyol wrote before the architecture
 * change of issue 9 (tests/fixtures/pin/; recorded again in 1.3 for the
 * new "modes" metadata and the recipes' explicit nn.conv_algo=im2col, with
 * the tensor index and data checked equal to 1.2's; and again for the stored
 * configuration's floats in their shortest form, "optim.lr=0.4" where it
 * read 0.40000000000000002, index and data unchanged; and for the SGD and
 * AdamW recipes' optim.wd_exclude=bias_norm, which keeps the weight decay
 * they ran with before issue 13 made auto decay biases and norms there:
 * "optim.wd_exclude=bias_norm" in the stored configuration, index and data
 * unchanged). A regression guard for refactors
 * that must not change behaviour; correctness against an independent
 * computation is test_trainer_fixtures' job (PyTorch).
 *
 * The bytes of a run depend on the GEMM's summation order, which differs
 * between BLAS providers and between the kernels one provider picks per CPU.
 * So this program defines cblas_sgemm itself, a plain loop with a fixed
 * order: the static link resolves libbyol's calls to it, and the pinned bytes
 * are those of libbyol's own code on any x86-64 machine and any provider.
 * libbyol's own AVX-512 GEMM (which would take the products before CBLAS)
 * is turned off for the same reason, and with it every AVX-512 kernel; the
 * recipes pin im2col, and the one other AVX-512 path they could take, the
 * direct convolution, is bit-identical to the loop (conv_direct.h).
 *
 * The only byte allowed to differ is the library version in the metadata,
 * which the test substitutes. To record the files again (only when a change
 * of behaviour is intended and explained): BYOL_PIN_RECORD=1. */
#include <unistd.h>

#include "test_util.h"

#include "core/internal.h"

/* CBLAS enums as the ABI passes them (row-major 101, no-trans 111, trans 112). */
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (order != 101)
        abort(); /* libbyol only uses row-major */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++) {
                float x = trans_a == 112 ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float y = trans_b == 112 ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += x * y;
            }
            float *out = &c[(size_t)i * ldc + j];
            *out = beta == 0.0f ? alpha * s : alpha * s + beta * *out;
        }
}

/* A small encoder with every layer type a step runs: conv (with and
 * without bias, stride 1 and 2, 3x3 and 1x1), BatchNorm, ReLU, a residual
 * add, max-pool and global average pool. Input [3, 8, 8], output [6]. */
static byol_net *make_encoder(const byol_config *cfg)
{
    byol_builder *b;
    byol_net *net;
    int32_t x, r, y;
    assert_byol_ok(byol_builder_create(cfg, 3, 8, 8, &b));
    assert_byol_ok(byol_builder_conv2d(b, "conv1", 0, 4, 3, 1, 1, 0, &x));
    assert_byol_ok(byol_builder_batchnorm(b, "bn1", x, &x));
    assert_byol_ok(byol_builder_relu(b, x, &r));
    assert_byol_ok(byol_builder_conv2d(b, "conv2", r, 4, 3, 1, 1, 0, &y));
    assert_byol_ok(byol_builder_batchnorm(b, "bn2", y, &y));
    assert_byol_ok(byol_builder_add(b, r, y, &y));
    assert_byol_ok(byol_builder_relu(b, y, &y));
    assert_byol_ok(byol_builder_maxpool(b, y, 2, 2, 0, &y));
    assert_byol_ok(byol_builder_conv2d(b, "conv3", y, 6, 1, 2, 0, 1, &y));
    assert_byol_ok(byol_builder_relu(b, y, &y));
    assert_byol_ok(byol_builder_avgpool(b, y, &y));
    assert_byol_ok(byol_builder_finish(b, y, &net));
    byol_builder_destroy(b);
    return net;
}

typedef struct recipe {
    const char *name;
    const char *settings;
    int split;  /* 1: zero_grad, two half-batch accumulations, update, target */
} recipe;

#define BATCH 4
#define STEPS 3
#define COMMON "nn.conv_algo=im2col seed=7 train.batch_size=4 train.total_steps=5 byol.proj_hidden=8 " \
               "byol.proj_out=4 byol.pred_hidden=8 optim.lr=0.4 "

static const recipe recipes[] = {
    { "lars", COMMON "optim.name=lars optim.clip_lr=1 optim.eta=0.02 train.warmup_steps=1 "
      "byol.target_init=independent", 0 },
    { "sgd", COMMON "optim.name=sgd optim.nesterov=1 optim.weight_decay=0.001 threads=2 "
      "optim.wd_exclude=bias_norm", 1 },
    { "adamw", COMMON "optim.name=adamw optim.lr=0.01 optim.weight_decay=0.01 "
      "byol.head_batchnorm=0 optim.wd_exclude=bias_norm", 0 },
    { "simsiam", COMMON "byol.mode=simsiam optim.name=sgd optim.wd_exclude=bias_norm", 0 },
};

static void view(float *x, int64_t n, uint32_t seed)
{
    tu_fill(x, (size_t)(n * 3 * 8 * 8), seed, 1.0f);
}

static void split_step(byol_trainer *t, float *v1, float *v2, int64_t k)
{
    const int64_t half = BATCH / 2, per = 3 * 8 * 8;
    assert_byol_ok(byol_trainer_zero_grad(t));
    for (int64_t h = 0; h < 2; h++) {
        byol_tensor a = { sizeof a, 4, { half, 3, 8, 8 }, v1 + h * half * per };
        byol_tensor b = { sizeof b, 4, { half, 3, 8, 8 }, v2 + h * half * per };
        assert_byol_ok(byol_trainer_accumulate(t, &a, &b, NULL));
    }
    assert_byol_ok(byol_trainer_apply_update(t, NULL));
    assert_byol_ok(byol_trainer_update_target(t, byol_schedule_tau(k, 5, 0.996)));
}

/* Runs a recipe and saves its checkpoint at path. */
static void run(const recipe *r, const char *path)
{
    byol_config *cfg;
    byol_trainer *t;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, r->settings));
    byol_net *enc = make_encoder(cfg);
    assert_byol_ok(byol_trainer_create(cfg, enc, &t));
    float v1[BATCH * 3 * 8 * 8], v2[BATCH * 3 * 8 * 8];
    for (int64_t k = 0; k < STEPS; k++) {
        view(v1, BATCH, (uint32_t)(100 + 2 * k));
        view(v2, BATCH, (uint32_t)(101 + 2 * k));
        if (r->split) {
            split_step(t, v1, v2, k);
            continue;
        }
        byol_tensor a = { sizeof a, 4, { BATCH, 3, 8, 8 }, v1 };
        byol_tensor b = { sizeof b, 4, { BATCH, 3, 8, 8 }, v2 };
        assert_byol_ok(byol_trainer_step(t, &a, &b, NULL));
    }
    assert_byol_ok(byol_trainer_save(t, path));
    byol_trainer_destroy(t);
    byol_net_destroy(enc);
    byol_config_destroy(cfg);
}

/* Puts this library's version where the recorded file has its own. */
static void substitute_version(unsigned char *buf, size_t len, const char *path)
{
    static const char key[] = "\"libbyol_version\":\"";
    size_t k = sizeof key - 1, v = strlen(BYOL_VERSION_STRING);
    for (size_t i = 0; i + k + v < len; i++) {
        if (memcmp(buf + i, key, k))
            continue;
        if (buf[i + k + v] != '"')
            fail_msg("%s: the recorded version is not %zu characters long like %s; record the "
                     "files again (BYOL_PIN_RECORD=1) only if that is the one change",
                     path, v, BYOL_VERSION_STRING);
        memcpy(buf + i + k, BYOL_VERSION_STRING, v);
        return;
    }
    fail_msg("%s: no libbyol_version in the metadata", path);
}

static void test_pinned(void **state)
{
    (void)state;
    const int record = getenv("BYOL_PIN_RECORD") != NULL;
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++) {
        char want_path[512], got_path[512];
        snprintf(want_path, sizeof want_path, "%s/pin/%s.safetensors", tu_fixtures_dir(),
                 recipes[i].name);
        const char *tmp = getenv("TMPDIR");
        snprintf(got_path, sizeof got_path, "%s/byol_pin_%s.%ld.safetensors",
                 tmp && *tmp ? tmp : "/tmp", recipes[i].name, (long)getpid());
        run(&recipes[i], record ? want_path : got_path);
        if (record) {
            printf("recorded %s\n", want_path);
            continue;
        }
        size_t nwant, ngot;
        unsigned char *want = tu_slurp(want_path, &nwant), *got = tu_slurp(got_path, &ngot);
        remove(got_path);
        substitute_version(want, nwant, want_path);
        size_t at = 0;
        while (at < nwant && at < ngot && want[at] == got[at])
            at++;
        if (nwant != ngot || at != nwant)
            fail_msg("recipe %s: the checkpoint differs from %s at byte %zu (sizes %zu and %zu)",
                     recipes[i].name, want_path, at, ngot, nwant);
        printf("recipe %-8s %zu bytes identical to %s\n", recipes[i].name, ngot, want_path);
        free(want);
        free(got);
    }
}

int main(void)
{
    byol__cpu_force_avx512(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
