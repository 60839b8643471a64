//! `Comm`: a communicator for data-parallel training built from two
//! closures (`byol_comm`, byol_trainer.h; docs/distributed.md).

use core::ffi::{c_int, c_void};
use core::ptr::NonNull;
use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use crate::error::{Error, Result};
use crate::sys;

/// What a [`Comm`] closure returns: `Ok(())` once the buffer holds the sum
/// over all ranks, or an error (any `std::error::Error`, a `String` or a
/// `&str` through `.into()` or `?`) whose text ends the step's message.
pub type CommResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

type SumFn<T> = dyn FnMut(&mut [T]) -> CommResult + Send;

/// One rank of a data-parallel run: its rank, the number of ranks, and two
/// closures that replace a buffer in place by its sum over all ranks, of
/// `f32`s (the gradients) and of `f64`s (BatchNorm sums, the loss). Hand
/// it to [`Trainer::set_comm`](crate::Trainer::set_comm); the trainer owns
/// it from then on.
///
/// The closures' contract is the C library's (docs/distributed.md):
/// - every rank's trainer calls them with buffers of the same lengths in
///   the same order, as long as every rank steps together;
/// - they must leave **the same bits on every rank**: add in an order that
///   does not depend on the rank (e.g. reduce to rank 0, then broadcast);
/// - they run on the thread that calls [`Trainer::step`](crate::Trainer::step)
///   (or [`accumulate`](crate::Trainer::accumulate)), during that call;
/// - an `Err` or a panic fails the step with
///   [`ErrorKind::Comm`](crate::ErrorKind::Comm), the closure's message or
///   the panic's at the end of the error's message, and the trainer
///   changes nothing. A panic does not unwind through the C library: it is
///   caught and turned into that error (the panic hook still prints it).
///   Other ranks may then be left waiting inside their sum: end the whole
///   run on such an error (`MPI_Abort`).
///
/// The closures must be `Send + 'static` because a [`Trainer`](crate::Trainer)
/// is `Send` and owns them. With MPI through the `mpi` crate (rsmpi), whose
/// communicators are not `Send` on Open MPI, fetch the world communicator
/// inside the closure instead of capturing it; it is a global handle, and
/// the closure then runs MPI on the stepping thread only. A sketch (not
/// compiled here: this crate does not depend on `mpi`):
///
/// ```ignore
/// use mpi::collective::SystemOperation;
/// use mpi::datatype::Equivalence;
/// use mpi::topology::SimpleCommunicator;
/// use mpi::traits::*;
///
/// /// In-place sum over MPI_COMM_WORLD with the same bits on every rank:
/// /// reduced into rank 0 in MPI's order, then rank 0's result broadcast
/// /// (what libbyol-mpi does in C). MPI errors abort the run.
/// fn sum_over_world<T: Equivalence + Copy>(buf: &mut [T]) -> byol::CommResult {
///     let world = SimpleCommunicator::world();
///     let root = world.process_at_rank(0);
///     let mine = buf.to_vec();
///     if world.rank() == 0 {
///         root.reduce_into_root(&mine[..], buf, SystemOperation::sum());
///     } else {
///         root.reduce_into(&mine[..], SystemOperation::sum());
///     }
///     root.broadcast_into(buf);
///     Ok(())
/// }
///
/// fn main() -> byol::Result<()> {
///     let universe = mpi::initialize().expect("MPI_Init");
///     let world = universe.world();
///     let (rank, size) = (world.rank() as u32, world.size() as u32);
///     let mut cfg = byol::Config::preset("fashion-mnist")?;
///     cfg.set("train.batch_size", 256)?; // the global batch
///     let mut trainer = byol::Trainer::new(&cfg, None)?;
///     let comm = byol::Comm::new(rank, size, sum_over_world::<f32>, sum_over_world::<f64>);
///     trainer.set_comm(Some(comm))?;
///     // Each rank steps on its slice: 256 / size images per view, e.g.
///     // from a Loader with set_shard(rank, size). Rank 0 alone saves.
///     Ok(())
/// }
/// ```
///
/// A closure that is not `Send` is refused at compile time:
/// ```compile_fail,E0277
/// let count = std::rc::Rc::new(0);
/// let sum = move |_: &mut [f32]| -> byol::CommResult { let _ = &count; Ok(()) };
/// byol::Comm::new(0, 2, sum, |_: &mut [f64]| Ok(()));
/// ```
pub struct Comm {
    rank: u32,
    size: u32,
    sum_f32: Box<SumFn<f32>>,
    sum_f64: Box<SumFn<f64>>,
    /// Why the last closure call failed (its error or its panic), taken by
    /// the trainer when the C call returns.
    failure: Option<String>,
}

