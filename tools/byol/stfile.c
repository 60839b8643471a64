/* safetensors files, as far as the tool needs them without the library:
 * reading a header (for `byol info`, and to find the configuration a
 * checkpoint stores) and writing embeddings (`byol embed --out x.safetensors`).
 *
 * The public API loads weights only into a net or trainer of a known
 * architecture and has no call that describes a file, so this reads the
 * documented safetensors layout itself: an 8-byte little-endian header
 * length, a JSON object {name: {dtype, shape, data_offsets}, "__metadata__":
 * {string: string}}, then the data. Every extent is checked, so a
 * truncated or garbage file is a BYOL_E_FORMAT naming the file, never a crash. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_HEADER (100u << 20) /* the safetensors reference's own limit */
#define MAX_DEPTH 32

typedef struct parser {
    const char *begin, *s, *end;
    const char *path;
    int depth;
} parser;

static int bad(const parser *p, const char *what)
{
    return cli_error(BYOL_E_FORMAT, "%s: malformed safetensors header (%s at byte %lld)", p->path,
                     what, (long long)(8 + (p->s - p->begin)));
}

static void ws(parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int expect(parser *p, char c)
{
    ws(p);
    if (p->s >= p->end || *p->s != c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        return bad(p, what);
    }
    p->s++;
    return BYOL_OK;
}

static void put_utf8(char **o, unsigned cp)
{
    char *d = *o;
    if (cp < 0x80)
        *d++ = (char)cp;
    else if (cp < 0x800) {
        *d++ = (char)(0xC0 | (cp >> 6));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *d++ = (char)(0xE0 | (cp >> 12));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *d++ = (char)(0xF0 | (cp >> 18));
        *d++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char)(0x80 | (cp & 0x3F));
    }
    *o = d;
}

static int hex4(parser *p, unsigned *cp)
{
    if (p->end - p->s < 4)
        return bad(p, "short \\u escape");
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        char c = *p->s++;
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return bad(p, "bad \\u escape");
        *cp = *cp * 16 + (unsigned)v;
    }
    return BYOL_OK;
}

static int escape(parser *p, char **o)
{
    if (p->s >= p->end)
        return bad(p, "unterminated string");
    char c = *p->s++;
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = strchr(from, c);
    if (c && k) {
        *(*o)++ = to[k - from];
        return BYOL_OK;
    }
    if (c != 'u')
        return bad(p, "bad escape");
    unsigned cp;
    int rc = hex4(p, &cp);
    if (rc == BYOL_OK && cp >= 0xD800 && cp < 0xDC00 && p->end - p->s >= 6 && p->s[0] == '\\' &&
        p->s[1] == 'u') {
        unsigned lo;
        p->s += 2;
        rc = hex4(p, &lo);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (rc == BYOL_OK)
        put_utf8(o, cp);
    return rc;
}

/* A JSON string into a malloc'd, NUL-terminated copy (NUL bytes refused). */
static int string(parser *p, char **out)
{
    int rc = expect(p, '"');
    if (rc != BYOL_OK)
        return rc;
    /* Decoded text is never longer than the escaped text. */
    const char *q = p->s;
    while (q < p->end && *q != '"')
        q += *q == '\\' && q + 1 < p->end ? 2 : 1;
    char *o = malloc((size_t)(q - p->s) + 4), *d = o;
    if (!o)
        return cli_error(BYOL_E_NOMEM, "out of memory");
    while (rc == BYOL_OK && p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if (c == '\\')
            rc = escape(p, &d);
        else if ((unsigned char)c < 0x20)
            rc = bad(p, "control character in string");
        else
            *d++ = c;
    }
    if (rc == BYOL_OK && p->s >= p->end)
        rc = bad(p, "unterminated string");
    if (rc == BYOL_OK && memchr(o, 0, (size_t)(d - o)))
        rc = bad(p, "NUL in string");
    if (rc != BYOL_OK) {
        free(o);
        return rc;
    }
    p->s++;
    *d = '\0';
    *out = o;
    return BYOL_OK;
}

static int integer(parser *p, uint64_t *out)
{
    ws(p);
    uint64_t v = 0;
    const char *start = p->s;
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return bad(p, "integer too large");
        v = v * 10 + (uint64_t)(*p->s++ - '0');
    }
    if (p->s == start)
        return bad(p, "expected a non-negative integer");
    *out = v;
    return BYOL_OK;
}

