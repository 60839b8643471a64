/* Settings that come from the data or from a weight file rather than from
 * the user: the image size, and what `byol export` recorded. Both need to
 * know what the user's recipe (--preset, --set, flags) set, so that what
 * the user chose wins where the data only suggests, and a contradiction
 * with a file is an error instead of a silent choice. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* "key=value" as settings text in buf: the value quoted, each quote in it
 * doubled (byol_config_parse()), so that a value read from a file never
 * reads as more than one setting. 0 if it does not fit. */
static int setting_text(char *buf, size_t len, const char *key, const char *value)
{
    int n = snprintf(buf, len, "%s=\"", key);
    size_t at = n > 0 ? (size_t)n : len;
    for (; at + 3 < len && *value; value++) {
        if (*value == '"')
            buf[at++] = '"';
        buf[at++] = *value;
    }
    if (*value || at + 2 > len)
        return 0;
    memcpy(buf + at, "\"", 2);
    return 1;
}

/* Plants `value` in key of a fresh config, applies the recipe, and says
 * whether the key still holds it. */
static int keeps(const cli_common *c, const char *key, const char *value, int *kept)
{
    byol_config *cfg = NULL;
    char set[256], planted[256], after[256];
    setting_text(set, sizeof set, key, value); /* a bound or a choice: it fits */
    int rc = cli_lib(byol_config_create(&cfg));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_parse(cfg, set));
    if (rc == BYOL_OK)
        byol_config_format(cfg, key, planted, sizeof planted);
    if (rc == BYOL_OK)
        rc = cli_recipe_apply(cfg, c);
    if (rc == BYOL_OK)
        byol_config_format(cfg, key, after, sizeof after);
    *kept = rc == BYOL_OK && !strcmp(planted, after);
    byol_config_destroy(cfg);
    return rc;
}

/* Two different valid values of a key (its bounds, first two choices, or
 * two texts), as text. */
static void two_values(const byol_key_info *k, char *a, char *b, size_t len)
{
    if (k->choices) {
        size_t n = strcspn(k->choices, "|");
        snprintf(a, len, "%.*s", (int)n, k->choices);
        snprintf(b, len, "%.*s", (int)strcspn(k->choices + n + 1, "|"), k->choices + n + 1);
    } else if (k->type == BYOL_TYPE_STRING) {
        snprintf(a, len, "?a");
        snprintf(b, len, "?b");
    } else {
        snprintf(a, len, "%.17g", k->min);
        snprintf(b, len, "%.17g", k->max);
    }
}

/* The recipe sets the key if the key does not keep both of two different
 * values planted before it (whatever it sets, it cannot equal both). */
int cli_recipe_sets(const cli_common *c, const char *key)
{
    int32_t index = 0;
    byol_key_info k = { .struct_size = sizeof k };
    char a[64], b[64];
    int kept_a = 1, kept_b = 1;
    if (byol_config_key_find(key, &index) != BYOL_OK ||
        byol_config_key_info(index, &k) != BYOL_OK)
        return 0;
    two_values(&k, a, b, sizeof a);
    if (keeps(c, key, a, &kept_a) == BYOL_OK && kept_a)
        keeps(c, key, b, &kept_b);
    return !kept_a || !kept_b;
}

/* ---- weight files ------------------------------------------------------------ */

/* One setting the weight file records: taken, or refused when the recipe
 * gives the key another value. */
static int take_recorded(byol_config *cfg, const cli_common *c, const char *path,
                         const char *key, const char *value)
{
    char set[512], mine[256], theirs[256];
    byol_config *probe = NULL;
    if (!setting_text(set, sizeof set, key, value))
        return cli_error(BYOL_E_FORMAT, "%s: recorded setting %s is too long", path, key);
    int rc = cli_lib(byol_config_copy(cfg, &probe));
    if (rc == BYOL_OK)
        rc = cli_libf(byol_config_parse(probe, set), "%s: recorded setting", path);
    if (rc == BYOL_OK) {
        byol_config_format(cfg, key, mine, sizeof mine);
        byol_config_format(probe, key, theirs, sizeof theirs);
        if (strcmp(mine, theirs) && cli_recipe_sets(c, key))
            rc = cli_error(CLI_USAGE, "%s was exported with %s=%s, but the options give %s=%s "
                           "(leave the option out to use the file's)", path, key, theirs, key,
                           mine);
    }
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_parse(cfg, set));
    byol_config_destroy(probe);
    return rc;
}

