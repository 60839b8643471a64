/* Strict JSON parsing into a flat node array (see json.h).
 *
 * Parsing runs twice over the same code: the first pass only validates and
 * counts nodes and decoded string bytes, the second fills exactly sized
 * arrays. Two allocations per document, no reallocation, and the counting
 * pass rejects malformed input before anything is allocated. Recursion is
 * bounded by max_depth (at most BYOL__JSON_MAX_DEPTH frames). */
#include <string.h>

#include "core/internal.h"
#include "json.h"

typedef struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    int max_depth;
    byol__json_node *nodes;  /* NULL during the counting pass */
    size_t node_cap;
    size_t n_nodes;
    char *arena;             /* NULL during the counting pass */
    size_t arena_cap;
    size_t arena_used;
    const char *what;        /* why parsing stopped */
    size_t key_offset;       /* raw span of the root member being parsed */
    size_t key_len;
} parser;

static int fail(parser *p, const char *what)
{
    p->what = what;
    return -1;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

/* Appends a node; during the fill pass it also initialises it. The capacity
 * check can only trip if the two passes disagreed, which would be a bug, but
 * it keeps a bug from becoming a heap overflow. */
static int new_node(parser *p, int32_t type, size_t *index)
{
    if (p->nodes) {
        if (p->n_nodes >= p->node_cap)
            return fail(p, "internal error: node count changed between passes");
        memset(&p->nodes[p->n_nodes], 0, sizeof p->nodes[0]);
        p->nodes[p->n_nodes].type = type;
        p->nodes[p->n_nodes].next = p->n_nodes + 1;
    }
    *index = p->n_nodes++;
    return 0;
}

static byol__json_node *node_at(parser *p, size_t i)
{
    return p->nodes ? &p->nodes[i] : NULL;
}

static int put_byte(parser *p, unsigned char c)
{
    if (p->arena) {
        if (p->arena_used >= p->arena_cap)
            return fail(p, "internal error: string size changed between passes");
        p->arena[p->arena_used] = (char)c;
    }
    p->arena_used++;
    return 0;
}

static int put_utf8(parser *p, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    for (size_t i = 0; i < n; i++)
        if (put_byte(p, b[i]))
            return -1;
    return 0;
}

/* Reads the four hex digits at p->pos + at into *out. */
static int read_hex4(parser *p, size_t at, uint32_t *out)
{
    uint32_t v = 0;
    if (p->len - p->pos < at + 4)
        return fail(p, "truncated \\u escape");
    for (size_t i = 0; i < 4; i++) {
        unsigned char c = p->s[p->pos + at + i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else return fail(p, "invalid hex digit in \\u escape");
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* \uXXXX at p->pos, possibly the high half of a surrogate pair. A lone
 * surrogate has no UTF-8 encoding, so it is an error rather than U+FFFD:
 * silently altering a tensor name would be worse than refusing it. */
static int parse_u_escape(parser *p)
{
    uint32_t cp, lo;
    if (read_hex4(p, 2, &cp))
        return -1;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(p, "unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->len - p->pos < 8 || p->s[p->pos + 6] != '\\' ||
            p->s[p->pos + 7] != 'u')
            return fail(p, "unpaired high surrogate in \\u escape");
        if (read_hex4(p, 8, &lo))
            return -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(p, "unpaired high surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p->pos += 6;
    }
    p->pos += 6;
    return put_utf8(p, cp);
}

static int parse_escape(parser *p)
{
    unsigned char c, out;
    if (p->len - p->pos < 2)
        return fail(p, "unterminated string");
    c = p->s[p->pos + 1];
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': return parse_u_escape(p);
    default: return fail(p, "invalid escape in string");
    }
    p->pos += 2;
    return put_byte(p, out);
}

static int parse_string(parser *p)
{
    size_t self, start = p->arena_used;
    if (new_node(p, BYOL__JSON_STRING, &self))
        return -1;
    p->pos++;  /* opening quote */
    for (;;) {
        unsigned char c;
        if (p->pos >= p->len)
            return fail(p, "unterminated string");
        c = p->s[p->pos];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, "unescaped control character in string");
        if (c == '\\') {
            if (parse_escape(p))
                return -1;
            continue;
        }
        size_t n = byol__utf8_seq(p->s + p->pos, p->len - p->pos);
        if (n == 0)
            return fail(p, "invalid UTF-8 in string");
        for (size_t i = 0; i < n; i++)
            if (put_byte(p, p->s[p->pos + i]))
                return -1;
        p->pos += n;
    }
    p->pos++;  /* closing quote */
    size_t slen = p->arena_used - start;
    if (put_byte(p, 0))
        return -1;
    byol__json_node *nd = node_at(p, self);
    if (nd) {
        nd->str = p->arena + start;
        nd->count = slen;
    }
    return 0;
}

static int parse_int(parser *p)
{
    size_t self;
    int neg = 0;
    uint64_t mag = 0;
    if (new_node(p, BYOL__JSON_INT, &self))
        return -1;
    if (p->s[p->pos] == '-') {
        neg = 1;
        p->pos++;
    }
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return fail(p, "expected a digit");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(p->s[p->pos]))
            return fail(p, "leading zero in number");
    } else {
        while (p->pos < p->len && is_digit(p->s[p->pos])) {
            uint64_t d = (uint64_t)(p->s[p->pos] - '0');
            if (mag > (UINT64_MAX - d) / 10)
                return fail(p, "integer does not fit in 64 bits");
            mag = mag * 10 + d;
            p->pos++;
        }
    }
    if (p->pos < p->len && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' ||
                            p->s[p->pos] == 'E'))
        return fail(p, "only integer numbers are supported");
    if (neg && mag > (uint64_t)INT64_MAX + 1)
        return fail(p, "integer does not fit in 64 bits");
    byol__json_node *nd = node_at(p, self);
    if (nd) {
        nd->neg = neg;
        nd->mag = mag;
    }
    return 0;
}

