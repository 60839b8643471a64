/* Whole-file reads and atomic writes (see file.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/* What a file that is not regular is, for messages. */
static const char *kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    return S_ISBLK(mode) ? "a block device" : "a special file";
}

/* ---- reading ------------------------------------------------------------- */

int byol__file_pread(int fd, void *buf, size_t len, uint64_t offset, const char *path)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t want = len - done > FILE_IO_CHUNK ? FILE_IO_CHUNK : len - done;
        ssize_t r = pread(fd, p + done, want, (off_t)(offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return byol__err(BYOL_E_IO, "%s: read failed: %s", path, strerror(errno));
        if (r == 0)
            return byol__err(BYOL_E_IO, "%s: read failed: the file shrank while it was read",
                             path);
        done += (size_t)r;
    }
    return BYOL_OK;
}

int byol__file_open_read(const char *path, int *fd, uint64_t *size)
{
    struct stat st;
    int e;
    /* O_NONBLOCK: open() of a FIFO without a writer, or of some devices,
     * waits forever; the file is refused below before anything is read. */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0) {
        e = errno;
        /* a socket cannot be opened at all (ENXIO): say what it is */
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return byol__err(BYOL_E_IO, "%s: is %s, not a regular file", path,
                             kind(st.st_mode));
        return byol__err(BYOL_E_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (fstat(*fd, &st) != 0) {
        e = errno;
        close(*fd);
        return byol__err(BYOL_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        return byol__err(BYOL_E_IO, "%s: is %s, not a regular file", path, kind(st.st_mode));
    }
    /* A regular file's reads never wait anyway; the flag goes so that no
     * file system (FUSE passes it on) sees it. */
    int flags = fcntl(*fd, F_GETFL);
    if (flags >= 0)
        fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = (uint64_t)st.st_size;
    return BYOL_OK;
}

int byol__file_read(const char *path, unsigned char **buf, size_t *len)
{
    uint64_t size;
    int fd, rc = byol__file_open_read(path, &fd, &size);
    if (rc != BYOL_OK)
        return rc;
    /* Sized before allocating: a file larger than the address space never
     * reaches the allocator. */
    if (size > SIZE_MAX - 1) {
        close(fd);
        return byol__err(BYOL_E_NOMEM, "%s: %llu bytes do not fit in memory", path,
                         (unsigned long long)size);
    }
    *len = (size_t)size;
    *buf = byol__malloc(*len + 1);
    if (!*buf) {
        close(fd);
        return byol__err(BYOL_E_NOMEM, "%s: out of memory reading %zu bytes", path, *len);
    }
    rc = byol__file_pread(fd, *buf, *len, 0, path);
    close(fd);
    if (rc != BYOL_OK) {
        byol__free(*buf);
        *buf = NULL;
        return rc;
    }
    (*buf)[*len] = '\0';
    return BYOL_OK;
}

/* ---- what a save writes to ----------------------------------------------- */

static int refuse(const char *path, mode_t mode)
{
    return byol__err(BYOL_E_IO, "%s: is %s; a save replaces only a regular file", path,
                     kind(mode));
}

/* A dangling link: the message says where it leads and why that is refused. */
static int refuse_dangling(const char *path)
{
    char to[512];
    ssize_t n = readlink(path, to, sizeof to - 1);
    to[n > 0 ? n : 0] = '\0';
    return byol__err(BYOL_E_IO, "%s: is a symbolic link to '%s', which does not exist; a save "
                     "follows a link only to an existing regular file (it would otherwise "
                     "create a file where the link happens to point)", path, to);
}

/* The file a symbolic link leads to, which must exist and be regular. */
static int follow_link(const char *path, char **target)
{
    struct stat st;
    char *real = realpath(path, NULL);   /* libc's malloc: copied, then freed */
    int rc;
    if (!real && errno == ENOENT)
        return refuse_dangling(path);
    if (!real)
        return byol__err(BYOL_E_IO, "%s: cannot follow the symbolic link: %s", path,
                         strerror(errno));
    if (stat(real, &st) != 0)
        rc = byol__err(BYOL_E_IO, "%s: cannot stat %s, where the link leads: %s", path, real,
                       strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = byol__err(BYOL_E_IO, "%s: is a symbolic link to %s, which is %s; a save "
                       "replaces only a regular file", path, real, kind(st.st_mode));
    else if (!(*target = byol__strdup(real)))
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory for the link's target", path);
    else
        rc = BYOL_OK;
    free(real);
    return rc;
}

/* Where a save of path goes (a fresh string in *target): path itself when
 * nothing or a regular file is there, the file a symbolic link leads to,
 * else a refusal. */
static int save_target(const char *path, char **target)
{
    struct stat st;
    int exists = lstat(path, &st) == 0;
    *target = NULL;
    if (exists && S_ISLNK(st.st_mode))
        return follow_link(path, target);
    if (exists && !S_ISREG(st.st_mode))
        return refuse(path, st.st_mode);
    /* a missing file is created; a missing folder fails there, named */
    if (!(*target = byol__strdup(path)))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for the path", path);
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

/* The whole-file write lock a writer holds on its temporary file, which
 * tells a live writer from a dead one's leftover (see is_stale). */
static struct flock whole_file(short type)
{
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = type;
    l.l_whence = SEEK_SET;
    return l;
}

/* Creates the temporary file "<target>.tmp.<pid>.<serial>" (its name into
 * tmp, cap bytes) and takes its write lock. O_EXCL: whatever already has a
 * name (a FIFO, a hard link to some other file, a leftover of a dead writer
 * whose pid this process now has) is never opened; the next serial is
 * tried. Returns the descriptor, or -1 with errno set. */
static int create_tmp(const char *target, char *tmp, size_t cap)
{
    struct flock lock = whole_file(F_WRLCK);
    for (int tries = 0; tries < 1000; tries++) {
        snprintf(tmp, cap, "%s.tmp.%ld.%lu", target, (long)getpid(),
                 (unsigned long)atomic_fetch_add(&tmp_serial, 1));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) {
            /* Where the file system has no locks, the pid alone guards it. */
            (void)fcntl(fd, F_SETLK, &lock);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* Writes the chunks to fd and syncs it: 0, or -1 with errno set and *step
 * naming what failed. */
static int write_chunks(int fd, const byol__chunk *chunks, size_t n, const char **step)
{
    *step = "write";
    for (size_t i = 0; i < n; i++)
        if (write_all(fd, chunks[i].data, chunks[i].len) != 0)
            return -1;
    *step = "fsync";
    return fsync(fd);
}

/* The folder of path, into buf (which has room for path). */
static void folder_of(const char *path, char *buf)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(buf, ".");
    else if (slash == path)
        strcpy(buf, "/");
    else {
        memcpy(buf, path, (size_t)(slash - path));
        buf[slash - path] = '\0';
    }
}

/* Makes the rename durable. buf has room for path; it receives the folder. */
static int sync_folder(const char *path, char *buf)
{
    int fd, rc;
    folder_of(path, buf);
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

/* tmp has cap bytes, room for path and a suffix. */
static int save_atomically(const char *path, char *tmp, size_t cap, const byol__chunk *chunks,
                           size_t n)
{
    const char *step = "create";
    int fd = create_tmp(path, tmp, cap), e;
    if (fd < 0 || write_chunks(fd, chunks, n, &step) != 0) {
        e = errno;
        if (fd >= 0) {
            unlink(tmp);
            close(fd);
        }
        return byol__err(BYOL_E_IO, "%s: cannot save (%s of temporary file %s failed): %s",
                         path, step, tmp, strerror(e));
    }
    /* Closed only after the rename, so the write lock covers the file for
     * as long as it has its temporary name: a cleaner never finds it
     * unlocked. (The data is synced, so closing can report nothing new.) */
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        close(fd);
        return byol__err(BYOL_E_IO, "%s: cannot save (rename from %s failed): %s",
                         path, tmp, strerror(e));
    }
    close(fd);
    if (sync_folder(path, tmp) != 0)
        return byol__err(BYOL_E_IO, "%s: saved, but syncing its folder %s failed, so "
                         "the save may not survive a crash: %s", path, tmp,
                         strerror(errno));
    return BYOL_OK;
}

/* ---- leftovers of dead writers ------------------------------------------- */

/* Skips 1 to max decimal digits at *p, the first not 0 unless alone (as
 * printf writes them); returns their value (its first 18 digits: a
 * serial's value is never used, and 18 digits cannot overflow), or -1. */
static long long digits(const char **p, int max)
{
    long long v = 0;
    int n = 0;
    if (**p == '0' && (*p)[1] >= '0' && (*p)[1] <= '9')
        return -1;
    while (**p >= '0' && **p <= '9' && n < max) {
        if (n < 18)
            v = 10 * v + (**p - '0');
        ++*p;
        n++;
    }
    return n > 0 && !(**p >= '0' && **p <= '9') ? v : -1;
}

/* The pid in "<base>.tmp.<pid>.<serial>" (this library's temporary names)
 * or "<base>.tmp.<pid>" (those of byol 1.2's command); 0 for any other name. */
static long long temp_owner(const char *name, const char *base)
{
    size_t n = strlen(base);
    long long pid;
    if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0)
        return 0;
    name += n + 5;
    pid = digits(&name, 9);
    if (pid > 0 && *name == '.') {
        name++;
        if (digits(&name, 20) < 0)
            return 0;
    }
    return pid > 0 && *name == '\0' ? pid : 0;
}

/* A leftover: a regular file whose writer is no process of this system
 * and holds no lock on it (a writer in another pid namespace sharing the
 * folder has a pid this system does not know, but holds its lock). */
static int is_stale(int dir, const char *name, long long pid)
{
    struct stat st;
    struct flock probe = whole_file(F_WRLCK);
    int fd, stale;
    if (pid == (long long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
        return 0;
    fd = openat(dir, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    stale = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (fcntl(fd, F_GETLK, &probe) != 0 || probe.l_type == F_UNLCK);
    close(fd);
    return stale;
}

/* After a successful save of target: removes the temporary files of
 * target that dead writers left (a crash, kill -9). Best effort: the save
 * has succeeded whatever happens here. buf has room for target. */
static void remove_stale_temps(const char *target, char *buf)
{
    const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
    struct dirent *de;
    DIR *d;
    folder_of(target, buf);
    if (!(d = opendir(buf)))
        return;
    while ((de = readdir(d)) != NULL) {
        long long pid = temp_owner(de->d_name, base);
        if (pid > 0 && is_stale(dirfd(d), de->d_name, pid))
            (void)unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

int byol__file_write_atomic(const char *path, const byol__chunk *chunks, size_t n)
{
    char *target, *tmp;
    size_t cap;
    int rc = save_target(path, &target);
    if (rc != BYOL_OK)
        return rc;
    cap = strlen(target) + 64;
    if (!(tmp = byol__malloc(cap))) {
        byol__free(target);
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for the temporary name", path);
    }
    rc = save_atomically(target, tmp, cap, chunks, n);
    if (rc == BYOL_OK)
        remove_stale_temps(target, tmp);
    byol__free(tmp);
    byol__free(target);
    return rc;
}
