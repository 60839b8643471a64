/* safetensors reader and atomic writer (see safetensors.h).
 *
 * Reading a file reads its header alone, parses it with the strict JSON
 * parser and checks every number, and the sizes it declares against the
 * file's, before any tensor byte is read; only then is the file mapped
 * (a buffer is copied into one block instead). Tensor names and metadata
 * point into the parsed document and tensor data into the mapping or
 * block, so a file costs a handful of allocations whatever its tensor
 * count.
 *
 * Beyond per-tensor checks the data section must be covered exactly, with
 * no gaps, no overlaps and nothing after the last tensor, as the format
 * specification demands: that keeps a file from hiding a second payload.
 * Whole-file reads and atomic writes are io/file.c's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/internal.h"
#include "file.h"
#include "json.h"
#include "safetensors.h"

/* The reference implementation refuses headers above 100 MB; real ones are
 * a few MB at most, so anything larger is hostile or corrupt. */
#define ST_MAX_HEADER 100000000u
/* Deep enough for any valid header (root, entry, shape) with room for a
 * malformed value to reach the checks that name its tensor. */
#define ST_JSON_DEPTH 16
/* Room for "[d0,...,d7]" with 20-digit dimensions. */
#define ST_SHAPE_TEXT 200

typedef struct st_entry {
    byol__st_tensor t;
    uint64_t begin, end;       /* data_offsets, relative to the data section */
} st_entry;

typedef struct st_meta {
    const char *key, *value;
} st_meta;

struct byol__st_file {
    char *label;
    unsigned char *buf;        /* the whole file, a byol__malloc block (buffers) ... */
    void *map;                 /* ... or mapped (files), len bytes */
    uint64_t len;              /* its size */
    uint64_t hlen;             /* the header's */
    byol__json_doc doc;        /* owns every name, key and value string */
    st_entry *entries;         /* header order */
    size_t n;
    st_entry **by_name;        /* sorted by name, for find */
    st_meta *meta;             /* sorted by key */
    size_t n_meta;
};

static const struct {
    const char *name;
    int32_t code;
    size_t size;
} dtypes[] = {
    { "F32", BYOL__ST_F32, 4 },
    { "F64", BYOL__ST_F64, 8 },
    { "I64", BYOL__ST_I64, 8 },
    { "I32", BYOL__ST_I32, 4 },
    { "U8", BYOL__ST_U8, 1 },
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

size_t byol__st_dtype_size(int32_t dtype)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].code == dtype)
            return dtypes[i].size;
    return 0;
}

const char *byol__st_dtype_name(int32_t dtype)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].code == dtype)
            return dtypes[i].name;
    return "?";
}

static void format_shape(char *out, size_t cap, const int64_t *shape, int ndim)
{
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(out + k, cap - k, "%s%" PRId64, d ? "," : "", shape[d]);
    if (k < cap)
        snprintf(out + k, cap - k, "]");
}

/* Bytes a shape of dtype needs: 0 on success, -1 if it does not fit in 64
 * bits. Dimensions of zero are skipped in the overflow test so that a shape
 * whose other dimensions multiply past 2^64 is refused even when empty:
 * code that computes strides from it would overflow too. */
