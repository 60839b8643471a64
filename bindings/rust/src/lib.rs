//! Rust bindings to libbyol: BYOL self-supervised training of image
//! encoders on the CPU, through libbyol's plain C ABI.
//!
//! Two layers:
//! - [`sys`]: the raw declarations, written by hand from `include/byol/*.h`
//!   (`#[repr(C)]` structs with their `struct_size` fields, the `BYOL_*`
//!   constants, `extern "C"` functions). No bindgen, no dependencies.
//! - the crate root: a safe wrapper. Every handle is an owning type whose
//!   `Drop` calls the C destroy function exactly once; borrowed handles are
//!   Rust borrows, so the compiler orders destruction (a [`Loader`] borrows
//!   its [`Dataset`]; a trainer's encoder, [`Trainer::encoder`], borrows the
//!   [`Trainer`]). Every fallible call returns [`Result`], whose [`Error`]
//!   carries the status code, its C name and the library's message naming
//!   the key, file or shape at fault, read right after the failing call.
//!
//! ```no_run
//! use byol::{Config, Trainer};
//!
//! fn main() -> byol::Result<()> {
//!     let mut cfg = Config::preset("fashion-mnist")?;
//!     cfg.set("train.batch_size", 8)?.set("threads", 2)?;
//!     let mut trainer = Trainer::new(&cfg, None)?;
//!     let [c, h, w] = trainer.encoder().input_dims();
//!     let n = 8;
//!     let v1 = vec![0.5f32; n * c * h * w];
//!     let v2 = vec![0.25f32; n * c * h * w];
//!     let stats = trainer.step(&v1, &v2, n)?;
//!     println!("step {} loss {:.4}", stats.step, stats.loss);
//!     let emb = trainer.encoder_mut().embed(&v1, n)?;
//!     println!("embeddings: {n} x {}", emb.len() / n);
//!     trainer.encoder().save("encoder.safetensors")?;
//!     Ok(())
//! }
//! ```
//!
//! # Linking
//!
//! `build.rs` links `libbyol.so` dynamically from `BYOL_LIB_DIR`, else the
//! in-tree `../../lib` (after `make` at the root of the libbyol tree), else
//! an installed libbyol (pkg-config, then the linker's default path), and
//! writes that directory into the run path of this crate's tests and
//! examples. Programs that depend on this crate find the library through
//! their own run path, `LD_LIBRARY_PATH` or a system install.
//!
//! # Threads
//!
//! The C API asks that each handle be used by one thread at a time; the
//! Rust types say so:
//!
//! | type | `Send` | `Sync` | why |
//! |---|---|---|---|
//! | [`Config`], [`Net`], [`Builder`], [`Trainer`] | yes | no | no thread affinity; one thread at a time |
//! | [`Loader`] | yes | no | one consumer; its worker threads are its own |
//! | [`Comm`] | yes | no | its `Send` closures run on the thread that steps its trainer |
//! | [`Dataset`], [`Augmenter`] | yes | yes | read-only after creation (byol_data.h) |
//! | [`TensorFile`] | yes | no | one thread at a time (byol_file.h) |
//! | `&NetRef` / `&mut NetRef` | no | no | borrowed from a `Net` or `Trainer` on this thread |
//!
//! Error messages are per thread in the C library; the wrapper reads them
//! on the thread that made the failing call, before any other call.
//!
//! # Destruction order
//!
//! Owned handles may be dropped in any order: calls that take a `&Config`
//! or an encoder `&NetRef` copy what they need, so a config or net may go
//! before the trainer made from it. Borrowed handles cannot outlive their
//! owner; the compiler refuses these programs:
//!
//! A trainer dropped while its encoder is borrowed:
//! ```compile_fail,E0505
//! # fn main() -> byol::Result<()> {
//! let cfg = byol::Config::preset("fashion-mnist")?;
//! let trainer = byol::Trainer::new(&cfg, None)?;
//! let encoder = trainer.encoder();
//! drop(trainer);
//! encoder.save("encoder.safetensors")?;
//! # Ok(()) }
//! ```
//! A step while the encoder is borrowed (a step changes its weights):
//! ```compile_fail,E0502
//! # fn main() -> byol::Result<()> {
//! let cfg = byol::Config::preset("fashion-mnist")?;
//! let mut trainer = byol::Trainer::new(&cfg, None)?;
//! let weights = trainer.encoder().params();
//! trainer.step(&[], &[], 0)?;
//! println!("{}", weights[0]);
//! # Ok(()) }
//! ```
//! A dataset dropped before its loader:
//! ```compile_fail,E0505
//! # fn main() -> byol::Result<()> {
//! let cfg = byol::Config::preset("fashion-mnist")?;
//! let ds = byol::Dataset::from_memory(&cfg, &[0; 4 * 28 * 28], 4, 28, 28, 1, None)?;
//! let loader = byol::Loader::new(&cfg, &ds, byol::LoaderMode::Eval)?;
//! drop(ds);
//! drop(loader);
//! # Ok(()) }
//! ```
//! A borrowed batch kept past the next one:
//! ```compile_fail,E0499
//! # fn main() -> byol::Result<()> {
//! # let cfg = byol::Config::preset("fashion-mnist")?;
//! # let ds = byol::Dataset::from_memory(&cfg, &[0; 4 * 28 * 28], 4, 28, 28, 1, None)?;
//! let mut loader = byol::Loader::new(&cfg, &ds, byol::LoaderMode::Eval)?;
//! let first = loader.next_batch().unwrap()?;
//! let second = loader.next_batch().unwrap()?;
//! println!("{} {}", first.view1[0], second.view1[0]);
//! # Ok(()) }
//! ```
//! A handle shared between threads (handles are `Send`, not `Sync`):
//! ```compile_fail,E0277
//! fn shared<T: Sync>(_: &T) {}
//! let net = byol::Net::new(&byol::Config::new().unwrap()).unwrap();
//! shared(&net);
//! ```

