/* byol pretrain: the training loop of byol_data.h's example, made into a
 * tool: a config from preset/--set/flags, a loader over the dataset, a
 * trainer, and around them checkpoints, metrics, a plot, a preview, a k-NN
 * monitor, a progress line and a clean stop on Ctrl-C. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "Usage: byol pretrain --data PATH --out DIR [options]\n"
    "\n"
    "Pretrain an image encoder with BYOL on the images at PATH. Writes into DIR:\n"
    "  checkpoint.safetensors  the whole training state: every --checkpoint-every\n"
    "                          steps, at the end, and on Ctrl-C\n"
    "  metrics.jsonl           one JSON object per logged step and per monitor run\n"
    "  plot.svg                loss and monitor accuracy over the steps\n"
    "  config.txt              the settings used, as key=value lines\n"
    "  preview.png             8 images drawn across classes and their two views\n"
    "  byol.lock               the lock: a second run on DIR is refused while this\n"
    "                          one runs\n"
    "\n"
    "Data:\n"
    "  --data PATH             an image folder (a sub-folder per class), an IDX file\n"
    "                          or directory (MNIST family), or CIFAR binary batches\n"
    "  --format FMT            auto (default), folder, idx or cifar\n"
    "  --split NAME            train (default) or test: which files of an IDX or\n"
    "                          CIFAR directory\n"
    "Recipe (applied in this order, later wins):\n"
    "  --preset NAME           cifar10, cifar10-short, fashion-mnist\n"
    "                          or imagenet\n"
    "  --set KEY=VALUE         any setting (`byol info --keys` lists them); repeatable\n"
    "  --epochs N              train N epochs (sets train.total_steps)\n"
    "  --steps N               train until step N (sets train.total_steps)\n"
    "  --batch-size N          images per step (train.batch_size)\n"
    "  --threads N             compute threads, 0 for all cores (threads)\n"
    "  --workers N             decoding and augmenting threads (loader.workers)\n"
    "Output and control:\n"
    "  -o, --out DIR           output directory (created if missing)\n"
    "  --resume CKPT           continue from a checkpoint; its stored settings are\n"
    "                          the base, the options above override them\n"
    "  --new-optimizer         let --resume switch optimizers (another optim.name\n"
    "                          or optim.momentum): the networks and the step load,\n"
    "                          the old optimizer state is dropped with a warning\n"
    "  --force                 start afresh even if DIR holds a checkpoint (a fresh\n"
    "                          run first removes the files above but byol.lock)\n"
    "  --stop-at N             stop after step N with a checkpoint, the schedules\n"
    "                          still those of the whole run (resume it later)\n"
    "  --checkpoint-every N    save a checkpoint every N steps (default 500; 0: only\n"
    "                          at the end)\n"
    "  --log-every N           write a metrics record every N steps (default 1)\n"
    "  --monitor-data PATH     labelled held-out images for a k-NN monitor (opened\n"
    "                          as the test split), run at the end and every\n"
    "  --monitor-every N       N steps (default 0: only at the end)\n"
    "  --monitor-bank N        training images in the k-NN bank (default 5000)\n"
    "  --monitor-queries N     held-out images classified (default 2000)\n"
    "  --json                  end with a JSON summary on stdout (steps, seconds,\n"
    "                          img/s, last loss, last k-NN accuracy, checkpoint)\n"
    "  -q, --quiet             print nothing but errors (and the --json summary)\n"
    "  -h, --help              show this help\n"
    "\n"
    "On a terminal a progress line (epoch, step, loss, lr, tau, img/s, ETA) is\n"
    "redrawn on stderr; otherwise a plain line is printed every 10 seconds.\n"
    "\n"
    "Exit status: 0 done, 1 runtime error (data, file or library), 2 usage error,\n"
    "130 interrupted by SIGINT/SIGTERM after saving a checkpoint.\n"
    "\n"
    "Under mpirun (a byol built with MPI), each process is one rank of a\n"
    "data-parallel run: --batch-size is the global batch, rank 0 alone writes DIR\n"
    "and reports, and an error or a signal on any rank stops them all.\n"
    "\n"
    "Example:\n"
    "  byol pretrain --data cifar10-jpg/train --preset cifar10 --epochs 10 \\\n"
    "      --monitor-data cifar10-jpg/test --monitor-every 1000 --out runs/c10\n";

typedef struct pretrain_opts {
    cli_common c;
    const char *data, *out, *resume, *monitor_data;
    int64_t epochs, steps, stop_at, checkpoint_every, log_every, monitor_every, monitor_bank,
        monitor_queries;
    int quiet, force, json, new_optimizer;
    int threads_given;             /* --threads, even 0 (all cores), or a threads setting */
} pretrain_opts;