static int shape_bytes(const int64_t *shape, int ndim, size_t elem, uint64_t *out)
{
    uint64_t prod = 1;
    int empty = 0;
    for (int d = 0; d < ndim; d++) {
        uint64_t v = (uint64_t)shape[d];
        if (v == 0) {
            empty = 1;
            continue;
        }
        if (prod > UINT64_MAX / v)
            return -1;
        prod *= v;
    }
    if (prod > UINT64_MAX / elem)
        return -1;
    *out = empty ? 0 : prod * elem;
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int key_is(const byol__json_node *k, const char *word)
{
    size_t n = strlen(word);
    return k->count == n && memcmp(k->str, word, n) == 0;
}

static int parse_dtype(const byol__st_file *f, const char *name,
                       const byol__json_node *v, st_entry *e)
{
    if (v->type != BYOL__JSON_STRING)
        return byol__err(BYOL_E_FORMAT, "%s: tensor '%s': dtype is not a string",
                         f->label, name);
    for (size_t i = 0; i < N_DTYPES; i++) {
        if (key_is(v, dtypes[i].name)) {
            e->t.dtype = dtypes[i].code;
            return BYOL_OK;
        }
    }
    return byol__err(BYOL_E_FORMAT,
                     "%s: tensor '%s': dtype '%s' is not supported (F32, F64, I64, I32, U8)",
                     f->label, name, v->str);
}

static int parse_shape(const byol__st_file *f, const char *name, size_t vi,
                       st_entry *e)
{
    const byol__json_node *v = &f->doc.nodes[vi];
    if (v->type != BYOL__JSON_ARRAY)
        return byol__err(BYOL_E_FORMAT, "%s: tensor '%s': shape is not an array",
                         f->label, name);
    if (v->count > BYOL__ST_MAX_DIMS)
        return byol__err(BYOL_E_FORMAT,
                         "%s: tensor '%s': shape has %zu dimensions, at most %d supported",
                         f->label, name, v->count, BYOL__ST_MAX_DIMS);
    size_t j = vi + 1;
    for (size_t d = 0; d < v->count; d++) {
        const byol__json_node *dn = &f->doc.nodes[j];
        int64_t dim;
        if (byol__json_to_i64(dn, &dim) != 0)
            return byol__err(BYOL_E_FORMAT,
                             "%s: tensor '%s': shape[%zu] is not a 64-bit integer",
                             f->label, name, d);
        if (dim < 0)
            return byol__err(BYOL_E_FORMAT,
                             "%s: tensor '%s': shape[%zu] is %" PRId64 ", must be >= 0",
                             f->label, name, d, dim);
        e->t.shape[d] = dim;
        j = dn->next;
    }
    e->t.ndim = (int32_t)v->count;
    return BYOL_OK;
}

static int parse_offsets(const byol__st_file *f, const char *name, size_t vi,
                         st_entry *e)
{
    const byol__json_node *v = &f->doc.nodes[vi];
    if (v->type != BYOL__JSON_ARRAY || v->count != 2 ||
        byol__json_to_u64(&f->doc.nodes[vi + 1], &e->begin) != 0 ||
        byol__json_to_u64(&f->doc.nodes[f->doc.nodes[vi + 1].next], &e->end) != 0)
        return byol__err(BYOL_E_FORMAT,
                         "%s: tensor '%s': data_offsets is not [begin, end] with "
                         "non-negative integers", f->label, name);
    return BYOL_OK;
}

/* Finds dtype, shape and data_offsets in a tensor's entry; any other key,
 * a repeated key or a missing one is an error. */
static int find_fields(const byol__st_file *f, const char *name, size_t vi,
                       size_t field[3])
{
    static const char *const names[3] = { "dtype", "shape", "data_offsets" };
    const byol__json_node *v = &f->doc.nodes[vi];
    if (v->type != BYOL__JSON_OBJECT)
        return byol__err(BYOL_E_FORMAT, "%s: tensor '%s': entry is not an object",
                         f->label, name);
    field[0] = field[1] = field[2] = 0;
    size_t j = vi + 1;
    for (size_t k = 0; k < v->count; k++) {
        const byol__json_node *kn = &f->doc.nodes[j];
        int which = -1;
        for (int w = 0; w < 3; w++)
            if (key_is(kn, names[w]))
                which = w;
        if (which < 0)
            return byol__err(BYOL_E_FORMAT, "%s: tensor '%s': unknown key '%s'",
                             f->label, name, kn->str);
        if (field[which])
            return byol__err(BYOL_E_FORMAT, "%s: tensor '%s': duplicate key '%s'",
                             f->label, name, kn->str);
        field[which] = j + 1;
        j = f->doc.nodes[j + 1].next;
    }
    for (int w = 0; w < 3; w++)
        if (!field[w])
            return byol__err(BYOL_E_FORMAT, "%s: tensor '%s': missing key '%s'",
                             f->label, name, names[w]);
    return BYOL_OK;
}

static int parse_tensor(byol__st_file *f, const byol__json_node *key, size_t vi,
                        uint64_t data_len, st_entry *e)
{
    const char *name = key->str;
    size_t field[3];
    uint64_t need;
    char shape_text[ST_SHAPE_TEXT];
    int rc;

    if (strlen(name) != key->count)
        return byol__err(BYOL_E_FORMAT, "%s: tensor name '%s' contains a NUL byte",
                         f->label, name);
    e->t.name = name;
    if ((rc = find_fields(f, name, vi, field)) != BYOL_OK ||
        (rc = parse_dtype(f, name, &f->doc.nodes[field[0]], e)) != BYOL_OK ||
        (rc = parse_shape(f, name, field[1], e)) != BYOL_OK ||
        (rc = parse_offsets(f, name, field[2], e)) != BYOL_OK)
        return rc;

    format_shape(shape_text, sizeof shape_text, e->t.shape, e->t.ndim);
    if (shape_bytes(e->t.shape, e->t.ndim, byol__st_dtype_size(e->t.dtype), &need))
        return byol__err(BYOL_E_FORMAT,
                         "%s: tensor '%s': shape %s %s needs more than 2^64 bytes",
                         f->label, name, shape_text, byol__st_dtype_name(e->t.dtype));
    if (e->begin > e->end)
        return byol__err(BYOL_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                         ") begin after end", f->label, name, e->begin, e->end);
    if (e->end > data_len)
        return byol__err(BYOL_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                         ") extend past the %" PRIu64 "-byte data section",
                         f->label, name, e->begin, e->end, data_len);
    if (e->end - e->begin != need)
        return byol__err(BYOL_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                         ") but shape %s %s needs %" PRIu64 " bytes",
                         f->label, name, e->begin, e->end, shape_text,
                         byol__st_dtype_name(e->t.dtype), need);
    e->t.nbytes = (size_t)need;
    return BYOL_OK;
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

static int parse_metadata(byol__st_file *f, size_t vi)
{
    const byol__json_node *v = &f->doc.nodes[vi];
    if (v->type != BYOL__JSON_OBJECT)
        return byol__err(BYOL_E_FORMAT, "%s: __metadata__ is not an object", f->label);
    if (v->count == 0)
        return BYOL_OK;
    f->meta = byol__calloc(v->count, sizeof f->meta[0]);
    if (!f->meta)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for %zu __metadata__ entries",
                         f->label, v->count);
    size_t j = vi + 1;
    for (size_t k = 0; k < v->count; k++) {
        const byol__json_node *kn = &f->doc.nodes[j], *vn = &f->doc.nodes[j + 1];
        if (strlen(kn->str) != kn->count)
            return byol__err(BYOL_E_FORMAT, "%s: __metadata__ key '%s' contains a NUL byte",
                             f->label, kn->str);
        if (vn->type != BYOL__JSON_STRING)
            return byol__err(BYOL_E_FORMAT,
                             "%s: __metadata__ key '%s' has a non-string value",
                             f->label, kn->str);
        if (strlen(vn->str) != vn->count)
            return byol__err(BYOL_E_FORMAT,
                             "%s: __metadata__ key '%s' has a value with a NUL byte",
                             f->label, kn->str);
        f->meta[k].key = kn->str;
        f->meta[k].value = vn->str;
        j = vn->next;
    }
    f->n_meta = v->count;
    qsort(f->meta, f->n_meta, sizeof f->meta[0], cmp_meta);
    for (size_t k = 1; k < f->n_meta; k++)
        if (strcmp(f->meta[k - 1].key, f->meta[k].key) == 0)
            return byol__err(BYOL_E_FORMAT, "%s: __metadata__ has duplicate key '%s'",
                             f->label, f->meta[k].key);
    return BYOL_OK;
}

static int cmp_offsets(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    return strcmp(x->t.name, y->t.name);
}

/* The tensors, in offset order, must tile [0, data_len) exactly. */
static int check_layout(byol__st_file *f, uint64_t data_len)
{
    uint64_t cursor = 0;
    const st_entry *prev = NULL;
    qsort(f->by_name, f->n, sizeof f->by_name[0], cmp_offsets);
    for (size_t i = 0; i < f->n; i++) {
        const st_entry *e = f->by_name[i];
        if (e->begin < cursor)
            return byol__err(BYOL_E_FORMAT,
                             "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                             ") overlap tensor '%s' at [%" PRIu64 ", %" PRIu64 ")",
                             f->label, e->t.name, e->begin, e->end,
                             prev->t.name, prev->begin, prev->end);
        if (e->begin > cursor)
            return byol__err(BYOL_E_FORMAT,
                             "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                             ") leave bytes [%" PRIu64 ", %" PRIu64
                             ") of the data section unused",
                             f->label, e->t.name, e->begin, e->end, cursor, e->begin);
        cursor = e->end;
        prev = e;
    }
    if (cursor != data_len) {
        if (!prev)
            return byol__err(BYOL_E_FORMAT,
                             "%s: data section has %" PRIu64 " bytes but the header "
                             "lists no tensors", f->label, data_len);
        return byol__err(BYOL_E_FORMAT,
                         "%s: the file holds %" PRIu64 " bytes but its header declares %"
                         PRIu64 ": the last tensor, '%s', ends at %" PRIu64 " of the %" PRIu64
                         "-byte data section", f->label, f->len, 8 + f->hlen + cursor,
                         prev->t.name, cursor, data_len);
    }
    return BYOL_OK;
}