/* "[a, b, ...]" of at most max integers. */
static int int_array(parser *p, uint64_t *v, int max, int *n)
{
    int rc = expect(p, '[');
    *n = 0;
    ws(p);
    if (rc == BYOL_OK && p->s < p->end && *p->s == ']') {
        p->s++;
        return BYOL_OK;
    }
    while (rc == BYOL_OK) {
        if (*n >= max)
            return bad(p, "too many dimensions");
        rc = integer(p, &v[(*n)++]);
        ws(p);
        if (rc == BYOL_OK && p->s < p->end && *p->s == ']') {
            p->s++;
            return BYOL_OK;
        }
        if (rc == BYOL_OK)
            rc = expect(p, ',');
    }
    return rc;
}

static int64_t dtype_size(const char *d)
{
    static const char *names[] = { "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8",
                                   "U64", "U32", "U16", "U8",  "BOOL", NULL };
    static const int64_t sizes[] = { 8, 4, 2, 2, 8, 4, 2, 1, 8, 4, 2, 1, 1 };
    for (int i = 0; names[i]; i++)
        if (!strcmp(d, names[i]))
            return sizes[i];
    return 0;
}

/* Members of one tensor object: dtype, shape, data_offsets. */
static int tensor_field(parser *p, cli_st_tensor *t, const char *key, int *seen)
{
    uint64_t v[8];
    int n = 0, rc;
    if (!strcmp(key, "dtype")) {
        char *d = NULL;
        rc = string(p, &d);
        if (rc == BYOL_OK && (strlen(d) >= sizeof t->dtype || !dtype_size(d)))
            rc = bad(p, "unknown dtype");
        if (rc == BYOL_OK)
            strcpy(t->dtype, d);
        free(d);
        *seen |= 1;
    } else if (!strcmp(key, "shape")) {
        rc = int_array(p, v, 8, &n);
        t->ndim = n;
        t->numel = 1;
        for (int i = 0; rc == BYOL_OK && i < n; i++) {
            uint64_t limit = (uint64_t)INT64_MAX / 8; /* bytes must fit an int64 */
            if (v[i] > limit || (v[i] && (uint64_t)t->numel > limit / v[i]))
                return bad(p, "shape too large");
            t->shape[i] = (int64_t)v[i];
            t->numel *= (int64_t)v[i];
        }
        *seen |= 2;
    } else if (!strcmp(key, "data_offsets")) {
        rc = int_array(p, v, 2, &n);
        if (rc == BYOL_OK && (n != 2 || v[1] < v[0]))
            rc = bad(p, "bad data_offsets");
        t->begin = v[0];
        t->end = v[1];
        *seen |= 4;
    } else
        rc = bad(p, "unknown tensor field");
    return rc;
}

/* "{k: v, ...}" calling member() for each key; member consumes the value. */
typedef int (*member_fn)(parser *p, const char *key, void *ctx);
static int object(parser *p, member_fn member, void *ctx)
{
    if (++p->depth > MAX_DEPTH)
        return bad(p, "nesting too deep");
    int rc = expect(p, '{');
    ws(p);
    if (rc == BYOL_OK && p->s < p->end && *p->s == '}') {
        p->s++;
        p->depth--;
        return BYOL_OK;
    }
    while (rc == BYOL_OK) {
        char *key = NULL;
        rc = string(p, &key);
        if (rc == BYOL_OK)
            rc = expect(p, ':');
        if (rc == BYOL_OK)
            rc = member(p, key, ctx);
        free(key);
        ws(p);
        if (rc == BYOL_OK && p->s < p->end && *p->s == '}') {
            p->s++;
            p->depth--;
            return BYOL_OK;
        }
        if (rc == BYOL_OK)
            rc = expect(p, ',');
    }
    return rc;
}

