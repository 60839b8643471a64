/* byol_trainer through its public API: the split step, accumulation,
 * resuming, threads, the non-finite guard, hooks, schedules and errors. */
#include <unistd.h>

#include "test_util.h"

#define SMALL "net.arch=cnn-small net.width=0.25 train.batch_size=4 train.total_steps=10 " \
              "train.warmup_steps=2 optim.lr=4.0 byol.proj_hidden=32 byol.proj_out=16 "    \
              "byol.pred_hidden=32 seed=5"

enum { B = 4, PIX = 28 * 28 };

static byol_trainer *make(const char *extra)
{
    byol_config *cfg = tu_config(SMALL);
    byol_trainer *t = NULL;
    if (extra)
        assert_byol_ok(byol_config_parse(cfg, extra));
    assert_byol_ok(byol_trainer_create(cfg, NULL, &t));
    byol_config_destroy(cfg);
    return t;
}

typedef struct views {
    float x1[B * PIX], x2[B * PIX];
    byol_tensor v1, v2;
} views;

static void make_views(views *v, uint32_t seed, int64_t n)
{
    tu_fill(v->x1, B * PIX, seed, 1.0f);
    tu_fill(v->x2, B * PIX, seed + 100, 1.0f);
    byol_tensor a = { sizeof a, 4, { n, 1, 28, 28 }, v->x1 };
    byol_tensor b = { sizeof b, 4, { n, 1, 28, 28 }, v->x2 };
    v->v1 = a;
    v->v2 = b;
}

/* Everything a step may change, as one byte string to compare: the data
 * section of a checkpoint (online and target networks with BatchNorm
 * statistics and counters, optimizer buffers) and the step index. The
 * header is skipped: it also holds the configuration, which may differ. */
typedef struct state {
    unsigned char *params;
    int64_t np, step;
} state;

static void capture(byol_trainer *t, const char *path, state *s)
{
    assert_byol_ok(byol_trainer_save(t, path));
    FILE *f = fopen(path, "rb");
    uint64_t header;
    assert_int_equal(fread(&header, 8, 1, f), 1);
    fseek(f, 0, SEEK_END);
    s->np = ftell(f) - 8 - (long)header;
    fseek(f, 8 + (long)header, SEEK_SET);
    s->params = malloc((size_t)s->np);
    assert_int_equal(fread(s->params, 1, (size_t)s->np, f), (size_t)s->np);
    fclose(f);
    s->step = byol_trainer_step_index(t);
}

static void assert_same_state(const state *a, const state *b)
{
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->np, b->np);
    assert_memory_equal(a->params, b->params, (size_t)a->np);
}

/* Fails unless trainers a and b are in the same state, compared through
 * their checkpoints in two scratch files (removed after). Two calls of
 * tu_tmp_path() only, so a path the caller holds from it stays valid. */
static void assert_same_trainers(byol_trainer *a, byol_trainer *b)
{
    const char *pa = tu_tmp_path("same_a.st"), *pb = tu_tmp_path("same_b.st");
    state x, y;
    capture(a, pa, &x);
    capture(b, pb, &y);
    assert_same_state(&x, &y);
    free(x.params);
    free(y.params);
    unlink(pa);
    unlink(pb);
}

static void test_split_step_equals_step(void **state_)
{
    (void)state_;
    byol_trainer *a = make(NULL), *b = make(NULL);
    views v;
    for (int s = 0; s < 3; s++) {
        make_views(&v, 10 + s, B);
        byol_step_stats sa = { .struct_size = sizeof sa }, sb = { .struct_size = sizeof sb };
        assert_byol_ok(byol_trainer_step(a, &v.v1, &v.v2, &sa));
        assert_byol_ok(byol_trainer_zero_grad(b));
        assert_byol_ok(byol_trainer_accumulate(b, &v.v1, &v.v2, &sb));
        int64_t k = byol_trainer_step_index(b);
        assert_int_equal(k, s);
        assert_byol_ok(byol_trainer_apply_update(b, &sb));
        assert_byol_ok(byol_trainer_update_target(b, byol_schedule_tau(k, 10, 0.996)));
        assert_true(sa.loss == sb.loss && sa.lr == sb.lr);
        assert_true(sa.loss > 0 && sa.loss < 8);
        assert_true(fabs(sa.loss - (sa.loss_12 + sa.loss_21)) < 1e-12);
        assert_true(sa.collapse_std > 0);
    }
    assert_same_trainers(a, b);
    byol_trainer_destroy(a);
    byol_trainer_destroy(b);
}

/* Without BatchNorm the loss of a batch is a sum over samples, so two
 * half-batches accumulate the full batch's gradient. */
