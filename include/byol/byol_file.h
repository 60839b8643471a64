/**
 * @file byol_file.h
 * @brief byol_file: what a safetensors file holds, and atomic file writes.
 *
 * Weight files and checkpoints are safetensors files (docs/checkpoints.md).
 * byol_net_load() and byol_trainer_load() read them into a net or trainer
 * of a known architecture; this header describes a file without one, and
 * writes files the way the library writes its own.
 *
 * Reading: byol_file_open() checks the file with the same strict reader
 * the loads use (header length, JSON syntax, dtypes,
 * shapes, every offset, no gaps or overlaps in the data section, no
 * duplicate names), so it refuses exactly the files those loads refuse
 * before they look at tensor names, with the same BYOL_E_FORMAT message
 * naming the file and what is wrong. A file it accepts is then described
 * by accessors:
 * - byol_file_kind(): a libbyol trainer checkpoint (#BYOL_FILE_CHECKPOINT,
 *   metadata "format" = "libbyol-checkpoint-1"), a checkpoint of a layout
 *   this library cannot read (#BYOL_FILE_CHECKPOINT_OTHER) or a plain
 *   tensor file (#BYOL_FILE_TENSORS: weights, a torchvision state_dict,
 *   embeddings);
 * - byol_file_tensor_count(), byol_file_tensor_info() and
 *   byol_file_tensor_find(): each tensor's name, dtype, shape and bytes, in
 *   the order of the file's header;
 * - byol_file_metadata_count(), byol_file_metadata_entry() and
 *   byol_file_metadata_find(): the "__metadata__" strings (a checkpoint's
 *   "step", "total_steps", "libbyol_version" and "config").
 * Everything these return is borrowed from the handle: valid until
 * byol_file_close().
 *
 * Writing: byol_file_write_safetensors() writes tensors of any supported
 * dtype and metadata as a safetensors file, and byol_file_write_atomic()
 * writes any bytes. Both write as byol_net_save() does: a temporary file
 * beside the target, synced, renamed over it, then the folder synced, so a
 * failed or interrupted write leaves any previous file intact; see
 * byol_file_write_atomic() for what a save does to what is at its path.
 *
 * A byol_file is used by one thread at a time. It maps the file read-only
 * (the tensors' bytes are read when first touched), so opening a large
 * file costs neither its size in memory nor the time to read it. Another
 * process that truncates or rewrites the file in place while it is open
 * can change what the handle shows or make touching a tensor raise
 * SIGBUS; libbyol's own saves replace a file by renaming a new one over
 * it, which an open handle never sees.
 *
 * Added in libbyol 1.3 (symbol node LIBBYOL_1.3), with byol_error_name().
 */
#ifndef BYOL_FILE_H
#define BYOL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "byol_common.h"

BYOL_BEGIN_DECL

/** Opaque handle on a safetensors file read into memory and checked. */
typedef struct byol_file byol_file;

/** @name Kinds of file (byol_file_kind())
 * @{ */
#define BYOL_FILE_TENSORS 1           /**< tensors only: weights, a state_dict, embeddings */
#define BYOL_FILE_CHECKPOINT 2        /**< a trainer checkpoint this library reads (byol_trainer_load()) */
#define BYOL_FILE_CHECKPOINT_OTHER 3  /**< metadata "format" names another libbyol checkpoint layout ("libbyol-checkpoint-N") */
/** @} */

/** @name Element types of tensors in files (the safetensors dtypes libbyol reads)
 * @{ */
#define BYOL_DTYPE_F32 1  /**< "F32": float, 4 bytes */
#define BYOL_DTYPE_F64 2  /**< "F64": double, 8 bytes */
#define BYOL_DTYPE_I64 3  /**< "I64": int64_t, 8 bytes */
#define BYOL_DTYPE_I32 4  /**< "I32": int32_t, 4 bytes */
#define BYOL_DTYPE_U8 5   /**< "U8": uint8_t, 1 byte */
/** @} */

/** Most dimensions a tensor of a file has. */
#define BYOL_FILE_MAX_DIMS 8

/**
 * One tensor of a file: filled by byol_file_tensor_info() when reading,
 * filled by the caller for byol_file_write_safetensors(). Set struct_size
 * to sizeof(byol_file_tensor) in both cases.
 */
typedef struct byol_file_tensor {
    uint32_t struct_size;  /**< set to sizeof(byol_file_tensor) */
    int32_t dtype;         /**< BYOL_DTYPE_* */
    /** The tensor's name, UTF-8. Read: borrowed from the file handle until
     *  byol_file_close(). Write: borrowed for the call. */
    const char *name;
    int32_t ndim;          /**< dimensions used in shape, 0 (a scalar) to BYOL_FILE_MAX_DIMS */
    int32_t reserved;      /**< 0 when read; ignored when writing */
    int64_t shape[BYOL_FILE_MAX_DIMS];  /**< sizes, outermost first; unused sizes 0 when read */
    int64_t numel;         /**< elements, the product of the sizes (1 for a scalar); ignored when writing */
    uint64_t nbytes;       /**< bytes of data: numel times the dtype's size */
    /** The tensor's bytes, little-endian, row-major. Read: borrowed from the
     *  file handle until byol_file_close(), and possibly unaligned (files
     *  written elsewhere may put a tensor at any offset): copy it out with
     *  memcpy before reading it as numbers. Write: nbytes bytes of caller
     *  memory, borrowed for the call (may be NULL when nbytes is 0). */
    const void *data;
} byol_file_tensor;