/* Everything a run holds; released by run_close(). */
typedef struct run {
    const pretrain_opts *o;
    byol_config *cfg;
    byol_dataset *ds, *monitor_ds;
    byol_loader *ld;
    byol_trainer *t;
    cli_dist d;                    /* this rank of an mpirun run; rank 0 writes DIR */
    cli_metrics m;
    cli_progress p;
    char ckpt[4096], plot[4096];
    int lock;                      /* holds the lock of --out while open (rundir.c) */
    int quiet;                     /* --quiet, or a rank but 0 (which alone reports) */
    int64_t threads;               /* the trainer's */
    int interrupted;               /* a signal, on any rank, ended the loop early */
    int64_t k0, k, total, end, bpe, epoch; /* end: where this process stops */
    double t0;                     /* start of training */
    double train_s, win_s;         /* time in loader + step: in all, since the last record */
    int64_t win_images, images;    /* of global batches */
} run;

static volatile sig_atomic_t g_signal;

/* Rank 0 alone writes DIR and reports; the other ranks only train. */
static int writer(const run *r) { return r->d.rank == 0; }

/* Only sets a flag: the loop stops after the current step and saves. A
 * second signal kills the process (SA_RESETHAND); the saves are atomic, so
 * the previous checkpoint survives that too. */
static void on_signal(int sig) { g_signal = sig; }

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int parse(int argc, char **argv, pretrain_opts *o)
{
    cli_opt opts[] = {
        { "data", 0, OPT_STRING, &o->data, 0, 0, 0 },
        CLI_OPTS_DATA(&o->c),
        CLI_OPTS_RECIPE(&o->c),
        { "epochs", 0, OPT_INT, &o->epochs, 1, 1000000, 0 },
        { "steps", 0, OPT_INT, &o->steps, 1, (int64_t)1e15, 0 },
        CLI_OPTS_COMPUTE(&o->c),
        { "out", 'o', OPT_STRING, &o->out, 0, 0, 0 },
        { "resume", 0, OPT_STRING, &o->resume, 0, 0, 0 },
        { "new-optimizer", 0, OPT_FLAG, &o->new_optimizer, 0, 0, 0 },
        { "force", 0, OPT_FLAG, &o->force, 0, 0, 0 },
        { "stop-at", 0, OPT_INT, &o->stop_at, 1, (int64_t)1e15, 0 },
        { "checkpoint-every", 0, OPT_INT, &o->checkpoint_every, 0, (int64_t)1e15, 0 },
        { "log-every", 0, OPT_INT, &o->log_every, 1, (int64_t)1e15, 0 },
        { "monitor-data", 0, OPT_STRING, &o->monitor_data, 0, 0, 0 },
        { "monitor-every", 0, OPT_INT, &o->monitor_every, 0, (int64_t)1e15, 0 },
        { "monitor-bank", 0, OPT_INT, &o->monitor_bank, 1, (int64_t)1e12, 0 },
        { "monitor-queries", 0, OPT_INT, &o->monitor_queries, 1, (int64_t)1e12, 0 },
        { "quiet", 'q', OPT_FLAG, &o->quiet, 0, 0, 0 },
        { "json", 0, OPT_FLAG, &o->json, 0, 0, 0 },
        CLI_OPTS_END,
    };
    o->checkpoint_every = 500;
    o->log_every = 1;
    o->monitor_bank = 5000;
    o->monitor_queries = 2000;
    int rc = cli_parse(argc, argv, opts, NULL, 0, NULL);
    if (rc == BYOL_OK)
        rc = cli_require(opts, "data", "out");
    if (rc == BYOL_OK)
        o->threads_given = cli_seen(opts, "threads") || cli_recipe_sets(&o->c, "threads");
    if (rc != BYOL_OK)
        return rc;
    if (o->epochs && o->steps)
        return cli_error(CLI_USAGE, "--epochs and --steps: give one or the other");
    if (o->monitor_every && !o->monitor_data)
        return cli_error(CLI_USAGE, "--monitor-every needs --monitor-data");
    if (o->new_optimizer && !o->resume)
        return cli_error(CLI_USAGE, "--new-optimizer needs --resume");
    return BYOL_OK;
}

