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

/** The longest value a string key holds, in bytes (without the NUL): so a
 * checkpoint, which stores every setting in its header, always stays
 * readable. Longer values are refused with BYOL_E_RANGE, as are values that
 * are not UTF-8 (the header is JSON text, which must be). */
#define BYOL_CONFIG_MAX_STRING 65535

/**
 * Creates a config holding every key at its default.
 * @param out receives the new config, owned by the caller
 *        (byol_config_destroy()); NULL on failure.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (out is NULL), BYOL_E_NOMEM.
 */
BYOL_API int byol_config_create(byol_config **out);

/**
 * Creates an independent copy of src.
 * @param src the config to copy, borrowed for the call.
 * @param out receives the copy, owned by the caller (byol_config_destroy()).
 * @return BYOL_OK, BYOL_E_INVALID_ARG (src or out is NULL), BYOL_E_NOMEM.
 */
BYOL_API int byol_config_copy(const byol_config *src, byol_config **out);

/**
 * Destroys a config and the strings it holds (pointers from
 * byol_config_get_string() become invalid). Handles created from it are
 * not affected: they copied what they needed.
 * @param cfg the config, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_config_destroy(byol_config *cfg);

/**
 * Sets an integer or boolean key (or a float key, converted).
 * @param cfg the config, borrowed for the call.
 * @param key the key's name ("train.batch_size"), borrowed for the call.
 * @param value the new value, checked against the key's bounds.
 * @return BYOL_OK; BYOL_E_KEY (unknown key); BYOL_E_RANGE (out of bounds,
 *         or a string key); BYOL_E_INVALID_ARG (NULL cfg or key).
 *         On failure the config is unchanged.
 */
BYOL_API int byol_config_set_int(byol_config *cfg, const char *key, int64_t value);

/**
 * Sets a float key.
 * @param cfg the config, borrowed for the call.
 * @param key the key's name, borrowed for the call.
 * @param value the new value; NaN is out of range.
 * @return as byol_config_set_int() (BYOL_E_RANGE also for a key that is not
 *         a float). On failure the config is unchanged.
 */
BYOL_API int byol_config_set_float(byol_config *cfg, const char *key, double value);

/**
 * Sets a string key. A key with a fixed set of choices rejects other
 * values with BYOL_E_RANGE, naming the choices in the message. A free-text
 * key (data.labels, augment.mean, ...) takes any bytes: quotes, spaces,
 * newlines and non-ASCII text survive byol_config_serialize() and
 * byol_config_parse() unchanged.
 * @param cfg the config, borrowed for the call.
 * @param key the key's name, borrowed for the call.
 * @param value NUL-terminated UTF-8, at most BYOL_CONFIG_MAX_STRING bytes,
 *        borrowed for the call (the config keeps a copy).
 * @return BYOL_OK; BYOL_E_KEY (unknown key); BYOL_E_RANGE (not one of the
 *         choices, longer than BYOL_CONFIG_MAX_STRING, not UTF-8, or not a
 *         string key); BYOL_E_INVALID_ARG (a NULL argument); BYOL_E_NOMEM. On
 *         failure the config is unchanged.
 */
BYOL_API int byol_config_set_string(byol_config *cfg, const char *key, const char *value);

/**
 * Reads an integer or boolean key (booleans read as 0 or 1).
 * @param cfg the config, borrowed for the call.
 * @param key the key's name, borrowed for the call.
 * @param value receives the value (caller memory); untouched on failure.
 * @return BYOL_OK, BYOL_E_KEY (unknown key), BYOL_E_RANGE (not an integer or
 *         boolean key), BYOL_E_INVALID_ARG (a NULL argument).
 */
BYOL_API int byol_config_get_int(const byol_config *cfg, const char *key, int64_t *value);

/**
 * Reads a float key.
 * @param cfg the config, borrowed for the call.
 * @param key the key's name, borrowed for the call.
 * @param value receives the value (caller memory); untouched on failure.
 * @return BYOL_OK, BYOL_E_KEY, BYOL_E_RANGE (not a float key),
 *         BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_config_get_float(const byol_config *cfg, const char *key, double *value);

/**
 * Reads a string key.
 * @param cfg the config, borrowed for the call.
 * @param key the key's name, borrowed for the call.
 * @param value receives a pointer into the config: borrowed, valid until
 *        the key is set again (also by parse or a preset) or the config is
 *        destroyed. Do not free it.
 * @return BYOL_OK, BYOL_E_KEY, BYOL_E_RANGE (not a string key),
 *         BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_config_get_string(const byol_config *cfg, const char *key, const char **value);

/**
 * Parses settings of the form "key=value", several separated by spaces,
 * tabs, newlines or commas ("net.arch=cnn-small threads=2"). All settings
 * are checked before any is applied: on failure the config is unchanged
 * and the message names the offending key or text.
 *
 * A value is the text after '=' up to the next separator, taken as it is
 * (a backslash is an ordinary character, and so is a double quote after
 * the first character). A value that starts with a double quote is quoted:
 * it runs to the next double quote that is not doubled, may hold
 * separators, '=' and line breaks, and each doubled quote inside stands for
 * one: data.labels=\"la\"\"b.gz\" is the name la\"b.gz.
 * byol_config_serialize() quotes so; text written by libbyol 1.2 and 1.3
 * reads as it did.
 *
 * The text of a value must be in its key's type's form, or the setting
 * fails with BYOL_E_RANGE naming the key and the text:
 * - integer: decimal digits with an optional leading '-' ("42", "-1");
 *   no '+', spaces, hex, exponent or fraction;
 * - float: an optional '-', decimal digits with an optional '.' fraction
 *   (".5", "2", "0.25"), then an optional exponent "e" or "E" with an
 *   optional sign ("1e-3", "1.5E+06"); no '+' in front, spaces, hex
 *   floats, inf or nan. A value beyond the double range is out of range;
 *   one below the smallest subnormal reads as 0;
 * - boolean: "1", "true", "0" or "false" (lower case);
 * - string: any UTF-8 text, at most BYOL_CONFIG_MAX_STRING bytes; a key
 *   with choices takes one of them.
 * @param cfg the config, borrowed for the call.
 * @param settings NUL-terminated text, borrowed for the call; "" changes
 *        nothing.
 * @return BYOL_OK, BYOL_E_KEY (unknown key), BYOL_E_RANGE (a value not in
 *         its type's form or out of bounds), BYOL_E_INVALID_ARG (a NULL
 *         argument, or text that is not key=value, an unterminated quote),
 *         BYOL_E_NOMEM.
 */
