/* byol export: the online encoder of a checkpoint as a plain weight file
 * with torchvision's state_dict names (what a downstream user loads with
 * torchvision.models.resnet18().load_state_dict(..., strict=False/True)). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char usage[] =
    "Usage: byol export --checkpoint CKPT --out FILE.safetensors [options]\n"
    "\n"
    "Write the online encoder of a `byol pretrain` checkpoint as a safetensors\n"
    "weight file with PyTorch/torchvision state_dict names (conv1.weight,\n"
    "bn1.running_var, layer1.0.conv1.weight, ...), without the projector,\n"
    "predictor, target network and optimizer state. The file's metadata records\n"
    "the architecture and inputs (net.arch, net.width, net.in_channels,\n"
    "net.image_size, data.channels, augment.size, augment.mean, augment.std), so\n"
    "`byol eval --weights FILE` needs no settings repeated.\n"
    "\n"
    "Options:\n"
    "  --checkpoint CKPT     the checkpoint; its stored settings give the architecture\n"
    "  -o, --out FILE        the weight file to write (atomically)\n"
    "  --preset NAME, --set KEY=VALUE\n"
    "                        override stored settings (rarely needed)\n"
    "  -q, --quiet           print nothing but errors\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 done, 1 runtime error (file or library), 2 usage error.\n"
    "\n"
    "Example:\n"
    "  byol export --checkpoint runs/c10/checkpoint.safetensors --out resnet18.safetensors\n";

typedef struct export_opts {
    cli_common c;
    const char *checkpoint, *out;
    int quiet;
} export_opts;

static int parse(int argc, char **argv, export_opts *o)
{
    cli_opt opts[] = {
        { "checkpoint", 0, OPT_STRING, &o->checkpoint, 0, 0, 0 },
        { "out", 'o', OPT_STRING, &o->out, 0, 0, 0 },
        CLI_OPTS_RECIPE(&o->c),
        { "quiet", 'q', OPT_FLAG, &o->quiet, 0, 0, 0 },
        CLI_OPTS_END,
    };
    int rc = cli_parse(argc, argv, opts, NULL, 0, NULL);
    return rc == BYOL_OK ? cli_require(opts, "checkpoint", "out") : rc;
}

static int export_encoder(const export_opts *o, byol_config *cfg)
{
    byol_trainer *t = NULL;
    /* The architecture is all that matters here: the smallest batch keeps
     * the trainer's activation memory small, and the weights are exported
     * whatever modes and optimizer they were trained with. */
    int rc = cli_lib(byol_config_set_int(cfg, "train.batch_size", 2));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_set_int(cfg, "train.allow_mode_change", 1));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_set_int(cfg, "train.allow_optim_change", 1));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_trainer_create(cfg, NULL, &t));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_trainer_load(t, o->checkpoint));
    byol_net *enc = rc == BYOL_OK ? byol_trainer_encoder(t) : NULL;
    if (rc == BYOL_OK)
        rc = cli_lib(byol_net_export(enc, cfg, o->out));
    if (rc == BYOL_OK && !o->quiet) {
        int64_t params = 0;
        byol_net_buffer(enc, BYOL_BUFFER_PARAMS, &params);
        printf("wrote %s: the online encoder at step %lld, %lld parameters\n", o->out,
               (long long)byol_trainer_step_index(t), (long long)params);
    }
    byol_trainer_destroy(t);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    export_opts o = { 0 };
    byol_config *cfg = NULL;
    int rc = parse(argc, argv, &o);
    cli_quiet = o.quiet;
    rc = cli_setup(rc, usage, o.checkpoint, &o.c, &cfg);
    if (rc == BYOL_OK)
        rc = export_encoder(&o, cfg);
    byol_config_destroy(cfg);
    cli_list_free(&o.c.sets);
    return cli_exit(rc);
}
