/* byol preview: byol_preview_write() behind flags, to check what the
 * augmenter does to a dataset before spending hours training on it. */
#include <stdio.h>

#include "cli.h"

static const char usage[] =
    "Usage: byol preview --data PATH --out FILE.png [options]\n"
    "\n"
    "Write a PNG grid, one row per image: its class, the image (centre crop), then\n"
    "its two augmented views of epoch 0, as pretrain would draw them with these\n"
    "settings, upscaled to at least 112 pixels. The images are drawn at random\n"
    "across the classes (the seed setting picks them), or from --first on.\n"
    "\n"
    "Options:\n"
    "  --data PATH           images: folder, IDX or CIFAR (see byol pretrain --help)\n"
    "  -o, --out FILE        the PNG to write\n"
    "  --count N             rows, 1 to 256 (default 8)\n"
    "  --first I             images I, I+1, ... instead of a random sample\n"
    "  --format FMT          auto (default), folder, idx or cifar\n"
    "  --split NAME          train (default) or test, for IDX and CIFAR directories\n"
    "  --preset NAME         cifar10, cifar10-short, fashion-mnist\n"
    "                        or imagenet\n"
    "  --set KEY=VALUE       any setting (augment.* shape the views); repeatable\n"
    "  -q, --quiet           print nothing but errors\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 done, 1 runtime error (data, file or library), 2 usage error.\n";

typedef struct preview_opts {
    cli_common c;
    const char *data, *out;
    int64_t count, first;
    int quiet;
} preview_opts;

static int parse(int argc, char **argv, preview_opts *o)
{
    cli_opt opts[] = {
        { "data", 0, OPT_STRING, &o->data, 0, 0, 0 },
        { "out", 'o', OPT_STRING, &o->out, 0, 0, 0 },
        { "count", 0, OPT_INT, &o->count, 1, 256, 0 },
        { "first", 0, OPT_INT, &o->first, 0, (int64_t)1e15, 0 },
        CLI_OPTS_DATA(&o->c),
        CLI_OPTS_RECIPE(&o->c),
        { "quiet", 'q', OPT_FLAG, &o->quiet, 0, 0, 0 },
        CLI_OPTS_END,
    };
    o->count = 8;
    o->first = -1;  /* none: a random sample */
    int rc = cli_parse(argc, argv, opts, NULL, 0, NULL);
    return rc == BYOL_OK ? cli_require(opts, "data", "out") : rc;
}

int cmd_preview(int argc, char **argv)
{
    preview_opts o = { 0 };
    byol_config *cfg = NULL;
    byol_dataset *ds = NULL;
    int rc = parse(argc, argv, &o);
    cli_quiet = o.quiet;
    rc = cli_setup(rc, usage, NULL, &o.c, &cfg);
    if (rc == BYOL_OK)
        rc = cli_dataset_open(cfg, o.data, 0, &ds);
    if (rc == BYOL_OK)
        rc = cli_fit_image_size(cfg, &o.c, 0, ds, o.data);
    if (rc == BYOL_OK && o.first < 0)
        rc = cli_lib(byol_preview_write_sample(cfg, ds, (int32_t)o.count, o.out));
    int64_t n = byol_dataset_size(ds), first = o.first;
    int32_t count = (int32_t)(first + o.count > n && first < n ? n - first : o.count);
    if (rc == BYOL_OK && first >= 0)
        rc = cli_lib(byol_preview_write(cfg, ds, first, count, o.out));
    if (rc == BYOL_OK && !o.quiet && first < 0)
        printf("wrote %s: %lld images drawn across the classes of %s\n", o.out,
               (long long)(o.count < n ? o.count : n), o.data);
    else if (rc == BYOL_OK && !o.quiet)
        printf("wrote %s: images %lld to %lld of %s\n", o.out, (long long)first,
               (long long)(first + count - 1), o.data);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    cli_list_free(&o.c.sets);
    return cli_exit(rc);
}
