/* safetensors reading and writing (https://huggingface.co/docs/safetensors):
 * an 8-byte little-endian header length, a JSON header mapping each tensor
 * name to {dtype, shape, data_offsets}, an optional "__metadata__" object of
 * string values, then the raw little-endian data.
 *
 * The reader never trusts the file: header length within the file, valid
 * UTF-8/JSON, known dtype, shape product times dtype size equal to the
 * offset extent, offsets inside the data section, no overlaps, no duplicate
 * names. Every error names the file (its label) and the tensor or key.
 * The writer is atomic: it writes a temporary file in the same folder,
 * fsyncs it, renames it over the target and fsyncs the folder, so a failed
 * save leaves any previous file intact. */
#ifndef BYOL_IO_SAFETENSORS_H
#define BYOL_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

enum {
    BYOL__ST_F32 = 1,
    BYOL__ST_F64 = 2,
    BYOL__ST_I64 = 3,
    BYOL__ST_I32 = 4,
    BYOL__ST_U8 = 5
};
#define BYOL__ST_MAX_DIMS 8

/* The metadata "format" of a trainer checkpoint (written by
 * src/train/checkpoint.c). It lives here, beside the reader, so that io can
 * tell a checkpoint from a weight file without depending on the trainer.
 * A change of the checkpoint layout gets a new number after the prefix. */
#define BYOL__CHECKPOINT_FORMAT "libbyol-checkpoint-1"
#define BYOL__CHECKPOINT_PREFIX "libbyol-checkpoint-"

typedef struct byol__st_tensor {
    const char *name;
    int32_t dtype;                       /* BYOL__ST_* */
    int32_t ndim;
    int64_t shape[BYOL__ST_MAX_DIMS];
    const void *data;                    /* may be unaligned: read with memcpy */
    size_t nbytes;
} byol__st_tensor;

typedef struct byol__st_file byol__st_file;

/* Opens and validates a file. Its header is read and checked first,
 * including the sizes it declares against the file's size (fstat): a file
 * with bytes past its last tensor, or fewer than declared, is refused
 * before any tensor byte is read, so a file padded with gigabytes of junk
 * costs the time and memory of its header only. The file is then mapped
 * read-only (mmap, MAP_PRIVATE) rather than read: resident memory grows
 * only by the pages of the tensors a caller reads (a weight file given
 * tensors the net does not have, with BYOL_LOAD_IGNORE_UNEXPECTED, never
 * reads those). The tensors' data pointers point into the mapping until byol__st_close().
 * Caveat of the mapping: if another process truncates the file in place
 * while it is open, touching the missing pages raises SIGBUS, and bytes it
 * rewrites in place may show. libbyol's own saves never do either: they
 * write a new file and rename it over the old, whose mapping keeps the old
 * bytes.
 * Errors: BYOL_E_IO (cannot open/read/map, not a regular file),
 * BYOL_E_FORMAT (anything malformed), BYOL_E_NOMEM. */
int byol__st_open(const char *path, byol__st_file **out);
/* Same from memory (the bytes are copied); label names it in errors. */
int byol__st_open_buffer(const void *buf, size_t len, const char *label,
                         byol__st_file **out);
void byol__st_close(byol__st_file *f);
const char *byol__st_label(const byol__st_file *f);
/* Size of the file (or buffer) in bytes. */
uint64_t byol__st_size(const byol__st_file *f);
size_t byol__st_count(const byol__st_file *f);
const byol__st_tensor *byol__st_get(const byol__st_file *f, size_t i);
const byol__st_tensor *byol__st_find(const byol__st_file *f, const char *name);
/* __metadata__ value for key, or NULL. */
const char *byol__st_meta(const byol__st_file *f, const char *key);
/* Number of __metadata__ entries, and entry i (in strcmp order of keys):
 * BYOL_OK, or BYOL_E_INVALID_ARG if i is out of range. */
size_t byol__st_meta_count(const byol__st_file *f);
int byol__st_meta_at(const byol__st_file *f, size_t i, const char **key,
                     const char **value);

/* Writes n tensors (data is read through the pointers) and metadata given as
 * key/value string pairs (meta has 2*n_meta entries, may be NULL). Tensors
 * are written in the given order, data aligned to 8 bytes. Atomic. */
int byol__st_write(const char *path, const byol__st_tensor *tensors, size_t n,
                   const char *const *meta, size_t n_meta);
/* Element size of a dtype, 0 if unknown. */
size_t byol__st_dtype_size(int32_t dtype);
/* The safetensors name of a dtype ("F32", "I32", ...), "?" if unknown. */
const char *byol__st_dtype_name(int32_t dtype);

/* A growing list of entries to write; it owns names and counter values. */
typedef struct byol__st_list {
    byol__st_tensor *t;
    size_t n, cap;
} byol__st_list;

void byol__st_list_free(byol__st_list *l);
/* Appends an entry, copying name (and, for an I64 scalar, the value).
 * Errors: BYOL_E_NOMEM. */
int byol__st_list_add(byol__st_list *l, const char *name, int32_t dtype, int32_t ndim,
                      const int64_t *shape, const void *data, size_t nbytes);

#endif
