/* byol_config as text: key=value parsing, presets, formatting, listing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"

/* The separators of settings, the same in every locale (isspace is not:
 * under Latin-1 it would split UTF-8 text at byte 0xA0). */
static int is_sep(char c) { return c != '\0' && strchr(", \t\n\v\f\r", c) != NULL; }

/* The closing quote of a quoted value whose text starts at s (after the
 * opening quote): the first quote not doubled, or NULL if there is none. */
static const char *closing_quote(const char *s)
{
    for (; *s; s++) {
        if (*s != '"')
            continue;
        if (s[1] != '"')
            return s;
        s++;
    }
    return NULL;
}

/* Copies the value text [v0, v1) to out, one quote for each doubled one
 * when quoted; NUL-terminates. */
static void copy_value(const char *v0, const char *v1, int quoted, char *out)
{
    while (v0 < v1) {
        *out++ = *v0;
        v0 += quoted && *v0 == '"' ? 2 : 1;
    }
    *out = '\0';
}

/* Copies the next "key=value" token of *p into key/val buffers (owned by
 * the caller, freed with byol__free). Returns 1 if a token was read, 0 at
 * the end, or a negative status. */
static int next_setting(const char **p, char **key, char **val)
{
    const char *s = *p;
    while (is_sep(*s))
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
    const char *v0 = ++s, *v1;
    int quoted = *s == '"';
    if (quoted) {
        v1 = closing_quote(++v0);
        if (!v1)
            return byol__err(BYOL_E_INVALID_ARG,
                             "byol_config_parse: unterminated quote after '%.*s='",
                             (int)klen, k0);
        s = v1 + 1;
    } else {
        while (*s && !is_sep(*s))
            s++;
        v1 = s;
    }
    *key = byol__malloc(klen + 1);
    *val = byol__malloc((size_t)(v1 - v0) + 1);
    if (!*key || !*val) {
        byol__free(*key);
        byol__free(*val);
        return byol__err(BYOL_E_NOMEM, "byol_config_parse: out of memory");
    }
    memcpy(*key, k0, klen);
    (*key)[klen] = '\0';
    copy_value(v0, v1, quoted, *val);
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

int byol__config_find_text(const char *settings, const char *key, char **value)
{
    const char *p = settings;
    char *k = NULL, *v = NULL;
    int rc;
    *value = NULL;
    while ((rc = next_setting(&p, &k, &v)) == 1) {
        if (!strcmp(k, key)) {
            byol__free(*value);
            *value = v;
            v = NULL;
        }
        byol__free(k);
        byol__free(v);
    }
    if (rc < 0) {
        byol__free(*value);
        *value = NULL;
        return rc;
    }
    return *value != NULL;
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

/* Text that grows by appending; s is NULL once an allocation failed. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->s && t->len + n >= t->cap) {
        size_t cap = t->cap;
        while (t->len + n >= cap)
            cap *= 2;
        char *grown = byol__malloc(cap);
        if (grown)
            memcpy(grown, t->s, t->len);
        byol__free(t->s);
        t->s = grown;
        t->cap = cap;
    }
    if (t->s) {
        memcpy(t->s + t->len, s, n);
        t->len += n;
        t->s[t->len] = '\0';
    }
}

/* A value is written quoted when it holds a separator or a quote; inside
 * the quotes each quote is written twice, every other byte as it is. */
static void put_value(text *t, const char *v)
{
    int quote = 0;
    for (const char *c = v; *c; c++)
        quote |= is_sep(*c) || *c == '"';
    if (!quote) {
        put(t, v, strlen(v));
        return;
    }
    put(t, "\"", 1);
    for (const char *q; (q = strchr(v, '"')) != NULL; v = q + 1) {
        put(t, v, (size_t)(q - v) + 1);
        put(t, "\"", 1);
    }
    put(t, v, strlen(v));
    put(t, "\"", 1);
}

/* Key i's value as text: the string itself, or a number formatted in tmp. */
static const char *value_text(const byol_config *cfg, int32_t i, char tmp[64])
{
    byol__key_id id = (byol__key_id)i;
    if (byol__keys[i].type == BYOL_TYPE_STRING)
        return byol__cfg_str(cfg, id);
    if (byol__keys[i].type == BYOL_TYPE_FLOAT)
        byol__format_double(tmp, 64, byol__cfg_float(cfg, id));
    else
        snprintf(tmp, 64, "%lld", (long long)byol__cfg_int(cfg, id));
    return tmp;
}

int byol_config_serialize(const byol_config *cfg, char **out)
{
    if (!cfg || !out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_serialize: NULL argument");
    byol_config *defaults;
    int rc = byol_config_create(&defaults);
    if (rc != BYOL_OK)
        return rc;
    text t = { byol__malloc(256), 0, 256 };
    if (t.s)
        t.s[0] = '\0';
    for (int32_t i = 0; t.s && i < BYOL__NKEYS; i++) {
        char a[64], b[64];
        const char *v = value_text(cfg, i, a);
        if (!strcmp(v, value_text(defaults, i, b)))
            continue;
        put(&t, byol__keys[i].name, strlen(byol__keys[i].name));
        put(&t, "=", 1);
        put_value(&t, v);
        put(&t, "\n", 1);
    }
    byol_config_destroy(defaults);
    if (!t.s)
        return byol__err(BYOL_E_NOMEM, "byol_config_serialize: out of memory");
    *out = t.s;
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
