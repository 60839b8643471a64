/* libbyol version. The Makefile reads these three lines: the version lives
 * here and nowhere else. */
#ifndef BYOL_VERSION_H
#define BYOL_VERSION_H

#define BYOL_VERSION_MAJOR 1
#define BYOL_VERSION_MINOR 2
#define BYOL_VERSION_PATCH 0

/** MAJOR*10000 + MINOR*100 + PATCH, for compile-time comparisons. */
#define BYOL_VERSION_NUMBER \
    (BYOL_VERSION_MAJOR * 10000 + BYOL_VERSION_MINOR * 100 + BYOL_VERSION_PATCH)
#define BYOL__STR2(x) #x
#define BYOL__STR(x) BYOL__STR2(x)
/** "MAJOR.MINOR.PATCH" */
#define BYOL_VERSION_STRING \
    BYOL__STR(BYOL_VERSION_MAJOR) "." BYOL__STR(BYOL_VERSION_MINOR) "." BYOL__STR(BYOL_VERSION_PATCH)

#endif
