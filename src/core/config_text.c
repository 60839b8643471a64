/* byol_config as text: key=value parsing, presets, formatting, listing. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"

static int is_sep(char c) { return c == ',' || isspace((unsigned char)c); }

/* Copies the next "key=value" token of *p into key/val buffers (owned by
 * the caller, freed with byol__free). Returns 1 if a token was read, 0 at
 * the end, or a negative status. */
static int next_setting(const char **p, char **key, char **val)
{
    const char *s = *p;
    while (*s && is_sep(*s))
        s++;
    if (!*s)
        return 0;
    const char *k0 = s;
    while (*s && *s != '=' && !is_sep(*s))
        s++;
    if (*s != '=' || s == k0)
        return byol__err(BYOL_E_INVALID_ARG,
                         "byol_config_parse: expected key=value at '%.40s'", k0);
    size_t klen = (size_t)(s - k0);
    s++;
    const char *v0 = s;
    size_t vlen;
    if (*s == '"') {
        v0 = ++s;
        while (*s && *s != '"')
            s++;
        if (*s != '"')
            return byol__err(BYOL_E_INVALID_ARG,
                             "byol_config_parse: unterminated quote after '%.*s='",
                             (int)klen, k0);
        vlen = (size_t)(s - v0);
        s++;
    } else {
        while (*s && !is_sep(*s))
            s++;
        vlen = (size_t)(s - v0);
    }
    *key = byol__malloc(klen + 1);
    *val = byol__malloc(vlen + 1);
    if (!*key || !*val) {
        byol__free(*key);
        byol__free(*val);
        return byol__err(BYOL_E_NOMEM, "byol_config_parse: out of memory");
    }
    memcpy(*key, k0, klen);
    (*key)[klen] = '\0';
    memcpy(*val, v0, vlen);
    (*val)[vlen] = '\0';
    *p = s;
    return 1;
}

int byol_config_parse(byol_config *cfg, const char *settings)
{
    if (!cfg || !settings)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_parse: NULL argument");
    /* Work on a copy so a failure part-way leaves cfg unchanged. */
    byol_config *work;
    int rc = byol_config_copy(cfg, &work);
    if (rc != BYOL_OK)
        return rc;
    const char *p = settings;
    char *key = NULL, *val = NULL;
    while ((rc = next_setting(&p, &key, &val)) == 1) {
        rc = byol__config_set_text(work, key, val);
        byol__free(key);
        byol__free(val);
        if (rc != BYOL_OK)
            break;
    }
    if (rc == 0)
        byol__config_swap(cfg, work);
    byol_config_destroy(work);
    return rc == 0 ? BYOL_OK : rc;
}

int byol_config_apply_preset(byol_config *cfg, const char *name)
{
    if (!cfg || !name)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_apply_preset: NULL argument");
    for (const byol__preset *p = byol__presets; p->name; p++)
        if (!strcmp(p->name, name))
            return byol_config_parse(cfg, p->settings);
    char known[256] = "";
    for (const byol__preset *p = byol__presets; p->name; p++) {
        strncat(known, p->name, sizeof known - strlen(known) - 2);
        if (p[1].name)
            strncat(known, ", ", sizeof known - strlen(known) - 1);
    }
    return byol__err(BYOL_E_KEY, "unknown preset '%s' (known: %s)", name, known);
}

const char *byol_config_preset_name(int32_t index)
{
    int32_t n = 0;
    while (byol__presets[n].name)
        n++;
    return index >= 0 && index < n ? byol__presets[index].name : NULL;
}

/* ---- formatting ---------------------------------------------------------- */

/* The shortest %g text that strtod reads back as the same double ("0.99",
 * not %.17g's "0.98999999999999999"; 17 digits always read back). Of the
 * precisions that read back, the one with the shortest text: 10 is "10",
 * not %.1g's "1e+01". */
void byol__format_double(char *buf, size_t len, double v)
{
    char best[32] = "", text[32];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if ((strtod(text, NULL) == v || digits == 17) && (!best[0] || strlen(text) < strlen(best)))
            memcpy(best, text, sizeof best);
    }
    snprintf(buf, len, "%s", best);
}

