/* A small strict JSON parser and string writer, enough for safetensors
 * headers and other short configuration blobs.
 *
 * The parser reads untrusted bytes: it never reads past len, accepts only
 * RFC 8259 syntax (no comments, no trailing commas, no leading zeros),
 * validates UTF-8 everywhere, decodes every escape including \uXXXX
 * surrogate pairs, and limits nesting depth so hostile input cannot blow
 * the stack. Numbers must be integers that fit in int64 (negative) or
 * uint64 (non-negative); fractions and exponents are rejected because no
 * caller needs them and accepting them would invite silent rounding.
 *
 * The result is a flat array of nodes in document order: a container's
 * children follow it directly, and every node records the index just past
 * its subtree, so walking needs neither recursion nor per-node allocation.
 * An object's children alternate key (a STRING node) and value. */
#ifndef BYOL_IO_JSON_H
#define BYOL_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

enum {
    BYOL__JSON_NULL = 1,
    BYOL__JSON_FALSE = 2,
    BYOL__JSON_TRUE = 3,
    BYOL__JSON_INT = 4,
    BYOL__JSON_STRING = 5,
    BYOL__JSON_ARRAY = 6,
    BYOL__JSON_OBJECT = 7
};

/* Deepest nesting byol__json_parse accepts whatever the caller asks. */
#define BYOL__JSON_MAX_DEPTH 64

typedef struct byol__json_node {
    int32_t type;        /* BYOL__JSON_* */
    int32_t neg;         /* INT: 1 if written with a minus sign */
    uint64_t mag;        /* INT: absolute value */
    size_t count;        /* STRING: bytes; ARRAY: elements; OBJECT: pairs */
    size_t next;         /* index of the first node after this subtree */
    const char *str;     /* STRING: decoded UTF-8, NUL-terminated; may hold
                            embedded NULs (from \u0000), so use count */
} byol__json_node;

typedef struct byol__json_doc {
    byol__json_node *nodes;  /* nodes[0] is the root */
    size_t n_nodes;
    char *strings;           /* storage behind every node's str */
} byol__json_doc;

typedef struct byol__json_error {
    size_t offset;           /* byte offset in the input where it failed */
    const char *what;        /* static English description */
    /* The member of the root object being parsed when it failed, as raw
     * (still escaped) input bytes, so messages can name the entry: valid
     * when key_len > 0, i.e. the key was read before the failure. */
    size_t key_offset, key_len;
} byol__json_error;

/* Parses exactly one JSON value surrounded by optional whitespace.
 * max_depth counts containers (1 allows a flat array or object) and is
 * capped at BYOL__JSON_MAX_DEPTH. Returns BYOL_OK, BYOL_E_FORMAT (err says
 * where and why) or BYOL_E_NOMEM (err->what says so). Sets no thread error
 * message: the caller knows which file it was reading and says so. On
 * failure doc is left empty and needs no freeing. */
int byol__json_parse(const char *text, size_t len, int max_depth,
                     byol__json_doc *doc, byol__json_error *err);
void byol__json_free(byol__json_doc *doc);

/* Value of the object node at index obj for key (compared byte-exactly,
 * so a key with an embedded NUL never matches), or 0 if absent; 0 is never
 * a valid child index since the root is node 0. With duplicate keys the
 * first wins; callers that care check for duplicates themselves. */
size_t byol__json_get(const byol__json_doc *doc, size_t obj, const char *key);

/* Integer node to a C integer: 0 on success, -1 if the node is not an
 * integer or the value does not fit (-0 counts as 0). */
int byol__json_to_u64(const byol__json_node *n, uint64_t *out);
int byol__json_to_i64(const byol__json_node *n, int64_t *out);

/* Writer side. byol__json_string_size is the number of bytes
 * byol__json_put_string writes for s: the quoted, escaped form, no NUL.
 * Quotes, backslashes and control characters are escaped; other bytes,
 * including UTF-8 sequences, pass through, so validate s first if it may
 * not be UTF-8. put_string returns the pointer just past what it wrote. */
size_t byol__json_string_size(const char *s);
char *byol__json_put_string(char *dst, const char *s);

#endif
