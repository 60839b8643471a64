//! `Trainer`: the whole BYOL step and its parts (byol_trainer.h).

use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};
use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use crate::comm::{c_slice, Comm, InstalledComm};
use crate::config::Config;
use crate::error::{check, cpath, product, Error, Result};
use crate::net::NetRef;
use crate::sys;

/// Figures of one step (`byol_step_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepStats {
    /// 0-based index k of the step.
    pub step: i64,
    /// Batch mean of l(p1,z'2) + l(p2,z'1), in [0, 8].
    pub loss: f64,
    /// Batch mean of l(p1, z'2).
    pub loss_12: f64,
    /// Batch mean of l(p2, z'1).
    pub loss_21: f64,
    /// Learning rate used by the update.
    pub lr: f64,
    /// EMA decay used for the target (0 in SimSiam mode).
    pub tau: f64,
    /// L2 norm of the whole online gradient before the update.
    pub grad_norm: f64,
    /// Mean batch standard deviation of the l2-normalised online
    /// projections: about 1/sqrt(d) when healthy, near 0 on collapse.
    pub collapse_std: f64,
}

impl From<sys::byol_step_stats> for StepStats {
    fn from(s: sys::byol_step_stats) -> StepStats {
        StepStats {
            step: s.step,
            loss: s.loss,
            loss_12: s.loss_12,
            loss_21: s.loss_21,
            lr: s.lr,
            tau: s.tau,
            grad_norm: s.grad_norm,
            collapse_std: s.collapse_std,
        }
    }
}

fn raw_stats() -> sys::byol_step_stats {
    sys::byol_step_stats {
        struct_size: core::mem::size_of::<sys::byol_step_stats>() as u32,
        ..Default::default()
    }
}

type HookFn = dyn FnMut(&mut [f32]) -> bool + Send;

/// The gradient hook's closure and a panic it raised, re-raised after the
/// C call returns (a panic must not unwind through C).
struct Hook {
    f: Box<HookFn>,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn hook_trampoline(grads: *mut f32, count: i64, user: *mut c_void) -> c_int {
    // SAFETY: user is the Box<Hook> the trainer owns, alive while installed;
    // grads holds count floats for the duration of the call.
    let hook = &mut *(user as *mut Hook);
    let slice = c_slice(grads, count);
    match panic::catch_unwind(AssertUnwindSafe(|| (hook.f)(slice))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(payload) => {
            hook.panic = Some(payload);
            1
        }
    }
}

/// A BYOL trainer: the online network (encoder, projector, predictor), the
/// target network, the optimizer state and the schedules, all owned and
/// destroyed on drop.
///
/// `Send` (it may move to another thread; a gradient hook and a
/// communicator's closures must then be `Send` too, which
/// [`set_grad_hook`](Trainer::set_grad_hook) and [`Comm::new`] require)
/// but not `Sync`: one thread at a time.
pub struct Trainer {
    raw: NonNull<sys::byol_trainer>,
    hook: Option<Box<Hook>>,
    comm: Option<InstalledComm>,
}

// SAFETY: a byol_trainer has no thread affinity; the hook and the
// communicator are Send.
unsafe impl Send for Trainer {}

impl Trainer {
    /// Creates a trainer from the config (train.*, optim.*, ema.*, byol.*,
    /// net.*). The online encoder is a copy of `encoder` (architecture and
    /// current weights), or, with `None`, the preset named by `net.arch`.
    /// Everything is planned for `train.batch_size` samples per view. The
    /// config and the encoder are only borrowed for the call.
    pub fn new(cfg: &Config, encoder: Option<&NetRef>) -> Result<Trainer> {
        let mut raw = ptr::null_mut();
        let enc = encoder.map_or(ptr::null(), |e| e.as_ptr() as *const sys::byol_net);
        // SAFETY: cfg and encoder live for the call; valid out-pointer.
        check(unsafe { sys::byol_trainer_create(cfg.as_ptr(), enc, &mut raw) })?;
        Ok(Trainer {
            raw: NonNull::new(raw).expect("byol_trainer_create returned NULL"),
            hook: None,
            comm: None,
        })
    }