impl Comm {
    /// Rank `rank` of `size` ranks (`rank < size`; the library checks it in
    /// [`Trainer::set_comm`](crate::Trainer::set_comm)), summing `f32` buffers
    /// with `sum_f32` and `f64` buffers with `sum_f64`. With `size` 1 the
    /// trainer is alone and never calls them.
    pub fn new<F, D>(rank: u32, size: u32, sum_f32: F, sum_f64: D) -> Comm
    where
        F: FnMut(&mut [f32]) -> CommResult + Send + 'static,
        D: FnMut(&mut [f64]) -> CommResult + Send + 'static,
    {
        Comm {
            rank,
            size,
            sum_f32: Box::new(sum_f32),
            sum_f64: Box::new(sum_f64),
            failure: None,
        }
    }

    /// This process's rank, `0..size`.
    pub fn rank(&self) -> u32 {
        self.rank
    }

    /// The number of ranks.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Runs one closure call for C: 0, or 1 with the reason kept.
    fn call(&mut self, f: impl FnOnce(&mut Comm) -> CommResult) -> c_int {
        let why = match panic::catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(())) => return 0,
            Ok(Err(e)) => e.to_string(),
            Err(payload) => format!("the closure panicked: {}", panic_text(&*payload)),
        };
        self.failure = Some(why);
        1
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Comm")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}

/// The `count` elements at `data` as a slice (empty for NULL or count <= 0).
///
/// # Safety
/// `data` is NULL or points to `count` elements, valid and exclusively
/// ours for `'a`.
pub(crate) unsafe fn c_slice<'a, T>(data: *mut T, count: i64) -> &'a mut [T] {
    if data.is_null() || count <= 0 {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(data, count as usize)
    }
}

unsafe extern "C" fn sum_f32_trampoline(data: *mut f32, count: i64, user: *mut c_void) -> c_int {
    // SAFETY: user is the Comm an InstalledComm owns, alive while the
    // trainer may call it; data holds count floats for the call.
    let buf = c_slice(data, count);
    (*(user as *mut Comm)).call(|c| (c.sum_f32)(buf))
}

unsafe extern "C" fn sum_f64_trampoline(data: *mut f64, count: i64, user: *mut c_void) -> c_int {
    // SAFETY: as sum_f32_trampoline.
    let buf = c_slice(data, count);
    (*(user as *mut Comm)).call(|c| (c.sum_f64)(buf))
}

/// A `Comm` handed to the C trainer: owned through a raw pointer (not a
/// `Box` field, whose moves would assert a uniqueness that the pointer
/// kept by C breaks), freed on drop.
pub(crate) struct InstalledComm(NonNull<Comm>);

// SAFETY: it owns a Comm, which is Send (its closures are).
unsafe impl Send for InstalledComm {}

impl InstalledComm {
    pub(crate) fn new(comm: Comm) -> InstalledComm {
        InstalledComm(NonNull::from(Box::leak(Box::new(comm))))
    }

    /// The C struct for byol_trainer_set_comm(), its user pointer this Comm.
    pub(crate) fn raw(&self) -> Result<sys::byol_comm> {
        // SAFETY: we own the Comm; no closure runs during this call.
        let c = unsafe { self.0.as_ref() };
        let int = |v: u32, what: &str| {
            i32::try_from(v).map_err(|_| {
                Error::new(
                    sys::BYOL_E_INVALID_ARG,
                    format!("Trainer::set_comm: {what} {v} does not fit in int32"),
                )
            })
        };
        Ok(sys::byol_comm {
            struct_size: core::mem::size_of::<sys::byol_comm>() as u32,
            rank: int(c.rank, "rank")?,
            size: int(c.size, "size")?,
            allreduce_f32: Some(sum_f32_trampoline),
            allreduce_f64: Some(sum_f64_trampoline),
            user: self.0.as_ptr() as *mut c_void,
        })
    }

    /// Why the last closure call failed, if it did (cleared).
    pub(crate) fn take_failure(&mut self) -> Option<String> {
        // SAFETY: we own the Comm; called after the C call returned.
        unsafe { self.0.as_mut() }.failure.take()
    }
}

impl Drop for InstalledComm {
    fn drop(&mut self) {
        // SAFETY: made by Box::leak in new(), freed once here; the trainer
        // no longer points to it (replaced or destroyed before).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}