/* train.total_steps from --steps or --epochs (needs the loader's epoch length). */
static int set_total(run *r)
{
    r->bpe = byol_loader_batches_per_epoch(r->ld);
    int rc = BYOL_OK;
    if (r->o->steps)
        rc = cli_lib(byol_config_set_int(r->cfg, "train.total_steps", r->o->steps));
    else if (r->o->epochs)
        rc = cli_libf(byol_config_set_int(r->cfg, "train.total_steps", r->o->epochs * r->bpe),
                      "--epochs %lld", (long long)r->o->epochs);
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_get_int(r->cfg, "train.total_steps", &r->total));
    return rc;
}

static int check_fresh_out(const run *r)
{
    struct stat st;
    if (r->o->resume || r->o->force || stat(r->ckpt, &st) != 0)
        return BYOL_OK;
    return cli_error(CLI_USAGE, "%s exists: continue it with --resume %s, or start afresh "
                     "with --force", r->ckpt, r->ckpt);
}

static int write_config(const run *r)
{
    char path[4096], *text = NULL;
    int rc = cli_out_path(path, sizeof path, r->o->out, "config.txt");
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_serialize(r->cfg, &text));
    if (rc == BYOL_OK)
        rc = cli_write_file(path, text, strlen(text));
    byol_free(text);
    return rc;
}

/* The preview is a convenience: a bad image among those drawn (which
 * loader.on_error=skip would step over) costs a warning, not the run. */
static int write_preview(run *r)
{
    char path[4096];
    int rc = cli_out_path(path, sizeof path, r->o->out, "preview.png");
    if (rc == BYOL_OK &&
        byol_preview_write_sample(r->cfg, r->ds, 8, path) != BYOL_OK)
        cli_progress_note(&r->p, "byol: pretrain: warning: no preview.png: %s", byol_last_error());
    return rc;
}

/* An epoch is the batches the data fills (loader.drop_last): a dataset
 * smaller than one batch is refused, naming both numbers, and a remainder
 * of a tenth of the data or more, left out of every epoch, is a warning. */
static int check_batch(const run *r)
{
    int64_t n = byol_dataset_size(r->ds), batch = 0, drop = 1;
    int rc = cli_lib(byol_config_get_int(r->cfg, "train.batch_size", &batch));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_get_int(r->cfg, "loader.drop_last", &drop));
    if (rc != BYOL_OK || !drop)
        return rc;
    if (n < batch)
        return cli_error(BYOL_E_SHAPE, "%s holds %lld images, fewer than one batch of %lld "
                         "(train.batch_size): give --batch-size %lld or less", r->o->data,
                         (long long)n, (long long)batch, (long long)n);
    int64_t full = n / batch, rest = n % batch;
    if (rest * 10 >= n)
        cli_warn("%s: %lld images make %lld batch%s of %lld per epoch; the other %lld (%.0f %%) "
                 "are left out of each epoch (loader.drop_last): a --batch-size that divides "
                 "%lld uses them all", r->o->data, (long long)n, (long long)full,
                 full == 1 ? "" : "es", (long long)batch, (long long)rest,
                 100.0 * (double)rest / (double)n, (long long)n);
    return BYOL_OK;
}

