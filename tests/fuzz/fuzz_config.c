/* libFuzzer target for settings text: byol_config_parse() and
 * byol_config_serialize() must be exact inverses (issue 13: a quote in a
 * stored setting made checkpoints unreadable).
 *
 * The input up to its first NUL byte is settings text. If the parser takes
 * it, the config is serialised and parsed into a fresh config, which must
 * hold every key at the same value (floats bit for bit) and serialise to
 * the same text; if it refuses it, with one of its documented codes, the
 * config must be unchanged. The bytes after the NUL (to the next NUL) are
 * a raw value for a free-text key, picked by the first of them, set with
 * byol_config_set_string() and required to survive the same round trip.
 * Any failure aborts, so the fuzzer reports it.
 *
 * Build and replay as fuzz_safetensors.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "byol/byol_config.h"
#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Every key of a and b holds the same value. */
static int same_config(const byol_config *a, const byol_config *b)
{
    for (int32_t i = 0; i < byol_config_key_count(); i++) {
        byol_key_info k = { .struct_size = sizeof k };
        const char *x = NULL, *y = NULL;
        double f = 0, g = 0;
        int64_t m = 0, n = 0;
        check(byol_config_key_info(i, &k) == BYOL_OK);
        if (k.type == BYOL_TYPE_STRING) {
            check(byol_config_get_string(a, k.name, &x) == BYOL_OK);
            check(byol_config_get_string(b, k.name, &y) == BYOL_OK);
            if (strcmp(x, y))
                return 0;
        } else if (k.type == BYOL_TYPE_FLOAT) {
            check(byol_config_get_float(a, k.name, &f) == BYOL_OK);
            check(byol_config_get_float(b, k.name, &g) == BYOL_OK);
            if (memcmp(&f, &g, sizeof f))
                return 0;
        } else {
            check(byol_config_get_int(a, k.name, &m) == BYOL_OK);
            check(byol_config_get_int(b, k.name, &n) == BYOL_OK);
            if (m != n)
                return 0;
        }
    }
    return 1;
}

/* parse(serialize(cfg)) == cfg, and serialising that gives the same text.
 * Out of memory (which ASan's allocator can report) ends the check. */
static void check_round_trip(const byol_config *cfg)
{
    char *text = NULL, *again = NULL;
    byol_config *back = NULL;
    if (byol_config_serialize(cfg, &text) != BYOL_OK || byol_config_create(&back) != BYOL_OK) {
        byol_free(text);
        return;
    }
    int rc = byol_config_parse(back, text);
    check(rc == BYOL_OK || rc == BYOL_E_NOMEM);
    if (rc == BYOL_OK) {
        check(same_config(cfg, back));
        if (byol_config_serialize(back, &again) == BYOL_OK)
            check(strcmp(text, again) == 0);
    }
    byol_free(again);
    byol_free(text);
    byol_config_destroy(back);
}

/* The free-text string keys (no fixed choices), the n-th of them mod their count. */
static const char *free_text_key(unsigned n)
{
    const char *names[16];
    unsigned count = 0;
    for (int32_t i = 0; i < byol_config_key_count() && count < 16; i++) {
        byol_key_info k = { .struct_size = sizeof k };
        check(byol_config_key_info(i, &k) == BYOL_OK);
        if (k.type == BYOL_TYPE_STRING && !k.choices)
            names[count++] = k.name;
    }
    check(count > 0);
    return names[n % count];
}

static void fuzz_text(const char *text)
{
    byol_config *cfg = NULL, *defaults = NULL;
    if (byol_config_create(&cfg) != BYOL_OK || byol_config_create(&defaults) != BYOL_OK) {
        byol_config_destroy(cfg);
        return;
    }
    int rc = byol_config_parse(cfg, text);
    check(rc == BYOL_OK || rc == BYOL_E_KEY || rc == BYOL_E_RANGE ||
          rc == BYOL_E_INVALID_ARG || rc == BYOL_E_NOMEM);
    if (rc == BYOL_OK)
        check_round_trip(cfg);
    else
        check(same_config(cfg, defaults) && byol_last_error()[0] != '\0');
    byol_config_destroy(defaults);
    byol_config_destroy(cfg);
}

static void fuzz_value(const char *raw)
{
    byol_config *cfg = NULL;
    if (byol_config_create(&cfg) != BYOL_OK)
        return;
    int rc = byol_config_set_string(cfg, free_text_key((unsigned char)raw[0]), raw);
    check(rc == BYOL_OK || rc == BYOL_E_NOMEM ||
          (rc == BYOL_E_RANGE && (strlen(raw) > BYOL_CONFIG_MAX_STRING ||
                                  !byol__utf8_valid(raw, strlen(raw)))));
    if (rc == BYOL_OK)
        check_round_trip(cfg);
    byol_config_destroy(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 2);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = copy[size + 1] = '\0';
    size_t split = strlen(copy);
    fuzz_text(copy);
    if (split < size)
        fuzz_value(copy + split + 1);
    free(copy);
    return 0;
}