static int check_names(byol__st_file *f)
{
    qsort(f->by_name, f->n, sizeof f->by_name[0], cmp_names);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1]->t.name, f->by_name[i]->t.name) == 0)
            return byol__err(BYOL_E_FORMAT, "%s: duplicate tensor name '%s'",
                             f->label, f->by_name[i]->t.name);
    return BYOL_OK;
}

/* Walks the root object: tensors in header order plus one __metadata__. */
static int parse_root(byol__st_file *f, uint64_t data_len)
{
    const byol__json_node *root = &f->doc.nodes[0];
    int rc, seen_meta = 0;
    if (root->type != BYOL__JSON_OBJECT)
        return byol__err(BYOL_E_FORMAT, "%s: header is not a JSON object", f->label);
    f->entries = byol__calloc(root->count ? root->count : 1, sizeof f->entries[0]);
    f->by_name = byol__calloc(root->count ? root->count : 1, sizeof f->by_name[0]);
    if (!f->entries || !f->by_name)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for %zu tensor entries",
                         f->label, root->count);
    size_t j = 1;
    for (size_t k = 0; k < root->count; k++) {
        const byol__json_node *kn = &f->doc.nodes[j];
        if (key_is(kn, "__metadata__")) {
            if (seen_meta)
                return byol__err(BYOL_E_FORMAT, "%s: duplicate key '__metadata__'",
                                 f->label);
            seen_meta = 1;
            if ((rc = parse_metadata(f, j + 1)) != BYOL_OK)
                return rc;
        } else {
            st_entry *e = &f->entries[f->n];
            if ((rc = parse_tensor(f, kn, j + 1, data_len, e)) != BYOL_OK)
                return rc;
            f->by_name[f->n++] = e;
        }
        j = f->doc.nodes[j + 1].next;
    }
    if ((rc = check_layout(f, data_len)) != BYOL_OK)
        return rc;
    return check_names(f);
}

