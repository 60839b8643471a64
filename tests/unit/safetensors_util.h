/* Shared by the safetensors tests (test_safetensors_*.c): a scratch
 * folder, files written whole, little-endian fields, and file images built
 * byte by byte from the format description, not by byol__st_write, so a bug
 * shared by writer and reader cannot cancel itself out. */
#ifndef BYOL_TEST_SAFETENSORS_UTIL_H
#define BYOL_TEST_SAFETENSORS_UTIL_H

#include <dirent.h>
#include <unistd.h>

#include "test_util.h"

static char tmp_dir[64];

static inline const char *tmp_path(const char *name)
{
    static char buf[4][sizeof tmp_dir + 256 + 2];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, name);
    return buf[k];
}

static inline int setup_dir(void **state)
{
    (void)state;
    strcpy(tmp_dir, "/tmp/byol_st_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

/* The folder is flat except for what tests create and remove themselves. */
static inline int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmp_dir);
    struct dirent *de;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlink(tmp_path(de->d_name));
    closedir(d);
    return rmdir(tmp_dir);
}

static inline void spit(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static inline void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t get_le(const void *src, int bytes)
{
    const unsigned char *p = src;
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A file image: LE u64 header length, header text, data_len data bytes
 * (0, 1, 2, ...). The caller frees it. */
static inline unsigned char *make_image(const char *header, size_t hlen, size_t data_len,
                                        size_t *len)
{
    unsigned char *b = malloc(8 + hlen + data_len + 1);
    assert_non_null(b);
    put_le(b, hlen, 8);
    memcpy(b + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++)
        b[8 + hlen + i] = (unsigned char)i;
    *len = 8 + hlen + data_len;
    return b;
}

static inline void assert_msg_has(const char *needle)
{
    const char *msg = byol_last_error();
    if (!strstr(msg, needle))
        fail_msg("error message \"%s\" does not mention \"%s\"", msg, needle);
}

#endif
