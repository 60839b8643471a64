/* Whole-file reads and atomic writes, shared by every module that touches
 * files (safetensors, images, datasets), so that they all report IO
 * failures the same way, none waits forever on a FIFO, and all writes
 * survive a crash or a failed save. */
#ifndef BYOL_IO_FILE_H
#define BYOL_IO_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Opens path for reading and checks that it is a regular file: BYOL_OK
 * with *fd (close it) and *size, the size fstat gives. The open does not
 * block (O_NONBLOCK, dropped after the check), so a FIFO without a writer
 * or a device is refused at once instead of hanging.
 * Errors: BYOL_E_IO (cannot open; "is a FIFO", "is a directory", ...: not a
 * regular file; the message names path and the reason). */
int byol__file_open_read(const char *path, int *fd, uint64_t *size);

/* Reads len bytes at offset of fd, whatever the number of read calls it
 * takes. Errors: BYOL_E_IO naming path (a read error, or the file ended
 * first: it shrank while it was read). */
int byol__file_pread(int fd, void *buf, size_t len, uint64_t offset, const char *path);

/* Reads the regular file at path into a fresh block (byol__malloc) of
 * *len + 1 bytes: the last is a NUL, not counted in *len, so that text can
 * be parsed in place (and an empty file still gives a block).
 * Errors: those of byol__file_open_read and byol__file_pread, BYOL_E_NOMEM. */
int byol__file_read(const char *path, unsigned char **buf, size_t *len);

/* One piece of a file to write. */
typedef struct byol__chunk {
    const void *data;
    size_t len;
} byol__chunk;

/* Writes the n chunks, in order, as the file at path, atomically: a
 * temporary file "<target>.tmp.<pid>.<serial>" in the same folder is
 * written (under a write lock, fcntl), fsynced and renamed over the
 * target, then the folder is fsynced; on failure the temporary file is
 * removed and any previous file is left as it was.
 *
 * What is at path decides the target, before any file is created:
 * - nothing, or a regular file: path itself;
 * - a symbolic link to an existing regular file: that file (fully
 *   resolved), so the link stays a link and the file it names is
 *   replaced atomically, its temporary file beside it;
 * - a dangling symbolic link: refused; following it would create a file
 *   wherever the link happens to point (a folder not mounted, a name
 *   another user planted), which the caller never asked for;
 * - anything else (a directory, a FIFO, a socket, a device such as
 *   /dev/null): refused; renaming over it would replace the device node
 *   or FIFO with a regular file (or fail after writing).
 * The check is made just before the temporary file is created: another
 * process that puts something else at path in between loses it.
 *
 * After a successful save, the temporary files of the same target that
 * dead writers left ("<target>.tmp.<pid>.<serial>", and byol 1.2's
 * "<target>.tmp.<pid>") are removed: those whose pid is no live process
 * (kill(pid, 0) fails with ESRCH) and whose write lock nobody holds. A
 * temporary file of this process or of any live process is never touched,
 * nor one a writer of another pid namespace is writing (its pid means
 * nothing here, but it holds the lock from the moment it creates the file
 * until it has renamed it). Failures there are ignored: the save has
 * succeeded. The temporary file is created with O_EXCL: a name already
 * taken (a FIFO, a hard link to another file) is skipped, never opened.
 * Errors: BYOL_E_IO (names path, the step that failed and the system's
 * reason, or what is at path), BYOL_E_NOMEM. */
int byol__file_write_atomic(const char *path, const byol__chunk *chunks, size_t n);

#endif