static void test_accumulation_equals_full_batch(void **state_)
{
    (void)state_;
    byol_builder *bl;
    byol_net *enc;
    int32_t y;
    assert_byol_ok(byol_builder_create(NULL, 1, 28, 28, &bl));
    assert_byol_ok(byol_builder_conv2d(bl, "conv1", 0, 8, 3, 2, 1, 1, &y));
    assert_byol_ok(byol_builder_relu(bl, y, &y));
    assert_byol_ok(byol_builder_conv2d(bl, "conv2", y, 16, 3, 2, 1, 1, &y));
    assert_byol_ok(byol_builder_relu(bl, y, &y));
    assert_byol_ok(byol_builder_avgpool(bl, y, &y));
    assert_byol_ok(byol_builder_finish(bl, y, &enc));
    byol_builder_destroy(bl);
    byol_config *cfg;
    byol_trainer *full, *half;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, SMALL " byol.head_batchnorm=0"));
    assert_byol_ok(byol_trainer_create(cfg, enc, &full));
    assert_byol_ok(byol_trainer_create(cfg, enc, &half));
    byol_config_destroy(cfg);
    byol_net_destroy(enc); /* the trainers hold copies */
    views v;
    make_views(&v, 3, B);
    byol_step_stats s = { .struct_size = sizeof s };
    assert_byol_ok(byol_trainer_zero_grad(full));
    assert_byol_ok(byol_trainer_accumulate(full, &v.v1, &v.v2, &s));
    assert_byol_ok(byol_trainer_zero_grad(half));
    for (int h = 0; h < 2; h++) {
        byol_tensor a = { sizeof a, 4, { B / 2, 1, 28, 28 }, v.x1 + h * (B / 2) * PIX };
        byol_tensor b = { sizeof b, 4, { B / 2, 1, 28, 28 }, v.x2 + h * (B / 2) * PIX };
        assert_byol_ok(byol_trainer_accumulate(half, &a, &b, NULL));
    }
    int64_t n;
    float *g1 = byol_trainer_buffer(full, BYOL_BUFFER_GRADS, &n);
    float *g2 = byol_trainer_buffer(half, BYOL_BUFFER_GRADS, NULL);
    tu_assert_close("accumulated gradient", g2, g1, (size_t)n, 1e-5, 1e-9);
    byol_trainer_destroy(full);
    byol_trainer_destroy(half);
}

static void test_resume_and_threads_give_same_bits(void **state_)
{
    (void)state_;
    const char *ck = tu_tmp_path("ck.safetensors");
    byol_trainer *a = make("threads=2"), *b = make("threads=1");
    views v;
    for (int s = 0; s < 4; s++) {
        make_views(&v, 20 + s, B);
        if (s == 2) {
            /* a second trainer resumes a's checkpoint and replaces b */
            assert_byol_ok(byol_trainer_save(b, ck));
            byol_trainer_destroy(b);
            b = make("threads=1 seed=99"); /* other initial weights, all overwritten */
            assert_byol_ok(byol_trainer_load(b, ck));
            assert_int_equal(byol_trainer_step_index(b), 2);
        }
        assert_byol_ok(byol_trainer_step(a, &v.v1, &v.v2, NULL));
        assert_byol_ok(byol_trainer_step(b, &v.v1, &v.v2, NULL));
    }
    assert_same_trainers(a, b);
    unlink(ck);
    byol_trainer_destroy(a);
    byol_trainer_destroy(b);
}

/* A checkpoint names the modes it was trained with as resolved (never
 * "auto"), and a trainer running other modes refuses it, unchanged, unless
 * train.allow_mode_change is set. */
static void test_modes_recorded_and_checked(void **state_)
{
    (void)state_;
    const char *ck = tu_tmp_path("modes.safetensors"), *before = tu_tmp_path("before.st");
    byol_trainer *a = make("nn.conv_algo=im2col"), *b = make("nn.conv_algo=winograd2 seed=8");
    views v;
    make_views(&v, 40, B);
    assert_byol_ok(byol_trainer_step(a, &v.v1, &v.v2, NULL));
    assert_byol_ok(byol_trainer_save(a, ck));
    byol_file *f;
    const char *modes = NULL;
    assert_byol_ok(byol_file_open(ck, &f));
    assert_byol_ok(byol_file_metadata_find(f, "modes", &modes));
    assert_string_equal(modes, "nn.conv_algo=im2col nn.precision=fp32");
    byol_file_close(f);
    state s0, s1;
    capture(b, before, &s0);
    assert_int_equal(byol_trainer_load(b, ck), BYOL_E_UNSUPPORTED);
    assert_non_null(strstr(byol_last_error(), "nn.conv_algo=im2col"));
    assert_non_null(strstr(byol_last_error(), "nn.conv_algo=winograd2"));
    capture(b, before, &s1);
    assert_same_state(&s0, &s1);
    byol_trainer *c = make("nn.conv_algo=winograd2 train.allow_mode_change=1");
    assert_byol_ok(byol_trainer_load(c, ck));
    assert_int_equal(byol_trainer_step_index(c), 1);
    byol_trainer *d = make("nn.conv_algo=auto");
    assert_byol_ok(byol_trainer_save(d, ck));
    assert_byol_ok(byol_file_open(ck, &f));
    assert_byol_ok(byol_file_metadata_find(f, "modes", &modes));
    assert_true(!strcmp(modes, "nn.conv_algo=winograd nn.precision=fp32") ||
                !strcmp(modes, "nn.conv_algo=im2col nn.precision=fp32"));
    byol_file_close(f);
    free(s0.params);
    free(s1.params);
    unlink(ck);
    unlink(before);
    byol_trainer_destroy(a);
    byol_trainer_destroy(b);
    byol_trainer_destroy(c);
    byol_trainer_destroy(d);
}