    fn views(
        &self,
        what: &str,
        view1: &[f32],
        view2: &[f32],
        n: usize,
    ) -> Result<(sys::byol_tensor, sys::byol_tensor)> {
        let [c, h, w] = self.encoder().input_dims();
        let per = product(&[c, h, w], what)?;
        for (name, v) in [("view1", view1), ("view2", view2)] {
            if n == 0 || per.checked_mul(n) != Some(v.len()) {
                return Err(Error::new(
                    sys::BYOL_E_SHAPE,
                    format!(
                        "{what}: {name} has {} floats, expected n*C*H*W = {n}*{c}*{h}*{w} = {}",
                        v.len(),
                        per.saturating_mul(n)
                    ),
                ));
            }
        }
        let t = |v: &[f32]| sys::byol_tensor {
            struct_size: core::mem::size_of::<sys::byol_tensor>() as u32,
            ndim: 4,
            shape: [n as i64, c as i64, h as i64, w as i64],
            data: v.as_ptr() as *mut f32,
        };
        Ok((t(view1), t(view2)))
    }

    /// The result of a step's C call: a panic of the gradient hook goes on
    /// unwinding here; a communicator closure's failure ends the message.
    fn finish(&mut self, rc: c_int) -> Result<()> {
        let r = check(rc);
        let why = self.comm.as_mut().and_then(InstalledComm::take_failure);
        if let Some(p) = self.hook.as_mut().and_then(|h| h.panic.take()) {
            panic::resume_unwind(p);
        }
        match (r, why) {
            (Err(e), Some(why)) => Err(Error::new(e.code(), format!("{}: {why}", e.message()))),
            (r, _) => r,
        }
    }

    /// One whole BYOL step on two views of `n` samples each (`[n, C, H, W]`
    /// row-major, `n` = train.batch_size). On error nothing changed (no
    /// weight, statistic or step counter).
    pub fn step(&mut self, view1: &[f32], view2: &[f32], n: usize) -> Result<StepStats> {
        let (v1, v2) = self.views("Trainer::step", view1, view2, n)?;
        let mut s = raw_stats();
        // SAFETY: views match the slices; borrowed for the call.
        let rc = unsafe { sys::byol_trainer_step(self.raw.as_ptr(), &v1, &v2, &mut s) };
        self.finish(rc)?;
        Ok(s.into())
    }

    /// Sets the online gradients to zero (step in parts).
    pub fn zero_grad(&mut self) -> Result<()> {
        // SAFETY: live trainer.
        check(unsafe { sys::byol_trainer_zero_grad(self.raw.as_ptr()) })
    }

    /// Forward and backward of two views of `n` <= train.batch_size
    /// samples, ADDING (sum of their losses) / train.batch_size into the
    /// online gradients (micro-batches; step in parts).
    pub fn accumulate(&mut self, view1: &[f32], view2: &[f32], n: usize) -> Result<StepStats> {
        let (v1, v2) = self.views("Trainer::accumulate", view1, view2, n)?;
        let mut s = raw_stats();
        // SAFETY: views match the slices; borrowed for the call.
        let rc = unsafe { sys::byol_trainer_accumulate(self.raw.as_ptr(), &v1, &v2, &mut s) };
        self.finish(rc)?;
        Ok(s.into())
    }

    /// Index k of the next optimizer step (0 for a new trainer).
    pub fn step_index(&self) -> i64 {
        // SAFETY: live trainer.
        unsafe { sys::byol_trainer_step_index(self.raw.as_ptr()) }
    }

    /// Optimizer update with lr(k), then k <- k + 1 (step in parts).
    pub fn apply_update(&mut self) -> Result<StepStats> {
        let mut s = raw_stats();
        // SAFETY: live trainer; valid out-struct.
        check(unsafe { sys::byol_trainer_apply_update(self.raw.as_ptr(), &mut s) })?;
        Ok(s.into())
    }

    /// target <- tau * target + (1 - tau) * online (step in parts).
    pub fn update_target(&mut self, tau: f64) -> Result<()> {
        // SAFETY: live trainer.
        check(unsafe { sys::byol_trainer_update_target(self.raw.as_ptr(), tau) })
    }