typedef struct tensor_ctx {
    cli_st_tensor *t;
    int seen;
} tensor_ctx;

static int tensor_member(parser *p, const char *key, void *ctx)
{
    tensor_ctx *c = ctx;
    return tensor_field(p, c->t, key, &c->seen);
}

static int meta_member(parser *p, const char *key, void *ctx)
{
    cli_st_header *h = ctx;
    char *value = NULL;
    int rc = string(p, &value);
    if (rc != BYOL_OK)
        return rc;
    char **k = realloc(h->meta_keys, (size_t)(h->nmeta + 1) * sizeof *k);
    if (k)
        h->meta_keys = k;
    char **v = k ? realloc(h->meta_values, (size_t)(h->nmeta + 1) * sizeof *v) : NULL;
    if (v)
        h->meta_values = v;
    char *kc = strdup(key);
    if (!k || !v || !kc) {
        free(kc);
        free(value);
        return cli_error(BYOL_E_NOMEM, "out of memory");
    }
    h->meta_keys[h->nmeta] = kc;
    h->meta_values[h->nmeta++] = value;
    return BYOL_OK;
}

static int top_member(parser *p, const char *key, void *ctx)
{
    cli_st_header *h = ctx;
    if (!strcmp(key, "__metadata__"))
        return object(p, meta_member, h);
    cli_st_tensor *t = realloc(h->tensors, (size_t)(h->ntensors + 1) * sizeof *t);
    if (!t)
        return cli_error(BYOL_E_NOMEM, "out of memory");
    h->tensors = t;
    t = &h->tensors[h->ntensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(key)))
        return cli_error(BYOL_E_NOMEM, "out of memory");
    h->ntensors++;
    tensor_ctx c = { t, 0 };
    int rc = object(p, tensor_member, &c);
    if (rc == BYOL_OK && c.seen != 7)
        rc = cli_error(BYOL_E_FORMAT, "%s: tensor '%s' lacks dtype, shape or data_offsets",
                       p->path, key);
    return rc;
}

/* Every tensor's bytes must match its dtype and shape and lie in the file. */
static int check_extents(const char *path, const cli_st_header *h, uint64_t data_size)
{
    for (int64_t i = 0; i < h->ntensors; i++) {
        const cli_st_tensor *t = &h->tensors[i];
        uint64_t want = (uint64_t)t->numel * (uint64_t)dtype_size(t->dtype);
        if (t->end - t->begin != want)
            return cli_error(BYOL_E_FORMAT, "%s: tensor '%s' holds %" PRIu64 " bytes, its dtype "
                             "and shape need %" PRIu64, path, t->name, t->end - t->begin, want);
        if (t->end > data_size)
            return cli_error(BYOL_E_FORMAT, "%s: tensor '%s' ends at byte %" PRIu64 " of a %"
                             PRIu64 "-byte data section (truncated file?)", path, t->name,
                             t->end, data_size);
    }
    return BYOL_OK;
}

static int read_header_bytes(const char *path, FILE *f, char **text, uint64_t *len,
                             uint64_t *file_size)
{
    unsigned char b[8];
    if (fseek(f, 0, SEEK_END) != 0 || ftell(f) < 0)
        return cli_error(BYOL_E_IO, "%s: cannot seek: %s", path, strerror(errno));
    *file_size = (uint64_t)ftell(f);
    rewind(f);
    if (*file_size < 8 || fread(b, 1, 8, f) != 8)
        return cli_error(BYOL_E_FORMAT, "%s: %" PRIu64 " bytes, too short for a safetensors file",
                         path, *file_size);
    *len = 0;
    for (int i = 7; i >= 0; i--)
        *len = *len << 8 | b[i];
    if (*len < 2 || *len > MAX_HEADER || *len > *file_size - 8)
        return cli_error(BYOL_E_FORMAT, "%s: not a safetensors file (header length %" PRIu64
                         " in a %" PRIu64 "-byte file)", path, *len, *file_size);
    *text = malloc((size_t)*len);
    if (!*text)
        return cli_error(BYOL_E_NOMEM, "out of memory");
    if (fread(*text, 1, (size_t)*len, f) != *len)
        return cli_error(BYOL_E_IO, "%s: cannot read the header", path);
    return BYOL_OK;
}