/* A checkpoint saved by a trainer made with `settings` after `steps` steps. */
static void checkpoint_of(const char *settings, int steps, const char *path)
{
    byol_trainer *t = make(settings);
    views v;
    for (int s = 0; s < steps; s++) {
        make_views(&v, 50 + s, B);
        assert_byol_ok(byol_trainer_step(t, &v.v1, &v.v2, NULL));
    }
    assert_byol_ok(byol_trainer_save(t, path));
    byol_trainer_destroy(t);
}

/* byol_trainer_load(t, ck) fails with BYOL_E_FORMAT, a message holding
 * want and want2 (may be NULL), and t unchanged. */
static void load_refused(byol_trainer *t, const char *ck, const char *want, const char *want2)
{
    state before, after;
    char scratch[256];  /* not a tu_tmp_path(): the caller's four stay valid */
    snprintf(scratch, sizeof scratch, "/tmp/byol_test_%d_refused.st", (int)getpid());
    capture(t, scratch, &before);
    int rc = byol_trainer_load(t, ck);
    if (rc != BYOL_E_FORMAT)
        fail_msg("%s: returned %d, not BYOL_E_FORMAT naming '%s': %s", ck, rc, want,
                 rc ? byol_last_error() : "");
    if (!strstr(byol_last_error(), want) || (want2 && !strstr(byol_last_error(), want2)))
        fail_msg("'%s' lacks '%s' or '%s'", byol_last_error(), want, want2 ? want2 : "");
    capture(t, scratch, &after);
    assert_same_state(&before, &after);
    free(before.params);
    free(after.params);
    unlink(scratch);
}

/* A checkpoint is the whole state of one trainer: a tensor the trainer
 * cannot use, another optimizer's state or another byol.mode is refused,
 * leaving the trainer as it was. */
static void test_load_refuses_what_it_cannot_use(void **state_)
{
    (void)state_;
    const char *lars = tu_tmp_path("lars.st"), *adamw = tu_tmp_path("adamw.st");
    const char *sim = tu_tmp_path("simsiam.st"), *bad = tu_tmp_path("bad.st");
    checkpoint_of(NULL, 1, lars);
    checkpoint_of("optim.name=adamw optim.lr=0.01", 1, adamw);
    checkpoint_of("byol.mode=simsiam", 1, sim);
    byol_trainer *sgd0 = make("optim.name=sgd optim.momentum=0 seed=8");
    byol_trainer *sgd = make("optim.name=sgd optim.momentum=0.9 seed=8");
    byol_trainer *byol = make("seed=8"), *simsiam = make("byol.mode=simsiam seed=8");
    load_refused(sgd0, adamw, "optimizer state 'optim.exp_avg' of another optimizer (adamw?)",
                 "train.allow_optim_change=1");
    load_refused(sgd0, lars, "'optim.momentum' of another optimizer (lars?)", "keeps no state");
    load_refused(sgd, adamw, "'optim.exp_avg' of another optimizer (adamw?)",
                 "keeps 'optim.momentum_buffer'");
    load_refused(simsiam, lars, "byol.mode=byol checkpoint", "byol.mode=simsiam trainer");
    load_refused(byol, sim, "byol.mode=simsiam checkpoint", "byol.mode=byol trainer");
    /* a tensor nothing uses, even with leave to change optimizers */
    tu_rewrite(lars, bad, "extra", NULL, 0);
    load_refused(byol, bad, "unexpected tensor 'extra'", NULL);
    byol_trainer *allow = make("seed=8 train.allow_optim_change=1");
    load_refused(allow, bad, "unexpected tensor 'extra'", NULL);
    tu_rewrite(lars, bad, "online.encoder.fc.weight", NULL, 0);
    load_refused(allow, bad, "'online.encoder.fc.weight'", "another architecture");
    tu_rewrite(lars, bad, "optim.exp_avg_sq_max", NULL, 0);
    load_refused(allow, bad, "'optim.exp_avg_sq_max'", "no optimizer");
    /* the file as it was still loads */
    assert_byol_ok(byol_trainer_load(byol, lars));
    unlink(lars);
    unlink(adamw);
    unlink(sim);
    unlink(bad);
    byol_trainer_destroy(sgd0);
    byol_trainer_destroy(sgd);
    byol_trainer_destroy(byol);
    byol_trainer_destroy(simsiam);
    byol_trainer_destroy(allow);
}

/* NaN or infinity in a network or in the optimizer state is refused by
 * name and index before anything is copied. */
static void test_load_refuses_nonfinite(void **state_)
{
    (void)state_;
    const char *ck = tu_tmp_path("finite.st"), *bad = tu_tmp_path("nonfinite.st");
    checkpoint_of(NULL, 1, ck);
    byol_trainer *t = make("seed=8");
    tu_rewrite(ck, bad, NULL, "target.projector.0.weight", NAN);
    load_refused(t, bad, "'target.projector.0.weight' holds NaN at index 3", NULL);
    tu_rewrite(ck, bad, NULL, "optim.momentum", -INFINITY);
    load_refused(t, bad, "'optim.momentum' holds an infinity at index 3", NULL);
    unlink(ck);
    unlink(bad);
    byol_trainer_destroy(t);
}