/* Applies what a weight file records (its metadata entries named like
 * settings); *recorded says whether it records the image size. */
static int take_weights_settings(byol_config *cfg, const cli_common *c, const char *path,
                                 int *recorded)
{
    byol_file *f = NULL;
    int rc = cli_lib(byol_file_open(path, &f));
    for (int64_t i = 0; rc == BYOL_OK && i < byol_file_metadata_count(f); i++) {
        const char *key = NULL, *value = NULL;
        int32_t index;
        rc = cli_lib(byol_file_metadata_entry(f, i, &key, &value));
        if (rc != BYOL_OK || byol_config_key_find(key, &index) != BYOL_OK)
            continue;
        rc = take_recorded(cfg, c, path, key, value);
        *recorded |= !strcmp(key, "net.image_size");
    }
    byol_file_close(f);
    return rc;
}

int cli_model_setup(int rc, const char *usage, const cli_model *m, cli_common *c,
                    byol_config **cfg, int *stored)
{
    c->arch = m->arch;
    *stored = m->checkpoint != NULL;
    rc = cli_setup(rc, usage, m->checkpoint, c, cfg);
    if (rc == BYOL_OK && m->weights)
        rc = take_weights_settings(*cfg, c, m->weights, stored);
    return rc;
}

/* ---- image size ------------------------------------------------------------------- */

/* The shorter side of the first of the dataset's first images that
 * decodes (0 if none does: the loader will report them, or skip them under
 * loader.on_error=skip). */
static int64_t data_size(const byol_dataset *ds)
{
    int64_t n = byol_dataset_size(ds);
    for (int64_t i = 0; i < n && i < 8; i++) {
        byol_image img = { .struct_size = sizeof img };
        int64_t size = 0;
        if (byol_dataset_get(ds, i, &img) == BYOL_OK)
            size = img.height < img.width ? img.height : img.width;
        byol_image_release(&img);
        if (size > 0)
            return size;
    }
    return 0;
}

static int set_size(byol_config *cfg, const char *key, int64_t size)
{
    return cli_libf(byol_config_set_int(cfg, key, size), "%s from the data", key);
}

int cli_fit_image_size(byol_config *cfg, const cli_common *c, int stored,
                       const byol_dataset *ds, const char *path)
{
    int64_t net = 0, views = 0, data = 0;
    int rc = cli_lib(byol_config_get_int(cfg, "net.image_size", &net));
    if (rc == BYOL_OK)
        rc = cli_lib(byol_config_get_int(cfg, "augment.size", &views));
    if (rc == BYOL_OK)
        data = data_size(ds);
    if (rc != BYOL_OK || data == 0)
        return rc;
    int set_net = stored || cli_recipe_sets(c, "net.image_size");
    int set_views = stored || cli_recipe_sets(c, "augment.size");
    /* Neither chosen: the data's size, but large photos are still resized
     * to augment.size's default (224) rather than trained at full size. */
    if (!set_net && !set_views)
        rc = set_size(cfg, "augment.size", views = data < views ? data : views);
    if (!set_net && rc == BYOL_OK)
        rc = set_size(cfg, "net.image_size", net = views);
    else if (!set_views && net > 0 && rc == BYOL_OK)
        rc = set_size(cfg, "augment.size", views = net);
    if (rc == BYOL_OK && net > 0 && net != views)
        return cli_error(CLI_USAGE, "net.image_size %lld and augment.size %lld differ: the "
                         "network would be given views of another size; set one of them (the "
                         "other follows) or both alike", (long long)net, (long long)views);
    if (rc == BYOL_OK && data < views)
        cli_warn("the images of %s are %lld px (the first one's shorter side) and views are "
                 "%lld px (augment.size): every view is upsampled %.1fx", path, (long long)data,
                 (long long)views, (double)views / (double)data);
    return rc;
}
