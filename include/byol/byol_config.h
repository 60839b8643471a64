/**
 * @file byol_config.h
 * @brief byol_config: every setting, by name.
 *
 * A byol_config is an opaque bag of typed settings keyed by dotted names
 * ("net.arch", "net.width", "threads"). Every key has a type, a default and
 * bounds that can be listed at run time, so a command line or an FFI caller
 * can pass settings verbatim as "key=value" strings. Presets set many keys
 * at once ("cifar10", "fashion-mnist", "imagenet"); later settings override
 * earlier ones. Adding a key never changes the ABI.
 *
 * Ownership: the caller owns a config and destroys it with
 * byol_config_destroy(). Functions that take a `const byol_config *` copy
 * what they need during the call; the config may be changed or destroyed
 * right after.
 */
#ifndef BYOL_CONFIG_H
#define BYOL_CONFIG_H

#include "byol_common.h"

BYOL_BEGIN_DECL

/** Opaque settings object. */
typedef struct byol_config byol_config;

/** @name Key types
 * @{ */
#define BYOL_TYPE_INT 1     /**< int64_t; get/set with the _int calls */
#define BYOL_TYPE_FLOAT 2   /**< double; get/set with the _float calls */
#define BYOL_TYPE_STRING 3  /**< text, one of a listed set of choices or free text */
#define BYOL_TYPE_BOOL 4    /**< 0 or 1; get/set with the _int calls; "true"/"false" parse */
/** @} */

/**
 * Creates a config holding every key at its default.
 * @param out receives the new config, owned by the caller.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (out is NULL), BYOL_E_NOMEM.
 */
BYOL_API int byol_config_create(byol_config **out);

/**
 * Creates an independent copy of src.
 * @return BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_NOMEM.
 */
BYOL_API int byol_config_copy(const byol_config *src, byol_config **out);

/** Destroys a config; NULL is accepted. */
BYOL_API void byol_config_destroy(byol_config *cfg);

/**
 * Sets an integer or boolean key.
 * @return BYOL_OK; BYOL_E_KEY (unknown key); BYOL_E_RANGE (out of bounds,
 *         or the key is not an integer/boolean); BYOL_E_INVALID_ARG (NULL).
 *         On failure the config is unchanged.
 */
BYOL_API int byol_config_set_int(byol_config *cfg, const char *key, int64_t value);

/** Sets a float key. Errors as byol_config_set_int(); NaN is out of range. */
BYOL_API int byol_config_set_float(byol_config *cfg, const char *key, double value);

/**
 * Sets a string key (copied). A key with a fixed set of choices rejects
 * other values with BYOL_E_RANGE, naming the choices in the message.
 */
BYOL_API int byol_config_set_string(byol_config *cfg, const char *key, const char *value);

/** Reads an integer or boolean key. @return BYOL_OK, BYOL_E_KEY, BYOL_E_RANGE (wrong type), BYOL_E_INVALID_ARG. */
BYOL_API int byol_config_get_int(const byol_config *cfg, const char *key, int64_t *value);

/** Reads a float key. Errors as byol_config_get_int(). */
BYOL_API int byol_config_get_float(const byol_config *cfg, const char *key, double *value);

/**
 * Reads a string key. *value is borrowed: valid until the key is set again
 * or the config is destroyed. Errors as byol_config_get_int().
 */
BYOL_API int byol_config_get_string(const byol_config *cfg, const char *key, const char **value);

/**
 * Parses settings of the form "key=value", several separated by whitespace,
 * commas or newlines ("net.arch=cnn-small threads=2"). Values are converted
 * to the key's type ("true"/"false"/"1"/"0" for booleans). A value may be
 * quoted with double quotes to contain spaces or commas. All settings are
 * checked before any is applied: on failure the config is unchanged and the
 * message names the offending key or text.
 * @return BYOL_OK, BYOL_E_KEY, BYOL_E_RANGE, BYOL_E_INVALID_ARG (syntax).
 */
BYOL_API int byol_config_parse(byol_config *cfg, const char *settings);

/**
 * Applies a named preset (see byol_config_preset_name()). Keys the preset
 * does not mention keep their values.
 * @return BYOL_OK, BYOL_E_KEY (unknown preset; the message lists the known ones).
 */
BYOL_API int byol_config_apply_preset(byol_config *cfg, const char *name);

/** Name of preset i (0-based), or NULL past the end. Static storage. */
BYOL_API const char *byol_config_preset_name(int32_t index);

/**
 * Writes the value of key as text (the form byol_config_parse() accepts)
 * into buf and returns the length needed including the NUL, or a negative
 * status (BYOL_E_KEY, BYOL_E_INVALID_ARG).
 */
BYOL_API int64_t byol_config_format(const byol_config *cfg, const char *key, char *buf, size_t len);

/**
 * Serialises every key whose value differs from its default as
 * "key=value\n" lines, which byol_config_parse() reads back.
 * @param out receives a NUL-terminated string owned by the caller (byol_free).
 * @return BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_NOMEM.
 */
BYOL_API int byol_config_serialize(const byol_config *cfg, char **out);

/** Description of one key, filled by byol_config_key_info(). */
typedef struct byol_key_info {
    uint32_t struct_size;       /**< set to sizeof(byol_key_info) before the call */
    int32_t type;               /**< BYOL_TYPE_* */
    const char *name;           /**< e.g. "net.width"; static storage */
    const char *help;           /**< one line; static storage */
    const char *default_value;  /**< default as text; static storage */
    const char *choices;        /**< "a|b|c" for strings with fixed choices, else NULL */
    double min;                 /**< bounds for numeric keys (inclusive) */
    double max;
} byol_key_info;

/** Number of keys. */
BYOL_API int32_t byol_config_key_count(void);

/**
 * Describes key number index (0 .. byol_config_key_count()-1).
 * @return BYOL_OK, BYOL_E_RANGE (index), BYOL_E_ABI (struct_size too
 *         small), BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_config_key_info(int32_t index, byol_key_info *info);

/** Finds a key's index by name. @return BYOL_OK or BYOL_E_KEY. */
BYOL_API int byol_config_key_find(const char *name, int32_t *index);

BYOL_END_DECL

#endif