typedef struct warned {
    int count;
    char last[1024];
} warned;

static void on_warning(int level, const char *msg, void *user)
{
    warned *w = user;
    if (level != BYOL_LOG_WARN)
        return;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

/* The metadata value of key in the checkpoint at path, copied. */
static char *meta_of(const char *path, const char *key)
{
    byol_file *f;
    const char *v;
    assert_byol_ok(byol_file_open(path, &f));
    assert_byol_ok(byol_file_metadata_find(f, key, &v));
    char *copy = strdup(v);
    byol_file_close(f);
    return copy;
}

/* train.allow_optim_change=1 loads another optimizer's checkpoint: the
 * networks and the step, a fresh optimizer (zero buffers, step count 0),
 * a warning; the permission is not saved. Of the same optimizer it loads
 * the whole state, silently. */
static void test_allow_optim_change(void **state_)
{
    (void)state_;
    const char *ck = tu_tmp_path("adamw2.st"), *again = tu_tmp_path("again.st");
    checkpoint_of("optim.name=adamw optim.lr=0.01", 2, ck);
    byol_trainer *from = make("optim.name=adamw optim.lr=0.01 seed=9");
    assert_byol_ok(byol_trainer_load(from, ck));
    warned w = { 0, "" };
    byol_set_log_callback(on_warning, &w, BYOL_LOG_WARN);
    byol_trainer *t = make("optim.name=sgd optim.momentum=0.9 train.allow_optim_change=1 seed=8");
    assert_byol_ok(byol_trainer_load(t, ck));
    assert_int_equal(w.count, 1);
    assert_non_null(strstr(w.last, "optimizer state ('optim.exp_avg', 'optim.exp_avg_sq') "
                                   "is dropped"));
    assert_int_equal(byol_trainer_step_index(t), 2);
    int64_t n;
    float *p = byol_trainer_buffer(t, BYOL_BUFFER_PARAMS, &n);
    assert_memory_equal(p, byol_trainer_buffer(from, BYOL_BUFFER_PARAMS, NULL), (size_t)n * 4);
    assert_byol_ok(byol_trainer_save(t, again));
    char *osteps = meta_of(again, "optim_steps"), *config = meta_of(again, "config");
    assert_string_equal(osteps, "0");
    assert_null(strstr(config, "allow_optim_change"));
    byol_file *f;
    byol_file_tensor buf = { .struct_size = sizeof buf };
    assert_byol_ok(byol_file_open(again, &f));
    assert_int_equal(byol_file_tensor_find(f, "optim.exp_avg", &buf), BYOL_E_KEY);
    assert_byol_ok(byol_file_tensor_find(f, "optim.momentum_buffer", &buf));
    float *zero = calloc(1, buf.nbytes);
    assert_memory_equal(buf.data, zero, buf.nbytes);
    byol_file_close(f);
    views v;
    make_views(&v, 60, B);
    assert_byol_ok(byol_trainer_step(t, &v.v1, &v.v2, NULL));
    /* the same optimizer: everything loads, nothing is said */
    byol_trainer *same = make("optim.name=adamw optim.lr=0.01 train.allow_optim_change=1");
    assert_byol_ok(byol_trainer_load(same, ck));
    assert_int_equal(w.count, 1);
    assert_same_trainers(same, from);
    byol_set_log_callback(NULL, NULL, 0);
    free(zero);
    free(osteps);
    free(config);
    unlink(ck);
    unlink(again);
    byol_trainer_destroy(from);
    byol_trainer_destroy(t);
    byol_trainer_destroy(same);
}

/* Gradient hook: the first call poisons a gradient, the second cancels,
 * later ones let the step through. */
static int meddle(float *grads, int64_t count, void *user)
{
    int *calls = user;
    assert_true(count > 0);
    if (++*calls == 1)
        grads[count / 2] = NAN;
    return *calls == 2;
}

static void test_guard_and_hook_change_nothing(void **state_)
{
    (void)state_;
    byol_trainer *t = make(NULL);
    views v;
    make_views(&v, 7, B);
    assert_byol_ok(byol_trainer_step(t, &v.v1, &v.v2, NULL));
    state before, after;
    capture(t, tu_tmp_path("before"), &before);
    v.x1[5] = NAN;
    assert_int_equal(byol_trainer_step(t, &v.v1, &v.v2, NULL), BYOL_E_NONFINITE);
    assert_non_null(strstr(byol_last_error(), "view1 element 5"));
    make_views(&v, 9, B);
    int calls = 0;
    assert_byol_ok(byol_trainer_set_grad_hook(t, meddle, &calls));
    assert_int_equal(byol_trainer_step(t, &v.v1, &v.v2, NULL), BYOL_E_NONFINITE);
    assert_non_null(strstr(byol_last_error(), "gradient"));
    assert_int_equal(byol_trainer_step(t, &v.v1, &v.v2, NULL), BYOL_E_CANCELLED);
    assert_int_equal(calls, 2);
    /* nothing changed: parameters, target, BN statistics, optimizer, step */
    capture(t, tu_tmp_path("after"), &after);
    assert_same_state(&before, &after);
    free(after.params);
    assert_byol_ok(byol_trainer_step(t, &v.v1, &v.v2, NULL));
    capture(t, tu_tmp_path("after"), &after);
    assert_int_equal(after.step, before.step + 1);
    assert_memory_not_equal(before.params, after.params, (size_t)before.np);
    free(before.params);
    free(after.params);
    unlink(tu_tmp_path("before"));
    unlink(tu_tmp_path("after"));
    byol_trainer_destroy(t);
}

/* At step 0 BYOL's target is an exact copy of the online network, so a
 * SimSiam step (the online projection under a stop-gradient as target) must
 * give the same loss, the same updated online parameters and the same
 * BatchNorm statistics: the extra projection pass may not count in them. */
static void test_simsiam_first_step_equals_byol(void **state_)
{
    (void)state_;
    byol_trainer *byol = make(NULL), *sim = make("byol.mode=simsiam");
    views v;
    make_views(&v, 31, B);
    byol_step_stats a = { .struct_size = sizeof a }, b = { .struct_size = sizeof b };
    assert_byol_ok(byol_trainer_step(byol, &v.v1, &v.v2, &a));
    assert_byol_ok(byol_trainer_step(sim, &v.v1, &v.v2, &b));
    assert_true(a.loss == b.loss);
    assert_true(b.tau == 0.0 && a.tau > 0.9);
    int64_t n, ns;
    float *pa = byol_trainer_buffer(byol, BYOL_BUFFER_PARAMS, &n);
    assert_memory_equal(pa, byol_trainer_buffer(sim, BYOL_BUFFER_PARAMS, NULL), (size_t)n * 4);
    float *sa = byol_net_buffer(byol_trainer_encoder(byol), BYOL_BUFFER_STATE, &ns);
    float *sb = byol_net_buffer(byol_trainer_encoder(sim), BYOL_BUFFER_STATE, NULL);
    assert_memory_equal(sa, sb, (size_t)ns * 4);
    /* afterwards BYOL's target lags behind the online network, SimSiam's does not */
    make_views(&v, 32, B);
    assert_byol_ok(byol_trainer_step(byol, &v.v1, &v.v2, &a));
    assert_byol_ok(byol_trainer_step(sim, &v.v1, &v.v2, &b));
    assert_true(a.loss != b.loss);
    byol_trainer_destroy(byol);
    byol_trainer_destroy(sim);
}

static void test_schedules_closed_form(void **state_)
{
    (void)state_;
    const double pi = 3.14159265358979323846;
    assert_true(byol_schedule_lr(0, 100, 10, 3.2) == 0.0);
    assert_true(fabs(byol_schedule_lr(5, 100, 10, 3.2) - 1.6) < 1e-15);
    assert_true(fabs(byol_schedule_lr(10, 100, 10, 3.2) - 3.2) < 1e-15);
    assert_true(fabs(byol_schedule_lr(55, 100, 10, 3.2) - 1.6) < 1e-12);
    assert_true(byol_schedule_lr(100, 100, 10, 3.2) == 0.0);
    assert_true(fabs(byol_schedule_tau(0, 100, 0.996) - 0.996) < 1e-15);
    assert_true(fabs(byol_schedule_tau(50, 100, 0.996) - (1 - 0.004 * (cos(pi / 2) + 1) / 2)) < 1e-15);
    assert_true(byol_schedule_tau(100, 100, 0.996) == 1.0);
}

/* 5 warmup steps in a 3-step run: cut to 2 with a warning, so the last step
 * runs at the peak rate (uncut, it would have run at 2/5 of it). A warmup
 * shorter than the run is kept and says nothing. */
static void test_warmup_longer_than_run_is_cut(void **state_)
{
    (void)state_;
    const double peak = 4.0 * B / 256;
    warned w = { 0, "" };
    byol_set_log_callback(on_warning, &w, BYOL_LOG_WARN);
    byol_trainer *t = make("train.total_steps=3 train.warmup_steps=5");
    assert_int_equal(w.count, 1);
    assert_non_null(strstr(w.last, "train.warmup_steps 5 >= train.total_steps 3"));
    assert_non_null(strstr(w.last, "cut to 2 steps"));
    views v;
    const double want[3] = { 0.0, peak / 2, peak };
    for (int k = 0; k < 3; k++) {
        byol_step_stats s = { .struct_size = sizeof s };
        make_views(&v, 40 + k, B);
        assert_byol_ok(byol_trainer_step(t, &v.v1, &v.v2, &s));
        assert_true(fabs(s.lr - want[k]) < 1e-15);
    }
    byol_trainer_destroy(t);
    t = make("train.total_steps=3 train.warmup_steps=2");
    assert_int_equal(w.count, 1);
    byol_trainer_destroy(t);
    byol_set_log_callback(NULL, NULL, 0);
}

static void test_target_init_and_encoder(void **state_)
{
    (void)state_;
    byol_trainer *copy = make(NULL), *indep = make("byol.target_init=independent");
    int64_t n;
    byol_net *enc = byol_trainer_encoder(copy);
    assert_non_null(enc);
    float *p = byol_net_buffer(enc, BYOL_BUFFER_PARAMS, &n);
    float *online = byol_trainer_buffer(copy, BYOL_BUFFER_PARAMS, NULL);
    assert_ptr_equal(p, online); /* the encoder comes first in the online buffer */
    /* export: the encoder loads into a preset network strictly */
    const char *path = tu_tmp_path("enc.safetensors");
    assert_byol_ok(byol_net_save(enc, path));
    byol_config *cfg;
    byol_net *net;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, "net.arch=cnn-small net.width=0.25"));
    assert_byol_ok(byol_net_create(cfg, &net));
    assert_byol_ok(byol_net_load(net, path, BYOL_LOAD_STRICT));
    assert_memory_equal(byol_net_buffer(net, BYOL_BUFFER_PARAMS, NULL), p, (size_t)n * 4);
    /* a weight file is not a checkpoint */
    assert_int_equal(byol_trainer_load(copy, path), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "not a libbyol checkpoint"));
    /* a checkpoint of another architecture is refused by name */
    byol_trainer *wide = make("net.width=0.5");
    assert_byol_ok(byol_trainer_save(wide, path));
    assert_int_equal(byol_trainer_load(copy, path), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "online.encoder.conv1.weight"));
    unlink(path);
    byol_net_destroy(net);
    byol_config_destroy(cfg);
    byol_trainer_destroy(wide);
    byol_trainer_destroy(copy);
    byol_trainer_destroy(indep);
}

