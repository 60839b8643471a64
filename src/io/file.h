/* Whole-file reads and atomic writes, shared by every module that touches
 * files (safetensors, images), so that they all report IO failures the same
 * way and all writes survive a crash or a failed save. */
#ifndef BYOL_IO_FILE_H
#define BYOL_IO_FILE_H

#include <stddef.h>

/* Reads the regular file at path into a fresh block (byol__malloc) of
 * *len + 1 bytes: the last is a NUL, not counted in *len, so that text can
 * be parsed in place (and an empty file still gives a block).
 * Errors: BYOL_E_IO (cannot open, not a regular file, read error; the
 * message names path and the system's reason), BYOL_E_NOMEM. */
int byol__file_read(const char *path, unsigned char **buf, size_t *len);

/* One piece of a file to write. */
typedef struct byol__chunk {
    const void *data;
    size_t len;
} byol__chunk;

/* Writes the n chunks, in order, as the file at path, atomically: a
 * temporary file in the same folder is written, fsynced and renamed over
 * path, then the folder is fsynced; on failure the temporary file is removed
 * and any previous file at path is left as it was.
 * Errors: BYOL_E_IO (names path, the step that failed and the system's
 * reason), BYOL_E_NOMEM. */
int byol__file_write_atomic(const char *path, const byol__chunk *chunks, size_t n);

#endif
