/* libbyol side of `make bench`: training throughput measured the way
 * bench/torch_peer.py measures PyTorch, so bench/compare.py can print the
 * two side by side. Public API only.
 *
 *   bench_net <case> [threads] [min_seconds] [dataset path] [KEY=VALUE...]
 * prints one JSON line: {"case":..., "img_s":..., "peak_mb":..., "threads":...}
 * KEY=VALUE arguments are settings applied after the case's own (make bench
 * runs the ResNet cases again with nn.conv_algo=im2col, the exact mode).
 *
 * Three kinds of case:
 *  - fwdbwd_*: one network in training mode; an iteration is zero_grad,
 *    forward, backward of sum(y * dy) into every parameter (no input grad).
 *  - byol_step_*: a whole BYOL step, byol_trainer_step() on two views of
 *    `batch` images each (target forwards, online forwards and backwards per
 *    view, loss, the optimizer, target EMA), with the settings of a config
 *    preset and the case's own.
 *    One step consumes `batch` images (seen as two views), so img/s is
 *    batch * steps / seconds, as for the fwdbwd cases.
 *  - pipeline_*: the whole training loop of `byol pretrain`: byol_loader
 *    (decoding and augmenting the image folder given as the dataset path,
 *    loader.workers=1) feeding byol_trainer_step(), with the recipe of a
 *    byol_step case. An iteration is byol_loader_next() + the step, so the
 *    time the step waits for data counts.
 * All: 3 untimed warmup iterations, then timed iterations until at least
 * min_seconds have passed and at least 3 were run.
 *
 * Memory: after building the net (or trainer), planning the arena and
 * filling the data, the peak-RSS mark is reset (/proc/self/clear_refs) and
 * the baseline RSS read; peak_mb is VmHWM minus that baseline after the
 * timed loop. The arena is allocated before the baseline but first touched
 * inside the loop, so its pages count, as PyTorch's activations do in the
 * peer. Parameters, gradients and optimizer state are allocated (and
 * zeroed) at creation, so they are in the baseline. The pipeline's loader
 * is created before the baseline too: pages its worker touches before the
 * baseline is read are in it, the rest count. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <byol/byol.h>

#include "bench_util.h"

enum { KIND_FWDBWD, KIND_BYOL_STEP, KIND_PIPELINE };

typedef struct bench_case {
    const char *name;
    int kind;
    const char *preset;   /* byol_step, pipeline: config preset applied first, else NULL */
    const char *settings; /* then these "key=value" settings */
    int64_t batch;
} bench_case;

/* A CIFAR-10 recipe small enough to train on 2 cores: resnet18-cifar at a
 * quarter width, 1024-wide heads, SGD. The step case and the pipeline case
 * share it, so the pipeline's img/s can be read against the bare step's. */
#define W025_RECIPE                                                                       \
    "net.width=0.25 byol.proj_hidden=1024 byol.proj_out=256 byol.pred_hidden=1024 "     \
    "optim.name=sgd optim.lr=0.05 optim.weight_decay=1e-3 optim.momentum=0.9 "          \
    "optim.wd_exclude=bias_norm ema.tau_base=0.99 train.warmup_steps=39 train.batch_size=256"

static const bench_case cases[] = {
    { "fwdbwd_resnet18_cifar_b64", KIND_FWDBWD, NULL, "net.arch=resnet18-cifar", 64 },
    { "fwdbwd_cnn_small_b256", KIND_FWDBWD, NULL, "net.arch=cnn-small", 256 },
    { "byol_step_resnet18_cifar_b64", KIND_BYOL_STEP, "cifar10", "train.batch_size=64", 64 },
    { "byol_step_cnn_small_b256", KIND_BYOL_STEP, "fashion-mnist", "train.batch_size=256", 256 },
    { "byol_step_resnet18_cifar_w025_b256", KIND_BYOL_STEP, "cifar10", W025_RECIPE, 256 },
    /* 224 px: 1x1 convolutions and memory traffic weigh more than on CIFAR. */
    { "byol_step_resnet50_b32", KIND_BYOL_STEP, "imagenet", "train.batch_size=32", 32 },
    /* The loader's one worker and the step's 2 threads share the cores. */
    { "pipeline_cifar10_w025_b256", KIND_PIPELINE, "cifar10", W025_RECIPE " loader.workers=1",
      256 },
};