/* The target's passes share the online nets' activation arenas. Using the
 * borrowed encoder between steps (an embedding, even a new plan of its own)
 * must change nothing the next steps compute; a plan too small for the views
 * or evaluation mode makes the step fail without a trace. */
static void test_encoder_use_between_steps(void **state_)
{
    (void)state_;
    byol_trainer *a = make(NULL), *b = make(NULL);
    views v;
    make_views(&v, 21, B);
    byol_net *enc = byol_trainer_encoder(b);
    float emb[3 * 32];
    byol_tensor e = { sizeof e, 2, { 3, 32, 0, 0 }, emb };
    byol_tensor x = { sizeof x, 4, { 3, 1, 28, 28 }, v.x2 };
    for (int k = 0; k < 3; k++) {
        assert_byol_ok(byol_trainer_step(a, &v.v1, &v.v2, NULL));
        if (k == 0) {
            /* planned too small for the views, or in evaluation mode:
             * refused, nothing changed */
            assert_byol_ok(byol_net_plan(enc, 1));
            assert_int_equal(byol_trainer_step(b, &v.v1, &v.v2, NULL), BYOL_E_SHAPE);
            assert_non_null(strstr(byol_last_error(), "the encoder is planned for 1 samples"));
            assert_byol_ok(byol_net_plan(enc, B));
            assert_byol_ok(byol_net_set_training(enc, 0));
            assert_int_equal(byol_trainer_step(b, &v.v1, &v.v2, NULL), BYOL_E_BAD_STATE);
            assert_non_null(strstr(byol_last_error(), "the encoder is in evaluation mode"));
            assert_byol_ok(byol_net_set_training(enc, 1));
        }
        assert_byol_ok(byol_trainer_step(b, &v.v1, &v.v2, NULL));
        assert_byol_ok(byol_net_embed(enc, &x, &e));
        if (k == 1)
            assert_byol_ok(byol_net_plan(enc, 2 * B));
    }
    assert_same_trainers(a, b);
    byol_trainer_destroy(a);
    byol_trainer_destroy(b);
}

