/* byol embed: a dataset's features to a file numpy or safetensors reads, and
 * a CSV of where each row came from.
 * The library writes the .safetensors file (byol_file_write_safetensors);
 * the .npy header is formatted here (npy.c) and written by the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: byol embed --data PATH ENCODER --out FILE [options]\n"
    "\n"
    "Embed every image of PATH (through the evaluation transform) and write:\n"
    "  FILE.npy           float32 [N, D], and FILE.labels.npy int32 [N] beside it\n"
    "                     (-1 for unlabelled images)\n"
    "  FILE.safetensors   tensors \"embeddings\" F32 [N, D] and \"labels\" I32 [N]\n"
    "and, for both, FILE.sources.csv: a header line \"index,source\", then one line\n"
    "per row: its image's index in the dataset and, for a folder, its file's path\n"
    "relative to PATH (empty for IDX and CIFAR records: the index is the record).\n"
    "Rows follow the dataset's order (folders: classes, then files, sorted).\n"
    "\n"
    "ENCODER, one of:\n"
    "  --checkpoint CKPT     the online encoder of a `byol pretrain` checkpoint\n"
    "  --weights FILE        encoder weights (`byol export`: the settings it records\n"
    "                        are used; options may not contradict them)\n"
    "  --arch NAME           with --weights: the architecture of a file that records\n"
    "                        none (a torchvision model); its classifier fc.* is left out\n"
    "  --random-init         the architecture at its initialisation\n"
    "  --pixels              the transformed pixels themselves\n"
    "Options:\n"
    "  --data PATH           images: folder, IDX or CIFAR (see byol pretrain --help)\n"
    "  -o, --out FILE        output, ending in .npy or .safetensors\n"
    "  --format FMT          auto (default), folder, idx or cifar\n"
    "  --split NAME          train (default) or test, for IDX and CIFAR directories\n"
    "  --limit N             embed at most N images, evenly spaced\n"
    "  --preset NAME, --set KEY=VALUE, --batch-size N, --threads N, --workers N\n"
    "                        settings, as for byol eval\n"
    "  -q, --quiet           print nothing but errors\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 done, 1 runtime error (data, file or library), 2 usage error.\n";

typedef struct embed_opts {
    cli_common c;
    cli_model m;
    const char *data, *out;
    int64_t limit;
    int quiet;
} embed_opts;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

static int parse(int argc, char **argv, embed_opts *o)
{
    cli_opt opts[] = {
        { "data", 0, OPT_STRING, &o->data, 0, 0, 0 },
        { "out", 'o', OPT_STRING, &o->out, 0, 0, 0 },
        CLI_OPTS_DATA(&o->c),
        { "limit", 0, OPT_INT, &o->limit, 1, (int64_t)1e12, 0 },
        CLI_OPTS_MODEL(&o->m),
        CLI_OPTS_RECIPE(&o->c),
        CLI_OPTS_COMPUTE(&o->c),
        { "quiet", 'q', OPT_FLAG, &o->quiet, 0, 0, 0 },
        CLI_OPTS_END,
    };
    int rc = cli_parse(argc, argv, opts, NULL, 0, NULL);
    if (rc == BYOL_OK)
        rc = cli_require(opts, "data", "out");
    if (rc != BYOL_OK)
        return rc;
    if (!ends_with(o->out, ".npy") && !ends_with(o->out, ".safetensors"))
        return cli_error(CLI_USAGE, "--out '%s': the name must end in .npy or .safetensors",
                         o->out);
    return cli_model_check(&o->m, "--checkpoint, --weights, --random-init or --pixels");
}

/* Tensors "embeddings" F32 [n, dim] and "labels" I32 [n]. */
static int write_safetensors(const char *out, const float *x, const int32_t *y, int64_t n,
                             int64_t dim)
{
    byol_file_tensor t[2] = {
        { .struct_size = sizeof t[0], .dtype = BYOL_DTYPE_F32, .name = "embeddings", .ndim = 2,
          .shape = { n, dim }, .nbytes = (uint64_t)(n * dim) * sizeof *x, .data = x },
        { .struct_size = sizeof t[0], .dtype = BYOL_DTYPE_I32, .name = "labels", .ndim = 1,
          .shape = { n }, .nbytes = (uint64_t)n * sizeof *y, .data = y },
    };
    const char *meta[] = { "format", "pt", "producer", "byol embed" };
    return cli_lib(byol_file_write_safetensors(out, t, 2, meta, 2));
}

