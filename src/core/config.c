/* byol_config: typed values keyed by name, parsing, presets, listing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"

typedef union value {
    int64_t i;
    double f;
    char *s;
} value;

struct byol_config {
    int32_t nkeys;
    value v[]; /* one per key of byol__keys */
};

static int32_t key_index(const char *name)
{
    for (int32_t i = 0; i < BYOL__NKEYS; i++)
        if (strcmp(byol__keys[i].name, name) == 0)
            return i;
    return -1;
}

static int find_key(const char *name, const char *fn, int32_t *idx)
{
    if (!name)
        return byol__err(BYOL_E_INVALID_ARG, "%s: key is NULL", fn);
    *idx = key_index(name);
    if (*idx < 0)
        return byol__err(BYOL_E_KEY, "%s: unknown key '%s'", fn, name);
    return BYOL_OK;
}

static int is_int_type(int32_t t) { return t == BYOL_TYPE_INT || t == BYOL_TYPE_BOOL; }

/* ---- conversions and checks -------------------------------------------- */

static int choice_ok(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* ---- numbers as text ------------------------------------------------------- */

static const char *skip_digits(const char *s)
{
    while (*s >= '0' && *s <= '9')
        s++;
    return s;
}

int byol__text_is_decimal(const char *s, int minus)
{
    if (minus && *s == '-')
        s++;
    const char *end = skip_digits(s);
    return end > s && !*end;
}

size_t byol__float_text_len(const char *s)
{
    const char *p = s + (*s == '-');
    const char *m = skip_digits(p);
    int digits = m > p;
    if (*m == '.') {
        const char *f = skip_digits(m + 1);
        digits |= f > m + 1;
        m = f;
    }
    if (!digits)
        return 0;
    if (*m == 'e' || *m == 'E') {
        const char *e = m + 1 + (m[1] == '+' || m[1] == '-');
        const char *x = skip_digits(e);
        if (x > e)
            m = x;
    }
    return (size_t)(m - s);
}

/* The value (as text) and the key's bounds, each in its shortest form. */
static int out_of_range(const byol__key *k, const char *text)
{
    char lo[32], hi[32];
    byol__format_double(lo, sizeof lo, k->min);
    byol__format_double(hi, sizeof hi, k->max);
    return byol__err(BYOL_E_RANGE, "key '%s': %s is outside [%s, %s]", k->name, text, lo, hi);
}

/* Converts text to a value of key k's type (strings are NOT copied), in
 * the forms byol_config.h lists: no spaces, no '+', no hex, no inf/nan. A
 * number too large for its type is out of the key's range. */
static int parse_value(const byol__key *k, const char *text, value *out)
{
    if (k->type == BYOL_TYPE_BOOL) {
        if (!strcmp(text, "1") || !strcmp(text, "true"))
            out->i = 1;
        else if (!strcmp(text, "0") || !strcmp(text, "false"))
            out->i = 0;
        else
            return byol__err(BYOL_E_RANGE, "key '%s': '%s' is not a boolean (0, 1, false, true)",
                             k->name, text);
    } else if (k->type == BYOL_TYPE_INT) {
        if (!byol__text_is_decimal(text, 1))
            return byol__err(BYOL_E_RANGE, "key '%s': '%s' is not an integer (decimal digits, "
                             "an optional '-')", k->name, text);
        errno = 0;
        out->i = strtoll(text, NULL, 10);
        if (errno == ERANGE)
            return out_of_range(k, text);
    } else if (k->type == BYOL_TYPE_FLOAT) {
        char *end = NULL;
        size_t len = byol__float_text_len(text);
        if (len)
            out->f = strtod(text, &end); /* underflow: the nearest subnormal or 0 */
        if (!len || text[len] || end != text + len)
            return byol__err(BYOL_E_RANGE, "key '%s': '%s' is not a decimal number", k->name,
                             text);
        if (isinf(out->f))
            return out_of_range(k, text);
    } else {
        out->s = (char *)(uintptr_t)text;
    }
    return BYOL_OK;
}

static int check_value(const byol__key *k, const value *v)
{
    char text[32];
    if (is_int_type(k->type)) {
        if ((double)v->i < k->min || (double)v->i > k->max) {
            snprintf(text, sizeof text, "%lld", (long long)v->i);
            return out_of_range(k, text);
        }
    } else if (k->type == BYOL_TYPE_FLOAT) {
        if (!(v->f >= k->min && v->f <= k->max)) {
            byol__format_double(text, sizeof text, v->f);
            return out_of_range(k, text);
        }
    } else if (strlen(v->s) > BYOL_CONFIG_MAX_STRING) {
        return byol__err(BYOL_E_RANGE, "key '%s': a value of %zu bytes is longer than the "
                         "%d-byte limit", k->name, strlen(v->s), BYOL_CONFIG_MAX_STRING);
    } else if (!byol__utf8_valid(v->s, strlen(v->s))) {
        /* Checkpoints store the settings as JSON text, which must be UTF-8:
         * such a value would let a run train and then fail at its first save. */
        return byol__err(BYOL_E_RANGE, "key '%s': the value is not valid UTF-8", k->name);
    } else if (k->choices && !choice_ok(k->choices, v->s)) {
        return byol__err(BYOL_E_RANGE, "key '%s': '%s' is not one of %s", k->name, v->s,
                         k->choices);
    }
    return BYOL_OK;
}

/* Stores a checked value; strings are copied. */
static int store(byol_config *cfg, int32_t i, value v)
{
    if (byol__keys[i].type == BYOL_TYPE_STRING) {
        char *copy = byol__strdup(v.s);
        if (!copy)
            return byol__err(BYOL_E_NOMEM, "key '%s': out of memory", byol__keys[i].name);
        byol__free(cfg->v[i].s);
        cfg->v[i].s = copy;
    } else {
        cfg->v[i] = v;
    }
    return BYOL_OK;
}

/* ---- create / copy / destroy ------------------------------------------- */

void byol_config_destroy(byol_config *cfg)
{
    if (!cfg)
        return;
    for (int32_t i = 0; i < BYOL__NKEYS; i++)
        if (byol__keys[i].type == BYOL_TYPE_STRING)
            byol__free(cfg->v[i].s);
    byol__free(cfg);
}

int byol_config_create(byol_config **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_create: out is NULL");
    *out = NULL;
    byol_config *cfg = byol__calloc(1, sizeof *cfg + (size_t)BYOL__NKEYS * sizeof(value));
    if (!cfg)
        return byol__err(BYOL_E_NOMEM, "byol_config_create: out of memory");
    for (int32_t i = 0; i < BYOL__NKEYS; i++) {
        value v = { 0 };
        int rc = parse_value(&byol__keys[i], byol__keys[i].def, &v);
        if (rc == BYOL_OK)
            rc = store(cfg, i, v);
        if (rc != BYOL_OK) {
            byol_config_destroy(cfg);
            return rc;
        }
    }
    cfg->nkeys = BYOL__NKEYS;
    *out = cfg;
    return BYOL_OK;
}

int byol_config_copy(const byol_config *src, byol_config **out)
{
    if (!src || !out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_config_copy: NULL argument");
    byol_config *cfg;
    int rc = byol_config_create(&cfg);
    for (int32_t i = 0; rc == BYOL_OK && i < BYOL__NKEYS; i++)
        rc = store(cfg, i, src->v[i]);
    if (rc != BYOL_OK) {
        byol_config_destroy(cfg);
        return rc;
    }
    *out = cfg;
    return BYOL_OK;
}

/* ---- typed set / get ---------------------------------------------------- */

static int set_checked(byol_config *cfg, const char *key, const char *fn, int want_int,
                       int want_float, value v)
{
    int32_t i;
    if (!cfg)
        return byol__err(BYOL_E_INVALID_ARG, "%s: config is NULL", fn);
    int rc = find_key(key, fn, &i);
    if (rc != BYOL_OK)
        return rc;
    const byol__key *k = &byol__keys[i];
    if ((want_int && !is_int_type(k->type)) || (want_float && k->type != BYOL_TYPE_FLOAT) ||
        (!want_int && !want_float && k->type != BYOL_TYPE_STRING)) {
        /* An integer is a fine value for a float key. */
        if (want_int && k->type == BYOL_TYPE_FLOAT) {
            v.f = (double)v.i;
        } else {
            return byol__err(BYOL_E_RANGE, "%s: key '%s' is of another type", fn, key);
        }
    }
    if (!want_int && !want_float && !v.s)
        return byol__err(BYOL_E_INVALID_ARG, "%s: value for '%s' is NULL", fn, key);
    rc = check_value(k, &v);
    return rc == BYOL_OK ? store(cfg, i, v) : rc;
}

int byol_config_set_int(byol_config *cfg, const char *key, int64_t value_)
{
    value v = { .i = value_ };
    return set_checked(cfg, key, "byol_config_set_int", 1, 0, v);
}

int byol_config_set_float(byol_config *cfg, const char *key, double value_)
{
    value v = { .f = value_ };
    return set_checked(cfg, key, "byol_config_set_float", 0, 1, v);
}

int byol_config_set_string(byol_config *cfg, const char *key, const char *value_)
{
    value v = { .s = (char *)(uintptr_t)value_ };
    return set_checked(cfg, key, "byol_config_set_string", 0, 0, v);
}

/* Finds key for a getter and checks that it holds a `type` (an integer
 * getter reads booleans too), which the message calls `what`. */
static int get_checked(const byol_config *cfg, const char *key, const void *out,
                       const char *fn, int32_t type, const char *what, int32_t *idx)
{
    if (!cfg || !out)
        return byol__err(BYOL_E_INVALID_ARG, "%s: NULL argument", fn);
    int rc = find_key(key, fn, idx);
    if (rc != BYOL_OK)
        return rc;
    int32_t t = byol__keys[*idx].type;
    if (t != type && !(type == BYOL_TYPE_INT && is_int_type(t)))
        return byol__err(BYOL_E_RANGE, "%s: key '%s' is not %s", fn, key, what);
    return BYOL_OK;
}

int byol_config_get_int(const byol_config *cfg, const char *key, int64_t *out)
{
    int32_t i = 0;
    int rc = get_checked(cfg, key, out, "byol_config_get_int", BYOL_TYPE_INT, "an integer", &i);
    if (rc == BYOL_OK)
        *out = cfg->v[i].i;
    return rc;
}

int byol_config_get_float(const byol_config *cfg, const char *key, double *out)
{
    int32_t i = 0;
    int rc = get_checked(cfg, key, out, "byol_config_get_float", BYOL_TYPE_FLOAT, "a float", &i);
    if (rc == BYOL_OK)
        *out = cfg->v[i].f;
    return rc;
}

int byol_config_get_string(const byol_config *cfg, const char *key, const char **out)
{
    int32_t i = 0;
    int rc = get_checked(cfg, key, out, "byol_config_get_string", BYOL_TYPE_STRING, "a string",
                         &i);
    if (rc == BYOL_OK)
        *out = cfg->v[i].s;
    return rc;
}

/* ---- internal readers ---------------------------------------------------- */

static value default_value(int32_t i)
{
    value v = { 0 };
    parse_value(&byol__keys[i], byol__keys[i].def, &v);
    return v;
}

int64_t byol__cfg_int(const byol_config *cfg, byol__key_id key)
{
    if (!is_int_type(byol__keys[key].type))
        return 0;
    return cfg ? cfg->v[key].i : default_value(key).i;
}

double byol__cfg_float(const byol_config *cfg, byol__key_id key)
{
    if (byol__keys[key].type != BYOL_TYPE_FLOAT)
        return 0;
    return cfg ? cfg->v[key].f : default_value(key).f;
}

const char *byol__cfg_str(const byol_config *cfg, byol__key_id key)
{
    if (byol__keys[key].type != BYOL_TYPE_STRING)
        return "";
    return cfg ? cfg->v[key].s : byol__keys[key].def;
}

void byol__config_swap(byol_config *a, byol_config *b)
{
    for (int32_t i = 0; i < BYOL__NKEYS; i++) {
        value t = a->v[i];
        a->v[i] = b->v[i];
        b->v[i] = t;
    }
}

int byol__config_set_text(byol_config *cfg, const char *key, const char *text)
{
    int32_t i;
    value v = { 0 };
    int rc = find_key(key, "byol_config_parse", &i);
    if (rc == BYOL_OK)
        rc = parse_value(&byol__keys[i], text, &v);
    if (rc == BYOL_OK)
        rc = check_value(&byol__keys[i], &v);
    return rc == BYOL_OK ? store(cfg, i, v) : rc;
}
