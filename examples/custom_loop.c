/* custom_loop: a BYOL training loop of your own, on the public API only.
 *
 * byol_trainer_step() does a whole step; this program takes it apart to
 * show where a custom loop hooks in:
 *
 *   zero_grad -> accumulate (2 micro-batches) -> "all-reduce" the gradients
 *   -> apply_update (optimizer, lr schedule) -> update_target (our own tau)
 *
 * and checkpoints every N steps, so that `--resume` continues the run with
 * the losses an uninterrupted run would have printed.
 *
 *   custom_loop [--steps N] [--stop-at S] [--save-every N] [--checkpoint PATH]
 *               [--resume] [--threads N] [DATA]
 *
 * DATA is any dataset byol_dataset_open() reads; by default Fashion-MNIST's
 * training split (Debian's dataset-fashion-mnist package). --steps is the
 * length of the whole run (the schedules depend on it), --stop-at ends this
 * invocation early with a checkpoint, as an interrupted job would.
 *
 * Build: `make examples`, or against the installed library:
 *   cc -std=c11 custom_loop.c $(pkg-config --cflags --libs libbyol)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <byol/byol.h>

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Micro-batches per step: the loader's batch is cut into this many parts
 * and their gradients are summed before one optimizer update. */
#define MICRO_BATCHES 2

/* Processes in a data-parallel job. This example is a single process; in a
 * real job each rank would run this loop on its own shard of the data. */
#define WORLD_SIZE 1

typedef struct options {
    int64_t steps;       /* length of the whole run: the schedules' K */
    int64_t stop_at;     /* stop after this step (0: at --steps) */
    int64_t save_every;  /* checkpoint period in steps */
    int64_t threads;
    int resume;
    const char *checkpoint;
    const char *data;
} options;

/* ---- errors ------------------------------------------------------------------ */

/* Every libbyol call returns a status; on failure the library also keeps a
 * message naming the file, key or shape at fault. Print both and stop. */
static void check(int rc, const char *call)
{
    if (rc == BYOL_OK)
        return;
    fprintf(stderr, "custom_loop: %s: %s: %s\n", call, byol_strerror(rc), byol_last_error());
    exit(1);
}
#define CHECK(call) check((call), #call)

static void usage(const char *problem, const char *arg)
{
    if (problem)
        fprintf(stderr, "custom_loop: %s%s\n", problem, arg ? arg : "");
    fprintf(problem ? stderr : stdout,
            "Usage: custom_loop [--steps N] [--stop-at S] [--save-every N] "
            "[--checkpoint PATH]\n"
            "                   [--resume] [--threads N] [DATA]\n"
            "DATA defaults to %s (Fashion-MNIST, training split).\n",
            DEFAULT_DATA);
    exit(problem ? 2 : 0);
}

/* ---- command line -------------------------------------------------------------- */

static int64_t parse_count(const char *flag, const char *text)
{
    char *end;
    long long v = text ? strtoll(text, &end, 10) : -1;
    if (!text || *end != '\0' || end == text || v < 0) {
        fprintf(stderr, "custom_loop: %s needs a count >= 0, not '%s'\n", flag,
                text ? text : "(nothing)");
        exit(2);
    }
    return (int64_t)v;
}

static options parse_options(int argc, char **argv)
{
    options o = { 40, 0, 10, 2, 0, "custom_loop.safetensors", DEFAULT_DATA };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            usage(NULL, NULL);
        else if (!strcmp(a, "--resume"))
            o.resume = 1;
        else if (!strcmp(a, "--steps"))
            o.steps = parse_count(a, next), i++;
        else if (!strcmp(a, "--stop-at"))
            o.stop_at = parse_count(a, next), i++;
        else if (!strcmp(a, "--save-every"))
            o.save_every = parse_count(a, next), i++;
        else if (!strcmp(a, "--threads"))
            o.threads = parse_count(a, next), i++;
        else if (!strcmp(a, "--checkpoint") && next)
            o.checkpoint = argv[++i];
        else if (a[0] == '-')
            usage("unknown option or missing value: ", a);
        else
            o.data = a;
    }
    if (o.steps < 1 || o.save_every < 1)
        usage("--steps and --save-every must be at least 1", NULL);
    if (o.stop_at == 0 || o.stop_at > o.steps)
        o.stop_at = o.steps;
    return o;
}

/* ---- setup --------------------------------------------------------------------- */

/* The fashion-mnist preset, shrunk so the example runs in seconds. */
static byol_config *make_config(const options *o)
{
    byol_config *cfg;
    CHECK(byol_config_create(&cfg));
    CHECK(byol_config_apply_preset(cfg, "fashion-mnist"));
    CHECK(byol_config_parse(cfg, "net.width=0.25 train.batch_size=64 loader.workers=1 "
                                 "byol.proj_hidden=256 byol.pred_hidden=256"));
    /* The learning rate schedule (warmup, then cosine to 0) spans the whole
     * run: a resumed run must be given the same --steps. */
    CHECK(byol_config_set_int(cfg, "train.total_steps", o->steps));
    CHECK(byol_config_set_int(cfg, "train.warmup_steps", o->steps / 10));
    CHECK(byol_config_set_int(cfg, "threads", o->threads));
    return cfg;
}

/* ---- one step, in parts -------------------------------------------------------- */

/* Part `part` of `parts` of a batch tensor [N, C, H, W]: a view of its rows
 * (no copy). The last part takes the remainder when N is not divisible. */
static byol_tensor micro_view(const byol_tensor *whole, int part, int parts)
{
    int64_t n = whole->shape[0], size = n / parts, first = part * size;
    int64_t per_sample = whole->shape[1] * whole->shape[2] * whole->shape[3];
    byol_tensor v = *whole;
    v.shape[0] = part == parts - 1 ? n - first : size;
    v.data = whole->data + first * per_sample;
    return v;
}