/* The header length against the limit and the file's size. */
static int check_hlen(const byol__st_file *f)
{
    if (f->hlen > ST_MAX_HEADER)
        return byol__err(BYOL_E_FORMAT,
                         "%s: header length %" PRIu64 " exceeds the %u-byte limit",
                         f->label, f->hlen, ST_MAX_HEADER);
    if (f->hlen > f->len - 8)
        return byol__err(BYOL_E_FORMAT,
                         "%s: header length %" PRIu64 " but only %" PRIu64 " bytes follow it",
                         f->label, f->hlen, f->len - 8);
    return BYOL_OK;
}

/* Parses and checks the header (f->hlen bytes at text) and builds the
 * index: everything but the tensors' data pointers. */
static int parse_header(byol__st_file *f, const char *text)
{
    byol__json_error jerr;
    int rc;
    if (f->hlen == 0 || text[0] != '{')
        return byol__err(BYOL_E_FORMAT, "%s: header does not start with '{'", f->label);
    rc = byol__json_parse(text, (size_t)f->hlen, ST_JSON_DEPTH, &f->doc, &jerr);
    if (rc == BYOL_E_NOMEM)
        return byol__err(rc, "%s: out of memory parsing the %" PRIu64 "-byte header",
                         f->label, f->hlen);
    if (rc != BYOL_OK && jerr.key_len > 0)
        return byol__err(rc, "%s: header is not valid JSON: %s at byte %zu of the header "
                         "(in entry '%.*s')", f->label, jerr.what, jerr.offset,
                         (int)(jerr.key_len < 200 ? jerr.key_len : 200),
                         text + jerr.key_offset);
    if (rc != BYOL_OK)
        return byol__err(rc, "%s: header is not valid JSON: %s at byte %zu of the header",
                         f->label, jerr.what, jerr.offset);
    return parse_root(f, f->len - 8 - f->hlen);
}

