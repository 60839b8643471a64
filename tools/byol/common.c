/* What several subcommands share: building the config from flags, opening
 * an encoder from a checkpoint or weight file, opening datasets, computing
 * features of a whole dataset or of an evenly spaced subset. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

/* A library failure caused by what the user typed: a usage error (exit 2)
 * whose message says which flag, then the library's code and message. */
static int usage_lib(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_lib(int rc, const char *fmt, ...)
{
    if (rc >= 0)
        return rc;
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    return cli_error(CLI_USAGE, "%s: %s: %s", ctx, byol_error_name(rc), byol_last_error());
}

static int apply_flags(byol_config *cfg, const cli_common *c)
{
    int rc = BYOL_OK;
    if (c->format)
        rc = usage_lib(byol_config_set_string(cfg, "data.format", c->format), "--format");
    if (rc == BYOL_OK && c->split)
        rc = usage_lib(byol_config_set_string(cfg, "data.split", c->split), "--split");
    if (rc == BYOL_OK && c->batch_size)
        rc = usage_lib(byol_config_set_int(cfg, "train.batch_size", c->batch_size),
                       "--batch-size");
    if (rc == BYOL_OK && c->threads)
        rc = usage_lib(byol_config_set_int(cfg, "threads", c->threads), "--threads");
    if (rc == BYOL_OK && c->workers)
        rc = usage_lib(byol_config_set_int(cfg, "loader.workers", c->workers), "--workers");
    if (rc == BYOL_OK && c->arch)
        rc = usage_lib(byol_config_set_string(cfg, "net.arch", c->arch), "--arch");
    return rc;
}

int cli_recipe_apply(byol_config *cfg, const cli_common *c)
{
    int rc = BYOL_OK;
    if (c->preset)
        rc = usage_lib(byol_config_apply_preset(cfg, c->preset), "--preset '%s'", c->preset);
    for (int i = 0; rc == BYOL_OK && i < c->sets.count; i++)
        rc = usage_lib(byol_config_parse(cfg, c->sets.items[i]), "--set '%s'", c->sets.items[i]);
    return rc == BYOL_OK ? apply_flags(cfg, c) : rc;
}

int cli_config_build(const char *base, const cli_common *c, byol_config **out)
{
    byol_config *cfg = NULL;
    int rc = cli_lib(byol_config_create(&cfg));
    if (rc == BYOL_OK && base && *base)
        rc = cli_libf(byol_config_parse(cfg, base), "the checkpoint's stored configuration");
    if (rc == BYOL_OK)
        rc = cli_recipe_apply(cfg, c);
    if (rc != BYOL_OK) {
        byol_config_destroy(cfg);
        cfg = NULL;
    }
    *out = cfg;
    return rc;
}

/* The library's reader decides what a checkpoint is (byol_file_kind), so
 * a file it would refuse is refused here first, with its message. */
int cli_checkpoint_config(const char *path, char **config)
{
    byol_file *f = NULL;
    const char *text = NULL;
    *config = NULL;
    int rc = cli_lib(byol_file_open(path, &f));
    if (rc == BYOL_OK && byol_file_kind(f) == BYOL_FILE_TENSORS)
        rc = cli_error(BYOL_E_FORMAT, "%s: not a libbyol checkpoint (no stored configuration; "
                       "a weight file? use --weights)", path);
    if (rc == BYOL_OK)
        rc = cli_lib(byol_file_metadata_find(f, "config", &text));
    if (rc == BYOL_OK && !(*config = strdup(text)))
        rc = cli_error(BYOL_E_NOMEM, "out of memory");
    byol_file_close(f);
    return rc;
}

int cli_setup(int rc, const char *usage, const char *checkpoint, const cli_common *c,
              byol_config **cfg)
{
    char *base = NULL;
    if (rc == CLI_HELP)
        fputs(usage, stdout);
    if (rc == BYOL_OK && checkpoint)
        rc = cli_checkpoint_config(checkpoint, &base);
    if (rc == BYOL_OK)
        rc = cli_config_build(base, c, cfg);
    free(base);
    return rc;
}

int cli_model_check(const cli_model *m, const char *choices)
{
    int n = !!m->checkpoint + !!m->weights + !!m->random_init + !!m->pixels;
    if (n == 0)
        return cli_error(CLI_USAGE, "choose the encoder: %s", choices);
    if (n > 1)
        return cli_error(CLI_USAGE, "%s: give only one", choices);
    return BYOL_OK;
}

static int plan_batch(const byol_config *cfg, int64_t *batch)
{
    return cli_lib(byol_config_get_int(cfg, "train.batch_size", batch));
}

int cli_model_open(const cli_model *m, const byol_config *cfg, byol_trainer **trainer,
                   byol_net **net, byol_net **encoder)
{
    int64_t batch = 0;
    int rc = plan_batch(cfg, &batch);
    *trainer = NULL;
    *net = NULL;
    *encoder = NULL;
    if (rc != BYOL_OK || m->pixels)
        return rc;
    if (m->checkpoint) {
        /* The online encoder lives in the checkpoint under trainer names; the
         * public way to it is a trainer of the same architecture. It reads
         * the weights and trains no further, so the modes the run was
         * trained with need not be this CPU's, nor its optimizer this
         * config's (a --set optim.* would otherwise refuse the file). */
        byol_config *reading = NULL;
        rc = cli_lib(byol_config_copy(cfg, &reading));
        if (rc == BYOL_OK)
            rc = cli_lib(byol_config_set_int(reading, "train.allow_mode_change", 1));
        if (rc == BYOL_OK)
            rc = cli_lib(byol_config_set_int(reading, "train.allow_optim_change", 1));
        if (rc == BYOL_OK)
            rc = cli_lib(byol_trainer_create(reading, NULL, trainer));
        byol_config_destroy(reading);
        if (rc == BYOL_OK)
            rc = cli_lib(byol_trainer_load(*trainer, m->checkpoint));
        if (rc == BYOL_OK)
            *encoder = byol_trainer_encoder(*trainer);
        return rc;
    }
    rc = cli_lib(byol_net_create(cfg, net));
    /* --arch names the architecture of a file that does not: a torchvision
     * model's state_dict, whose classifier head the encoder leaves out. */
    if (rc == BYOL_OK && m->weights)
        rc = cli_lib(byol_net_load(*net, m->weights, m->arch ? BYOL_LOAD_IGNORE_CLASSIFIER
                                                              : BYOL_LOAD_STRICT));
    if (rc == BYOL_E_FORMAT && !m->arch && strstr(byol_last_error(), "tensor 'fc."))
        rc = cli_error(rc, "%s (a torchvision classifier? --arch NAME reads its encoder and "
                       "leaves fc.* out)", byol_last_error());
    if (rc == BYOL_OK)
        rc = cli_lib(byol_net_plan(*net, batch));
    if (rc == BYOL_OK)
        *encoder = *net;
    return rc;
}

int cli_dataset_open(const byol_config *cfg, const char *path, int test, byol_dataset **out)
{
    byol_config *copy = NULL;
    int rc = BYOL_OK;
    if (test) {
        rc = cli_lib(byol_config_copy(cfg, &copy));
        if (rc == BYOL_OK)
            rc = cli_lib(byol_config_set_string(copy, "data.split", "test"));
    }
    if (rc == BYOL_OK)
        rc = cli_lib(byol_dataset_open(copy ? copy : cfg, path, out));
    byol_config_destroy(copy);
    return rc;
}

/* ---- features --------------------------------------------------------------- */

void cli_feats_free(cli_feats *f)
{
    if (f->from_library) {
        byol_free(f->x);
        byol_free(f->y);
    } else {
        free(f->x);
        free(f->y);
    }
    memset(f, 0, sizeof *f);
}

/* The evaluation transform of images idx[0..count-1] into x (count * per floats). */
static int transform(const byol_augmenter *aug, const byol_dataset *ds, const int64_t *idx,
                     int64_t count, int64_t per, float *x, int32_t *labels)
{
    int rc = BYOL_OK;
    for (int64_t k = 0; rc == BYOL_OK && k < count; k++) {
        byol_image img = { .struct_size = sizeof img };
        rc = cli_lib(byol_dataset_get(ds, idx[k], &img));
        if (rc == BYOL_OK)
            rc = cli_lib(byol_augmenter_eval(aug, &img, x + k * per));
        if (rc == BYOL_OK)
            rc = cli_lib(byol_dataset_label(ds, idx[k], &labels[k]));
        byol_image_release(&img);
    }
    return rc;
}

typedef struct subset_job {
    byol_net *encoder;
    const byol_augmenter *aug;
    const byol_dataset *ds;
    int64_t n, batch, per, dim;
    const int64_t *idx;
} subset_job;

/* Chunks of `batch` images: transform, then (with an encoder) embed. */
static int run_subset(const subset_job *j, float *features, int32_t *labels, float *x)
{
    int rc = BYOL_OK;
    for (int64_t start = 0; rc == BYOL_OK && start < j->n; start += j->batch) {
        int64_t count = j->n - start < j->batch ? j->n - start : j->batch;
        float *dst = j->encoder ? x : features + start * j->per;
        rc = transform(j->aug, j->ds, j->idx + start, count, j->per, dst, labels + start);
        if (rc != BYOL_OK || !j->encoder)
            continue;
        int64_t in[3];
        byol_augmenter_dims(j->aug, in);
        byol_tensor tx = { sizeof tx, 4, { count, in[0], in[1], in[2] }, x };
        byol_tensor ty = { sizeof ty, 2, { count, j->dim, 0, 0 }, features + start * j->dim };
        rc = cli_lib(byol_net_embed(j->encoder, &tx, &ty));
    }
    return rc;
}

static int encoder_dim(byol_net *encoder, int64_t *dim)
{
    int32_t ndim = 0;
    int64_t d[3];
    int rc = cli_lib(byol_net_output_dims(encoder, &ndim, d));
    *dim = 1;
    for (int32_t i = 0; rc == BYOL_OK && i < ndim; i++)
        *dim *= d[i];
    return rc;
}

/* Evenly spaced, so a folder listed class by class keeps every class; all
 * n == size rows are the dataset in order. */
int64_t cli_feature_index(int64_t k, int64_t n, int64_t size)
{
    return k * size / n;
}

/* Images idx[0..n-1] of ds, which must share the first one's size, as a
 * memory dataset *sub (labels kept unless one is -1). */
static int copy_subset(const byol_config *cfg, const byol_dataset *ds, const int64_t *idx,
                       int64_t n, byol_dataset **sub)
{
    int32_t *lab = malloc((size_t)n * sizeof *lab), labelled = 1;
    uint8_t *px = NULL;
    byol_image first = { .struct_size = sizeof first };
    int rc = lab ? cli_lib(byol_dataset_get(ds, idx[0], &first))
                 : cli_error(BYOL_E_NOMEM, "out of memory for %lld labels", (long long)n);
    size_t bytes = (size_t)first.height * (size_t)first.width * (size_t)first.channels;
    if (rc == BYOL_OK && !(px = malloc((size_t)n * bytes)))
        rc = cli_error(BYOL_E_NOMEM, "out of memory for %lld images", (long long)n);
    for (int64_t k = 0; rc == BYOL_OK && k < n; k++) {
        byol_image img = { .struct_size = sizeof img };
        rc = cli_lib(byol_dataset_get(ds, idx[k], &img));
        if (rc == BYOL_OK && (img.height != first.height || img.width != first.width))
            rc = cli_error(BYOL_E_SHAPE, "eval.grid > 1 on a subset (--limit, the monitor) needs "
                           "images of one size: %s is %dx%d, %s %dx%d",
                           byol_dataset_source(ds, idx[0]), (int)first.width, (int)first.height,
                           byol_dataset_source(ds, idx[k]), (int)img.width, (int)img.height);
        if (rc == BYOL_OK) {
            memcpy(px + (size_t)k * bytes, img.data, bytes);
            rc = cli_lib(byol_dataset_label(ds, idx[k], &lab[k]));
            labelled = labelled && lab[k] >= 0;
        }
        byol_image_release(&img);
    }
    if (rc == BYOL_OK)
        rc = cli_lib(byol_dataset_from_memory(cfg, px, n, first.height, first.width,
                                              first.channels, labelled ? lab : NULL, sub));
    byol_image_release(&first);
    free(px);
    free(lab);
    return rc;
}

/* eval.grid > 1 is byol_embed_dataset's alone: the subset's images are
 * copied into a dataset of their own for it. */
static int embed_subset(byol_net *encoder, const byol_config *cfg, const byol_dataset *ds,
                        int64_t n, cli_feats *f)
{
    int64_t *idx = malloc((size_t)n * sizeof *idx), size = byol_dataset_size(ds);
    byol_dataset *sub = NULL;
    int rc = idx ? BYOL_OK : cli_error(BYOL_E_NOMEM, "out of memory for %lld indices",
                                       (long long)n);
    for (int64_t k = 0; rc == BYOL_OK && k < n; k++)
        idx[k] = cli_feature_index(k, n, size);
    if (rc == BYOL_OK)
        rc = copy_subset(cfg, ds, idx, n, &sub);
    f->from_library = 1;
    if (rc == BYOL_OK)
        rc = cli_lib(byol_embed_dataset(encoder, cfg, sub, &f->x, &f->y, &f->n, &f->dim));
    byol_dataset_destroy(sub);
    free(idx);
    return rc;
}

int cli_features(byol_net *encoder, const byol_config *cfg, const byol_dataset *ds,
                 int64_t limit, cli_feats *f)
{
    int64_t size = byol_dataset_size(ds), grid = 1;
    memset(f, 0, sizeof *f);
    if (encoder && (limit <= 0 || limit >= size)) {
        /* The whole dataset: the library's loader workers decode ahead. */
        f->from_library = 1;
        return cli_lib(byol_embed_dataset(encoder, cfg, ds, &f->x, &f->y, &f->n, &f->dim));
    }
    subset_job j = { .encoder = encoder, .ds = ds };
    j.n = limit > 0 && limit < size ? limit : size;
    byol_config_get_int(cfg, "eval.grid", &grid);
    if (encoder && grid > 1)
        return embed_subset(encoder, cfg, ds, j.n, f);
    byol_augmenter *aug = NULL;
    int64_t in[3] = { 0, 0, 0 };
    int rc = plan_batch(cfg, &j.batch);
    if (rc == BYOL_OK)
        rc = cli_lib(byol_augmenter_create(cfg, &aug));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_augmenter_dims(aug, in));
    j.aug = aug;
    j.per = in[0] * in[1] * in[2];
    j.dim = j.per;
    if (rc == BYOL_OK && encoder)
        rc = encoder_dim(encoder, &j.dim);
    int64_t *idx = malloc((size_t)j.n * sizeof *idx);
    float *x = encoder ? malloc((size_t)(j.batch * j.per) * sizeof *x) : NULL;
    f->x = malloc((size_t)(j.n * j.dim) * sizeof(float));
    f->y = malloc((size_t)j.n * sizeof(int32_t));
    if (rc == BYOL_OK && (!idx || (encoder && !x) || !f->x || !f->y))
        rc = cli_error(BYOL_E_NOMEM, "out of memory for %lld x %lld features", (long long)j.n,
                       (long long)j.dim);
    for (int64_t k = 0; rc == BYOL_OK && k < j.n; k++)
        idx[k] = cli_feature_index(k, j.n, size);
    j.idx = idx;
    if (rc == BYOL_OK)
        rc = run_subset(&j, f->x, f->y, x);
    f->n = j.n;
    f->dim = j.dim;
    if (rc != BYOL_OK)
        cli_feats_free(f);
    free(idx);
    free(x);
    byol_augmenter_destroy(aug);
    return rc;
}

/* ---- small utilities ------------------------------------------------------------- */

int cli_write_file(const char *path, const void *data, size_t len)
{
    return cli_lib(byol_file_write_atomic(path, &data, &len, 1));
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int cli_mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return cli_error(BYOL_E_IO, "'%s': bad directory name", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return cli_error(BYOL_E_IO, "cannot create directory '%s': %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_error(BYOL_E_IO, "'%s' exists and is not a directory", path);
    return BYOL_OK;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_format_duration(double seconds, char *buf, size_t len)
{
    if (!(seconds >= 0) || seconds > 1e8) {
        snprintf(buf, len, "--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, len, "%lds", s);
}