/* Creates a trainer, steps, saves and loads a checkpoint; the first failure. */
static int lifecycle(void *path)
{
    byol_config *cfg = NULL;
    byol_trainer *t = NULL;
    views v;
    make_views(&v, 3, B);
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, SMALL);
    if (rc == BYOL_OK)
        rc = byol_trainer_create(cfg, NULL, &t);
    if (rc == BYOL_OK)
        rc = byol_trainer_step(t, &v.v1, &v.v2, NULL);
    if (rc == BYOL_OK)
        rc = byol_trainer_save(t, path);
    if (rc == BYOL_OK)
        rc = byol_trainer_load(t, path);
    byol_trainer_destroy(t);
    byol_config_destroy(cfg);
    return rc;
}

static unsigned char *saved;
static size_t saved_len;

/* A failed save keeps the previous checkpoint, byte for byte. */
static void same_checkpoint(void *path)
{
    size_t len;
    unsigned char *now = tu_slurp(path, &len);
    assert_int_equal(len, saved_len);
    assert_memory_equal(now, saved, len);
    free(now);
}

static void test_allocation_failures(void **state_)
{
    (void)state_;
    char *path = tu_tmp_path("oom.ckpt");
    assert_byol_ok(lifecycle(path));
    saved = tu_slurp(path, &saved_len);
    assert_true(tu_each_allocation_fails(lifecycle, path, same_checkpoint) > 30);
    free(saved);
    unlink(path);
}