/* KEY=VALUE arguments of the command line, applied after a case's settings. */
static char extra_settings[1024];

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* One timed workload: iter(ctx) is one training iteration. */
typedef int (*iter_fn)(void *ctx);

typedef struct measurement {
    int iters, reset;
    double seconds;
    long base_kib, peak_kib;
} measurement;

/* The measurement shared by every case: reset the peak mark, read the
 * baseline, 3 untimed warmup iterations, then timed ones until min_seconds
 * have passed and at least 3 were run; then read the peak. */
static int measure(iter_fn iter, void *ctx, double min_seconds, measurement *m)
{
    int rc = BYOL_OK;
    m->reset = reset_peak();
    m->base_kib = status_kib("VmRSS");
    m->iters = 0;
    double t0 = 0, elapsed = 0;
    for (int i = 0; rc == BYOL_OK && (i < 3 + 3 || elapsed < min_seconds); i++) {
        if (i == 3)
            t0 = now(); /* after 3 untimed warmup iterations */
        rc = iter(ctx);
        if (i >= 3) {
            m->iters++;
            elapsed = now() - t0;
        }
    }
    m->seconds = elapsed;
    m->peak_kib = status_kib("VmHWM");
    return rc;
}

static void report(const bench_case *c, int threads, const measurement *m, const char *extra)
{
    printf("{\"case\": \"%s\", \"img_s\": %.2f, \"peak_mb\": %.1f, \"threads\": %d, "
           "\"batch\": %lld, \"iters\": %d, \"seconds\": %.3f, \"rss_base_mb\": %.1f, "
           "\"mem_method\": \"%s\", \"libbyol\": \"%s\", \"settings\": \"%s\"%s}\n",
           c->name, (double)c->batch * m->iters / m->seconds,
           (double)(m->peak_kib - m->base_kib) / 1024.0, threads, (long long)c->batch, m->iters,
           m->seconds, (double)m->base_kib / 1024.0, m->reset ? "vmhwm_reset" : "vmhwm_total",
           byol_version_string(), extra_settings, extra);
}

static int fail(int rc)
{
    fprintf(stderr, "bench_net: %s: %s\n", byol_strerror(rc), byol_last_error());
    return 1;
}

/* ---- fwdbwd: one network, forward + backward ------------------------------ */

typedef struct fwdbwd_ctx {
    byol_net *net;
    byol_tensor *x, *y, *dy;
} fwdbwd_ctx;

static int fwdbwd_iter(void *vc)
{
    fwdbwd_ctx *c = vc;
    int rc = byol_net_zero_grad(c->net);
    if (rc == BYOL_OK)
        rc = byol_net_forward(c->net, c->x, c->y);
    if (rc == BYOL_OK)
        rc = byol_net_backward(c->net, c->dy, NULL);
    return rc;
}