int64_t byol_config_format(const byol_config *cfg, const char *key, char *buf, size_t len)
{
    int32_t i;
    if (!cfg || !key)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_format: NULL argument");
    int rc = byol_config_key_find(key, &i);
    if (rc != BYOL_OK)
        return rc;
    char tmp[64];
    const char *text = tmp;
    int32_t t = byol__keys[i].type;
    if (t == BYOL_TYPE_STRING)
        text = byol__cfg_str(cfg, (byol__key_id)i);
    else if (t == BYOL_TYPE_FLOAT)
        byol__format_double(tmp, sizeof tmp, byol__cfg_float(cfg, (byol__key_id)i));
    else
        snprintf(tmp, sizeof tmp, "%lld", (long long)byol__cfg_int(cfg, (byol__key_id)i));
    size_t need = strlen(text) + 1;
    if (buf && len > 0) {
        size_t n = need < len ? need : len;
        memcpy(buf, text, n - 1);
        buf[n - 1] = '\0';
    }
    return (int64_t)need;
}

/* A value is written quoted when it holds a separator. */
static int needs_quotes(const char *s)
{
    for (; *s; s++)
        if (is_sep(*s) || *s == '"')
            return 1;
    return 0;
}

int byol_config_serialize(const byol_config *cfg, char **out)
{
    if (!cfg || !out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_serialize: NULL argument");
    byol_config *defaults;
    int rc = byol_config_create(&defaults);
    if (rc != BYOL_OK)
        return rc;
    size_t cap = 256, len = 0;
    char *s = byol__malloc(cap);
    for (int32_t i = 0; s && i < BYOL__NKEYS; i++) {
        const char *name = byol__keys[i].name;
        char a[512], b[512];
        byol_config_format(cfg, name, a, sizeof a);
        byol_config_format(defaults, name, b, sizeof b);
        if (!strcmp(a, b))
            continue;
        size_t need = strlen(name) + strlen(a) + 5;
        if (len + need >= cap) {
            while (len + need >= cap)
                cap *= 2;
            char *grown = byol__malloc(cap);
            if (grown)
                memcpy(grown, s, len);
            byol__free(s);
            s = grown;
            if (!s)
                break;
        }
        const char *q = needs_quotes(a) ? "\"" : "";
        len += (size_t)snprintf(s + len, cap - len, "%s=%s%s%s\n", name, q, a, q);
    }
    byol_config_destroy(defaults);
    if (!s)
        return byol__err(BYOL_E_NOMEM, "byol_config_serialize: out of memory");
    s[len] = '\0';
    *out = s;
    return BYOL_OK;
}

/* ---- listing ------------------------------------------------------------- */

int32_t byol_config_key_count(void) { return BYOL__NKEYS; }

int byol_config_key_find(const char *name, int32_t *index)
{
    if (!name || !index)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_key_find: NULL argument");
    for (int32_t i = 0; i < BYOL__NKEYS; i++)
        if (!strcmp(byol__keys[i].name, name)) {
            *index = i;
            return BYOL_OK;
        }
    return byol__err(BYOL_E_KEY, "unknown key '%s'", name);
}

int byol_config_key_info(int32_t index, byol_key_info *info)
{
    if (!info)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_key_info: info is NULL");
    if (info->struct_size < sizeof *info)
        return byol__err(BYOL_E_ABI, "byol_config_key_info: struct_size %u < %zu",
                         (unsigned)info->struct_size, sizeof *info);
    if (index < 0 || index >= BYOL__NKEYS)
        return byol__err(BYOL_E_RANGE, "byol_config_key_info: index %d outside [0, %d)",
                         (int)index, (int)BYOL__NKEYS);
    const byol__key *k = &byol__keys[index];
    info->type = k->type;
    info->name = k->name;
    info->help = k->help;
    info->default_value = k->def;
    info->choices = k->choices;
    info->min = k->min;
    info->max = k->max;
    return BYOL_OK;
}