static void test_bad_calls(void **state_)
{
    (void)state_;
    byol_trainer *t = make(NULL);
    views v;
    make_views(&v, 1, 3);
    assert_int_equal(byol_trainer_step(t, &v.v1, &v.v2, NULL), BYOL_E_SHAPE);
    assert_non_null(strstr(byol_last_error(), "train.batch_size"));
    make_views(&v, 1, B);
    byol_step_stats old = { .struct_size = 8 };
    assert_int_equal(byol_trainer_step(t, &v.v1, &v.v2, &old), BYOL_E_ABI);
    assert_int_equal(byol_trainer_update_target(t, 1.5), BYOL_E_RANGE);
    assert_int_equal(byol_trainer_step(NULL, &v.v1, &v.v2, NULL), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_trainer_step(t, NULL, &v.v2, NULL), BYOL_E_INVALID_ARG);
    assert_null(byol_trainer_buffer(t, BYOL_BUFFER_STATE, NULL));
    assert_int_equal(byol_trainer_save(t, ""), BYOL_E_INVALID_ARG);
    assert_string_equal(byol_last_error(), "byol_trainer_save: empty path");
    assert_int_equal(byol_trainer_load(t, ""), BYOL_E_INVALID_ARG);
    assert_string_equal(byol_last_error(), "byol_trainer_load: empty path");
    byol_config *cfg;
    byol_trainer *bad = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_int_equal(byol_config_parse(cfg, "train.batch_size=1"), BYOL_E_RANGE);
    /* an encoder of vectors trains on no views: its steps are refused */
    byol_builder *bl;
    byol_net *mlp;
    int32_t y;
    assert_byol_ok(byol_config_parse(cfg, SMALL));
    assert_byol_ok(byol_builder_create(NULL, 784, 1, 1, &bl));
    assert_byol_ok(byol_builder_linear(bl, "fc", 0, 16, 1, &y));
    assert_byol_ok(byol_builder_finish(bl, y, &mlp));
    byol_builder_destroy(bl);
    assert_byol_ok(byol_trainer_create(cfg, mlp, &bad));
    byol_tensor flat1 = { sizeof flat1, 4, { B, 784, 1, 1 }, v.x1 };
    byol_tensor flat2 = { sizeof flat2, 4, { B, 784, 1, 1 }, v.x2 };
    assert_int_equal(byol_trainer_step(bad, &flat1, &flat2, NULL), BYOL_E_SHAPE);
    assert_non_null(strstr(byol_last_error(), "the encoder takes vectors of 784 features"));
    byol_net_destroy(mlp);
    byol_config_destroy(cfg);
    byol_trainer_destroy(bad);
    byol_trainer_destroy(t);
}

/* ---- checkpoint metadata (issue 13, item 4) ----------------------------------- */

/* Copies checkpoint src to dst with metadata key's value replaced by value
 * (NULL: the key renamed, so it is missing). The header is padded with
 * spaces to a multiple of 8 bytes again, so the data section stays aligned. */
