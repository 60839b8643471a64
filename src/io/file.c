/* Whole-file reads and atomic writes (see file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/internal.h"
#include "file.h"

/* read() and write() on Linux move at most about 2 GB per call; stay below. */
#define FILE_IO_CHUNK ((size_t)1 << 30)

/* Makes temporary names unique between threads of one process too. */
static atomic_ulong tmp_serial;

/* ---- reading ------------------------------------------------------------- */

static int read_all(int fd, unsigned char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = read(fd, buf + done, len - done > FILE_IO_CHUNK ? FILE_IO_CHUNK
                                                                    : len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = EIO;  /* the file shrank between fstat and read */
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* Opens path and checks that it is a regular file that fits in memory:
 * BYOL_OK with *fd and *len set, or the error recorded. */
static int open_regular(const char *path, int *fd, size_t *len)
{
    struct stat st;
    int e;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return byol__err(BYOL_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(*fd, &st) != 0) {
        e = errno;
        close(*fd);
        return byol__err(BYOL_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        return byol__err(BYOL_E_IO, "%s: not a regular file%s", path,
                         S_ISDIR(st.st_mode) ? " (a folder)" : "");
    }
    /* Sized before allocating: a file larger than the address space never
     * reaches the allocator. */
    if ((unsigned long long)st.st_size > SIZE_MAX - 1) {
        close(*fd);
        return byol__err(BYOL_E_NOMEM, "%s: %lld bytes do not fit in memory", path,
                         (long long)st.st_size);
    }
    *len = (size_t)st.st_size;
    return BYOL_OK;
}

int byol__file_read(const char *path, unsigned char **buf, size_t *len)
{
    int fd, rc = open_regular(path, &fd, len);
    if (rc != BYOL_OK)
        return rc;
    *buf = byol__malloc(*len + 1);
    if (!*buf) {
        close(fd);
        return byol__err(BYOL_E_NOMEM, "%s: out of memory reading %zu bytes", path, *len);
    }
    if (read_all(fd, *buf, *len) != 0) {
        int e = errno;
        close(fd);
        byol__free(*buf);
        *buf = NULL;
        return byol__err(BYOL_E_IO, "%s: read failed: %s", path, strerror(e));
    }
    close(fd);
    (*buf)[*len] = '\0';
    return BYOL_OK;
}

/* ---- atomic writing ------------------------------------------------------ */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len > FILE_IO_CHUNK ? FILE_IO_CHUNK : len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes the chunks to tmp and syncs it. Returns 0, or -1 with errno set
 * and *step naming what failed; the descriptor is always closed. */
static int write_tmp(const char *tmp, const byol__chunk *chunks, size_t n, const char **step)
{
    int fd, e;
    *step = "create";
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    *step = "write";
    for (size_t i = 0; i < n; i++)
        if (write_all(fd, chunks[i].data, chunks[i].len) != 0)
            goto fail;
    *step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    *step = "close";
    return close(fd) == 0 ? 0 : -1;
fail:
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

/* Makes the rename durable. buf has room for path; it receives the folder. */
static int sync_folder(const char *path, char *buf)
{
    const char *slash = strrchr(path, '/');
    int fd, rc;
    if (!slash)
        strcpy(buf, ".");
    else if (slash == path)
        strcpy(buf, "/");
    else {
        memcpy(buf, path, (size_t)(slash - path));
        buf[slash - path] = '\0';
    }
    fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    /* Some file systems cannot sync a folder and say EINVAL: nothing more
     * can be done there, and the data itself is already synced. */
    if (rc != 0 && errno == EINVAL)
        rc = 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int save_atomically(const char *path, char *tmp, const byol__chunk *chunks, size_t n)
{
    const char *step;
    int e;
    if (write_tmp(tmp, chunks, n, &step) != 0) {
        e = errno;
        if (strcmp(step, "create") != 0)
            unlink(tmp);
        return byol__err(BYOL_E_IO, "%s: cannot save (%s of temporary file %s failed): %s",
                         path, step, tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return byol__err(BYOL_E_IO, "%s: cannot save (rename from %s failed): %s",
                         path, tmp, strerror(e));
    }
    if (sync_folder(path, tmp) != 0)
        return byol__err(BYOL_E_IO, "%s: saved, but syncing its folder %s failed, so "
                         "the save may not survive a crash: %s", path, tmp,
                         strerror(errno));
    return BYOL_OK;
}

int byol__file_write_atomic(const char *path, const byol__chunk *chunks, size_t n)
{
    size_t cap = strlen(path) + 64;
    char *tmp = byol__malloc(cap);
    int rc;
    if (!tmp)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for the temporary name", path);
    snprintf(tmp, cap, "%s.tmp.%ld.%lu", path, (long)getpid(),
             (unsigned long)atomic_fetch_add(&tmp_serial, 1));
    rc = save_atomically(path, tmp, chunks, n);
    byol__free(tmp);
    return rc;
}