BYOL_API int byol_config_parse(byol_config *cfg, const char *settings);

/**
 * Applies a named preset (see byol_config_preset_name()) as
 * byol_config_parse() of its settings. Keys the preset does not mention
 * keep their values.
 * @param cfg the config, borrowed for the call.
 * @param name "cifar10", "fashion-mnist" or "imagenet", borrowed for the call.
 * @return BYOL_OK, BYOL_E_KEY (unknown preset; the message lists the known
 *         ones), BYOL_E_INVALID_ARG (a NULL argument), BYOL_E_NOMEM. On
 *         failure the config is unchanged.
 */
BYOL_API int byol_config_apply_preset(byol_config *cfg, const char *name);

/**
 * Lists the presets.
 * @param index 0-based.
 * @return the name of preset index, static storage owned by the library,
 *         or NULL when index is negative or past the last preset. Cannot fail.
 */
BYOL_API const char *byol_config_preset_name(int32_t index);

/**
 * Writes the value of key as text: integers and booleans in decimal, floats
 * in the shortest form that reads back as the same double ("0.99",
 * "1e-05"), strings as they are (unquoted: byol_config_serialize() adds the
 * quotes a settings text needs).
 * @param cfg the config, borrowed for the call.
 * @param key the key's name, borrowed for the call.
 * @param buf caller memory of len bytes, written during the call; may be
 *        NULL when len is 0. Always NUL-terminated when len > 0; text that
 *        does not fit is cut.
 * @param len size of buf in bytes.
 * @return the size the whole text needs, including the NUL (> 0), or a
 *         negative status: BYOL_E_KEY (unknown key), BYOL_E_INVALID_ARG
 *         (NULL cfg or key).
 */
BYOL_API int64_t byol_config_format(const byol_config *cfg, const char *key, char *buf, size_t len);

/**
 * Serialises every key whose value differs from its default as
 * "key=value\n" lines, which byol_config_parse() reads back to the same
 * config: every value exactly, floats bit for bit. A string value that holds
 * a separator or a double quote is quoted, its quotes doubled (see
 * byol_config_parse()); a line break inside a value stays inside its quotes,
 * so such a setting spans lines.
 * @param cfg the config, borrowed for the call.
 * @param out receives a NUL-terminated string owned by the caller (free it
 *        with byol_free()); "" when every key is at its default.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (a NULL argument), BYOL_E_NOMEM.
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
    double min;                 /**< lower bound of a numeric key (inclusive) */
    double max;                 /**< upper bound of a numeric key (inclusive) */
} byol_key_info;

/**
 * Counts the configuration keys of this library.
 * @return the number of keys (later minor versions may add keys). Cannot
 *         fail; no memory is owned or borrowed.
 */
BYOL_API int32_t byol_config_key_count(void);

/**
 * Describes key number index (0 .. byol_config_key_count()-1). Keys come
 * grouped by area (seed, threads, net.*, ...), the order `byol info --keys`
 * prints; an index may change between versions, a name never does.
 * @param index the key's index.
 * @param info caller memory with struct_size set; filled on success. Its
 *        strings are static storage owned by the library.
 * @return BYOL_OK, BYOL_E_RANGE (index out of range), BYOL_E_ABI
 *         (struct_size smaller than this library's byol_key_info),
 *         BYOL_E_INVALID_ARG (info is NULL).
 */
BYOL_API int byol_config_key_info(int32_t index, byol_key_info *info);

/**
 * Finds a key's index by name.
 * @param name the key's name, borrowed for the call.
 * @param index receives the index for byol_config_key_info().
 * @return BYOL_OK, BYOL_E_KEY (unknown key), BYOL_E_INVALID_ARG (a NULL
 *         argument).
 */
BYOL_API int byol_config_key_find(const char *name, int32_t *index);

BYOL_END_DECL

#endif