static int open_monitor(run *r)
{
    if (!r->o->monitor_data || !writer(r))
        return BYOL_OK;
    int rc = cli_dataset_open(r->cfg, r->o->monitor_data, 1, &r->monitor_ds);
    if (rc == BYOL_OK && byol_dataset_num_classes(r->ds) == 0)
        rc = cli_error(BYOL_E_FORMAT, "the k-NN monitor needs labels: %s has none", r->o->data);
    if (rc == BYOL_OK && byol_dataset_num_classes(r->monitor_ds) == 0)
        rc = cli_error(BYOL_E_FORMAT, "the k-NN monitor needs labels: %s has none",
                       r->o->monitor_data);
    return rc;
}

/* Trainer, resumed if asked; the loader then continues where the checkpoint
 * stopped. --new-optimizer's train.allow_optim_change=1 goes to the trainer
 * only: it permits this load only, not a setting of the run (config.txt);
 * so does a rank's share of threads, which the next run may not share. */
static int open_trainer(run *r)
{
    byol_config *cfg = NULL;
    int rc = cli_lib(byol_config_copy(r->cfg, &cfg));
    if (rc == BYOL_OK && r->o->new_optimizer)
        rc = cli_lib(byol_config_set_int(cfg, "train.allow_optim_change", 1));
    if (rc == BYOL_OK && !r->o->threads_given)
        rc = cli_dist_threads(&r->d, cfg);
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_get_int(cfg, "threads", &r->threads));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_trainer_create(cfg, NULL, &r->t));
    byol_config_destroy(cfg);
    if (rc == BYOL_OK && r->o->resume)
        rc = cli_lib(byol_trainer_load(r->t, r->o->resume));
    if (rc == BYOL_E_FORMAT && strstr(byol_last_error(), "train.allow_optim_change=1"))
        rc = cli_error(rc, "%s (--new-optimizer sets it)", byol_last_error());
    if (rc == BYOL_OK && r->d.size > 1)
        rc = cli_lib(byol_trainer_set_comm(r->t, &r->d.comm));
    r->k0 = r->k = rc == BYOL_OK ? byol_trainer_step_index(r->t) : 0;
    r->end = r->o->stop_at && r->o->stop_at < r->total ? r->o->stop_at : r->total;
    if (rc == BYOL_OK && r->k0 > 0 && r->k0 < r->total)
        rc = cli_lib(byol_loader_seek(r->ld, r->k0 / r->bpe, r->k0 % r->bpe));
    r->epoch = r->bpe ? r->k0 / r->bpe : 0;
    return rc;
}

static int open_run(run *r)
{
    /* Settings: the checkpoint's (when resuming), then preset, --set, flags. */
    int rc = cli_setup(BYOL_OK, NULL, r->o->resume, &r->o->c, &r->cfg);
    if (rc == BYOL_OK)
        rc = cli_out_path(r->ckpt, sizeof r->ckpt, r->o->out, "checkpoint.safetensors");
    if (rc == BYOL_OK)
        rc = cli_out_path(r->plot, sizeof r->plot, r->o->out, "plot.svg");
    if (rc == BYOL_OK && writer(r))
        rc = cli_mkdir_p(r->o->out);
    if (rc == BYOL_OK && writer(r))
        rc = cli_rundir_lock(r->o->out, &r->lock);
    if (rc == BYOL_OK && writer(r))
        rc = check_fresh_out(r);
    if (rc == BYOL_OK)
        rc = cli_dataset_open(r->cfg, r->o->data, 0, &r->ds);
    if (rc == BYOL_OK)
        rc = cli_fit_image_size(r->cfg, &r->o->c, r->o->resume != NULL, r->ds, r->o->data);
    if (rc == BYOL_OK)
        rc = check_batch(r);
    if (rc == BYOL_OK)
        rc = open_monitor(r);
    if (rc == BYOL_OK)
        rc = cli_lib(byol_loader_create(r->cfg, r->ds, BYOL_LOADER_TRAIN, &r->ld));
    if (rc == BYOL_OK && r->d.size > 1)
        rc = cli_libf(byol_loader_set_shard(r->ld, r->d.rank, r->d.size), "%d ranks",
                      r->d.size);
    if (rc == BYOL_OK)
        rc = set_total(r);
    if (rc == BYOL_OK)
        rc = open_trainer(r);
    return rc;
}

