/* The byol_dataset handle and the internal entry points of its formats.
 *
 * Two kinds of storage cover every format:
 * - FILES (image folders): one path per image, decoded on each get;
 * - RECORDS (IDX, CIFAR, caller memory): every image in one block of
 *   equally sized records, interleaved (HWC) or planar (CHW), converted to
 *   data.channels on each get.
 * A dataset never changes after it is opened, so every const function may
 * run on many threads at once. */
#ifndef BYOL_DATA_DATASET_H
#define BYOL_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "byol/byol_data.h"

/* Labels above this are refused: class names are made for every class. */
#define BYOL__MAX_CLASSES (1 << 20)

enum { BYOL__DS_FILES = 1, BYOL__DS_RECORDS = 2 };

struct byol_dataset {
    int kind;                  /* BYOL__DS_* */
    char *name;                /* the path opened, or "<memory>": errors name it */
    int64_t count;
    int32_t channels;          /* data.channels at open */
    int64_t max_pixels;        /* data.max_pixels at open */
    int32_t *labels;           /* count labels, or NULL when unlabeled */
    int32_t num_classes;
    char **class_names;        /* num_classes pointers into one block after the array */
    /* FILES: image i is paths + path_at[i], NUL-terminated; its path
     * relative to the folder opened starts root_len bytes later. */
    char *paths;
    size_t *path_at;
    size_t root_len;
    /* RECORDS: image i is pixels + i * height * width * src_channels. */
    uint8_t *block;            /* owned; pixels points into it */
    const uint8_t *pixels;
    int32_t height, width, src_channels;
    int planar;                /* 1: CHW planes (CIFAR), 0: HWC */
};

/* A zeroed dataset called `name`, with data.channels and data.max_pixels
 * read from cfg (NULL: defaults). BYOL_E_RANGE (data.channels=2), BYOL_E_NOMEM. */
int byol__ds_new(const byol_config *cfg, const char *name, int kind, byol_dataset **out);

/* Sets the class names (copied). NULL names: "0", "1", ... BYOL_E_NOMEM. */
int byol__ds_set_classes(byol_dataset *ds, int32_t n, const char *const *names);

/* Makes room for `need` elements of `elem` bytes in *p (capacity *cap),
 * doubling; the old elements are kept. 0, or -1 when out of memory (the
 * old block is left as it was). */
int byol__grow(void **p, size_t *cap, size_t need, size_t elem);

/* Paths. byol__path_join returns dir/name from byol__malloc (NULL: out of
 * memory); byol__path_type says BYOL__PATH_DIR, BYOL__PATH_FILE (regular)
 * or 0 (absent or other), following links; byol__path_base points after
 * the last '/'. */
enum { BYOL__PATH_FILE = 1, BYOL__PATH_DIR = 2 };
char *byol__path_join(const char *dir, const char *name);
char *byol__path_dir(const char *path);  /* its folder ("." for none), byol__malloc */
int byol__path_type(const char *path);
const char *byol__path_base(const char *path);

/* Format readers behind byol_dataset_open() (cfg already checked). */
int byol__folder_open(const byol_config *cfg, const char *path, byol_dataset **out);
int byol__idx_open(const byol_config *cfg, const char *path, byol_dataset **out);
int byol__cifar_open(const byol_config *cfg, const char *path, byol_dataset **out);

/* ---- IDX (MNIST family) ------------------------------------------------------
 * Big-endian: 0x00 0x00, an element type (0x08 = unsigned byte), a
 * dimension count, one uint32 per dimension, then the elements. */
#define BYOL__IDX_MAX_DIMS 3
typedef struct byol__idx {
    int ndims;                        /* 1 (labels) or 3 (images) */
    uint32_t dims[BYOL__IDX_MAX_DIMS];
    const uint8_t *data;              /* the elements, inside the parsed buffer */
    size_t data_len;
} byol__idx;

/* Bytes a header announces (header + elements), from its first bytes:
 * 0 when they are not an unsigned-byte IDX header of 1 to 3 dimensions;
 * SIZE_MAX when the product overflows. head_len bytes are available. */
size_t byol__idx_expected_size(const uint8_t *head, size_t head_len);

/* Checks that buf (len bytes, errors call it `name`) is an unsigned-byte
 * IDX file of `ndims` dimensions (1 or 3), none zero, holding exactly what
 * its header announces; fills out (pointing into buf). BYOL_E_FORMAT. */
int byol__idx_parse(const uint8_t *buf, size_t len, const char *name, int ndims,
                    byol__idx *out);

/* ---- CIFAR binary batches ----------------------------------------------------
 * CIFAR-10 records: 1 label byte, then 3072 pixel bytes (R, G, B planes of
 * 32x32). CIFAR-100 records: coarse and fine label bytes, then the same. */
#define BYOL__CIFAR_PIXELS 3072
typedef struct byol__cifar {
    int classes;                      /* 10 or 100: the edition */
    size_t count;                     /* records */
    size_t record_size;               /* 3073 or 3074 */
    const uint8_t *records;
} byol__cifar;

/* Edition a file name implies: 10 for data_batch_* and test_batch*, 100
 * for train.bin and test.bin, 0 when the name says nothing. */
int byol__cifar_edition(const char *path);

/* Checks that buf (len bytes) is a whole number of records of `edition`
 * (0: decided by the size, an error when both or neither divide it) with
 * every label in range; fills out. BYOL_E_FORMAT naming `name` (and the
 * record for a bad label). */
int byol__cifar_parse(const uint8_t *buf, size_t len, const char *name, int edition,
                      byol__cifar *out);

#endif