/* Points each tensor at its bytes: the file's bytes are at file. */
static void attach_data(byol__st_file *f, const unsigned char *file)
{
    for (size_t i = 0; i < f->n; i++)
        f->entries[i].t.data = file + 8 + f->hlen + f->entries[i].begin;
}

/* The 8-byte header length of a file of f->len bytes, whose first
 * min(8, f->len) bytes are at head. */
static int read_hlen(byol__st_file *f, const unsigned char *head)
{
    if (f->len < 8)
        return byol__err(BYOL_E_FORMAT,
                         "%s: %" PRIu64 " bytes is too short for a safetensors file "
                         "(the header length alone takes 8)", f->label, f->len);
    f->hlen = load_le64(head);
    return check_hlen(f);
}

/* A handle named label, for a file of len bytes, with nothing read yet. */
static int new_handle(const char *label, uint64_t len, byol__st_file **out)
{
    byol__st_file *f = byol__calloc(1, sizeof *f);
    if (!f)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for the file handle", label);
    f->len = len;
    f->label = byol__strdup(label);
    if (!f->label) {
        byol__st_close(f);
        return byol__err(BYOL_E_NOMEM, "%s: out of memory copying the file label", label);
    }
    *out = f;
    return BYOL_OK;
}

/* Reads the header of the file open at fd and checks it, then maps the
 * file; nothing past the header is read before the check passed. */
static int load_fd(byol__st_file *f, int fd)
{
    unsigned char head[8];
    char *text;
    int rc = byol__file_pread(fd, head, f->len < 8 ? (size_t)f->len : 8, 0, f->label);
    if (rc == BYOL_OK)
        rc = read_hlen(f, head);
    if (rc != BYOL_OK)
        return rc;
    if (!(text = byol__malloc((size_t)f->hlen + 1)))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for the %" PRIu64 "-byte header",
                         f->label, f->hlen);
    rc = byol__file_pread(fd, text, (size_t)f->hlen, 8, f->label);
    if (rc == BYOL_OK)
        rc = parse_header(f, text);
    byol__free(text);
    if (rc != BYOL_OK)
        return rc;
    if (f->len > SIZE_MAX)
        return byol__err(BYOL_E_NOMEM, "%s: %" PRIu64 " bytes do not fit in the address space",
                         f->label, f->len);
    /* Mapped, not read: only the pages of the tensors a caller copies
     * become resident (see safetensors.h). */
    f->map = mmap(NULL, (size_t)f->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return byol__err(BYOL_E_IO, "%s: cannot map its %" PRIu64 " bytes: %s", f->label,
                         f->len, strerror(errno));
    }
    attach_data(f, f->map);
    return BYOL_OK;
}