    /// Installs a gradient hook, called by [`step`](Trainer::step) between
    /// the backward passes and the update with the online gradients (e.g.
    /// to all-reduce them across processes). Returning `false` cancels the
    /// step ([`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled), nothing
    /// changed). A panic in the hook cancels the step and is re-raised when
    /// `step` returns.
    pub fn set_grad_hook<F>(&mut self, f: F) -> Result<()>
    where
        F: FnMut(&mut [f32]) -> bool + Send + 'static,
    {
        let mut hook = Box::new(Hook {
            f: Box::new(f),
            panic: None,
        });
        let user = &mut *hook as *mut Hook as *mut c_void;
        // SAFETY: the Box stays at the same address while installed: it is
        // kept in self.hook until replaced, removed or the trainer is dropped.
        check(unsafe {
            sys::byol_trainer_set_grad_hook(self.raw.as_ptr(), Some(hook_trampoline), user)
        })?;
        self.hook = Some(hook);
        Ok(())
    }

    /// Removes the gradient hook.
    pub fn clear_grad_hook(&mut self) -> Result<()> {
        // SAFETY: live trainer; NULL removes the hook.
        check(unsafe {
            sys::byol_trainer_set_grad_hook(self.raw.as_ptr(), None, ptr::null_mut())
        })?;
        self.hook = None;
        Ok(())
    }

    /// Makes this trainer one rank of a data-parallel run
    /// (`byol_trainer_set_comm()`; docs/distributed.md), or with `None`
    /// (or a [`Comm`] of size 1) a trainer alone again. Call it on every
    /// rank after creating or loading the trainer, before its first step.
    ///
    /// With `n` ranks, `train.batch_size` stays the global batch `B`:
    /// [`step`](Trainer::step) takes views of `B/n` images on every rank
    /// (rank `r` usually gets images `[r B/n, (r+1) B/n)`; see
    /// [`Loader::set_shard`](crate::Loader::set_shard)), BatchNorm
    /// statistics are those of the global batch (`byol.sync_bn`, on by
    /// default), the gradients are summed over the ranks before the
    /// update, and every rank keeps the same weights bit for bit. Every
    /// rank must step together. In a custom loop,
    /// [`accumulate`](Trainer::accumulate) calls the closures too, but
    /// summing [`grads_mut`](Trainer::grads_mut) over the ranks before
    /// [`apply_update`](Trainer::apply_update) is the caller's job.
    ///
    /// The trainer owns the communicator and its closures until it is
    /// replaced or the trainer is dropped.
    ///
    /// Errors: [`ErrorKind::InvalidArg`](crate::ErrorKind::InvalidArg) for
    /// `rank >= size`, `size` 0 or a value above `i32::MAX`;
    /// [`ErrorKind::Shape`](crate::ErrorKind::Shape) when `size` does not
    /// divide `train.batch_size` (or, with `byol.sync_bn=0`, leaves a rank
    /// fewer than 2 images). On error the trainer keeps its previous
    /// communicator.
    pub fn set_comm(&mut self, comm: Option<Comm>) -> Result<()> {
        let comm = comm.map(InstalledComm::new);
        let raw = comm.as_ref().map(InstalledComm::raw).transpose()?;
        let p: *const sys::byol_comm = raw.as_ref().map_or(ptr::null(), |c| c);
        // SAFETY: live trainer; the struct is copied by the call, and its
        // user pointer (the Comm) lives in self.comm until replaced or the
        // trainer is destroyed. On failure C keeps the previous one, which
        // then stays in self.comm.
        check(unsafe { sys::byol_trainer_set_comm(self.raw.as_ptr(), p) })?;
        self.comm = comm;
        Ok(())
    }

    fn buffer(&self, which: i32) -> (*mut f32, usize) {
        let mut count = 0i64;
        // SAFETY: live trainer; the buffer lives until the trainer is destroyed.
        let p = unsafe { sys::byol_trainer_buffer(self.raw.as_ptr(), which, &mut count) };
        assert!(!p.is_null(), "byol_trainer_buffer returned NULL");
        (p, count.max(0) as usize)
    }

