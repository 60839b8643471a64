/* The run directory of `byol pretrain` (--out DIR): one writer at a time
 * (a lock on DIR/byol.lock), and a fresh start that never leaves an earlier
 * run's files beside the new run's (cli_rundir_clear). Also the check that
 * every file the command opens itself, not through the library, goes
 * through (cli_open_regular). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define LOCK_FILE "byol.lock"

/* The files a run writes into DIR, in the order a fresh start removes
 * them: the checkpoint first, so that from the first removal on, nothing
 * can resume the old run, and the files left are those of a run that has
 * no checkpoint (as one killed before its first checkpoint leaves). */
static const char *const run_files[] = { "checkpoint.safetensors", "plot.svg", "metrics.jsonl",
                                         "preview.png", "config.txt" };
#define RUN_FILES ((int)(sizeof run_files / sizeof run_files[0]))

static const char *kind(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket"
         : S_ISLNK(m) ? "a symbolic link" : "a special file";
}

static int not_regular(const char *path, mode_t m, const char *why)
{
    return cli_error(BYOL_E_IO, "%s: is %s, not a regular file%s", path, kind(m), why);
}

int cli_open_regular(const char *path, int flags, int *fd)
{
    struct stat st;
    /* O_NONBLOCK: opening a FIFO returns at once instead of waiting for
     * its other end (or fails, ENXIO), and is refused below. */
    *fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, 0666);
    if (*fd < 0) {
        int e = errno;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            return not_regular(path, st.st_mode, "");
        return cli_error(BYOL_E_IO, "%s: cannot open: %s", path, strerror(e));
    }
    int rc = BYOL_OK;
    if (fstat(*fd, &st) != 0)
        rc = cli_error(BYOL_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = not_regular(path, st.st_mode, "");
    else if (fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK) != 0)
        rc = cli_error(BYOL_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (rc != BYOL_OK) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

int cli_fopen(const char *path, int flags, FILE **f)
{
    int fd;
    const char *mode = (flags & O_ACCMODE) == O_RDONLY ? "r" : flags & O_APPEND ? "a" : "w";
    int rc = cli_open_regular(path, flags, &fd);
    if (rc == BYOL_OK && !(*f = fdopen(fd, mode))) {
        close(fd);
        rc = cli_error(BYOL_E_NOMEM, "%s: out of memory", path);
    }
    return rc;
}

int cli_out_path(char *buf, size_t len, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
        return cli_error(CLI_USAGE, "--out '%s': path too long", dir);
    return BYOL_OK;
}

/* The lock is held: who holds it, from what the holder wrote into the file. */
static int busy(const char *dir, int fd)
{
    char who[256];
    ssize_t n = pread(fd, who, sizeof who - 1, 0);
    who[n > 0 ? n : 0] = '\0';
    who[strcspn(who, "\n")] = '\0';
    return cli_error(BYOL_E_IO, "%s is in use by %s (it holds a lock on %s/" LOCK_FILE "); wait "
                     "for it to end, or choose another --out", dir,
                     *who ? who : "another process", dir);
}

/* Says who holds the lock, for the message of a second writer. */
static int write_holder(const char *path, int fd)
{
    char who[512], host[256] = "";
    gethostname(host, sizeof host - 1);
    int n = snprintf(who, sizeof who, "byol %s, pid %ld on host %s\n", cli_cmd, (long)getpid(),
                     *host ? host : "?");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)n, 0) != n)
        return cli_error(BYOL_E_IO, "%s: cannot write: %s", path, strerror(errno));
    return BYOL_OK;
}

int cli_rundir_lock(const char *dir, int *fd)
{
    char path[4096];
    *fd = -1;
    int rc = cli_out_path(path, sizeof path, dir, LOCK_FILE);
    if (rc == BYOL_OK)
        rc = cli_open_regular(path, O_RDWR | O_CREAT, fd);
    if (rc == BYOL_OK && flock(*fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? busy(dir, *fd)
                                  : cli_error(BYOL_E_IO, "%s: cannot lock: %s", path,
                                              strerror(errno));
    if (rc == BYOL_OK)
        rc = write_holder(path, *fd);
    if (rc != BYOL_OK && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

/* Makes the removals durable before the new run writes its first file. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = fd < 0 ? -1 : fsync(fd);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0 && e != EINVAL) /* EINVAL: a file system that cannot sync a folder */
        return cli_error(BYOL_E_IO, "%s: cannot sync: %s", dir, strerror(e));
    return BYOL_OK;
}

int cli_rundir_clear(const char *dir)
{
    char path[RUN_FILES][4096];
    struct stat st;
    /* All checked before any is removed: a refusal changes nothing. */
    for (int i = 0; i < RUN_FILES; i++) {
        int rc = cli_out_path(path[i], sizeof path[i], dir, run_files[i]);
        if (rc != BYOL_OK)
            return rc;
        if (lstat(path[i], &st) == 0 && !S_ISREG(st.st_mode))
            return not_regular(path[i], st.st_mode, ": a new run removes only the files a run "
                               "wrote; move it away or choose another --out");
    }
    for (int i = 0; i < RUN_FILES; i++)
        if (unlink(path[i]) != 0 && errno != ENOENT)
            return cli_error(BYOL_E_IO, "%s: cannot remove: %s", path[i], strerror(errno));
    return sync_dir(dir);
}
