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

/**
 * @def BYOL_API
 * Marks a public function: exported from the shared library (default
 * visibility with GCC and Clang, dllexport/dllimport on Windows). Every
 * BYOL_API function is bound to a LIBBYOL_MAJOR.MINOR node of the symbol map.
 *
 * @def BYOL_BEGIN_DECL
 * Opens `extern "C" {` when the header is read by a C++ compiler, so the
 * functions keep C linkage; empty in C.
 *
 * @def BYOL_END_DECL
 * Closes what BYOL_BEGIN_DECL opened.
 */
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
#define BYOL_E_COMM (-16)        /**< a communicator's collective call failed (byol_comm) */
/** @} */

/**
 * English text for a status code ("invalid argument"), the same for every
 * call; use byol_last_error() for what went wrong in a particular call.
 * @param code a BYOL_OK / BYOL_E_* value (or BYOL_DONE); any other value
 *        gives "unknown status code".
 * @return static storage owned by the library: never NULL, never freed.
 *         Cannot fail. Thread-safe.
 */
BYOL_API const char *byol_strerror(int code);

/**
 * The C name of a status code, as spelled in the headers: "BYOL_OK" for 0,
 * "BYOL_E_RANGE" for #BYOL_E_RANGE, "BYOL_DONE" for BYOL_DONE (byol_data.h),
 * so that messages and other languages need no copy of the table (the
 * byol command prints "byol: info: BYOL_E_FORMAT: <message>").
 * @param code any int.
 * @return static storage owned by the library: never NULL, never freed.
 *         A value that is no status code of this library version gives
 *         "BYOL_E_UNKNOWN", a name no code will ever have (codes are only
 *         appended: a newer library may know it). Cannot fail. Thread-safe.
 * @since 1.3
 */
BYOL_API const char *byol_error_name(int code);

/**
 * The message of the last failure on the calling thread, naming what was
 * wrong. Detect failures by return codes, not by this message: successful
 * calls may leave an older message in place.
 * @return a NUL-terminated string, never NULL ("" if no call failed yet on
 *         this thread), owned by the library (thread-local storage): valid
 *         until the next libbyol call on this thread; copy it to keep it.
 *         Cannot fail.
 */
BYOL_API const char *byol_last_error(void);

/**
 * Copies the calling thread's last error message (byol_last_error()) into
 * a caller buffer, so FFI callers can size their buffer: call with len 0
 * to learn the size, then again with a buffer that large.
 * @param buf caller memory of len bytes, written during the call (may be
 *        NULL when len is 0). Always NUL-terminated when len > 0; a
 *        message that does not fit is cut.
 * @param len size of buf in bytes.
 * @return the size the whole message needs, in bytes, including the NUL
 *         (1 for no message). Cannot fail.
 */
BYOL_API size_t byol_last_error_copy(char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/** @name Version at run time
 * Compare with the BYOL_VERSION_* macros to check that the header and the
 * loaded library agree.
 * @{ */
/**
 * The version of the loaded library.
 * @return its BYOL_VERSION_NUMBER (MAJOR*10000 + MINOR*100 + PATCH).
 *         Cannot fail; no memory is owned or borrowed.
 */
BYOL_API int byol_version_number(void);
/**
 * The version of the loaded library as text.
 * @return "MAJOR.MINOR.PATCH", static storage owned by the library (never
 *         freed). Cannot fail.
 */
BYOL_API const char *byol_version_string(void);
/** @} */

/* ------------------------------------------------------------------------ */
/**
 * Allocator hook. alloc must return memory aligned to `align` (a power of
 * two, at most 4096) or NULL; free receives what alloc returned. `user` is
 * passed through unchanged. Begins with struct_size for ABI growth: set it
 * to sizeof(byol_allocator).
 */
typedef struct byol_allocator {
    uint32_t struct_size;  /**< set to sizeof(byol_allocator) */
    uint32_t reserved;     /**< set to 0 */
    /** returns size bytes aligned to align, or NULL; called from any thread */
    void *(*alloc)(size_t size, size_t align, void *user);
    /** releases a block alloc returned (never NULL); called from any thread */
    void (*free)(void *ptr, void *user);
    /** passed to alloc and free; must stay valid while blocks it made exist */
    void *user;
} byol_allocator;

/**
 * Installs a process-wide allocator used by every later allocation; NULL
 * restores the default (aligned malloc). Blocks remember the allocator that
 * made them, so switching while handles exist is safe. Not thread-safe:
 * install it before other threads use libbyol.
 * @param allocator borrowed for the call: its function pointers and user
 *        pointer are copied; user must outlive every block made with it.
 *        NULL restores the default.
 * @return BYOL_OK, or BYOL_E_ABI (struct_size smaller than this library's
 *         byol_allocator), BYOL_E_INVALID_ARG (missing alloc or free
 *         function). On failure the current allocator stays.
 */
BYOL_API int byol_set_allocator(const byol_allocator *allocator);

/**
 * Releases memory that libbyol returned as "owned by the caller (byol_free)"
 * (byol_config_serialize(), byol_embed_dataset()). Never use the C
 * library's free() for it.
 * @param ptr the block, whose ownership passes back to the library; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_free(void *ptr);

/* ------------------------------------------------------------------------ */
/** @name Logging
 * Silent by default. The callback receives a level and a NUL-terminated
 * message (borrowed for the call). It must not call back into libbyol.
 * @{ */
#define BYOL_LOG_ERROR 0  /**< most severe (failures are reported by status codes instead) */
#define BYOL_LOG_WARN 1   /**< something the caller may want to fix */
#define BYOL_LOG_INFO 2   /**< e.g. the BLIS kernels chosen for a CPU BLIS does not know */
#define BYOL_LOG_DEBUG 3  /**< the message of every failing call, as it is recorded */
/**
 * Log callback: level is a BYOL_LOG_* value, message is borrowed for the
 * call, user is what byol_set_log_callback() was given. May be called from
 * library threads; must not call back into libbyol.
 */
typedef void (*byol_log_fn)(int level, const char *message, void *user);
/**
 * Installs a process-wide log callback. Not thread-safe: install it before
 * other threads use libbyol.
 * @param fn the callback, or NULL to silence the library.
 * @param user passed to fn; borrowed until the callback is replaced.
 * @param max_level the most detailed BYOL_LOG_* level delivered.
 * Returns nothing and cannot fail.
 */
BYOL_API void byol_set_log_callback(byol_log_fn fn, void *user, int max_level);
/** @} */

/**
 * Cancel callback: polled between layers by long-running calls; a non-zero
 * return stops the call with #BYOL_E_CANCELLED and leaves the handle usable
 * (a cancelled step changes no weights). Installed per handle
 * (byol_net_set_cancel()); user is the pointer given there.
 */
typedef int (*byol_cancel_fn)(void *user);

BYOL_END_DECL

#endif