/* ------------------------------------------------------------------------ */
/** @name Reading
 * @{ */

/**
 * Opens the file at path and checks it whole with libbyol's safetensors
 * reader, the one byol_net_load() and byol_trainer_load() use: a file
 * refused here is refused by them with the same code and message, and a
 * file accepted here fails there only because its tensors or metadata do
 * not fit the net or trainer. Tensors must be of the dtypes above: a file
 * holding "F16" or "BF16" tensors is refused (BYOL_E_FORMAT, naming them).
 * The header and the sizes it declares are checked against the file's size
 * before any tensor byte is read: a file with bytes after its last tensor
 * is refused at once, whatever its size. A FIFO, a folder or a device is
 * refused without waiting (BYOL_E_IO, "is a FIFO").
 * @param path the file, borrowed for the call (its descriptor is closed;
 *        the handle keeps a read-only mapping until byol_file_close()).
 * @param out receives the handle, owned by the caller (byol_file_close());
 *        NULL on failure.
 * @return BYOL_OK; BYOL_E_IO (cannot open, read or map it, not a regular
 *         file; the message names the path and the reason); BYOL_E_FORMAT (malformed,
 *         truncated or not a safetensors file; the message names the file
 *         and the tensor, key or byte at fault); BYOL_E_NOMEM;
 *         BYOL_E_INVALID_ARG (path or out is NULL).
 */
BYOL_API int byol_file_open(const char *path, byol_file **out);

/**
 * Releases the handle and its mapping of the file; every pointer it handed out
 * (names, data, metadata) becomes invalid.
 * @param f the handle, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_file_close(byol_file *f);

/**
 * What the file is, from its metadata "format": "libbyol-checkpoint-1" is
 * a checkpoint this library reads; another "libbyol-checkpoint-..." one of
 * a layout it does not know; anything else (a weight file says "pt") or
 * none is a plain tensor file.
 * @param f the handle, borrowed for the call.
 * @return BYOL_FILE_TENSORS, BYOL_FILE_CHECKPOINT or
 *         BYOL_FILE_CHECKPOINT_OTHER; 0 when f is NULL. Sets no error.
 */
BYOL_API int32_t byol_file_kind(const byol_file *f);

/**
 * The size of the file in bytes, as byol_file_open() found it.
 * @param f the handle, borrowed for the call.
 * @return the size, 0 when f is NULL. Sets no error.
 */
BYOL_API int64_t byol_file_size(const byol_file *f);

/**
 * Counts the tensors of the file.
 * @param f the handle, borrowed for the call.
 * @return the count (0 for a file without tensors or when f is NULL).
 *         Sets no error.
 */
BYOL_API int64_t byol_file_tensor_count(const byol_file *f);

/**
 * Describes tensor `index` (0 .. byol_file_tensor_count()-1), in the order
 * of the file's header.
 * @param f the handle, borrowed for the call.
 * @param index the tensor's index.
 * @param info caller memory with struct_size set, filled on success; its
 *        name and data are borrowed from f until byol_file_close().
 * @return BYOL_OK, BYOL_E_RANGE (index out of range), BYOL_E_ABI
 *         (struct_size smaller than sizeof(byol_file_tensor) of 1.3),
 *         BYOL_E_INVALID_ARG (f or info is NULL).
 */
BYOL_API int byol_file_tensor_info(const byol_file *f, int64_t index, byol_file_tensor *info);

/**
 * Describes the tensor called `name`.
 * @param f the handle, borrowed for the call.
 * @param name the tensor's name, borrowed for the call.
 * @param info caller memory with struct_size set, filled on success as by
 *        byol_file_tensor_info() (borrowed from f until byol_file_close()).
 * @return BYOL_OK, BYOL_E_KEY (the file has no such tensor; the message
 *         names it and the file), BYOL_E_ABI (struct_size),
 *         BYOL_E_INVALID_ARG (a NULL argument).
 */
BYOL_API int byol_file_tensor_find(const byol_file *f, const char *name, byol_file_tensor *info);

/**
 * Counts the "__metadata__" entries.
 * @param f the handle, borrowed for the call.
 * @return the count (0 when the file has none or f is NULL). Sets no error.
 */
BYOL_API int64_t byol_file_metadata_count(const byol_file *f);