int byol__st_open(const char *path, byol__st_file **out)
{
    byol__st_file *f = NULL;
    uint64_t size;
    int fd, rc;
    if (!out || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol__st_open: path and out must be set");
    *out = NULL;
    if ((rc = byol__file_open_read(path, &fd, &size)) != BYOL_OK)
        return rc;
    rc = new_handle(path, size, &f);
    if (rc == BYOL_OK && (rc = load_fd(f, fd)) != BYOL_OK)
        byol__st_close(f);
    close(fd);
    if (rc == BYOL_OK)
        *out = f;
    return rc;
}

int byol__st_open_buffer(const void *buf, size_t len, const char *label,
                         byol__st_file **out)
{
    byol__st_file *f = NULL;
    int rc;
    if (!out || (!buf && len))
        return byol__err(BYOL_E_INVALID_ARG, "byol__st_open_buffer: buf and out must be set");
    *out = NULL;
    if (!label)
        label = "<memory>";
    if ((rc = new_handle(label, len, &f)) != BYOL_OK)
        return rc;
    if (!(f->buf = byol__malloc(len ? len : 1)))
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory copying %zu bytes", label, len);
    else if (len)
        memcpy(f->buf, buf, len);
    if (rc == BYOL_OK)
        rc = read_hlen(f, f->buf);
    if (rc == BYOL_OK)
        rc = parse_header(f, (const char *)f->buf + 8);
    if (rc != BYOL_OK) {
        byol__st_close(f);
        return rc;
    }
    attach_data(f, f->buf);
    *out = f;
    return BYOL_OK;
}

void byol__st_close(byol__st_file *f)
{
    if (!f)
        return;
    byol__json_free(&f->doc);
    byol__free(f->meta);
    byol__free(f->by_name);
    byol__free(f->entries);
    byol__free(f->buf);
    if (f->map)
        munmap(f->map, (size_t)f->len);
    byol__free(f->label);
    byol__free(f);
}

const char *byol__st_label(const byol__st_file *f) { return f ? f->label : ""; }

uint64_t byol__st_size(const byol__st_file *f) { return f ? f->len : 0; }

size_t byol__st_count(const byol__st_file *f) { return f ? f->n : 0; }

const byol__st_tensor *byol__st_get(const byol__st_file *f, size_t i)
{
    return f && i < f->n ? &f->entries[i].t : NULL;
}

/* bsearch comparators: a name against an entry of by_name or of meta. */
static int find_name(const void *name, const void *elem)
{
    return strcmp(name, (*(st_entry *const *)elem)->t.name);
}

static int find_key(const void *key, const void *elem)
{
    return strcmp(key, ((const st_meta *)elem)->key);
}

const byol__st_tensor *byol__st_find(const byol__st_file *f, const char *name)
{
    if (!f || !name || f->n == 0)
        return NULL;
    st_entry *const *e = bsearch(name, f->by_name, f->n, sizeof *f->by_name, find_name);
    return e ? &(*e)->t : NULL;
}

const char *byol__st_meta(const byol__st_file *f, const char *key)
{
    if (!f || !key || f->n_meta == 0)
        return NULL;
    const st_meta *m = bsearch(key, f->meta, f->n_meta, sizeof *f->meta, find_key);
    return m ? m->value : NULL;
}

size_t byol__st_meta_count(const byol__st_file *f) { return f ? f->n_meta : 0; }

int byol__st_meta_at(const byol__st_file *f, size_t i, const char **key,
                     const char **value)
{
    if (!f || i >= f->n_meta || !key || !value)
        return byol__err(BYOL_E_INVALID_ARG, "byol__st_meta_at: no entry %zu", i);
    *key = f->meta[i].key;
    *value = f->meta[i].value;
    return BYOL_OK;
}

/* ---- writing ------------------------------------------------------------ */

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts n strings in scratch and reports the first repeated one, or NULL. */
static const char *find_duplicate(const char **scratch, size_t n)
{
    qsort(scratch, n, sizeof scratch[0], cmp_cstr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(scratch[i - 1], scratch[i]) == 0)
            return scratch[i];
    return NULL;
}

static int check_tensor_arg(const char *path, const byol__st_tensor *t, size_t i,
                            uint64_t *total)
{
    char shape_text[ST_SHAPE_TEXT];
    uint64_t need;
    size_t elem = byol__st_dtype_size(t->dtype);
    if (!t->name || !byol__utf8_valid(t->name, strlen(t->name)))
        return byol__err(BYOL_E_INVALID_ARG, "%s: tensor %zu has no name or one "
                         "that is not UTF-8", path, i);
    if (strcmp(t->name, "__metadata__") == 0)
        return byol__err(BYOL_E_INVALID_ARG, "%s: tensor %zu: the name '__metadata__' "
                         "is reserved", path, i);
    if (elem == 0)
        return byol__err(BYOL_E_INVALID_ARG, "%s: tensor '%s': unknown dtype %d",
                         path, t->name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > BYOL__ST_MAX_DIMS)
        return byol__err(BYOL_E_INVALID_ARG, "%s: tensor '%s': ndim %d not in [0, %d]",
                         path, t->name, (int)t->ndim, BYOL__ST_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0)
            return byol__err(BYOL_E_INVALID_ARG, "%s: tensor '%s': shape[%d] is %" PRId64,
                             path, t->name, d, t->shape[d]);
    format_shape(shape_text, sizeof shape_text, t->shape, t->ndim);
    if (shape_bytes(t->shape, t->ndim, elem, &need) || need != t->nbytes)
        return byol__err(BYOL_E_INVALID_ARG, "%s: tensor '%s': nbytes %zu but shape %s %s "
                         "needs a different size", path, t->name, t->nbytes, shape_text,
                         byol__st_dtype_name(t->dtype));
    if (t->nbytes && !t->data)
        return byol__err(BYOL_E_INVALID_ARG, "%s: tensor '%s': data is NULL", path, t->name);
    if (*total > UINT64_MAX - need)
        return byol__err(BYOL_E_INVALID_ARG, "%s: tensors total more than 2^64 bytes", path);
    *total += need;
    return BYOL_OK;
}

/* Everything a caller could get wrong is refused before any file is
 * touched, so a bad argument never costs the previous file. */
static int check_write_args(const char *path, const byol__st_tensor *tensors, size_t n,
                            const char *const *meta, size_t n_meta)
{
    uint64_t total = 0;
    const char **scratch, *dup;
    int rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_tensor_arg(path, &tensors[i], i, &total)) != BYOL_OK)
            return rc;
    for (size_t i = 0; i < 2 * n_meta; i++)
        if (!meta[i] || !byol__utf8_valid(meta[i], strlen(meta[i])))
            return byol__err(BYOL_E_INVALID_ARG, "%s: metadata %s %zu is NULL or not UTF-8",
                             path, i % 2 ? "value" : "key", i / 2);
    scratch = byol__calloc((n > n_meta ? n : n_meta) + 1, sizeof scratch[0]);
    if (!scratch)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory checking names", path);
    for (size_t i = 0; i < n; i++)
        scratch[i] = tensors[i].name;
    if ((dup = find_duplicate(scratch, n)) != NULL) {
        rc = byol__err(BYOL_E_INVALID_ARG, "%s: duplicate tensor name '%s'", path, dup);
        byol__free(scratch);
        return rc;
    }
    for (size_t i = 0; i < n_meta; i++)
        scratch[i] = meta[2 * i];
    if ((dup = find_duplicate(scratch, n_meta)) != NULL) {
        rc = byol__err(BYOL_E_INVALID_ARG, "%s: duplicate metadata key '%s'", path, dup);
        byol__free(scratch);
        return rc;
    }
    byol__free(scratch);
    return BYOL_OK;
}

