/* Internal view of byol_config: the key table and typed readers that other
 * modules use with key ids fixed at compile time (BYOL__K_<NAME>, from
 * core/config_keys.def: "optim.lr" is BYOL__K_OPTIM_LR). */
#ifndef BYOL_CORE_CONFIG_H
#define BYOL_CORE_CONFIG_H

#include "byol/byol_config.h"

typedef struct byol__key {
    const char *name;
    int32_t type;
    const char *def;       /* default as text */
    const char *choices;   /* "a|b|c" or NULL */
    double min, max;
    const char *help;
} byol__key;

typedef enum byol__key_id {
#define BYOL__KEY(id, name, type, def, choices, min, max, help) BYOL__K_##id,
#include "core/config_keys.def"
#undef BYOL__KEY
    BYOL__NKEYS
} byol__key_id;

/* The table, indexed by byol__key_id. */
extern const byol__key byol__keys[BYOL__NKEYS];

typedef struct byol__preset {
    const char *name;
    const char *settings;  /* byol_config_parse syntax */
} byol__preset;
extern const byol__preset byol__presets[];

/* Typed readers; a NULL config reads the defaults. A key of another type
 * is a programming error and reads 0 / "". */
int64_t byol__cfg_int(const byol_config *cfg, byol__key_id key);
double byol__cfg_float(const byol_config *cfg, byol__key_id key);
const char *byol__cfg_str(const byol_config *cfg, byol__key_id key);

/* Exchanges the values of two configs (used to apply a parse atomically). */
void byol__config_swap(byol_config *a, byol_config *b);

/* Sets a key from its text form (as byol_config_parse does for one setting). */
int byol__config_set_text(byol_config *cfg, const char *key, const char *text);

/* The value text of the last setting of key in settings, without applying
 * the others (so keys this build does not know are no error): 1 with
 * *value a fresh string (byol__free), 0 if key is not there, or a negative
 * status for text byol_config_parse would refuse as text. */
int byol__config_find_text(const char *settings, const char *key, char **value);

/* The strict number forms of settings text (byol_config.h), shared with the
 * readers of other text that holds numbers. byol__text_is_decimal: s is one
 * or more ASCII digits, after a '-' when minus is set, and nothing else (no
 * space, no '+'); the caller converts it with strtoll and checks ERANGE.
 * byol__float_text_len: the length of the decimal number at the start of s
 * (digits with an optional '.' fraction, an optional leading '-' and an
 * optional exponent e/E, sign, digits), 0 when s does not start with one;
 * what follows is the caller's to check. Neither reads hex, inf or nan. */
int byol__text_is_decimal(const char *s, int minus);
size_t byol__float_text_len(const char *s);

#endif
