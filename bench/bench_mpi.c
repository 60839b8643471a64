/* libbyol-mpi side of `make bench`: the data-parallel BYOL step, timed on
 * every rank, with the time spent in the communicator's sums. Public API and
 * libbyol-mpi only.
 *
 *   mpirun -np N bench_mpi <case> [threads] [min_seconds] [KEY=VALUE...]
 * rank 0 prints one JSON line:
 *   {"case":..., "img_s":..., "ranks":..., "threads":..., "step_ms":...,
 *    "grad_ms":..., "grad_max_ms":..., "other_ms":..., ...}
 *
 * The case's train.batch_size is the GLOBAL batch (byol_trainer_set_comm());
 * each rank steps on its slice, so img/s is global batch * steps / seconds
 * whatever N is. `threads` is per rank. With N = 1 the trainer runs alone
 * (no communicator calls): the same step as bench_net's byol_step case.
 *
 * The communicator's two callbacks are wrapped to time them. The trainer
 * sums the gradients in one allreduce_f32 call per step (src/train/step.c)
 * and everything else in allreduce_f64: the ranks' verdicts on their input,
 * the synchronized BatchNorm sums (forward and backward, online and target
 * networks) and the loss and monitor sums. So per step:
 *  - grad_ms: time in allreduce_f32, the minimum over the ranks. The rank
 *    that reaches the sum last waits least, so its time is the sum itself;
 *    the others also wait for it (grad_max_ms, the maximum). The gradient
 *    sum is the only communication that bucketed overlap with the backward
 *    pass could hide (as PyTorch's DDP does), so grad_ms / step_ms bounds
 *    what overlap can gain.
 *  - other_ms, other_max_ms: the same for allreduce_f64, which overlap
 *    cannot hide (each BatchNorm sum blocks its layer).
 *  - grad_alone_ms, other_alone_ms: after the timed steps, the sums of one
 *    step again, after a barrier, the least of 5 runs (the slowest rank's):
 *    their cost without waiting for a slower rank. The time in the step
 *    above it is the wait (the ranks' imbalance, or a rank descheduled on a
 *    shared machine).
 *  - grad_calls, other_calls: calls per step; grad_mb: megabytes per
 *    gradient sum.
 * step_ms and img_s use the slowest rank's elapsed time.
 *
 * Timing: 3 untimed warmup steps; then as many timed steps as the slowest
 * rank's last warmup step says fill min_seconds (at least 3), decided once
 * so that every rank runs the same count (a rank deciding alone would leave
 * the others waiting in a sum). Any error ends the run (MPI_Abort). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <byol/byol_mpi.h>

#include "bench_util.h"

typedef struct mpi_case {
    const char *name;
    const char *preset;   /* config preset applied first */
    const char *settings; /* then these; train.batch_size is the global batch */
    int64_t batch;
} mpi_case;

/* The byol_step cases of bench_net with the same names, prefixed mpi_. */
static const mpi_case cases[] = {
    { "mpi_byol_step_cnn_small_b256", "fashion-mnist", "train.batch_size=256", 256 },
    { "mpi_byol_step_resnet18_cifar_b64", "cifar10", "train.batch_size=64", 64 },
};

enum { MAX_RECORDED = 4096 };

/* A communicator around another whose callbacks add up their time; the
 * counts of the allreduce_f64 calls are recorded until `recorded` reaches
 * MAX_RECORDED (one step's calls, when reset before a step). */
typedef struct timed_comm {
    byol_comm inner;
    double f32_s, f64_s;
    long f32_calls, f64_calls;
    int64_t f32_count; /* floats in the last gradient sum */
    int recorded;
    int64_t f64_counts[MAX_RECORDED];
} timed_comm;

static int timed_f32(float *data, int64_t count, void *user)
{
    timed_comm *c = user;
    double t0 = now();
    int rc = c->inner.allreduce_f32(data, count, c->inner.user);
    c->f32_s += now() - t0;
    c->f32_calls++;
    c->f32_count = count;
    return rc;
}

static int timed_f64(double *data, int64_t count, void *user)
{
    timed_comm *c = user;
    double t0 = now();
    int rc = c->inner.allreduce_f64(data, count, c->inner.user);
    c->f64_s += now() - t0;
    c->f64_calls++;
    if (c->recorded < MAX_RECORDED)
        c->f64_counts[c->recorded++] = count;
    return rc;
}

static int rank, nranks;