static void run_close(run *r)
{
    cli_progress_end(&r->p);
    cli_metrics_close(&r->m);
    byol_trainer_destroy(r->t);
    byol_loader_destroy(r->ld); /* before the dataset it reads */
    byol_dataset_destroy(r->monitor_ds);
    byol_dataset_destroy(r->ds);
    byol_config_destroy(r->cfg);
    if (r->lock >= 0)
        close(r->lock); /* the run's files are all written */
    cli_dist_end(&r->d);
}

/* ---- during the run ------------------------------------------------------------ */

/* The checkpoint last: it commits the step, so once the last one is saved
 * nothing is left to write, and a kill after it leaves no temporary file
 * that a resume (with nothing to train) would not replace. */
static int save(run *r)
{
    if (!writer(r))
        return BYOL_OK;
    int rc = cli_plot_write(r->plot, &r->m.loss, &r->m.knn, r->total);
    if (rc == BYOL_OK)
        rc = cli_lib(byol_trainer_save(r->t, r->ckpt));
    return rc;
}

/* k-NN top-1 of the online encoder: a bank of training images, queries from
 * the held-out split, both evenly spaced subsets so the cost stays fixed. */
static int monitor(run *r)
{
    double t = cli_now(), acc = 0;
    byol_net *enc = byol_trainer_encoder(r->t);
    cli_feats bank = { 0 }, query = { 0 };
    int rc = cli_features(enc, r->cfg, r->ds, r->o->monitor_bank, &bank);
    if (rc == BYOL_OK)
        rc = cli_features(enc, r->cfg, r->monitor_ds, r->o->monitor_queries, &query);
    if (rc == BYOL_OK)
        rc = cli_lib(byol_eval_knn(r->cfg, bank.x, bank.y, bank.n, query.x, query.y, query.n,
                                   bank.dim, &acc));
    t = cli_now() - t;
    if (rc == BYOL_OK)
        rc = cli_metrics_monitor(&r->m, r->k, r->epoch, acc, bank.n, query.n, t,
                                 cli_now() - r->t0);
    if (rc == BYOL_OK)
        cli_progress_note(&r->p, "step %lld: k-NN top-1 %.2f %% (%lld bank, %lld queries, %.1f s)",
                          (long long)r->k, 100 * acc, (long long)bank.n, (long long)query.n, t);
    cli_feats_free(&bank);
    cli_feats_free(&query);
    return rc;
}

static void show(run *r, const byol_step_stats *s, int force)
{
    double wall = cli_now() - r->t0;
    cli_status st = { r->epoch, (r->total + r->bpe - 1) / r->bpe, r->k, r->total, s->loss, s->lr,
                      s->tau, r->train_s > 0 ? (double)r->images / r->train_s : 0,
                      (double)(r->end - r->k) * wall / (double)(r->k - r->k0) };
    cli_progress_step(&r->p, &st, force);
}

/* One step on batch b (this rank's slice, fetched since `t`) through
 * byol_trainer_step(), then its record. */
static int step(run *r, const byol_batch *b, double t, byol_step_stats *s)
{
    int rc = cli_lib(byol_trainer_step(r->t, &b->view1, &b->view2, s));
    if (rc == BYOL_E_NONFINITE)
        return cli_error(rc, "step %lld: %s (the state is unchanged; %s holds the last "
                         "checkpoint; a lower optim.lr may help)", (long long)r->k,
                         byol_last_error(), r->ckpt);
    if (rc != BYOL_OK)
        return rc;
    t = cli_now() - t;
    r->k = s->step + 1;
    r->epoch = b->epoch;
    r->images += b->count * r->d.size;
    r->win_images += b->count * r->d.size;
    r->train_s += t;
    r->win_s += t;
    if (writer(r) && (r->k % r->o->log_every == 0 || r->k == r->end)) {
        rc = cli_metrics_step(&r->m, r->epoch, s, (double)r->win_images / r->win_s,
                              cli_now() - r->t0);
        r->win_images = 0;
        r->win_s = 0;
    }
    return rc;
}