static int run_fwdbwd(const bench_case *c, int threads, double min_seconds)
{
    byol_config *cfg = NULL;
    byol_net *net = NULL;
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, c->settings);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, extra_settings);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(cfg, "threads", threads);
    if (rc == BYOL_OK)
        rc = byol_net_create(cfg, &net);
    if (rc == BYOL_OK)
        rc = byol_net_plan(net, c->batch);
    int64_t in[3], out[3];
    int32_t ndim;
    if (rc == BYOL_OK)
        rc = byol_net_input_dims(net, in);
    if (rc == BYOL_OK)
        rc = byol_net_output_dims(net, &ndim, out);
    if (rc != BYOL_OK) {
        byol_net_destroy(net);
        byol_config_destroy(cfg);
        return fail(rc);
    }
    int64_t nx = c->batch * in[0] * in[1] * in[2], ny = c->batch * out[0];
    float *x = malloc((size_t)nx * sizeof *x), *y = malloc((size_t)ny * sizeof *y);
    float *dy = malloc((size_t)ny * sizeof *dy);
    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    for (int64_t i = 0; i < ny; i++)
        dy[i] = (float)((i * 104729) % 1000) / 500.0f - 1.0f;
    byol_tensor tx = { sizeof tx, 4, { c->batch, in[0], in[1], in[2] }, x };
    byol_tensor ty = { sizeof ty, 2, { c->batch, out[0], 0, 0 }, y };
    byol_tensor tdy = { sizeof tdy, 2, { c->batch, out[0], 0, 0 }, dy };
    fwdbwd_ctx ctx = { net, &tx, &ty, &tdy };
    measurement m;
    rc = measure(fwdbwd_iter, &ctx, min_seconds, &m);
    if (rc != BYOL_OK)
        fail(rc);
    else
        report(c, threads, &m, "");
    free(x);
    free(y);
    free(dy);
    byol_net_destroy(net);
    byol_config_destroy(cfg);
    return rc != BYOL_OK;
}

/* ---- byol_step: the whole BYOL step ---------------------------------------- */

typedef struct step_ctx {
    byol_trainer *t;
    const byol_tensor *v1, *v2;
    byol_step_stats stats;
} step_ctx;

static int step_iter(void *vc)
{
    step_ctx *c = vc;
    c->stats.struct_size = sizeof c->stats;
    return byol_trainer_step(c->t, c->v1, c->v2, &c->stats);
}

/* The config of a byol_step or pipeline case (its preset, its settings,
 * `threads`) and a trainer built from it; on failure both are NULL. */
static int open_trainer(const bench_case *c, int threads, byol_config **cfg, byol_trainer **t)
{
    *cfg = NULL;
    *t = NULL;
    int rc = byol_config_create(cfg);
    if (rc == BYOL_OK)
        rc = byol_config_apply_preset(*cfg, c->preset);
    if (rc == BYOL_OK)
        rc = byol_config_parse(*cfg, c->settings);
    if (rc == BYOL_OK)
        rc = byol_config_parse(*cfg, extra_settings);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(*cfg, "threads", threads);
    if (rc == BYOL_OK)
        rc = byol_trainer_create(*cfg, NULL, t);
    if (rc != BYOL_OK) {
        byol_config_destroy(*cfg);
        *cfg = NULL;
    }
    return rc;
}

static void report_step(const bench_case *c, int threads, const measurement *m,
                         const byol_step_stats *stats, const char *more)
{
    char extra[768];
    snprintf(extra, sizeof extra,
             ", \"preset\": \"%s\", \"case_settings\": \"%s\", \"last_loss\": %.6f, "
             "\"steps\": %lld%s",
             c->preset, c->settings, stats->loss, (long long)stats->step + 1, more);
    report(c, threads, m, extra);
}

static int run_byol_step(const bench_case *c, int threads, double min_seconds)
{
    byol_config *cfg;
    byol_trainer *t;
    int rc = open_trainer(c, threads, &cfg, &t);
    int64_t in[3];
    if (rc == BYOL_OK)
        rc = byol_net_input_dims(byol_trainer_encoder(t), in);
    if (rc != BYOL_OK) {
        byol_trainer_destroy(t);
        byol_config_destroy(cfg);
        return fail(rc);
    }
    int64_t nx = c->batch * in[0] * in[1] * in[2];
    float *x1 = malloc((size_t)nx * sizeof *x1), *x2 = malloc((size_t)nx * sizeof *x2);
    fill_normal(x1, nx, 1);
    fill_normal(x2, nx, 2);
    byol_tensor v1 = { sizeof v1, 4, { c->batch, in[0], in[1], in[2] }, x1 };
    byol_tensor v2 = { sizeof v2, 4, { c->batch, in[0], in[1], in[2] }, x2 };
    step_ctx ctx = { t, &v1, &v2, { 0 } };
    measurement m;
    rc = measure(step_iter, &ctx, min_seconds, &m);
    if (rc != BYOL_OK)
        fail(rc);
    else
        report_step(c, threads, &m, &ctx.stats, "");
    free(x1);
    free(x2);
    byol_trainer_destroy(t);
    byol_config_destroy(cfg);
    return rc != BYOL_OK;
}

