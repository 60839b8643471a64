#include "internal.h"

int byol_version_number(void) { return BYOL_VERSION_NUMBER; }
const char *byol_version_string(void) { return BYOL_VERSION_STRING; }
