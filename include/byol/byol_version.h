/**
 * @file byol_version.h
 * @brief The version of the headers, as macros for compile-time checks.
 *
 * The Makefile reads the three BYOL_VERSION_MAJOR/MINOR/PATCH lines: the
 * version lives here and nowhere else. Compare these macros with
 * byol_version_number() to check that the headers and the loaded library
 * agree (same major version, library minor at least the headers').
 */
#ifndef BYOL_VERSION_H
#define BYOL_VERSION_H

/** Major version: the N of the SONAME libbyol.so.N; changes only when the ABI breaks. */
#define BYOL_VERSION_MAJOR 1
/** Minor version: each adds functions (a new symbol-map node), never removes any. */
#define BYOL_VERSION_MINOR 3
/** Patch version: fixes only; the ABI of MAJOR.MINOR does not change. */
#define BYOL_VERSION_PATCH 0

/** MAJOR*10000 + MINOR*100 + PATCH, for compile-time comparisons. */
#define BYOL_VERSION_NUMBER \
    (BYOL_VERSION_MAJOR * 10000 + BYOL_VERSION_MINOR * 100 + BYOL_VERSION_PATCH)
#define BYOL__STR2(x) #x
#define BYOL__STR(x) BYOL__STR2(x)
/** "MAJOR.MINOR.PATCH" as a string literal, e.g. "1.3.0". */
#define BYOL_VERSION_STRING \
    BYOL__STR(BYOL_VERSION_MAJOR) "." BYOL__STR(BYOL_VERSION_MINOR) "." BYOL__STR(BYOL_VERSION_PATCH)

#endif