/* ---- pipeline: the loader feeding the step ----------------------------------- */

typedef struct pipeline_ctx {
    byol_loader *ld;
    byol_trainer *t;
    byol_step_stats stats;
} pipeline_ctx;

/* One iteration of `byol pretrain`'s loop: wait for a batch, then step. */
static int pipeline_iter(void *vc)
{
    pipeline_ctx *c = vc;
    byol_batch b = { .struct_size = sizeof b };
    int rc = byol_loader_next(c->ld, &b);
    c->stats.struct_size = sizeof c->stats;
    if (rc == BYOL_OK)
        rc = byol_trainer_step(c->t, &b.view1, &b.view2, &c->stats);
    return rc;
}

static int run_pipeline(const bench_case *c, int threads, double min_seconds, const char *path)
{
    byol_config *cfg;
    byol_dataset *ds = NULL;
    pipeline_ctx ctx = { NULL, NULL, { 0 } };
    int rc = open_trainer(c, threads, &cfg, &ctx.t);
    if (rc == BYOL_OK)
        rc = byol_dataset_open(cfg, path, &ds);
    if (rc == BYOL_OK)
        rc = byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ctx.ld);
    int64_t workers = 0;
    if (rc == BYOL_OK)
        rc = byol_config_get_int(cfg, "loader.workers", &workers);
    measurement m;
    if (rc == BYOL_OK)
        rc = measure(pipeline_iter, &ctx, min_seconds, &m);
    if (rc != BYOL_OK) {
        fail(rc);
    } else {
        char more[160];
        snprintf(more, sizeof more, ", \"workers\": %lld, \"images_in_dataset\": %lld",
                 (long long)workers, (long long)byol_dataset_size(ds));
        report_step(c, threads, &m, &ctx.stats, more);
    }
    byol_loader_destroy(ctx.ld); /* before the dataset it reads */
    byol_dataset_destroy(ds);
    byol_trainer_destroy(ctx.t);
    byol_config_destroy(cfg);
    return rc != BYOL_OK;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_net <case> [threads] [min_seconds] [dataset path] "
                    "[KEY=VALUE...]\n"
                    "(pipeline_* cases need the dataset path)\ncases:");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        fprintf(stderr, " %s", cases[i].name);
    fprintf(stderr, "\n");
}

static int run(const bench_case *c, int argc, char **pos)
{
    int threads = argc > 2 ? atoi(pos[2]) : 2;
    double min_seconds = argc > 3 ? atof(pos[3]) : 5.0;
    if (c->kind == KIND_FWDBWD)
        return run_fwdbwd(c, threads, min_seconds);
    if (c->kind == KIND_BYOL_STEP)
        return run_byol_step(c, threads, min_seconds);
    if (argc < 5) {
        usage();
        return 2;
    }
    return run_pipeline(c, threads, min_seconds, pos[4]);
}

/* Splits the command line: KEY=VALUE arguments after the case go to
 * extra_settings, the others to pos. Returns the count of pos. */
static int split_args(int argc, char **argv, char **pos)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        size_t len = strlen(extra_settings);
        if (i > 1 && strchr(argv[i], '='))
            snprintf(extra_settings + len, sizeof extra_settings - len, "%s ", argv[i]);
        else
            pos[n++] = argv[i];
    }
    return n;
}

int main(int argc, char **argv)
{
    char *pos[16];
    int npos = argc < 16 ? split_args(argc, argv, pos) : 0;
    if (npos < 2) {
        usage();
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(cases[i].name, pos[1]))
            return run(&cases[i], npos, pos);
    fprintf(stderr, "bench_net: unknown case '%s'\n", pos[1]);
    return 2;
}