/* Header text builder; with p == NULL it only measures, so the same code
 * sizes the allocation and fills it. */
typedef struct hbuf {
    char *p;
    size_t len;
} hbuf;

static void put_raw(hbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->p)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_json(hbuf *b, const char *s)
{
    if (b->p)
        byol__json_put_string(b->p + b->len, s);
    b->len += byol__json_string_size(s);
}

static void put_u64(hbuf *b, uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    put_raw(b, tmp);
}

static void build_header(hbuf *b, const byol__st_tensor *tensors, size_t n,
                         const char *const *meta, size_t n_meta)
{
    uint64_t offset = 0;
    put_raw(b, "{");
    for (size_t i = 0; i < n; i++) {
        const byol__st_tensor *t = &tensors[i];
        if (i)
            put_raw(b, ",");
        put_json(b, t->name);
        put_raw(b, ":{\"dtype\":\"");
        put_raw(b, byol__st_dtype_name(t->dtype));
        put_raw(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d)
                put_raw(b, ",");
            put_u64(b, (uint64_t)t->shape[d]);
        }
        put_raw(b, "],\"data_offsets\":[");
        put_u64(b, offset);
        put_raw(b, ",");
        offset += t->nbytes;
        put_u64(b, offset);
        put_raw(b, "]}");
    }
    if (n_meta) {
        put_raw(b, n ? ",\"__metadata__\":{" : "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i)
                put_raw(b, ",");
            put_json(b, meta[2 * i]);
            put_raw(b, ":");
            put_json(b, meta[2 * i + 1]);
        }
        put_raw(b, "}");
    }
    put_raw(b, "}");
}