/* Ends every rank: after a failed step the others may be waiting in a sum. */
static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_mpi: rank %d: %s: %s: %s\n", rank, what, byol_strerror(rc),
            byol_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static byol_trainer *open_trainer(const mpi_case *c, int threads, const char *extra)
{
    byol_config *cfg = NULL;
    byol_trainer *t = NULL;
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_apply_preset(cfg, c->preset);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, c->settings);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, extra);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(cfg, "threads", threads);
    if (rc == BYOL_OK)
        rc = byol_trainer_create(cfg, NULL, &t);
    byol_config_destroy(cfg);
    if (rc != BYOL_OK)
        die(c->name, rc);
    return t;
}

/* This rank's slice of a global batch of fixed-seed normal images. */
static float *make_slice(int64_t global, int64_t per_image, uint64_t seed)
{
    int64_t n = global * per_image, local = n / nranks;
    float *all = malloc((size_t)n * sizeof *all), *mine = malloc((size_t)local * sizeof *mine);
    if (!all || !mine) {
        fprintf(stderr, "bench_mpi: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    fill_normal(all, n, seed);
    memcpy(mine, all + rank * local, (size_t)local * sizeof *mine);
    free(all);
    return mine;
}

static void step(byol_trainer *t, const byol_tensor v[2], byol_step_stats *st)
{
    st->struct_size = sizeof *st;
    int rc = byol_trainer_step(t, &v[0], &v[1], st);
    if (rc != BYOL_OK)
        die("byol_trainer_step", rc);
}

/* Timed steps: the count every rank agrees on, see the file's comment. */
static int timed_steps(byol_trainer *t, const byol_tensor v[2], double min_seconds,
                       byol_step_stats *st)
{
    double t0 = 0;
    for (int i = 0; i < 3; i++) {
        t0 = now();
        step(t, v, st);
    }
    double warm = now() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &warm, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    int iters = (int)(min_seconds / warm) + 1;
    return iters < 3 ? 3 : iters;
}

/* What a rank measured, per step (seconds), in the order of the JSON line. */
enum { ELAPSED, GRAD, OTHER, GRAD_ALONE, OTHER_ALONE, NFIG };

/* One step's sums replayed after a barrier, the least of 5 runs: what they
 * cost without waiting for a slower rank (fig[GRAD_ALONE], fig[OTHER_ALONE]).
 * The data is zeros: the time of a sum does not depend on its values. */
static void replay(const timed_comm *tc, int iters, double fig[NFIG])
{
    fig[GRAD_ALONE] = fig[OTHER_ALONE] = 0;
    if (nranks == 1) /* the trainer alone made no sums */
        return;
    int calls = (int)(tc->f64_calls / iters);
    calls = calls < tc->recorded ? calls : tc->recorded;
    int64_t most = 1;
    for (int i = 0; i < calls; i++)
        most = tc->f64_counts[i] > most ? tc->f64_counts[i] : most;
    double *d = calloc((size_t)most, sizeof *d);
    float *g = calloc((size_t)tc->f32_count, sizeof *g); /* > 0: the ranks summed */
    fig[GRAD_ALONE] = fig[OTHER_ALONE] = HUGE_VAL;
    int rc = d && g ? 0 : BYOL_E_NOMEM;
    for (int r = 0; r < 5 && rc == 0; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now();
        rc = tc->inner.allreduce_f32(g, tc->f32_count, tc->inner.user);
        double t1 = now();
        MPI_Barrier(MPI_COMM_WORLD);
        double t2 = now();
        for (int i = 0; i < calls && rc == 0; i++)
            rc = tc->inner.allreduce_f64(d, tc->f64_counts[i], tc->inner.user);
        fig[GRAD_ALONE] = fmin(fig[GRAD_ALONE], t1 - t0);
        fig[OTHER_ALONE] = fmin(fig[OTHER_ALONE], now() - t2);
    }
    free(d);
    free(g);
    if (rc != 0)
        die("replaying the sums", rc);
}

/* The JSON line: lo and hi are the least and the most over the ranks. */
static void report(const mpi_case *c, int threads, int iters, const double lo[NFIG],
                   const double hi[NFIG], const timed_comm *tc, const byol_step_stats *st,
                   const char *extra)
{
    printf("{\"case\": \"%s\", \"img_s\": %.2f, \"ranks\": %d, \"threads\": %d, "
           "\"batch\": %lld, \"iters\": %d, \"seconds\": %.3f, \"step_ms\": %.2f, "
           "\"grad_ms\": %.3f, \"grad_max_ms\": %.3f, \"other_ms\": %.3f, "
           "\"other_max_ms\": %.3f, \"grad_alone_ms\": %.3f, \"other_alone_ms\": %.3f, "
           "\"grad_calls\": %.2f, \"other_calls\": %.2f, \"grad_mb\": %.3f, "
           "\"last_loss\": %.6f, \"preset\": \"%s\", \"case_settings\": \"%s\", "
           "\"settings\": \"%s\", \"libbyol\": \"%s\"}\n",
           c->name, (double)c->batch / hi[ELAPSED], nranks, threads, (long long)c->batch,
           iters, hi[ELAPSED] * iters, 1e3 * hi[ELAPSED], 1e3 * lo[GRAD], 1e3 * hi[GRAD],
           1e3 * lo[OTHER], 1e3 * hi[OTHER], 1e3 * hi[GRAD_ALONE], 1e3 * hi[OTHER_ALONE],
           (double)tc->f32_calls / iters, (double)tc->f64_calls / iters,
           4e-6 * (double)tc->f32_count, st->loss, c->preset, c->settings, extra,
           byol_version_string());
}

static void run(const mpi_case *c, int threads, double min_seconds, const char *extra)
{
    byol_trainer *t = open_trainer(c, threads, extra);
    timed_comm *tc = calloc(1, sizeof *tc);
    int rc = tc ? byol_mpi_comm(MPI_COMM_WORLD, &tc->inner) : BYOL_E_NOMEM;
    byol_comm timed = { .struct_size = sizeof timed, .rank = rank, .size = nranks,
                        .allreduce_f32 = timed_f32, .allreduce_f64 = timed_f64, .user = tc };
    if (rc != 0 || (rc = byol_trainer_set_comm(t, &timed)) != BYOL_OK)
        die("the communicator", rc);
    int64_t in[3];
    if ((rc = byol_net_input_dims(byol_trainer_encoder(t), in)) != BYOL_OK)
        die("byol_net_input_dims", rc);
    int64_t per_image = in[0] * in[1] * in[2], local = c->batch / nranks;
    byol_tensor v[2];
    for (int k = 0; k < 2; k++)
        v[k] = (byol_tensor){ sizeof v[k], 4, { local, in[0], in[1], in[2] },
                              make_slice(c->batch, per_image, (uint64_t)k + 1) };
    byol_step_stats st = { 0 };
    int iters = timed_steps(t, v, min_seconds, &st);
    *tc = (timed_comm){ .inner = tc->inner };
    MPI_Barrier(MPI_COMM_WORLD); /* every rank starts the clock together */
    double t0 = now();
    for (int i = 0; i < iters; i++)
        step(t, v, &st);
    double fig[NFIG] = { now() - t0, tc->f32_s, tc->f64_s };
    replay(tc, iters, fig);
    for (int i = ELAPSED; i <= OTHER; i++)
        fig[i] /= iters;
    double lo[NFIG], hi[NFIG];
    MPI_Reduce(fig, lo, NFIG, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(fig, hi, NFIG, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
        report(c, threads, iters, lo, hi, tc, &st, extra);
    byol_trainer_destroy(t);
    byol_mpi_comm_free(&tc->inner);
    free(tc);
    free(v[0].data);
    free(v[1].data);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    char extra[1024] = "";
    const char *pos[4] = { NULL };
    int npos = 0;
    for (int i = 1; i < argc; i++) { /* KEY=VALUE after the case: settings */
        size_t len = strlen(extra);
        if (npos > 0 && strchr(argv[i], '='))
            snprintf(extra + len, sizeof extra - len, "%s ", argv[i]);
        else if (npos < 4)
            pos[npos++] = argv[i];
    }
    const mpi_case *c = NULL;
    for (size_t i = 0; pos[0] && i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(cases[i].name, pos[0]))
            c = &cases[i];
    if (!c) {
        if (rank == 0) {
            fprintf(stderr, "usage: mpirun -np N bench_mpi <case> [threads per rank] "
                            "[min_seconds] [KEY=VALUE...]\ncases:");
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                fprintf(stderr, " %s", cases[i].name);
            fprintf(stderr, "\n");
        }
        MPI_Finalize();
        return 2;
    }
    run(c, pos[1] ? atoi(pos[1]) : 1, pos[2] ? atof(pos[2]) : 5.0, extra);
    MPI_Finalize();
    return 0;
}
