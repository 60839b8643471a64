/* Plain or gzip-compressed files (see zfile.h), with zlib's inflate. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/internal.h"
#include "io/file.h"
#include "zfile.h"

#define ZF_BUFFER ((size_t)1 << 17)

struct byol__zfile {
    const char *path;
    int fd;
    uint64_t size;             /* of the file, from fstat */
    uint64_t taken;            /* bytes read from fd so far */
    int eof;                   /* read() has said the file ends */
    int gzip;                  /* the file starts with the gzip magic */
    int in_member;             /* gzip: inflating a member */
    z_stream zs;               /* next_in/avail_in: the unused bytes of in */
    unsigned char in[ZF_BUFFER];
};

/* Moves the unused input to the front of in and reads more behind it. */
static int fill(byol__zfile *z)
{
    size_t keep = z->zs.avail_in;
    ssize_t r;
    if (keep)
        memmove(z->in, z->zs.next_in, keep);
    do
        r = read(z->fd, z->in + keep, ZF_BUFFER - keep);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return byol__err(BYOL_E_IO, "%s: read failed: %s", z->path, strerror(errno));
    z->eof = r == 0;
    z->taken += (uint64_t)r;
    z->zs.next_in = z->in;
    z->zs.avail_in = (uInt)(keep + (size_t)r);
    return BYOL_OK;
}

/* Fills until at least n unused bytes are in, or the file ends. */
static int need(byol__zfile *z, size_t n)
{
    int rc = BYOL_OK;
    while (rc == BYOL_OK && z->zs.avail_in < n && !z->eof)
        rc = fill(z);
    return rc;
}

static int is_magic(const byol__zfile *z)
{
    return z->zs.avail_in >= 2 && z->zs.next_in[0] == 0x1f && z->zs.next_in[1] == 0x8b;
}

int byol__zfile_open(const char *path, byol__zfile **out)
{
    byol__zfile *z = byol__calloc(1, sizeof *z);
    int rc;
    *out = NULL;
    if (!z)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory opening it", path);
    z->path = path;
    if ((rc = byol__file_open_read(path, &z->fd, &z->size)) != BYOL_OK) {
        byol__free(z);
        return rc;
    }
    if ((rc = need(z, 2)) == BYOL_OK && (z->gzip = is_magic(z)) &&
        inflateInit2(&z->zs, 15 + 16) != Z_OK)  /* 16: gzip wrapper only */
        rc = byol__err(BYOL_E_NOMEM, "%s: zlib ran out of memory", path);
    if (rc != BYOL_OK) {
        z->gzip = 0;
        byol__zfile_close(z);
        return rc;
    }
    *out = z;
    return BYOL_OK;
}

/* Between members: the end of the file, or the magic of the next member. */
static int next_member(byol__zfile *z)
{
    int rc = need(z, 2);
    if (rc != BYOL_OK || z->zs.avail_in == 0)
        return rc;
    if (!is_magic(z)) {
        uint64_t at = z->taken - z->zs.avail_in;
        return byol__err(BYOL_E_FORMAT, "%s: trailing data after the gzip stream: bytes %llu "
                         "to %llu are not a gzip member", z->path, (unsigned long long)at,
                         (unsigned long long)z->size);
    }
    z->in_member = 1;
    return inflateReset(&z->zs) == Z_OK ? BYOL_OK
                                        : byol__err(BYOL_E_FORMAT, "%s: zlib refused a reset",
                                                    z->path);
}

/* Inflates into out (at most len bytes) from the input at hand. */
static int inflate_some(byol__zfile *z, unsigned char *out, size_t len, size_t *made)
{
    int ret;
    z->zs.next_out = out;
    z->zs.avail_out = (uInt)(len < UINT_MAX ? len : UINT_MAX);
    ret = inflate(&z->zs, Z_NO_FLUSH);
    *made = (size_t)(z->zs.next_out - out);
    if (ret == Z_STREAM_END)
        z->in_member = 0;
    else if (ret == Z_MEM_ERROR)
        return byol__err(BYOL_E_NOMEM, "%s: zlib ran out of memory", z->path);
    else if (ret == Z_BUF_ERROR && z->zs.avail_in == 0 && z->eof)
        return byol__err(BYOL_E_FORMAT, "%s: corrupt gzip data: the file ends inside a gzip "
                         "member (cut short?)", z->path);
    else if (ret != Z_OK && ret != Z_BUF_ERROR)
        return byol__err(BYOL_E_FORMAT, "%s: corrupt gzip data: %s", z->path,
                         z->zs.msg ? z->zs.msg : "inflate failed");
    return BYOL_OK;
}

int byol__zfile_read(byol__zfile *z, void *buf, size_t len, size_t *got)
{
    unsigned char *out = buf;
    int rc = BYOL_OK;
    *got = 0;
    while (rc == BYOL_OK && *got < len) {
        size_t made = 0;
        if (z->zs.avail_in == 0 && !z->eof && (rc = fill(z)) != BYOL_OK)
            break;
        if (!z->gzip && z->zs.avail_in == 0)
            break;
        if (!z->gzip) {
            made = len - *got < z->zs.avail_in ? len - *got : z->zs.avail_in;
            memcpy(out + *got, z->zs.next_in, made);
            z->zs.next_in += made;
            z->zs.avail_in -= (uInt)made;
        } else if (!z->in_member && ((rc = next_member(z)) != BYOL_OK || !z->in_member)) {
            break;
        } else {
            rc = inflate_some(z, out + *got, len - *got, &made);
        }
        *got += made;
    }
    return rc;
}

void byol__zfile_close(byol__zfile *z)
{
    if (!z)
        return;
    if (z->gzip)
        inflateEnd(&z->zs);
    close(z->fd);
    byol__free(z);
}