int byol__st_write(const char *path, const byol__st_tensor *tensors, size_t n,
                   const char *const *meta, size_t n_meta)
{
    hbuf b = { NULL, 0 };
    unsigned char *header;
    byol__chunk *chunks;
    size_t hlen;
    int rc;
    if (!path || !*path || (n && !tensors) || (n_meta && !meta))
        return byol__err(BYOL_E_INVALID_ARG,
                         "byol__st_write: path, tensors and meta must be set when used");
    if ((rc = check_write_args(path, tensors, n, meta, n_meta)) != BYOL_OK)
        return rc;
    build_header(&b, tensors, n, meta, n_meta);
    /* Spaces pad the header so the data section starts 8-byte aligned. */
    hlen = (b.len + 7) & ~(size_t)7;
    header = byol__malloc(8 + hlen);
    if (!header)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for a %zu-byte header", path, hlen);
    for (int i = 0; i < 8; i++)
        header[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    b.p = (char *)header + 8;
    b.len = 0;
    build_header(&b, tensors, n, meta, n_meta);
    memset(header + 8 + b.len, ' ', hlen - b.len);

    /* One chunk for the header, one per tensor's data. */
    chunks = byol__calloc(n + 1, sizeof *chunks);
    if (!chunks) {
        byol__free(header);
        return byol__err(BYOL_E_NOMEM, "%s: out of memory listing %zu tensors", path, n);
    }
    chunks[0] = (byol__chunk){ header, 8 + hlen };
    for (size_t i = 0; i < n; i++)
        chunks[i + 1] = (byol__chunk){ tensors[i].data, tensors[i].nbytes };
    rc = byol__file_write_atomic(path, chunks, n + 1);
    byol__free(chunks);
    byol__free(header);
    return rc;
}