static int parse_literal(parser *p, const char *word, int32_t type)
{
    size_t n = strlen(word), self;
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "invalid literal");
    if (new_node(p, type, &self))
        return -1;
    p->pos += n;
    return 0;
}

static int parse_value(parser *p, int depth);

/* Shared loop of arrays and objects: p->pos is on the opening bracket. */
static int parse_container(parser *p, int depth, int is_object)
{
    size_t self, count = 0;
    unsigned char close = is_object ? '}' : ']';
    if (depth > p->max_depth)
        return fail(p, "nesting too deep");
    if (new_node(p, is_object ? BYOL__JSON_OBJECT : BYOL__JSON_ARRAY, &self))
        return -1;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            if (is_object) {
                if (depth == 1)
                    p->key_len = 0;  /* a bad key must not blame the previous one */
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != '"')
                    return fail(p, "expected a string key");
                size_t key_start = p->pos + 1;
                if (parse_string(p))
                    return -1;
                if (depth == 1) {
                    p->key_offset = key_start;
                    p->key_len = p->pos - 1 - key_start;
                }
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':')
                    return fail(p, "expected ':' after key");
                p->pos++;
            }
            if (parse_value(p, depth))
                return -1;
            count++;
            skip_ws(p);
            if (p->pos >= p->len)
                return fail(p, is_object ? "unterminated object" : "unterminated array");
            if (p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            if (p->s[p->pos] != ',')
                return fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
            p->pos++;
        }
    }
    if (depth == 1)
        p->key_len = 0;  /* past the root: later errors belong to no member */
    byol__json_node *nd = node_at(p, self);
    if (nd) {
        nd->count = count;
        nd->next = p->n_nodes;
    }
    return 0;
}

static int parse_value(parser *p, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, "unexpected end of input");
    switch (p->s[p->pos]) {
    case '{': return parse_container(p, depth + 1, 1);
    case '[': return parse_container(p, depth + 1, 0);
    case '"': return parse_string(p);
    case 't': return parse_literal(p, "true", BYOL__JSON_TRUE);
    case 'f': return parse_literal(p, "false", BYOL__JSON_FALSE);
    case 'n': return parse_literal(p, "null", BYOL__JSON_NULL);
    default:
        if (p->s[p->pos] == '-' || is_digit(p->s[p->pos]))
            return parse_int(p);
        return fail(p, "unexpected character");
    }
}

static int parse_document(parser *p)
{
    p->pos = 0;
    p->n_nodes = 0;
    p->arena_used = 0;
    p->key_len = 0;
    if (parse_value(p, 0))
        return -1;
    skip_ws(p);
    if (p->pos != p->len)
        return fail(p, "unexpected characters after the JSON value");
    return 0;
}