/* out with its extension replaced by `suffix`, into buf. */
static int sibling(const char *out, const char *suffix, char *buf, size_t cap)
{
    size_t stem = strlen(out) - strlen(strrchr(out, '.'));
    if (stem + strlen(suffix) + 1 > cap)
        return cli_error(CLI_USAGE, "--out '%s': name too long", out);
    memcpy(buf, out, stem);
    strcpy(buf + stem, suffix);
    return BYOL_OK;
}

/* A CSV field, quoted (RFC 4180) when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* FILE.sources.csv: "index,source", then each row's dataset index and file. */
static int write_sources(const char *path, const byol_dataset *ds, int64_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return cli_error(BYOL_E_NOMEM, "out of memory for %s", path);
    int64_t size = byol_dataset_size(ds);
    fputs("index,source\n", f);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = cli_feature_index(k, n, size);
        const char *source = byol_dataset_source(ds, i);
        fprintf(f, "%lld,", (long long)i);
        csv_field(f, source ? source : "");
        fputc('\n', f);
    }
    int rc = fclose(f) == 0 ? cli_write_file(path, text, len)
                            : cli_error(BYOL_E_NOMEM, "out of memory for %s", path);
    free(text);
    return rc;
}

/* FILE.npy and FILE.labels.npy, or one FILE.safetensors; FILE.sources.csv. */
static int write_out(const char *out, const cli_feats *f, const byol_dataset *ds)
{
    char labels[4096], sources[4096];
    int rc = sibling(out, ".labels.npy", labels, sizeof labels);
    if (rc == BYOL_OK)
        rc = sibling(out, ".sources.csv", sources, sizeof sources);
    if (rc == BYOL_OK && ends_with(out, ".safetensors"))
        rc = write_safetensors(out, f->x, f->y, f->n, f->dim);
    else if (rc == BYOL_OK)
        rc = cli_npy_write_f32(out, f->x, f->n, f->dim);
    if (rc == BYOL_OK && ends_with(out, ".npy"))
        rc = cli_npy_write_i32(labels, f->y, f->n);
    if (rc == BYOL_OK)
        rc = write_sources(sources, ds, f->n);
    return rc;
}

int cmd_embed(int argc, char **argv)
{
    embed_opts o = { 0 };
    byol_config *cfg = NULL;
    byol_dataset *ds = NULL;
    byol_trainer *t = NULL;
    byol_net *net = NULL, *enc = NULL;
    cli_feats f = { 0 };
    int stored = 0, rc = parse(argc, argv, &o);
    cli_quiet = o.quiet;
    rc = cli_model_setup(rc, usage, &o.m, &o.c, &cfg, &stored);
    if (rc == BYOL_OK)
        rc = cli_dataset_open(cfg, o.data, 0, &ds);
    if (rc == BYOL_OK)
        rc = cli_fit_image_size(cfg, &o.c, stored, ds, o.data);
    if (rc == BYOL_OK)
        rc = cli_model_open(&o.m, cfg, &t, &net, &enc);
    double t0 = cli_now();
    if (rc == BYOL_OK)
        rc = cli_features(enc, cfg, ds, o.limit, &f);
    if (rc == BYOL_OK)
        rc = write_out(o.out, &f, ds);
    if (rc == BYOL_OK && !o.quiet)
        printf("wrote %s: %lld x %lld float32 (%.1f s)\n", o.out, (long long)f.n,
               (long long)f.dim, cli_now() - t0);
    cli_feats_free(&f);
    byol_net_destroy(net);
    byol_trainer_destroy(t);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    cli_list_free(&o.c.sets);
    return cli_exit(rc);
}
