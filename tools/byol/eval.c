/* byol eval: frozen features of a train and a test split, then
 * byol_eval_knn() and byol_eval_linear_probe(). Besides a trained encoder
 * it evaluates the same architecture at initialisation (--random-init) and
 * the raw pixels (--pixels), the two baselines a result is read against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: byol eval --data TRAIN --test-data TEST ENCODER [options]\n"
    "\n"
    "Top-1 accuracy of frozen features on TEST: weighted k-NN (cosine, the\n"
    "eval.knn_k nearest TRAIN images vote) and a linear probe (logistic regression\n"
    "trained on TRAIN). Images go through the evaluation transform (centre crop,\n"
    "normalisation), so the settings must match the encoder's training.\n"
    "\n"
    "ENCODER, one of:\n"
    "  --checkpoint CKPT     the online encoder of a `byol pretrain` checkpoint; the\n"
    "                        settings stored in it are the base\n"
    "  --weights FILE        encoder weights (`byol export`: the settings it records\n"
    "                        are used; options may not contradict them)\n"
    "  --arch NAME           with --weights: the architecture of a file that records\n"
    "                        none (a torchvision model); its classifier fc.* is left out\n"
    "  --random-init         the architecture at its initialisation (key seed)\n"
    "  --pixels              no encoder: the transformed pixels are the features\n"
    "Data:\n"
    "  --data TRAIN          labelled training images (k-NN bank, probe training set)\n"
    "  --test-data TEST      labelled test images, opened as the test split (for IDX\n"
    "                        and CIFAR directories TRAIN and TEST may be the same)\n"
    "  --format FMT          auto (default), folder, idx or cifar\n"
    "  --limit N             use at most N images of each split, evenly spaced\n"
    "Settings (in this order, later wins):\n"
    "  --preset NAME         cifar10, cifar10-short, fashion-mnist\n"
    "                        or imagenet\n"
    "  --set KEY=VALUE       any setting, e.g. eval.knn_k=200 eval.probe_epochs=50\n"
    "  --batch-size N        images per forward pass (train.batch_size)\n"
    "  --threads N           compute threads, 0 for all cores\n"
    "  --workers N           decoding threads (loader.workers)\n"
    "Output:\n"
    "  --knn-only            skip the linear probe\n"
    "  --probe-only          skip the k-NN classifier\n"
    "  --json                print one JSON object instead of the table\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 done, 1 runtime error (data, file or library), 2 usage error.\n"
    "\n"
    "Example:\n"
    "  byol eval --checkpoint runs/c10/checkpoint.safetensors \\\n"
    "      --data cifar10-jpg/train --test-data cifar10-jpg/test\n";

typedef struct eval_opts {
    cli_common c;
    cli_model m;
    const char *data, *test_data;
    int64_t limit;
    int knn_only, probe_only, json;
} eval_opts;

typedef struct split {
    byol_dataset *ds;
    cli_feats f;
} split;

typedef struct result {
    double knn, probe, embed_s, knn_s, probe_s;
    int64_t dim;
} result;

static int parse(int argc, char **argv, eval_opts *o)
{
    cli_opt opts[] = {
        { "data", 0, OPT_STRING, &o->data, 0, 0, 0 },
        { "test-data", 0, OPT_STRING, &o->test_data, 0, 0, 0 },
        { "format", 0, OPT_STRING, &o->c.format, 0, 0, 0 },
        { "limit", 0, OPT_INT, &o->limit, 1, (int64_t)1e12, 0 },
        CLI_OPTS_MODEL(&o->m),
        CLI_OPTS_RECIPE(&o->c),
        CLI_OPTS_COMPUTE(&o->c),
        { "knn-only", 0, OPT_FLAG, &o->knn_only, 0, 0, 0 },
        { "probe-only", 0, OPT_FLAG, &o->probe_only, 0, 0, 0 },
        { "json", 0, OPT_FLAG, &o->json, 0, 0, 0 },
        CLI_OPTS_END,
    };
    int rc = cli_parse(argc, argv, opts, NULL, 0, NULL);
    if (rc == BYOL_OK)
        rc = cli_require(opts, "data", "test-data");
    if (rc != BYOL_OK)
        return rc;
    if (o->knn_only && o->probe_only)
        return cli_error(CLI_USAGE, "--knn-only and --probe-only: give at most one");
    return cli_model_check(&o->m, "--checkpoint, --weights, --random-init or --pixels");
}

static int open_split(const byol_config *cfg, const char *path, int test, split *s)
{
    int rc = cli_dataset_open(cfg, path, test, &s->ds);
    if (rc == BYOL_OK && byol_dataset_num_classes(s->ds) == 0)
        rc = cli_error(BYOL_E_FORMAT, "%s has no labels: evaluation needs a labelled folder "
                       "(a sub-folder per class), IDX labels or CIFAR batches", path);
    return rc;
}

static int evaluate(const eval_opts *o, const byol_config *cfg, const split *tr, const split *te,
                    result *r)
{
    int rc = BYOL_OK;
    double t = cli_now();
    if (!o->probe_only)
        rc = cli_lib(byol_eval_knn(cfg, tr->f.x, tr->f.y, tr->f.n, te->f.x, te->f.y, te->f.n,
                                   tr->f.dim, &r->knn));
    r->knn_s = cli_now() - t;
    t = cli_now();
    if (rc == BYOL_OK && !o->knn_only)
        rc = cli_lib(byol_eval_linear_probe(cfg, tr->f.x, tr->f.y, tr->f.n, te->f.x, te->f.y,
                                            te->f.n, tr->f.dim, &r->probe));
    r->probe_s = cli_now() - t;
    return rc;
}

static const char *encoder_name(const cli_model *m)
{
    return m->checkpoint ? m->checkpoint : m->weights ? m->weights
           : m->random_init ? "random initialisation" : "pixels";
}

static void print_json(const eval_opts *o, const split *tr, const split *te, const result *r)
{
    printf("{\"encoder\":");
    cli_json_string(stdout, encoder_name(&o->m));
    printf(",\"n_train\":%lld,\"n_test\":%lld,\"dim\":%lld", (long long)tr->f.n,
           (long long)te->f.n, (long long)r->dim);
    if (o->probe_only)
        printf(",\"knn_top1\":null");
    else
        printf(",\"knn_top1\":%.6f", r->knn);
    if (o->knn_only)
        printf(",\"probe_top1\":null");
    else
        printf(",\"probe_top1\":%.6f", r->probe);
    printf(",\"embed_s\":%.3f,\"knn_s\":%.3f,\"probe_s\":%.3f}\n", r->embed_s, r->knn_s,
           r->probe_s);
}

static void print_table(const eval_opts *o, const byol_config *cfg, const split *tr,
                        const split *te, const result *r)
{
    int64_t k = 0, epochs = 0;
    double temp = 0;
    byol_config_get_int(cfg, "eval.knn_k", &k);
    byol_config_get_float(cfg, "eval.knn_temperature", &temp);
    byol_config_get_int(cfg, "eval.probe_epochs", &epochs);
    printf("encoder      %s\n", encoder_name(&o->m));
    printf("train        %s: %lld images, %d classes\n", o->data, (long long)tr->f.n,
           (int)byol_dataset_num_classes(tr->ds));
    printf("test         %s: %lld images\n", o->test_data, (long long)te->f.n);
    printf("features     %lld-d, computed in %.1f s\n", (long long)r->dim, r->embed_s);
    if (!o->probe_only)
        printf("k-NN top-1   %6.2f %%  (k=%lld, temperature %g; %.1f s)\n", 100 * r->knn,
               (long long)k, temp, r->knn_s);
    if (!o->knn_only)
        printf("probe top-1  %6.2f %%  (linear, %lld epochs; %.1f s)\n", 100 * r->probe,
               (long long)epochs, r->probe_s);
}

static int run_eval(const eval_opts *o, int stored, byol_config *cfg, split *tr, split *te)
{
    byol_trainer *t = NULL;
    byol_net *net = NULL, *enc = NULL;
    result r = { 0 };
    int rc = open_split(cfg, o->data, 0, tr);
    if (rc == BYOL_OK)
        rc = cli_fit_image_size(cfg, &o->c, stored, tr->ds, o->data);
    if (rc == BYOL_OK)
        rc = open_split(cfg, o->test_data, 1, te);
    if (rc == BYOL_OK)
        rc = cli_model_open(&o->m, cfg, &t, &net, &enc);
    double t0 = cli_now();
    if (rc == BYOL_OK)
        rc = cli_features(enc, cfg, tr->ds, o->limit, &tr->f);
    if (rc == BYOL_OK)
        rc = cli_features(enc, cfg, te->ds, o->limit, &te->f);
    r.embed_s = cli_now() - t0;
    r.dim = tr->f.dim;
    if (rc == BYOL_OK)
        rc = evaluate(o, cfg, tr, te, &r);
    if (rc == BYOL_OK && o->json)
        print_json(o, tr, te, &r);
    else if (rc == BYOL_OK)
        print_table(o, cfg, tr, te, &r);
    byol_net_destroy(net);
    byol_trainer_destroy(t);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    eval_opts o = { 0 };
    split tr = { 0 }, te = { 0 };
    byol_config *cfg = NULL;
    int stored = 0, rc = parse(argc, argv, &o);
    rc = cli_model_setup(rc, usage, &o.m, &o.c, &cfg, &stored);
    if (rc == BYOL_OK)
        rc = run_eval(&o, stored, cfg, &tr, &te);
    split *s[2] = { &tr, &te };
    for (int i = 0; i < 2; i++) {
        cli_feats_free(&s[i]->f);
        byol_dataset_destroy(s[i]->ds);
    }
    byol_config_destroy(cfg);
    cli_list_free(&o.c.sets);
    return cli_exit(rc);
}