/* What follows a step: the progress line, and the monitor and checkpoint
 * when they are due (rank 0's alone). */
static int after(run *r, const byol_step_stats *s)
{
    int rc = BYOL_OK;
    show(r, s, r->k == r->end);
    if (r->monitor_ds && r->o->monitor_every && r->k % r->o->monitor_every == 0 &&
        r->k < r->end)
        rc = monitor(r);
    if (rc == BYOL_OK && r->o->checkpoint_every && r->k % r->o->checkpoint_every == 0 &&
        r->k < r->end)
        rc = save(r);
    return rc;
}

/* Every iteration starts with an agreement of the ranks (dist.c; a plain
 * run passes through it): the loop ends on every rank at once, at the end,
 * on a signal to any rank, or on any rank's error, and a rank never waits
 * in the trainer's collectives for one that has left. */
static int train(run *r)
{
    byol_step_stats s = { .struct_size = sizeof s };
    int rc = BYOL_OK;
    for (;;) {
        byol_batch b = { .struct_size = sizeof b };
        double t = cli_now();
        int go = r->k < r->end && !g_signal;
        if (go && rc == BYOL_OK)
            rc = cli_lib(byol_loader_next(r->ld, &b));
        rc = cli_dist_agree(&r->d, rc, &go);
        if (rc != BYOL_OK || !go)
            break;
        rc = step(r, &b, t, &s);
        if (rc == BYOL_OK)
            rc = after(r, &s);
    }
    r->interrupted = r->k < r->end;
    return rc;
}

static void print_json(const run *r)
{
    const cli_series *loss = &r->m.loss, *knn = &r->m.knn;
    printf("{\"steps_from\":%lld,\"steps\":%lld,\"total_steps\":%lld,\"seconds\":%.3f,"
           "\"img_s\":%.2f,\"loss\":", (long long)r->k0, (long long)r->k, (long long)r->total,
           cli_now() - r->t0, r->train_s > 0 ? (double)r->images / r->train_s : 0.0);
    if (loss->n)
        printf("%.6g", loss->p[loss->n - 1].value);
    else
        printf("null");
    printf(",\"knn_top1\":");
    if (knn->n)
        printf("%.6f", knn->p[knn->n - 1].value);
    else
        printf("null");
    printf(",\"skipped\":%lld,\"checkpoint\":", (long long)byol_loader_skipped(r->ld));
    cli_json_string(stdout, r->ckpt);
    printf("}\n");
}

/* The bad images this rank skipped: each rank counts its own slices. */
static void warn_skipped(const run *r)
{
    int64_t n = byol_loader_skipped(r->ld);
    if (r->o->quiet || n == 0)
        return;
    char who[32] = "";
    if (r->d.size > 1)
        snprintf(who, sizeof who, "rank %d: ", r->d.rank);
    fprintf(stderr, "byol: pretrain: warning: %s%lld image%s could not be decoded; each was "
            "replaced by the next one (loader.on_error=skip)\n", who, (long long)n,
            n == 1 ? "" : "s");
}

/* The last monitor and checkpoint; every rank then learns how rank 0's
 * went, so that all exit alike. */
static int finish(run *r)
{
    int rc = BYOL_OK, go = 1;
    cli_progress_end(&r->p); /* the last status line stays on screen */
    if (!r->interrupted && r->monitor_ds)
        rc = monitor(r);
    if (rc == BYOL_OK)
        rc = save(r);
    cli_progress_end(&r->p);
    rc = cli_dist_agree(&r->d, rc, &go);
    if (rc != BYOL_OK)
        return rc;
    warn_skipped(r);
    if (r->interrupted) {
        if (writer(r))
            fprintf(stderr, "byol: pretrain: interrupted at step %lld of %lld; checkpoint saved "
                    "to %s (continue with --resume %s)\n", (long long)r->k, (long long)r->total,
                    r->ckpt, r->ckpt);
        return CLI_INTERRUPTED;
    }
    if (!r->quiet && r->k < r->total)
        fprintf(stderr, "stopped at step %lld of %lld (--stop-at); continue with --resume %s\n",
                (long long)r->k, (long long)r->total, r->ckpt);
    if (r->o->json && writer(r))
        print_json(r);
    else if (!r->quiet)
        printf("trained steps %lld..%lld of %lld in %.1f s (%.1f img/s); checkpoint %s\n",
               (long long)r->k0, (long long)r->k, (long long)r->total, cli_now() - r->t0,
               r->train_s > 0 ? (double)r->images / r->train_s : 0.0, r->ckpt);
    return BYOL_OK;
}