/**
 * Metadata entry `index` (0 .. byol_file_metadata_count()-1), in byte
 * order of the keys (strcmp).
 * @param f the handle, borrowed for the call.
 * @param index the entry's index.
 * @param key receives the key, borrowed from f until byol_file_close().
 * @param value receives the value (UTF-8, may be ""), borrowed from f until
 *        byol_file_close().
 * @return BYOL_OK, BYOL_E_RANGE (index out of range), BYOL_E_INVALID_ARG
 *         (a NULL argument).
 */
BYOL_API int byol_file_metadata_entry(const byol_file *f, int64_t index, const char **key,
                                      const char **value);

/**
 * The metadata value stored under `key`.
 * @param f the handle, borrowed for the call.
 * @param key the key, borrowed for the call.
 * @param value receives the value, borrowed from f until byol_file_close();
 *        NULL on failure.
 * @return BYOL_OK, BYOL_E_KEY (no such key; the message names it and the
 *         file), BYOL_E_INVALID_ARG (a NULL argument).
 */
BYOL_API int byol_file_metadata_find(const byol_file *f, const char *key, const char **value);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Writing
 * @{ */

/**
 * Writes tensors and metadata as a safetensors file that byol_file_open()
 * and other safetensors readers (Python's safetensors, PyTorch) read:
 * tensors in the given order, each tensor's data 8-byte aligned in the
 * file, the metadata as "__metadata__". Every argument is checked before
 * any file is touched. Atomic: a failure leaves any previous file intact.
 * @param path the file to create or replace, borrowed for the call.
 * @param tensors count tensors, borrowed for the call; every element has
 *        the same struct_size, which is also the step from one element to
 *        the next (sizeof(byol_file_tensor) of the caller's header). Each
 *        gives name (UTF-8, unique, not "__metadata__"), dtype, ndim,
 *        shape and nbytes (which must equal the shape's element count
 *        times the dtype's size) and data; numel is ignored. May be NULL
 *        when count is 0.
 * @param count the number of tensors, >= 0.
 * @param metadata 2 * n_metadata strings, borrowed for the call: key 0,
 *        value 0, key 1, value 1, ... (UTF-8, keys unique); may be NULL
 *        when n_metadata is 0.
 * @param n_metadata the number of key/value pairs, >= 0.
 * @return BYOL_OK; BYOL_E_INVALID_ARG (a NULL or empty path, a bad tensor
 *         or metadata entry; the message names it); BYOL_E_ABI (a
 *         struct_size too small, not a multiple of 8, more than 16 times
 *         this header's, or not the same in every element);
 *         BYOL_E_IO (names the path, the step that failed and the system's
 *         reason); BYOL_E_NOMEM.
 */
BYOL_API int byol_file_write_safetensors(const char *path, const byol_file_tensor *tensors,
                                         int64_t count, const char *const *metadata,
                                         int64_t n_metadata);

/**
 * Writes the concatenation of nparts byte ranges as the file at path,
 * atomically: a temporary file in the same folder is written, synced and
 * renamed over path, then the folder is synced; on failure the temporary
 * file is removed and any previous file at path is left as it was. Several
 * parts let a caller put a header before a large array without copying it.
 * Every writer of the library saves this way, so the following holds for
 * byol_net_save(), byol_trainer_save(), byol_file_write_safetensors() and
 * the PNG writers too:
 * - only a regular file is replaced: a directory, a FIFO, a socket or a
 *   device such as /dev/null at path is refused with BYOL_E_IO naming it,
 *   and nothing is created;
 * - a symbolic link is followed: the file it names (which must exist and
 *   be regular) is replaced atomically, its temporary file beside it, and
 *   the link stays a link; a dangling link is refused (BYOL_E_IO), since
 *   following it would create a file wherever it happens to point;
 * - the temporary file is named "<target>.tmp.<pid>.<n>"; after a
 *   successful save, those of the same target left by processes that no
 *   longer run (a crash, kill -9) are removed, never one of a live process.
 * @param path the file to create or replace, borrowed for the call.
 * @param parts nparts pointers to caller memory, borrowed for the call; a
 *        part may be NULL when its size is 0. May be NULL when nparts is 0
 *        (an empty file).
 * @param sizes nparts byte counts, borrowed for the call (may be NULL when
 *        nparts is 0).
 * @param nparts the number of parts, >= 0.
 * @return BYOL_OK; BYOL_E_IO (names the path, the step that failed and the
 *         system's reason: a missing or unwritable folder, a full disk; or
 *         what is at path: "is a FIFO", a dangling link);
 *         BYOL_E_INVALID_ARG (a NULL or empty path, a NULL part with a
 *         non-zero size, nparts < 0); BYOL_E_NOMEM.
 */
BYOL_API int byol_file_write_atomic(const char *path, const void *const *parts,
                                    const size_t *sizes, int64_t nparts);
/** @} */

BYOL_END_DECL

#endif
