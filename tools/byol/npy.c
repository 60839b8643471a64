/* NPY format version 1.0 (numpy.lib.format): magic "\x93NUMPY", version
 * 1.0, a little-endian uint16 header length, then a Python dict literal
 * padded with spaces and ended by '\n' so that the data starts on a
 * 64-byte boundary (what numpy itself writes), then the raw array. The
 * write is the library's atomic one, header and array as two parts. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int write_npy(const char *path, const char *descr, const char *shape, const void *data,
                     size_t bytes)
{
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       descr, shape);
    size_t total = ((size_t)10 + (size_t)len + 1 + 63) / 64 * 64; /* +1 for '\n' */
    size_t hlen = total - 10;
    unsigned char head[10 + sizeof dict + 64];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xFF);
    head[9] = (unsigned char)(hlen >> 8);
    memset(head + 10, ' ', hlen);
    memcpy(head + 10, dict, (size_t)len);
    head[total - 1] = '\n';
    const void *parts[] = { head, data };
    const size_t sizes[] = { total, bytes };
    return cli_lib(byol_file_write_atomic(path, parts, sizes, 2));
}

int cli_npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(%" PRId64 ", %" PRId64 ")", rows, cols);
    return write_npy(path, "<f4", shape, data, (size_t)(rows * cols) * sizeof(float));
}

int cli_npy_write_i32(const char *path, const int32_t *data, int64_t rows)
{
    char shape[64];
    snprintf(shape, sizeof shape, "(%" PRId64 ",)", rows);
    return write_npy(path, "<i4", shape, data, (size_t)rows * sizeof(int32_t));
}