#![warn(missing_docs)]

pub mod sys;

mod comm;
mod config;
mod data;
mod error;
pub mod eval;
mod file;
mod net;
mod trainer;

pub use comm::{Comm, CommResult};
pub use config::{Config, FromConfig, KeyInfo, KeyType, Value};
pub use data::{Augmenter, Batch, BatchRef, Dataset, Image, Loader, LoaderMode};
pub use error::{error_name, strerror, Error, ErrorKind, Result};
pub use file::{
    write_atomic, write_safetensors, Dtype, FileKind, FileTensor, TensorFile, TensorRef,
};
pub use net::{Buffer, Builder, LoadMode, Net, NetRef, Node, TensorInfo};
pub use trainer::{schedule_lr, schedule_tau, StepStats, Trainer};

use core::ffi::{c_char, c_int, c_void, CStr};

/// The version of the loaded library, "MAJOR.MINOR.PATCH".
pub fn version() -> &'static str {
    // SAFETY: static storage.
    unsafe { error::static_str(sys::byol_version_string()) }
}

/// The loaded library's MAJOR*10000 + MINOR*100 + PATCH; compare with
/// [`sys::BYOL_VERSION_NUMBER`], the headers these bindings mirror.
pub fn version_number() -> i32 {
    // SAFETY: no arguments.
    unsafe { sys::byol_version_number() }
}

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `BYOL_LOG_ERROR`
    Error = 0,
    /// `BYOL_LOG_WARN`
    Warn = 1,
    /// `BYOL_LOG_INFO`
    Info = 2,
    /// `BYOL_LOG_DEBUG`
    Debug = 3,
}

unsafe extern "C" fn log_trampoline(level: c_int, message: *const c_char, user: *mut c_void) {
    // SAFETY: user is the fn pointer installed by set_log_callback; message
    // is a NUL-terminated string borrowed for the call.
    let f: fn(LogLevel, &str) = core::mem::transmute::<*mut c_void, fn(LogLevel, &str)>(user);
    let level = match level {
        0 => LogLevel::Error,
        1 => LogLevel::Warn,
        2 => LogLevel::Info,
        _ => LogLevel::Debug,
    };
    let text = if message.is_null() {
        Default::default()
    } else {
        CStr::from_ptr(message).to_string_lossy()
    };
    // A panic must not unwind into C.
    let _ = std::panic::catch_unwind(|| f(level, &text));
}

/// Installs a process-wide log callback for messages up to `max_level`
/// (`None` silences the library, its default). The callback may run on any
/// thread that calls libbyol and must not call libbyol itself.
pub fn set_log_callback(callback: Option<fn(LogLevel, &str)>, max_level: LogLevel) {
    // SAFETY: a fn pointer is 'static and fits in a data pointer on every
    // platform Rust supports for this crate (checked below).
    const _: () =
        assert!(core::mem::size_of::<fn(LogLevel, &str)>() == core::mem::size_of::<*mut c_void>());
    unsafe {
        match callback {
            Some(f) => sys::byol_set_log_callback(
                Some(log_trampoline),
                f as *mut c_void,
                max_level as c_int,
            ),
            None => sys::byol_set_log_callback(None, core::ptr::null_mut(), max_level as c_int),
        }
    }
}