static void set_meta(const char *src, const char *dst, const char *key, const char *value)
{
    size_t len;
    unsigned char *b = tu_slurp(src, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | b[i];
    char *header = calloc(1, hlen + 1), pat[64];
    memcpy(header, b + 8, hlen);
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    char *at = strstr(header, pat);
    assert_non_null(at);
    char *v0 = at + strlen(pat), *v1 = strchr(v0, '"');
    while (v1[-1] == '\\') /* an escaped quote inside the value */
        v1 = strchr(v1 + 1, '"');
    char *out = calloc(1, hlen + strlen(value ? value : "") + 64);
    if (value)
        sprintf(out, "%.*s%s%s", (int)(v0 - header), header, value, v1);
    else
        sprintf(out, "%.*s\"x%s", (int)(at - header), header, at + 1);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    size_t padded = (n + 7) & ~(size_t)7;
    memset(out + n, ' ', padded - n);
    FILE *f = fopen(dst, "wb");
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    assert_int_equal(fwrite(le, 1, 8, f), 8);
    assert_int_equal(fwrite(out, 1, padded, f), padded);
    assert_int_equal(fwrite(b + 8 + hlen, 1, len - 8 - hlen, f), len - 8 - hlen);
    fclose(f);
    free(out);
    free(header);
    free(b);
}

/* Each metadata integer is ASCII digits in its range, or the load fails
 * with BYOL_E_FORMAT naming the file and key, the trainer unchanged:
 * "99999999999999999999999" loaded as INT64_MAX before, then the step
 * counter overflowed. A step past total_steps is legal (a trainer may step
 * on with lr 0 and tau 1), so it loads. */
static void test_checkpoint_metadata_strict(void **state_)
{
    (void)state_;
    const char *ck = tu_tmp_path("meta.st"), *bad = tu_tmp_path("meta_bad.st"),
               *before = tu_tmp_path("meta_before.st");
    byol_trainer *a = make(NULL), *b = make("seed=8");
    views v;
    make_views(&v, 50, B);
    for (int s = 0; s < 2; s++)
        assert_byol_ok(byol_trainer_step(a, &v.v1, &v.v2, NULL));
    assert_byol_ok(byol_trainer_save(a, ck));
    state s0, s1;
    capture(b, before, &s0);
    static const struct {
        const char *key, *value;
    } cases[] = {
        { "step", "99999999999999999999999" }, { "step", "9223372036854775808" },
        { "step", "-1" }, { "step", " 5" }, { "step", "+5" }, { "step", "5x" }, { "step", "" },
        { "step", "0x5" }, { "step", "5 " }, { "step", NULL },
        { "optim_steps", "99999999999999999999999" }, { "optim_steps", "-1" },
        { "optim_steps", " 2" }, { "optim_steps", "+2" }, { "optim_steps", "" },
        { "optim_steps", "3" }, /* more optimizer steps than steps */
        { "total_steps", "99999999999999999999999" }, { "total_steps", " 10" },
        { "total_steps", "+10" }, { "total_steps", "10x" }, { "total_steps", "" },
        { "total_steps", "0" }, { "total_steps", "1000000000000001" }, /* train.total_steps' */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        set_meta(ck, bad, cases[i].key, cases[i].value);
        int rc = byol_trainer_load(b, bad);
        char want[64];
        snprintf(want, sizeof want, "'%s'", cases[i].key);
        if (rc != BYOL_E_FORMAT || !strstr(byol_last_error(), bad) ||
            !strstr(byol_last_error(), want))
            fail_msg("%s='%s': %d, not BYOL_E_FORMAT naming file and key: %s", cases[i].key,
                     cases[i].value ? cases[i].value : "(missing)", rc, byol_last_error());
        capture(b, before, &s1);
        assert_same_state(&s0, &s1);
        free(s1.params);
    }
    set_meta(ck, bad, "step", "20"); /* total_steps is 10 */
    assert_byol_ok(byol_trainer_load(b, bad));
    assert_int_equal(byol_trainer_step_index(b), 20);
    /* Of the stored settings only byol.mode is checked: a key of a later
     * version is no error, and an unlisted byol.mode is the default. */
    set_meta(ck, bad, "config", "future.key=1");
    assert_byol_ok(byol_trainer_load(b, bad));
    set_meta(ck, bad, "config", "future.key=1 byol.mode=simsiam");
    assert_int_equal(byol_trainer_load(b, bad), BYOL_E_FORMAT);
    assert_non_null(strstr(byol_last_error(), "byol.mode=simsiam"));
    free(s0.params);
    unlink(ck);
    unlink(bad);
    unlink(before);
    byol_trainer_destroy(a);
    byol_trainer_destroy(b);
}

/* A trainer at step INT64_MAX (a legal checkpoint) refuses the next step
 * before it runs, instead of overflowing the counters; nothing changes. */
static void test_step_counter_limit(void **state_)
{
    (void)state_;
    const char *ck = tu_tmp_path("limit.st"), *at_max = tu_tmp_path("limit_max.st"),
               *before = tu_tmp_path("limit_before.st");
    byol_trainer *t = make(NULL);
    views v;
    make_views(&v, 60, B);
    assert_byol_ok(byol_trainer_save(t, ck));
    set_meta(ck, at_max, "step", "9223372036854775807");
    set_meta(at_max, at_max, "optim_steps", "9223372036854775807");
    assert_byol_ok(byol_trainer_load(t, at_max));
    assert_int_equal(byol_trainer_step_index(t), INT64_MAX);
    state s0, s1;
    capture(t, before, &s0);
    assert_int_equal(byol_trainer_step(t, &v.v1, &v.v2, NULL), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "9223372036854775807"));
    capture(t, before, &s1);
    assert_same_state(&s0, &s1);
    free(s1.params);
    assert_byol_ok(byol_trainer_zero_grad(t));
    assert_byol_ok(byol_trainer_accumulate(t, &v.v1, &v.v2, NULL));
    assert_int_equal(byol_trainer_apply_update(t, NULL), BYOL_E_RANGE);
    assert_int_equal(byol_trainer_step_index(t), INT64_MAX);
    free(s0.params);
    unlink(ck);
    unlink(at_max);
    unlink(before);
    byol_trainer_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_step_equals_step),
        cmocka_unit_test(test_accumulation_equals_full_batch),
        cmocka_unit_test(test_resume_and_threads_give_same_bits),
        cmocka_unit_test(test_modes_recorded_and_checked),
        cmocka_unit_test(test_load_refuses_what_it_cannot_use),
        cmocka_unit_test(test_load_refuses_nonfinite),
        cmocka_unit_test(test_allow_optim_change),
        cmocka_unit_test(test_guard_and_hook_change_nothing),
        cmocka_unit_test(test_simsiam_first_step_equals_byol),
        cmocka_unit_test(test_schedules_closed_form),
        cmocka_unit_test(test_warmup_longer_than_run_is_cut),
        cmocka_unit_test(test_target_init_and_encoder),
        cmocka_unit_test(test_encoder_use_between_steps),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_checkpoint_metadata_strict),
        cmocka_unit_test(test_step_counter_limit),
    };
    return cmocka_run_group_tests_name("trainer_api", tests, NULL, NULL);
}
