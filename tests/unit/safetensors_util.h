/* Shared by the safetensors tests (test_safetensors_*.c): little-endian
 * fields and file images built byte by byte from the format description,
 * not by byol__st_write, so a bug shared by writer and reader cannot cancel
 * itself out. The scratch folder (du_path, du_write, du_msg_has,
 * du_count_temp_files) is data_util.h's. */
#ifndef BYOL_TEST_SAFETENSORS_UTIL_H
#define BYOL_TEST_SAFETENSORS_UTIL_H

#include "test_util.h"
#include "data_util.h"

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

#endif
