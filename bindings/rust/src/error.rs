//! The error type: a libbyol status code with the library's message.

use core::ffi::{c_char, c_int, CStr};
use std::ffi::CString;
use std::fmt;
use std::path::Path;

use crate::sys;

/// The kind of a failure: one per `BYOL_E_*` status code of byol_common.h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `BYOL_E_GENERIC`: unclassified failure.
    Generic,
    /// `BYOL_E_NOMEM`: the allocator returned NULL.
    NoMem,
    /// `BYOL_E_INVALID_ARG`: a malformed argument.
    InvalidArg,
    /// `BYOL_E_BAD_STATE`: a call out of order (e.g. backward before forward).
    BadState,
    /// `BYOL_E_SHAPE`: a tensor shape or batch size does not fit.
    Shape,
    /// `BYOL_E_UNSUPPORTED`: a valid request this build cannot do.
    Unsupported,
    /// `BYOL_E_IO`: a file could not be opened, read or written.
    Io,
    /// `BYOL_E_DECODE`: an image could not be decoded.
    Decode,
    /// `BYOL_E_FORMAT`: a malformed, truncated or incompatible file.
    Format,
    /// `BYOL_E_NONFINITE`: a NaN or infinity in inputs, loss or gradients.
    NonFinite,
    /// `BYOL_E_CANCELLED`: a cancel callback or gradient hook asked to stop.
    Cancelled,
    /// `BYOL_E_ABI`: a struct_size the library does not accept.
    Abi,
    /// `BYOL_E_BLAS`: the BLAS provider failed.
    Blas,
    /// `BYOL_E_KEY`: unknown configuration key or preset name.
    Key,
    /// `BYOL_E_RANGE`: a value out of its bounds or of the wrong type.
    Range,
    /// `BYOL_E_COMM`: a communicator's collective call failed (data-parallel training).
    Comm,
    /// A code this version of the crate does not know (codes are only
    /// appended, so a newer library may return one).
    Unknown(i32),
}

impl ErrorKind {
    /// The kind of a status code (`code` should be negative).
    pub fn from_code(code: i32) -> ErrorKind {
        match code {
            sys::BYOL_E_GENERIC => ErrorKind::Generic,
            sys::BYOL_E_NOMEM => ErrorKind::NoMem,
            sys::BYOL_E_INVALID_ARG => ErrorKind::InvalidArg,
            sys::BYOL_E_BAD_STATE => ErrorKind::BadState,
            sys::BYOL_E_SHAPE => ErrorKind::Shape,
            sys::BYOL_E_UNSUPPORTED => ErrorKind::Unsupported,
            sys::BYOL_E_IO => ErrorKind::Io,
            sys::BYOL_E_DECODE => ErrorKind::Decode,
            sys::BYOL_E_FORMAT => ErrorKind::Format,
            sys::BYOL_E_NONFINITE => ErrorKind::NonFinite,
            sys::BYOL_E_CANCELLED => ErrorKind::Cancelled,
            sys::BYOL_E_ABI => ErrorKind::Abi,
            sys::BYOL_E_BLAS => ErrorKind::Blas,
            sys::BYOL_E_KEY => ErrorKind::Key,
            sys::BYOL_E_RANGE => ErrorKind::Range,
            sys::BYOL_E_COMM => ErrorKind::Comm,
            other => ErrorKind::Unknown(other),
        }
    }

    /// The status code of the kind.
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::Generic => sys::BYOL_E_GENERIC,
            ErrorKind::NoMem => sys::BYOL_E_NOMEM,
            ErrorKind::InvalidArg => sys::BYOL_E_INVALID_ARG,
            ErrorKind::BadState => sys::BYOL_E_BAD_STATE,
            ErrorKind::Shape => sys::BYOL_E_SHAPE,
            ErrorKind::Unsupported => sys::BYOL_E_UNSUPPORTED,
            ErrorKind::Io => sys::BYOL_E_IO,
            ErrorKind::Decode => sys::BYOL_E_DECODE,
            ErrorKind::Format => sys::BYOL_E_FORMAT,
            ErrorKind::NonFinite => sys::BYOL_E_NONFINITE,
            ErrorKind::Cancelled => sys::BYOL_E_CANCELLED,
            ErrorKind::Abi => sys::BYOL_E_ABI,
            ErrorKind::Blas => sys::BYOL_E_BLAS,
            ErrorKind::Key => sys::BYOL_E_KEY,
            ErrorKind::Range => sys::BYOL_E_RANGE,
            ErrorKind::Comm => sys::BYOL_E_COMM,
            ErrorKind::Unknown(code) => code,
        }
    }

    /// The C name of the code, e.g. `"BYOL_E_KEY"`, from the library
    /// ([`error_name`]).
    pub fn name(self) -> &'static str {
        error_name(self.code())
    }
}

