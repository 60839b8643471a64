/**
 * @file byol_common.h
 * @brief Status codes, error messages, version queries, memory and callbacks.
 *
 * Everything else in libbyol builds on the conventions fixed here:
 * - every fallible function returns an `int`: #BYOL_OK (0) or a negative
 *   `BYOL_E_*` code whose value never changes;
 * - a failing call also records a message naming what was wrong (a file, a
 *   config key, a shape), readable with byol_last_error() on the same thread;
 * - the library never prints, exits or aborts; logging is silent unless a
 *   callback is installed.
 */
#ifndef BYOL_COMMON_H
#define BYOL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "byol_version.h"

#if defined(_WIN32)
#if defined(BYOL_BUILDING_LIBRARY)
#define BYOL_API __declspec(dllexport)
#else
#define BYOL_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define BYOL_API __attribute__((visibility("default")))
#else
#define BYOL_API
#endif

#ifdef __cplusplus
#define BYOL_BEGIN_DECL extern "C" {
#define BYOL_END_DECL }
#else
#define BYOL_BEGIN_DECL
#define BYOL_END_DECL
#endif

BYOL_BEGIN_DECL

/* ------------------------------------------------------------------------ */
/** @name Status codes
 * Values are fixed forever; new codes are only appended.
 * @{ */
#define BYOL_OK 0                /**< success */
#define BYOL_E_GENERIC (-1)      /**< unclassified failure */
#define BYOL_E_NOMEM (-2)        /**< the allocator returned NULL */
#define BYOL_E_INVALID_ARG (-3)  /**< a NULL handle/pointer or a malformed argument */
#define BYOL_E_BAD_STATE (-4)    /**< call out of order (e.g. backward before forward) */
#define BYOL_E_SHAPE (-5)        /**< a tensor shape or batch size does not fit */
#define BYOL_E_UNSUPPORTED (-6)  /**< valid request this build or version cannot do */
#define BYOL_E_IO (-7)           /**< a file could not be opened, read or written */
#define BYOL_E_DECODE (-8)       /**< an image could not be decoded */
#define BYOL_E_FORMAT (-9)       /**< a file is malformed, truncated or of the wrong layout */
#define BYOL_E_NONFINITE (-10)   /**< a NaN or infinity in inputs, loss or gradients */
#define BYOL_E_CANCELLED (-11)   /**< the cancel callback asked to stop */
#define BYOL_E_ABI (-12)         /**< a struct_size the library does not accept */
#define BYOL_E_BLAS (-13)        /**< the BLAS provider failed */
#define BYOL_E_KEY (-14)         /**< unknown configuration key or preset name */
#define BYOL_E_RANGE (-15)       /**< a configuration value out of its bounds or of the wrong type */
/** @} */

/** Static English text for a status code; never NULL, never freed. */
BYOL_API const char *byol_strerror(int code);

/**
 * The message of the last failure on the calling thread, naming what was
 * wrong. Never NULL ("" if none). Owned by the library; valid until the
 * next libbyol call on this thread. Detect failures by return codes, not by
 * this message: successful calls may leave an older message in place.
 */
BYOL_API const char *byol_last_error(void);

/**
 * Copies the last error message into buf (always NUL-terminated when
 * len > 0) and returns the length the full message needs, including the
 * NUL, so FFI callers can size their buffer.
 */
BYOL_API size_t byol_last_error_copy(char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/** @name Version at run time
 * Compare with the BYOL_VERSION_* macros to check that the header and the
 * loaded library agree.
 * @{ */
BYOL_API int byol_version_number(void);          /**< BYOL_VERSION_NUMBER of the library */
BYOL_API const char *byol_version_string(void);  /**< "MAJOR.MINOR.PATCH", static */
/** @} */

/* ------------------------------------------------------------------------ */
/**
 * Allocator hook. alloc must return memory aligned to `align` (a power of
 * two, at most 4096) or NULL; free receives what alloc returned. `user` is
 * passed through unchanged. Begins with struct_size for ABI growth: set it
 * to sizeof(byol_allocator).
 */
typedef struct byol_allocator {
    uint32_t struct_size;
    uint32_t reserved;
    void *(*alloc)(size_t size, size_t align, void *user);
    void (*free)(void *ptr, void *user);
    void *user;
} byol_allocator;

/**
 * Installs a process-wide allocator used by every later allocation; NULL
 * restores the default (aligned malloc). Blocks remember the allocator that
 * made them, so switching while handles exist is safe. Not thread-safe:
 * install it before other threads use libbyol.
 * @return BYOL_OK, or BYOL_E_ABI (bad struct_size), BYOL_E_INVALID_ARG
 *         (missing alloc or free function).
 */
BYOL_API int byol_set_allocator(const byol_allocator *allocator);

/**
 * Releases memory that libbyol returned as "owned by the caller". Never use
 * the C library's free() for it. NULL is accepted.
 */
BYOL_API void byol_free(void *ptr);

/* ------------------------------------------------------------------------ */
/** @name Logging
 * Silent by default. The callback receives a level and a NUL-terminated
 * message (borrowed for the call). It must not call back into libbyol.
 * @{ */
#define BYOL_LOG_ERROR 0
#define BYOL_LOG_WARN 1
#define BYOL_LOG_INFO 2
#define BYOL_LOG_DEBUG 3
typedef void (*byol_log_fn)(int level, const char *message, void *user);
/** Installs fn (NULL silences) for messages up to max_level. Process-wide. */
BYOL_API void byol_set_log_callback(byol_log_fn fn, void *user, int max_level);
/** @} */

/**
 * Cancel callback: polled between layers by long-running calls; a non-zero
 * return stops the call with #BYOL_E_CANCELLED and leaves the handle usable
 * (a cancelled step changes no weights). Installed per handle.
 */
typedef int (*byol_cancel_fn)(void *user);

BYOL_END_DECL

#endif
