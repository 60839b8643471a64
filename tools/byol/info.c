/* byol info: what a checkpoint or weight file holds, and the settings the
 * library knows (--keys, --presets).
 *
 * The public API has no call that describes a file (byol_net_load() and
 * byol_trainer_load() need a net or trainer of the right architecture
 * first), so the description comes from the safetensors header (stfile.c):
 * tensor names, dtypes and shapes, and a checkpoint's metadata (format,
 * library version, step, total steps, settings). The stored settings are
 * then checked with byol_config_parse(). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "Usage: byol info FILE\n"
    "       byol info --keys | --presets\n"
    "\n"
    "Describe a checkpoint (`byol pretrain`) or a weight file (`byol export`,\n"
    "torchvision): for a checkpoint the library version, step and total steps, and\n"
    "the settings that differ from the defaults; for both the tensors and the\n"
    "parameter counts. With --keys, list every setting (type, default, range,\n"
    "meaning); with --presets, the preset names.\n"
    "\n"
    "Options:\n"
    "  --keys                list the configuration keys\n"
    "  --presets             list the presets\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 done, 1 runtime error (missing, unreadable or malformed file),\n"
    "2 usage error.\n";

/* Counts per group of tensors ("online.encoder", "optim", or the whole file). */
typedef struct group {
    char name[64];
    int64_t tensors, params, buffers;
} group;

/* Running statistics and counters are state, not parameters (PyTorch's
 * split); so is a checkpoint's optimizer state. */
static int is_buffer(const char *name)
{
    if (!strncmp(name, "optim.", 6))
        return 1;
    static const char *suffixes[] = { "running_mean", "running_var", "num_batches_tracked" };
    size_t n = strlen(name);
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(suffixes[i]);
        if (n >= k && !strcmp(name + n - k, suffixes[i]))
            return 1;
    }
    return 0;
}

/* "online.encoder.conv1.weight" -> "online.encoder"; "optim.x" -> "optim". */
static void group_name(const char *tensor, char *out, size_t len)
{
    int dots = !strncmp(tensor, "online.", 7) || !strncmp(tensor, "target.", 7) ? 2 : 1;
    size_t i = 0;
    for (; tensor[i] && i + 1 < len; i++) {
        if (tensor[i] == '.' && --dots == 0)
            break;
        out[i] = tensor[i];
    }
    out[i] = '\0';
}

static int count_groups(const cli_st_header *h, group *g, int max)
{
    int n = 0;
    for (int64_t i = 0; i < h->ntensors; i++) {
        char name[64];
        group_name(h->tensors[i].name, name, sizeof name);
        int k = 0;
        while (k < n && strcmp(g[k].name, name))
            k++;
        if (k == n && n == max)
            k = max - 1; /* the rest, in the last group */
        else if (k == n)
            snprintf(g[n++].name, sizeof g[0].name, "%s", name);
        g[k].tensors++;
        if (is_buffer(h->tensors[i].name))
            g[k].buffers += h->tensors[i].numel;
        else
            g[k].params += h->tensors[i].numel;
    }
    return n;
}

static void print_settings(const char *text)
{
    byol_config *cfg = NULL;
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, text);
    printf("settings     %s\n", rc == BYOL_OK ? (*text ? "(those that differ from the defaults)"
                                                       : "all at their defaults")
                                               : "NOT readable by this library version:");
    if (rc != BYOL_OK)
        printf("             %s: %s\n", cli_code_name(rc), byol_last_error());
    byol_config_destroy(cfg);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        if (len > 0)
            printf("  %.*s\n", len, line);
        line += len + (end ? 1 : 0);
    }
}

static void print_checkpoint(const cli_st_header *h)
{
    const char *fmt = cli_st_meta(h, "format"), *ver = cli_st_meta(h, "libbyol_version");
    const char *step = cli_st_meta(h, "step"), *total = cli_st_meta(h, "total_steps");
    printf("kind         checkpoint (%s), written by libbyol %s\n", fmt ? fmt : "format unnamed",
           ver ? ver : "(version unknown)");
    printf("step         %s of %s\n", step ? step : "?", total ? total : "?");
}

static void print_tensors(const cli_st_header *h, int checkpoint)
{
    group g[16] = { { "", 0, 0, 0 } };
    int n = count_groups(h, g, 16);
    printf("tensors      %lld\n", (long long)h->ntensors);
    for (int i = 0; checkpoint && i < n; i++)
        printf("  %-18s %5lld tensors, %12lld parameters, %9lld state numbers\n", g[i].name,
               (long long)g[i].tensors, (long long)g[i].params, (long long)g[i].buffers);
    if (checkpoint)
        return;
    int64_t params = 0, buffers = 0;
    for (int i = 0; i < n; i++) {
        params += g[i].params;
        buffers += g[i].buffers;
    }
    printf("parameters   %lld (and %lld BatchNorm statistics and counters)\n", (long long)params,
           (long long)buffers);
}

static int describe(const char *path)
{
    cli_st_header h;
    int rc = cli_st_read(path, &h);
    if (rc != BYOL_OK)
        return rc;
    const char *config = cli_st_meta(&h, "config");
    double size = (double)h.file_size;
    printf("file         %s (%.4g %s)\n", path, size >= 1e6 ? size / 1e6 : size >= 1e3 ? size / 1e3
           : size, size >= 1e6 ? "MB" : size >= 1e3 ? "kB" : "bytes");
    if (config)
        print_checkpoint(&h);
    else
        printf("kind         weight file (state_dict names, no training state)\n");
    print_tensors(&h, config != NULL);
    if (config)
        print_settings(config);
    cli_st_free(&h);
    return BYOL_OK;
}

static int list_keys(void)
{
    int32_t n = byol_config_key_count();
    for (int32_t i = 0; i < n; i++) {
        byol_key_info k = { .struct_size = sizeof k };
        int rc = cli_lib(byol_config_key_info(i, &k));
        if (rc != BYOL_OK)
            return rc;
        static const char *types[] = { "?", "int", "float", "string", "bool" };
        const char *type = k.type >= 1 && k.type <= 4 ? types[k.type] : "?";
        printf("%-34s %-6s %-14s", k.name, type, k.default_value);
        if (k.choices)
            printf(" %s", k.choices);
        else if (k.type == BYOL_TYPE_INT || k.type == BYOL_TYPE_FLOAT)
            printf(" [%g, %g]", k.min, k.max);
        printf("\n    %s\n", k.help);
    }
    return BYOL_OK;
}

int cmd_info(int argc, char **argv)
{
    int keys = 0, presets = 0, npos = 0;
    const char *file = NULL;
    cli_opt opts[] = {
        { "keys", 0, OPT_FLAG, &keys, 0, 0, 0 },
        { "presets", 0, OPT_FLAG, &presets, 0, 0, 0 },
        { NULL, 0, OPT_FLAG, NULL, 0, 0, 0 },
    };
    int rc = cli_parse(argc, argv, opts, &file, 1, &npos);
    if (rc == CLI_HELP)
        fputs(usage, stdout);
    if (rc == BYOL_OK && !!keys + !!presets + (npos > 0) != 1)
        rc = cli_error(CLI_USAGE, "give one FILE, --keys or --presets");
    if (rc == BYOL_OK && keys)
        rc = list_keys();
    else if (rc == BYOL_OK && presets)
        for (int32_t i = 0; byol_config_preset_name(i); i++)
            printf("%s\n", byol_config_preset_name(i));
    else if (rc == BYOL_OK)
        rc = describe(file);
    return cli_exit(rc);
}