    /// The online parameters: encoder, projector and predictor in one array.
    pub fn params(&self) -> &[f32] {
        let (p, n) = self.buffer(sys::BYOL_BUFFER_PARAMS);
        // SAFETY: n floats, unchanged while `self` is borrowed shared.
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    /// The online parameters, writable.
    pub fn params_mut(&mut self) -> &mut [f32] {
        let (p, n) = self.buffer(sys::BYOL_BUFFER_PARAMS);
        // SAFETY: n floats; `&mut self` excludes every other access.
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }

    /// The online gradients, laid out as the parameters.
    pub fn grads(&self) -> &[f32] {
        let (p, n) = self.buffer(sys::BYOL_BUFFER_GRADS);
        // SAFETY: as params().
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    /// The online gradients, writable (e.g. to all-reduce them in a custom loop).
    pub fn grads_mut(&mut self) -> &mut [f32] {
        let (p, n) = self.buffer(sys::BYOL_BUFFER_GRADS);
        // SAFETY: as params_mut().
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }

    /// The online encoder, borrowed from the trainer: read it, save it
    /// (torchvision names) or inspect its weights. The borrow checker ends
    /// the borrow before the trainer can step or be dropped.
    pub fn encoder(&self) -> &NetRef {
        // SAFETY: the trainer owns the encoder until it is destroyed, and
        // the returned reference borrows `self`.
        unsafe { NetRef::from_ptr(sys::byol_trainer_encoder(self.raw.as_ptr())) }
    }

    /// The online encoder, borrowed exclusively: embed or evaluate with it
    /// ([`NetRef::embed`]) between steps, or load weights into it.
    pub fn encoder_mut(&mut self) -> &mut NetRef {
        // SAFETY: as encoder(); `&mut self` makes the borrow exclusive.
        unsafe { NetRef::from_ptr_mut(sys::byol_trainer_encoder(self.raw.as_ptr())) }
    }

    /// Saves the whole training state (a checkpoint) atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live trainer, NUL-terminated path.
        check(unsafe { sys::byol_trainer_save(self.raw.as_ptr(), p.as_ptr()) })
    }

    /// Restores a checkpoint into a trainer of the same architecture,
    /// `byol.mode` and optimizer (`train.allow_optim_change=1` takes another
    /// optimizer's: its networks and step, with a fresh optimizer); on error
    /// the trainer is unchanged and the message names file and tensor.
    pub fn load(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live trainer, NUL-terminated path.
        check(unsafe { sys::byol_trainer_load(self.raw.as_ptr(), p.as_ptr()) })
    }

    /// The raw handle, borrowed for as long as `self`.
    pub fn as_ptr(&self) -> *mut sys::byol_trainer {
        self.raw.as_ptr()
    }
}

impl Drop for Trainer {
    fn drop(&mut self) {
        // SAFETY: we own the trainer; destroyed once, before the hook and
        // the communicator (fields, dropped after this) it may point to.
        unsafe { sys::byol_trainer_destroy(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Trainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trainer")
            .field("step_index", &self.step_index())
            .field("encoder", self.encoder())
            .field("online_params", &self.params().len())
            .finish()
    }
}

/// lr(k): linear warmup to `peak_lr` over `warmup_steps`, then a cosine to
/// 0 at `total_steps` (`byol_schedule_lr()`).
pub fn schedule_lr(step: i64, total_steps: i64, warmup_steps: i64, peak_lr: f64) -> f64 {
    // SAFETY: a pure function.
    unsafe { sys::byol_schedule_lr(step, total_steps, warmup_steps, peak_lr) }
}

/// tau(k) = 1 - (1 - tau_base)(cos(pi k / K) + 1)/2 (`byol_schedule_tau()`).
pub fn schedule_tau(step: i64, total_steps: i64, tau_base: f64) -> f64 {
    // SAFETY: a pure function.
    unsafe { sys::byol_schedule_tau(step, total_steps, tau_base) }
}