/// A failed libbyol call: the status `code`, its C `name` and the
/// library's `message` naming what was wrong (a file, a key, a shape),
/// read with `byol_last_error()` right after the failing call on the same
/// thread. Checks made on the Rust side before calling the library (slice
/// lengths, NUL bytes in strings) produce the same type with the code the
/// library would have used.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: i32,
    message: String,
}

/// `Result<T, byol::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with the message of the last failure on this thread. Call
    /// it right after the failing call, before any other libbyol call.
    pub(crate) fn last(code: c_int) -> Error {
        // SAFETY: byol_last_error() never returns NULL; the text is valid
        // until the next libbyol call on this thread, and is copied here.
        let message = unsafe { CStr::from_ptr(sys::byol_last_error()) }
            .to_string_lossy()
            .into_owned();
        Error { code, message }
    }

    /// An error detected on the Rust side, before the library was called.
    pub(crate) fn new(code: c_int, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    /// The status code, a negative `BYOL_E_*` value.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_code(self.code)
    }

    /// The C name of the code, e.g. `"BYOL_E_KEY"`, from the library
    /// ([`error_name`]); `"BYOL_E_UNKNOWN"` for a code it does not know.
    pub fn name(&self) -> &'static str {
        error_name(self.code)
    }

    /// The library's message naming what was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The library's fixed English text for the code (`byol_strerror()`).
    pub fn description(&self) -> &'static str {
        strerror(self.code)
    }
}

/// `byol_error_name()`: the C name of a status code as the headers spell
/// it (`"BYOL_OK"`, `"BYOL_E_RANGE"`), or `"BYOL_E_UNKNOWN"` for a value
/// that is no status code of the loaded library.
pub fn error_name(code: i32) -> &'static str {
    // SAFETY: byol_error_name returns static storage, never NULL.
    unsafe { static_str(sys::byol_error_name(code)) }
}

/// `byol_strerror()`: the static English text for a status code.
pub fn strerror(code: i32) -> &'static str {
    // SAFETY: byol_strerror returns static storage, never NULL.
    unsafe { static_str(sys::byol_strerror(code)) }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{} ({})", self.description(), self.name())
        } else {
            write!(
                f,
                "{} ({}: {})",
                self.message,
                self.name(),
                self.description()
            )
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code)
            .field("name", &self.name())
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for Error {}

// ---- helpers for the wrappers ------------------------------------------------

/// Ok for BYOL_OK, else the error with the library's message.
#[inline]
pub(crate) fn check(rc: c_int) -> Result<()> {
    if rc == sys::BYOL_OK {
        Ok(())
    } else {
        Err(Error::last(rc))
    }
}

/// A C string for the library; interior NUL bytes are an invalid argument.
pub(crate) fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::new(
            sys::BYOL_E_INVALID_ARG,
            format!("{what} {s:?} contains a NUL byte"),
        )
    })
}

/// A path as a C string (its bytes on Unix, UTF-8 elsewhere).
pub(crate) fn cpath(p: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = match p.to_str() {
        Some(s) => s.as_bytes().to_vec(),
        None => {
            return Err(Error::new(
                sys::BYOL_E_INVALID_ARG,
                format!("path {} is not valid UTF-8", p.display()),
            ))
        }
    };
    CString::new(bytes).map_err(|_| {
        Error::new(
            sys::BYOL_E_INVALID_ARG,
            format!("path {} contains a NUL byte", p.display()),
        )
    })
}

/// A static C string from the library (key names, presets, strerror).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that lives for the rest
/// of the program.
pub(crate) unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        return "";
    }
    CStr::from_ptr(p).to_str().unwrap_or("<non-UTF-8 text>")
}

/// `n` as an `i64` for the C side.
pub(crate) fn to_i64(n: usize, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| {
        Error::new(
            sys::BYOL_E_INVALID_ARG,
            format!("{what} {n} does not fit in int64"),
        )
    })
}

/// `n` as an `i32` for the C side.
pub(crate) fn to_i32(n: usize, what: &str) -> Result<i32> {
    i32::try_from(n).map_err(|_| {
        Error::new(
            sys::BYOL_E_INVALID_ARG,
            format!("{what} {n} does not fit in int32"),
        )
    })
}

/// `a * b * ...` without overflow, as a Rust-side shape error otherwise.
pub(crate) fn product(dims: &[usize], what: &str) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Error::new(
                sys::BYOL_E_SHAPE,
                format!("{what}: size {dims:?} overflows"),
            )
        })
}
