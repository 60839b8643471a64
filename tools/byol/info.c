/* byol info: what a checkpoint or weight file holds, and the settings the
 * library knows (--keys, --presets).
 *
 * The file is read by the library (byol_file_open(): the reader of
 * byol_net_load() and byol_trainer_load(), so a file they refuse is refused
 * here with their message), which gives its kind, its tensors and a
 * checkpoint's metadata (format, library version, step, total steps,
 * settings). The stored settings are then checked with byol_config_parse(). */
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

/* The tensors of f in at most max groups (*n of them). Every count below is
 * part of the file's element total, checked against INT64_MAX first: the
 * library refuses tensors that overlap or run past the end of the file, so
 * the total of a file it reads is at most the file's size, but this is the
 * sum that printed negative when the tool had a reader of its own. */
static int count_groups(const byol_file *f, const char *path, group *g, int max, int *n)
{
    int64_t total = 0;
    *n = 0;
    for (int64_t i = 0; i < byol_file_tensor_count(f); i++) {
        byol_file_tensor t = { .struct_size = sizeof t };
        char name[64];
        byol_file_tensor_info(f, i, &t); /* cannot fail: i is in range */
        if (t.numel > INT64_MAX - total)
            return cli_error(BYOL_E_FORMAT, "%s: its tensors hold more than %" PRId64
                             " elements in all", path, INT64_MAX);
        total += t.numel;
        group_name(t.name, name, sizeof name);
        int k = 0;
        while (k < *n && strcmp(g[k].name, name))
            k++;
        if (k == *n && *n == max)
            k = max - 1; /* the rest, in the last group */
        else if (k == *n)
            snprintf(g[(*n)++].name, sizeof g[0].name, "%s", name);
        g[k].tensors++;
        if (is_buffer(t.name))
            g[k].buffers += t.numel;
        else
            g[k].params += t.numel;
    }
    return BYOL_OK;
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
        printf("             %s: %s\n", byol_error_name(rc), byol_last_error());
    byol_config_destroy(cfg);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        if (len > 0)
            printf("  %.*s\n", len, line);
        line += len + (end ? 1 : 0);
    }
}

/* A metadata value, or NULL when the file has none under key. */
static const char *meta(const byol_file *f, const char *key)
{
    const char *value = NULL;
    byol_file_metadata_find(f, key, &value);
    return value;
}

static void print_checkpoint(const byol_file *f)
{
    const char *fmt = meta(f, "format"), *ver = meta(f, "libbyol_version");
    const char *step = meta(f, "step"), *total = meta(f, "total_steps");
    printf("kind         checkpoint (%s), written by libbyol %s\n", fmt,
           ver ? ver : "(version unknown)");
    if (byol_file_kind(f) == BYOL_FILE_CHECKPOINT_OTHER)
        printf("             a layout libbyol %s cannot read\n", byol_version_string());
    printf("step         %s of %s\n", step ? step : "?", total ? total : "?");
    const char *modes = meta(f, "modes");
    printf("modes        %s\n", modes ? modes : "(not recorded: written before libbyol 1.3)");
}

static void print_tensors(const byol_file *f, const group *g, int n, int checkpoint)
{
    printf("tensors      %lld\n", (long long)byol_file_tensor_count(f));
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

/* What `byol export` recorded beside the weights (byol_net_export). */
static void print_recorded(const byol_file *f)
{
    int any = 0;
    for (int64_t i = 0; i < byol_file_metadata_count(f); i++) {
        const char *key = NULL, *value = NULL;
        int32_t index;
        if (byol_file_metadata_entry(f, i, &key, &value) != BYOL_OK ||
            byol_config_key_find(key, &index) != BYOL_OK)
            continue;
        printf(any++ ? "             %s=%s\n" : "recorded     %s=%s\n", key, value);
    }
}

static int describe(const char *path)
{
    byol_file *f = NULL;
    group g[16] = { { "", 0, 0, 0 } };
    int n = 0, rc = cli_lib(byol_file_open(path, &f));
    if (rc == BYOL_OK)
        rc = count_groups(f, path, g, 16, &n);
    if (rc != BYOL_OK) {
        byol_file_close(f);
        return rc;
    }
    int checkpoint = byol_file_kind(f) != BYOL_FILE_TENSORS;
    const char *config = meta(f, "config");
    double size = (double)byol_file_size(f);
    printf("file         %s (%.4g %s)\n", path, size >= 1e6 ? size / 1e6 : size >= 1e3 ? size / 1e3
           : size, size >= 1e6 ? "MB" : size >= 1e3 ? "kB" : "bytes");
    if (checkpoint)
        print_checkpoint(f);
    else
        printf("kind         weight file (state_dict names, no training state)\n");
    print_tensors(f, g, n, checkpoint);
    if (checkpoint && config)
        print_settings(config);
    else if (!checkpoint)
        print_recorded(f);
    byol_file_close(f);
    return BYOL_OK;
}

/* A bound of a numeric key as the library writes that key's values (the
 * shortest text that reads back exactly: 9007199254740991, not 9.0072e+15):
 * a bound is itself a value of the key, so a scratch config can hold it. */
static int format_bound(byol_config *scratch, const byol_key_info *k, double bound, char *buf,
                        size_t len)
{
    int rc = k->type == BYOL_TYPE_INT ? byol_config_set_int(scratch, k->name, (int64_t)bound)
                                      : byol_config_set_float(scratch, k->name, bound);
    if (rc == BYOL_OK && byol_config_format(scratch, k->name, buf, len) < 0)
        rc = BYOL_E_GENERIC;
    return cli_lib(rc);
}

static int print_key(byol_config *scratch, int32_t i)
{
    byol_key_info k = { .struct_size = sizeof k };
    char lo[64], hi[64];
    int rc = cli_lib(byol_config_key_info(i, &k));
    if (rc != BYOL_OK)
        return rc;
    static const char *types[] = { "?", "int", "float", "string", "bool" };
    const char *type = k.type >= 1 && k.type <= 4 ? types[k.type] : "?";
    printf("%-34s %-6s %-14s", k.name, type, k.default_value);
    if (k.choices) {
        printf(" %s", k.choices);
    } else if (k.type == BYOL_TYPE_INT || k.type == BYOL_TYPE_FLOAT) {
        rc = format_bound(scratch, &k, k.min, lo, sizeof lo);
        if (rc == BYOL_OK)
            rc = format_bound(scratch, &k, k.max, hi, sizeof hi);
        if (rc == BYOL_OK)
            printf(" [%s, %s]", lo, hi);
    }
    printf("\n    %s\n", k.help);
    return rc;
}

static int list_keys(void)
{
    byol_config *scratch = NULL;
    int rc = cli_lib(byol_config_create(&scratch));
    for (int32_t i = 0; rc == BYOL_OK && i < byol_config_key_count(); i++)
        rc = print_key(scratch, i);
    byol_config_destroy(scratch);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    int keys = 0, presets = 0, npos = 0;
    const char *file = NULL;
    cli_opt opts[] = {
        { "keys", 0, OPT_FLAG, &keys, 0, 0, 0 },
        { "presets", 0, OPT_FLAG, &presets, 0, 0, 0 },
        CLI_OPTS_END,
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
