/* Shared by the augmenter's tests (test_augment*.c). */
#ifndef BYOL_TEST_AUGMENT_UTIL_H
#define BYOL_TEST_AUGMENT_UTIL_H

#include "test_util.h"
#include "byol/byol_data.h"

/* An augmenter from the defaults changed by `settings` (byol_config_parse syntax). */
static inline byol_augmenter *tu_augmenter(const char *settings)
{
    byol_config *cfg = tu_config(settings);
    byol_augmenter *aug = NULL;
    assert_byol_ok(byol_augmenter_create(cfg, &aug));
    byol_config_destroy(cfg);
    return aug;
}

#endif
