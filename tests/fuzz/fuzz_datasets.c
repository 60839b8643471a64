/* libFuzzer target for the IDX and CIFAR readers, through the buffer
 * parsers that byol_dataset_open() uses on every file it reads.
 *
 * Every input is parsed as IDX images (3 dimensions) and labels (1), and
 * as a CIFAR batch of each edition and of the edition its size implies.
 * Whatever a parser accepts is walked completely and checked against the
 * format's arithmetic (the header's dimensions multiply to the bytes that
 * follow it; records tile the file; every label is in range), so a bounds
 * or consistency bug shows up as an ASan report or an abort. An accepted
 * IDX image file also becomes a dataset whose every image is read back.
 *
 * Every input is also written to a file and read back through data/zfile.c,
 * the reader of IDX files, plain or gzip: what it reads must be exactly
 * what zlib's gzread reads from the same file. (gzread also accepts junk
 * after the last gzip member, which zfile refuses: only zfile's successes
 * are compared.)
 *
 * Build and replay as fuzz_safetensors.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "byol/byol_data.h"
#include "data/dataset.h"
#include "data/zfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static volatile unsigned sink;

/* Images of an accepted IDX file, as a memory dataset, read back. */
static void idx_images(const byol__idx *idx)
{
    byol_dataset *ds = NULL;
    /* small ones only: the point is the walk, not the fuzzer's memory */
    if ((uint64_t)idx->dims[0] * idx->dims[1] * idx->dims[2] > (1u << 16) ||
        idx->dims[1] > INT32_MAX || idx->dims[2] > INT32_MAX)
        return;
    int rc = byol_dataset_from_memory(NULL, idx->data, idx->dims[0], (int32_t)idx->dims[1],
                                      (int32_t)idx->dims[2], 1, NULL, &ds);
    if (rc == BYOL_E_NOMEM)
        return;
    check(rc == BYOL_OK && byol_dataset_size(ds) == idx->dims[0]);
    for (int64_t i = 0; i < byol_dataset_size(ds); i++) {
        byol_image img = { .struct_size = sizeof img };
        if (byol_dataset_get(ds, i, &img) != BYOL_OK)
            continue;
        /* gray replicated to RGB (the default data.channels) */
        const uint8_t *src = idx->data + (size_t)i * idx->dims[1] * idx->dims[2];
        for (size_t k = 0; k < (size_t)img.height * img.width; k++)
            check(img.data[3 * k] == src[k] && img.data[3 * k + 2] == src[k]);
        byol_image_release(&img);
    }
    byol_dataset_destroy(ds);
}

static void fuzz_idx(const uint8_t *data, size_t size, int ndims)
{
    byol__idx idx;
    int rc = byol__idx_parse(data, size, "fuzz", ndims, &idx);
    check(rc == BYOL_OK || rc == BYOL_E_FORMAT);
    if (rc != BYOL_OK) {
        check(strstr(byol_last_error(), "fuzz") != NULL);
        return;
    }
    uint64_t n = 1;
    for (int d = 0; d < ndims; d++) {
        check(idx.dims[d] > 0);
        n *= idx.dims[d];  /* the parser ruled out overflow */
    }
    check(idx.ndims == ndims && idx.data == data + 4 + 4 * ndims && idx.data_len == n);
    check(byol__idx_expected_size(data, size) == size);
    unsigned acc = 0;
    for (size_t k = 0; k < idx.data_len; k++)
        acc += idx.data[k];
    sink += acc;
    if (ndims == 3)
        idx_images(&idx);
}

static void fuzz_cifar(const uint8_t *data, size_t size, int edition)
{
    byol__cifar c;
    int rc = byol__cifar_parse(data, size, "fuzz", edition, &c);
    check(rc == BYOL_OK || rc == BYOL_E_FORMAT);
    if (rc != BYOL_OK) {
        check(strstr(byol_last_error(), "fuzz") != NULL);
        return;
    }
    check(c.classes == 10 || c.classes == 100);
    check(edition == 0 || c.classes == edition);
    check(c.record_size == BYOL__CIFAR_PIXELS + (c.classes == 10 ? 1u : 2u));
    check(c.count >= 1 && c.count * c.record_size == size && c.records == data);
    for (size_t i = 0; i < c.count; i++) {
        const uint8_t *rec = c.records + i * c.record_size;
        check(c.classes == 10 ? rec[0] < 10 : rec[0] < 20 && rec[1] < 100);
        sink += rec[c.record_size - 1];
    }
}

/* Reads at most cap bytes of path through zfile into out: the count, or
 * -1 when zfile refuses the file (BYOL_E_FORMAT, naming it). */
static long zfile_bytes(const char *path, uint8_t *out, size_t cap)
{
    byol__zfile *z;
    size_t got, n = 0;
    int rc = byol__zfile_open(path, &z);
    check(rc == BYOL_OK);
    while (n < cap && (rc = byol__zfile_read(z, out + n, cap - n, &got)) == BYOL_OK && got > 0)
        n += got;
    byol__zfile_close(z);
    check(rc == BYOL_OK || (rc == BYOL_E_FORMAT && strstr(byol_last_error(), path)));
    return rc == BYOL_OK ? (long)n : -1;
}

/* Decompression is capped (a small input may inflate a thousandfold). */
#define ZFILE_CAP (1u << 20)

static char zfile_path[64];

static void remove_zfile_path(void)
{
    unlink(zfile_path);
}

static void fuzz_zfile(const uint8_t *data, size_t size)
{
    static uint8_t mine[ZFILE_CAP], theirs[ZFILE_CAP];
    if (!*zfile_path) {
        snprintf(zfile_path, sizeof zfile_path, "/tmp/fuzz_zfile_%d", (int)getpid());
        atexit(remove_zfile_path);
    }
    FILE *fp = fopen(zfile_path, "wb");
    check(fp && fwrite(data, 1, size, fp) == size && fclose(fp) == 0);
    long n = zfile_bytes(zfile_path, mine, sizeof mine);
    gzFile gz = gzopen(zfile_path, "rb");
    check(gz != NULL);
    int m = gzread(gz, theirs, sizeof theirs);
    gzclose_r(gz);
    check(n < 0 || (m >= 0 && (long)m == n && !memcmp(mine, theirs, (size_t)n)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_zfile(data, size);
    fuzz_idx(data, size, 3);
    fuzz_idx(data, size, 1);
    fuzz_cifar(data, size, 0);
    fuzz_cifar(data, size, 10);
    fuzz_cifar(data, size, 100);
    return 0;
}