static int report(const parser *p, byol__json_error *err)
{
    err->offset = p->pos;
    err->what = p->what;
    err->key_offset = p->key_offset;
    err->key_len = p->key_len;
    return BYOL_E_FORMAT;
}

int byol__json_parse(const char *text, size_t len, int max_depth,
                     byol__json_doc *doc, byol__json_error *err)
{
    parser p;
    memset(doc, 0, sizeof *doc);
    memset(err, 0, sizeof *err);
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)text;
    p.len = text ? len : 0;
    p.max_depth = max_depth < 0 ? 0
                : max_depth > BYOL__JSON_MAX_DEPTH ? BYOL__JSON_MAX_DEPTH : max_depth;
    if (parse_document(&p))
        return report(&p, err);
    p.node_cap = p.n_nodes;
    p.arena_cap = p.arena_used;
    p.nodes = byol__calloc(p.node_cap, sizeof p.nodes[0]);
    p.arena = byol__malloc(p.arena_cap ? p.arena_cap : 1);
    if (!p.nodes || !p.arena) {
        byol__free(p.nodes);
        byol__free(p.arena);
        err->what = "out of memory for the parsed document";
        return BYOL_E_NOMEM;
    }
    if (parse_document(&p)) {
        byol__free(p.nodes);
        byol__free(p.arena);
        return report(&p, err);
    }
    doc->nodes = p.nodes;
    doc->n_nodes = p.n_nodes;
    doc->strings = p.arena;
    return BYOL_OK;
}

void byol__json_free(byol__json_doc *doc)
{
    if (!doc)
        return;
    byol__free(doc->nodes);
    byol__free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

size_t byol__json_get(const byol__json_doc *doc, size_t obj, const char *key)
{
    size_t klen = strlen(key), j;
    if (obj >= doc->n_nodes || doc->nodes[obj].type != BYOL__JSON_OBJECT)
        return 0;
    j = obj + 1;
    for (size_t k = 0; k < doc->nodes[obj].count; k++) {
        const byol__json_node *kn = &doc->nodes[j];
        if (kn->count == klen && memcmp(kn->str, key, klen) == 0)
            return j + 1;
        j = doc->nodes[j + 1].next;
    }
    return 0;
}

int byol__json_to_u64(const byol__json_node *n, uint64_t *out)
{
    if (n->type != BYOL__JSON_INT || (n->neg && n->mag != 0))
        return -1;
    *out = n->mag;
    return 0;
}

int byol__json_to_i64(const byol__json_node *n, int64_t *out)
{
    if (n->type != BYOL__JSON_INT)
        return -1;
    if (n->neg) {
        if (n->mag > (uint64_t)INT64_MAX + 1)
            return -1;
        /* -(mag - 1) - 1 reaches INT64_MIN without signed overflow. */
        *out = n->mag == 0 ? 0 : -(int64_t)(n->mag - 1) - 1;
    } else {
        if (n->mag > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)n->mag;
    }
    return 0;
}

/* Bytes the escaped form of c takes inside a JSON string. */
static size_t escaped_len(unsigned char c)
{
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
        c == '\r' || c == '\t')
        return 2;
    return c < 0x20 ? 6 : 1;
}

size_t byol__json_string_size(const char *s)
{
    size_t n = 2;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        n += escaped_len(*u);
    return n;
}

char *byol__json_put_string(char *dst, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    *dst++ = '"';
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        unsigned char c = *u;
        char short_form = 0;
        switch (c) {
        case '"': short_form = '"'; break;
        case '\\': short_form = '\\'; break;
        case '\b': short_form = 'b'; break;
        case '\f': short_form = 'f'; break;
        case '\n': short_form = 'n'; break;
        case '\r': short_form = 'r'; break;
        case '\t': short_form = 't'; break;
        default: break;
        }
        if (short_form) {
            *dst++ = '\\';
            *dst++ = short_form;
        } else if (c < 0x20) {
            memcpy(dst, "\\u00", 4);
            dst[4] = hex[c >> 4];
            dst[5] = hex[c & 15];
            dst += 6;
        } else {
            *dst++ = (char)c;
        }
    }
    *dst++ = '"';
    return dst;
}
