/* libFuzzer target for image decoding (stb_image behind
 * byol_image_decode_memory).
 *
 * Every input is decoded twice, to 3 and to 1 channels, with
 * data.max_pixels at 65536 so that a header announcing a huge image is
 * refused before stb allocates for it (and the fuzzer stays fast). The two
 * calls must agree; a decoded image must be within the limit, have exactly
 * height * width * channels readable bytes, and its gray version must be
 * the documented luma of its RGB version. A failure must return NULL data
 * and a message naming the input.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined ... (see the Makefile);
 * tests/fuzz/replay.c runs the same function over a corpus without
 * libFuzzer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "byol/byol_config.h"
#include "byol/byol_data.h"

#define MAX_PIXELS 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Folds every byte into a value the compiler cannot discard. */
static volatile unsigned sink;

/* Made once and kept: the fuzzer calls the target millions of times. */
static byol_config *config(int channels)
{
    static byol_config *cfg[4];
    if (!cfg[channels]) {
        check(byol_config_create(&cfg[channels]) == BYOL_OK);
        check(byol_config_set_int(cfg[channels], "data.channels", channels) == BYOL_OK);
        check(byol_config_set_int(cfg[channels], "data.max_pixels", MAX_PIXELS) == BYOL_OK);
    }
    return cfg[channels];
}

static int decode(const uint8_t *data, size_t size, int channels, byol_image *img)
{
    int rc = byol_image_decode_memory(config(channels), data, size, "fuzz-input", img);
    check(rc == BYOL_OK || rc == BYOL_E_DECODE || rc == BYOL_E_RANGE || rc == BYOL_E_NOMEM);
    check((rc == BYOL_OK) == (img->data != NULL));
    if (rc != BYOL_OK) {
        check(strstr(byol_last_error(), "fuzz-input") != NULL);
        return rc;
    }
    check(img->channels == channels && img->height >= 1 && img->width >= 1);
    check((int64_t)img->height * img->width <= MAX_PIXELS);
    unsigned acc = 0;
    for (size_t k = 0; k < (size_t)img->height * img->width * channels; k++)
        acc += img->data[k];
    sink += acc;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byol_image rgb = { .struct_size = sizeof rgb }, gray = { .struct_size = sizeof gray };
    int rc3 = decode(data, size, 3, &rgb), rc1 = decode(data, size, 1, &gray);
    check(rc1 == rc3 || rc1 == BYOL_E_NOMEM || rc3 == BYOL_E_NOMEM);
    if (rc1 == BYOL_OK && rc3 == BYOL_OK) {
        check(rgb.height == gray.height && rgb.width == gray.width);
        for (size_t i = 0; i < (size_t)rgb.height * rgb.width; i++) {
            const uint8_t *c = rgb.data + 3 * i;
            check(gray.data[i] == (299u * c[0] + 587u * c[1] + 114u * c[2] + 500u) / 1000u);
        }
    }
    byol_image_release(&rgb);
    byol_image_release(&gray);
    return 0;
}