/* Where a data-parallel run says how it is spread, for the start line. */
static void describe_ranks(const run *r, char *buf, size_t len)
{
    buf[0] = 0;
    if (r->d.size > 1 && r->threads == 0)
        snprintf(buf, len, ", on %d ranks, each on every core", r->d.size);
    else if (r->d.size > 1)
        snprintf(buf, len, ", on %d ranks of %lld thread%s", r->d.size, (long long)r->threads,
                 r->threads == 1 ? "" : "s");
}

static int start(run *r)
{
    char metrics[4096];
    /* A fresh run (--force, or no checkpoint in DIR) first removes what an
     * earlier run left: its files never sit beside this run's. */
    int rc = r->o->resume ? BYOL_OK : cli_rundir_clear(r->o->out);
    if (rc == BYOL_OK)
        rc = write_config(r);
    if (rc == BYOL_OK)
        rc = write_preview(r);
    if (rc == BYOL_OK)
        rc = cli_out_path(metrics, sizeof metrics, r->o->out, "metrics.jsonl");
    if (rc == BYOL_OK)
        rc = cli_metrics_open(&r->m, metrics, r->k0);
    char ranks[64];
    describe_ranks(r, ranks, sizeof ranks);
    if (rc == BYOL_OK)
        cli_progress_note(&r->p, "%s on %s: %lld images, %lld step%s per epoch, steps %lld to "
                          "%lld%s, writing to %s", r->k0 ? "resuming" : "training", r->o->data,
                          (long long)byol_dataset_size(r->ds), (long long)r->bpe,
                          r->bpe == 1 ? "" : "s", (long long)r->k0, (long long)r->end, ranks,
                          r->o->out);
    return rc;
}

/* With several ranks, rank 0 alone writes DIR and reports (start, save,
 * the progress line); all read the data and the --resume checkpoint. */
int cmd_pretrain(int argc, char **argv)
{
    pretrain_opts o = { 0 };
    run r = { .o = &o, .lock = -1 };
    int go = 1, rc = cli_dist_init(&r.d);
    if (rc == BYOL_OK)
        rc = parse(argc, argv, &o);
    r.quiet = o.quiet || !writer(&r);
    cli_quiet = r.quiet;
    if (rc == CLI_HELP && writer(&r))
        fputs(usage, stdout);
    cli_progress_init(&r.p, r.quiet);
    if (rc == BYOL_OK)
        rc = open_run(&r);
    /* every rank opened its run before rank 0 touches DIR (--force clears it) */
    rc = cli_dist_agree(&r.d, rc, &go);
    if (rc == BYOL_OK) { /* the same on every rank after an agreement */
        if (r.k0 < r.end && writer(&r))
            rc = start(&r);
        rc = cli_dist_agree(&r.d, rc, &go);
    }
    if (rc == BYOL_OK && r.k0 >= r.end) {
        if (!r.quiet)
            printf("%s is at step %lld: nothing to train up to step %lld\n", o.resume,
                   (long long)r.k0, (long long)r.end);
    } else if (rc == BYOL_OK) {
        install_signals();
        r.t0 = cli_now();
        rc = train(&r);
        if (rc == BYOL_OK)
            rc = finish(&r);
    }
    /* the message before MPI_Finalize (run_close): once the ranks leave it,
     * a launcher may end rank 0 before it prints */
    cli_progress_end(&r.p);
    int code = cli_exit(rc);
    run_close(&r);
    cli_list_free(&o.c.sets);
    return code;
}