int cli_st_read(const char *path, cli_st_header *h)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_error(BYOL_E_IO, "cannot open '%s': %s", path, strerror(errno));
    char *text = NULL;
    uint64_t len = 0;
    int rc = read_header_bytes(path, f, &text, &len, &h->file_size);
    fclose(f);
    if (rc == BYOL_OK) {
        parser p = { text, text, text + len, path, 0 };
        rc = object(&p, top_member, h);
        ws(&p);
        if (rc == BYOL_OK && p.s != p.end)
            rc = bad(&p, "text after the header object");
    }
    if (rc == BYOL_OK)
        rc = check_extents(path, h, h->file_size - 8 - len);
    free(text);
    if (rc != BYOL_OK)
        cli_st_free(h);
    return rc;
}

void cli_st_free(cli_st_header *h)
{
    for (int64_t i = 0; i < h->ntensors; i++)
        free(h->tensors[i].name);
    for (int64_t i = 0; i < h->nmeta; i++) {
        free(h->meta_keys[i]);
        free(h->meta_values[i]);
    }
    free(h->tensors);
    free(h->meta_keys);
    free(h->meta_values);
    memset(h, 0, sizeof *h);
}

const char *cli_st_meta(const cli_st_header *h, const char *key)
{
    for (int64_t i = 0; i < h->nmeta; i++)
        if (!strcmp(h->meta_keys[i], key))
            return h->meta_values[i];
    return NULL;
}

/* ---- writing ------------------------------------------------------------------ */

static int write_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n;
}

int cli_write_atomic(const char *path, const void *head, size_t head_len, const void *body,
                     size_t body_len, const void *tail, size_t tail_len)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return cli_error(BYOL_E_IO, "'%s': path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return cli_error(BYOL_E_IO, "cannot write '%s': %s", path, strerror(errno));
    int ok = write_all(f, head, head_len) && write_all(f, body, body_len) &&
             write_all(f, tail, tail_len) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return BYOL_OK;
    err = ok ? errno : err;
    remove(tmp);
    return cli_error(BYOL_E_IO, "cannot write '%s': %s", path, strerror(err));
}

int cli_st_write_embeddings(const char *path, const float *emb, const int32_t *labels, int64_t n,
                            int64_t dim)
{
    uint64_t eb = (uint64_t)(n * dim) * 4, lb = (uint64_t)n * 4;
    char json[512];
    int len = snprintf(json, sizeof json,
                       "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"byol embed\"},"
                       "\"embeddings\":{\"dtype\":\"F32\",\"shape\":[%" PRId64 ",%" PRId64 "],"
                       "\"data_offsets\":[0,%" PRIu64 "]},"
                       "\"labels\":{\"dtype\":\"I32\",\"shape\":[%" PRId64 "],"
                       "\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}}",
                       n, dim, eb, n, eb, eb + lb);
    /* Pad the header with spaces so the data starts 8-byte aligned. */
    size_t padded = ((size_t)len + 7) / 8 * 8;
    unsigned char head[8 + sizeof json + 8];
    memset(head + 8, ' ', padded);
    memcpy(head + 8, json, (size_t)len);
    for (int i = 0; i < 8; i++)
        head[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    /* Data little-endian: this tool assumes a little-endian host, like the library. */
    return cli_write_atomic(path, head, 8 + padded, emb, (size_t)eb, labels, (size_t)lb);
}