/* Stands in for an all-reduce across WORLD_SIZE processes. The trainer's
 * gradients are one contiguous array, so a real job would pass it to one
 * MPI_Allreduce (or NCCL/Gloo call) with a sum, then divide by the world
 * size to average. With one process the sum is the array itself and the
 * division by 1 is the whole job; it is kept to show where it goes. */
static void all_reduce_gradients(byol_trainer *t)
{
    int64_t n;
    float *grads = byol_trainer_buffer(t, BYOL_BUFFER_GRADS, &n);
    if (!grads)
        check(BYOL_E_INVALID_ARG, "byol_trainer_buffer(BYOL_BUFFER_GRADS)");
    /* MPI_Allreduce(MPI_IN_PLACE, grads, n, MPI_FLOAT, MPI_SUM, comm); */
    const float scale = 1.0f / (float)WORLD_SIZE;
    for (int64_t i = 0; i < n; i++)
        grads[i] *= scale;
}

/* Our own EMA schedule: a linear ramp from tau_base at step 0 to 1 at the
 * last step (the library's byol_schedule_tau is a cosine). A pure function
 * of the step, so a resumed run continues it exactly. */
static double linear_tau(int64_t k, int64_t total, double tau_base)
{
    double progress = total > 1 ? (double)k / (double)(total - 1) : 1.0;
    return tau_base + (1.0 - tau_base) * progress;
}

typedef struct step_report {
    double loss, lr, tau, grad_norm;
} step_report;

/* One optimizer step k on batch b; the same as byol_trainer_step() but for
 * the micro-batches (BatchNorm normalises each half on its own) and tau. */
static step_report train_step(byol_trainer *t, const byol_batch *b, int64_t k,
                              int64_t total, double tau_base)
{
    step_report r = { 0, 0, 0, 0 };
    CHECK(byol_trainer_zero_grad(t));
    /* accumulate ADDS the gradient of (sum of these samples' losses) /
     * train.batch_size: the parts add up to the gradient of the batch mean. */
    for (int m = 0; m < MICRO_BATCHES; m++) {
        byol_tensor v1 = micro_view(&b->view1, m, MICRO_BATCHES);
        byol_tensor v2 = micro_view(&b->view2, m, MICRO_BATCHES);
        byol_step_stats s = { .struct_size = sizeof s };
        CHECK(byol_trainer_accumulate(t, &v1, &v2, &s));
        r.loss += s.loss * (double)v1.shape[0] / (double)b->count; /* s.loss is a mean */
    }
    all_reduce_gradients(t);
    byol_step_stats s = { .struct_size = sizeof s };
    CHECK(byol_trainer_apply_update(t, &s)); /* lr(k) from the config; k -> k + 1 */
    r.lr = s.lr;
    r.grad_norm = s.grad_norm;
    /* After the update, as the reference does: the target follows the new weights. */
    r.tau = linear_tau(k, total, tau_base);
    CHECK(byol_trainer_update_target(t, r.tau));
    return r;
}

/* ---- the loop ------------------------------------------------------------------ */

/* On --resume: restore the trainer (weights, optimizer, step index) and move
 * the loader to the batch that step would have read, so the data order is
 * the uninterrupted run's too. Returns the first step to run. */
static int64_t resume(const options *o, byol_trainer *t, byol_loader *ld)
{
    if (!o->resume)
        return 0;
    CHECK(byol_trainer_load(t, o->checkpoint));
    int64_t k = byol_trainer_step_index(t), per_epoch = byol_loader_batches_per_epoch(ld);
    if (k < o->steps)
        CHECK(byol_loader_seek(ld, k / per_epoch, k % per_epoch));
    printf("resumed %s at step %lld (epoch %lld, batch %lld)\n", o->checkpoint, (long long)k,
           (long long)(k / per_epoch), (long long)(k % per_epoch));
    return k;
}

static void run(const options *o, byol_config *cfg, byol_trainer *t, byol_loader *ld)
{
    double tau_base;
    CHECK(byol_config_get_float(cfg, "ema.tau_base", &tau_base));
    for (int64_t k = resume(o, t, ld); k < o->stop_at; k++) {
        byol_batch b = { .struct_size = sizeof b };
        CHECK(byol_loader_next(ld, &b));
        step_report r = train_step(t, &b, k, o->steps, tau_base);
        printf("step %4lld  epoch %lld  loss %.6f  lr %.6f  tau %.6f  grad_norm %.4f\n",
               (long long)k, (long long)b.epoch, r.loss, r.lr, r.tau, r.grad_norm);
        /* Atomic: a crash while saving keeps the previous checkpoint. */
        if ((k + 1) % o->save_every == 0 || k + 1 == o->stop_at) {
            CHECK(byol_trainer_save(t, o->checkpoint));
            printf("saved %s (step %lld)\n", o->checkpoint, (long long)(k + 1));
        }
    }
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    byol_config *cfg = make_config(&o);
    byol_dataset *ds = NULL;
    byol_loader *ld = NULL;
    byol_trainer *t = NULL;

    CHECK(byol_dataset_open(cfg, o.data, &ds));
    CHECK(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
    CHECK(byol_trainer_create(cfg, NULL, &t));
    printf("libbyol %s: %lld images from %s, %lld batches per epoch, %d micro-batches a step\n",
           byol_version_string(), (long long)byol_dataset_size(ds), o.data,
           (long long)byol_loader_batches_per_epoch(ld), MICRO_BATCHES);

    run(&o, cfg, t, ld);

    byol_trainer_destroy(t);
    byol_loader_destroy(ld); /* before the dataset it reads */
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    return 0;
}
