//! `Net` and `NetRef`: networks with exact forward and backward passes
//! (byol_net.h), and `Builder` for custom networks.

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::marker::{PhantomData, PhantomPinned};
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};
use std::borrow::{Borrow, BorrowMut};
use std::fmt;
use std::path::Path;

use crate::config::Config;
use crate::error::{check, cpath, cstring, product, to_i32, to_i64, Error, Result};
use crate::sys;

/// Which flat buffer of a net or trainer ([`NetRef::tensors`] reports the
/// one each named tensor lives in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Buffer {
    /// `BYOL_BUFFER_PARAMS`: trainable parameters.
    Params,
    /// `BYOL_BUFFER_GRADS`: gradients, laid out as the parameters.
    Grads,
    /// `BYOL_BUFFER_STATE`: BatchNorm running means and variances.
    State,
}

impl Buffer {
    fn raw(self) -> i32 {
        match self {
            Buffer::Params => sys::BYOL_BUFFER_PARAMS,
            Buffer::Grads => sys::BYOL_BUFFER_GRADS,
            Buffer::State => sys::BYOL_BUFFER_STATE,
        }
    }
}

/// Where one named tensor lives (`byol_net_tensor_info()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// PyTorch state_dict name, e.g. `"layer1.0.conv1.weight"`.
    pub name: String,
    /// [`Buffer::Params`] (its gradient is at the same offset of
    /// [`Buffer::Grads`]) or [`Buffer::State`].
    pub buffer: Buffer,
    /// PyTorch layout, e.g. `[Cout, Cin, KH, KW]` for a convolution.
    pub shape: Vec<i64>,
    /// Offset in floats from the start of the buffer.
    pub offset: usize,
    /// Number of floats.
    pub numel: usize,
    /// A bias vector.
    pub is_bias: bool,
    /// A BatchNorm parameter or statistic.
    pub is_norm: bool,
}

/// How [`NetRef::load`] treats tensors of the file that the net lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadMode {
    /// `BYOL_LOAD_STRICT`: every tensor must match, none may be extra.
    #[default]
    Strict,
    /// `BYOL_LOAD_IGNORE_UNEXPECTED`: tensors the net does not have are skipped.
    IgnoreUnexpected,
}

impl LoadMode {
    fn raw(self) -> u32 {
        match self {
            LoadMode::Strict => sys::BYOL_LOAD_STRICT,
            LoadMode::IgnoreUnexpected => sys::BYOL_LOAD_IGNORE_UNEXPECTED,
        }
    }
}

/// A network handle, borrowed: `&NetRef` for reading (dimensions, weights,
/// saving), `&mut NetRef` for running and changing it. It is what an owned
/// [`Net`] dereferences to, and what [`Trainer::encoder`] and
/// [`Trainer::encoder_mut`] lend out, so a trainer's encoder is used exactly
/// like a net and the borrow checker ties its lifetime to the trainer's
/// (`&'a Trainer -> &'a NetRef`).
///
/// It is never held by value: it is an opaque, zero-sized stand-in for the
/// C `byol_net` that references point to (the `foreign-types` pattern).
///
/// [`Trainer::encoder`]: crate::Trainer::encoder
/// [`Trainer::encoder_mut`]: crate::Trainer::encoder_mut
pub struct NetRef {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned, UnsafeCell<()>)>,
}

/// Tensors crossing the ABI: shape checks on the Rust side, then a view.
fn tensor(data: *const f32, shape: &[usize]) -> Result<sys::byol_tensor> {
    let mut t = sys::byol_tensor {
        struct_size: core::mem::size_of::<sys::byol_tensor>() as u32,
        ndim: shape.len() as i32,
        shape: [0; 4],
        data: data as *mut f32,
    };
    for (d, &s) in shape.iter().enumerate() {
        t.shape[d] = to_i64(s, "tensor dimension")?;
    }
    Ok(t)
}

fn shape_error(what: &str, got: usize, n: usize, per_sample: &[usize]) -> Error {
    let dims: Vec<String> = per_sample.iter().map(|d| d.to_string()).collect();
    Error::new(
        sys::BYOL_E_SHAPE,
        format!(
            "{what} has {got} floats, expected n*{} = {n}*{} = {}",
            dims.join("*"),
            dims.join("*"),
            per_sample.iter().product::<usize>().saturating_mul(n)
        ),
    )
}

fn check_len(what: &str, got: usize, n: usize, per_sample: &[usize]) -> Result<()> {
    if n == 0 {
        return Err(Error::new(
            sys::BYOL_E_SHAPE,
            format!("{what}: batch size n must be at least 1"),
        ));
    }
    let want = product(per_sample, what)?.checked_mul(n);
    if want != Some(got) {
        return Err(shape_error(what, got, n, per_sample));
    }
    Ok(())
}

impl NetRef {
    /// # Safety
    /// `p` is a live `byol_net` that outlives `'a` and that nothing else
    /// uses while the reference is alive.
    pub(crate) unsafe fn from_ptr<'a>(p: *mut sys::byol_net) -> &'a NetRef {
        &*(p as *const NetRef)
    }

    /// # Safety
    /// As [`NetRef::from_ptr`], and no other reference to it exists.
    pub(crate) unsafe fn from_ptr_mut<'a>(p: *mut sys::byol_net) -> &'a mut NetRef {
        &mut *(p as *mut NetRef)
    }

    /// The raw handle, borrowed for as long as `self`.
    pub fn as_ptr(&self) -> *mut sys::byol_net {
        self as *const NetRef as *mut sys::byol_net
    }

    /// Per-sample input shape `[C, H, W]` (`[D, 1, 1]` for a vector input).
    pub fn input_dims(&self) -> [usize; 3] {
        let mut d = [0i64; 3];
        // SAFETY: live net, 3 writable dims.
        let rc = unsafe { sys::byol_net_input_dims(self.as_ptr(), d.as_mut_ptr()) };
        debug_assert_eq!(rc, sys::BYOL_OK);
        d.map(|x| x.max(0) as usize)
    }

    /// Floats per input sample (C*H*W).
    pub fn input_len(&self) -> usize {
        self.input_dims().iter().product()
    }

    /// Per-sample input shape as the ABI wants it: `[C, H, W]` for images,
    /// `[D]` for vector inputs (H = W = 1).
    fn input_shape(&self) -> Vec<usize> {
        let [c, h, w] = self.input_dims();
        if h == 1 && w == 1 {
            vec![c]
        } else {
            vec![c, h, w]
        }
    }

    /// Per-sample output shape: `[D]` for a vector, `[C, H, W]` for a map.
    pub fn output_dims(&self) -> Vec<usize> {
        let mut nd = 0i32;
        let mut d = [0i64; 3];
        // SAFETY: live net, valid out-pointers.
        let rc = unsafe { sys::byol_net_output_dims(self.as_ptr(), &mut nd, d.as_mut_ptr()) };
        debug_assert_eq!(rc, sys::BYOL_OK);
        d[..(nd.clamp(0, 3) as usize)]
            .iter()
            .map(|&x| x.max(0) as usize)
            .collect()
    }

    /// Floats per output sample.
    pub fn output_len(&self) -> usize {
        self.output_dims().iter().product()
    }

    /// Plans the activation arena for batches of up to `max_batch` samples;
    /// needed before the first [`forward`](NetRef::forward). Parameters,
    /// gradients and state are kept. (On a trainer's encoder, keep
    /// `max_batch` at least `train.batch_size`: a smaller plan makes the
    /// trainer's steps fail with a shape error.)
    pub fn plan(&mut self, max_batch: usize) -> Result<()> {
        let m = to_i64(max_batch, "max_batch")?;
        // SAFETY: live net, exclusively borrowed.
        check(unsafe { sys::byol_net_plan(self.as_ptr(), m) })
    }

    /// Training mode (BatchNorm uses and updates batch statistics) or
    /// evaluation mode (running statistics). New nets are in training mode.
    pub fn set_training(&mut self, training: bool) -> Result<()> {
        // SAFETY: live net, exclusively borrowed.
        check(unsafe { sys::byol_net_set_training(self.as_ptr(), training as i32) })
    }

    /// Forward pass of `n` samples: `x` is `[n, C, H, W]` (or `[n, D]`)
    /// row-major; returns `[n, ...output_dims]`. In training mode the
    /// activations are kept for [`backward`](NetRef::backward).
    pub fn forward(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let mut y = vec![0f32; n.saturating_mul(self.output_len())];
        self.forward_into(x, n, &mut y)?;
        Ok(y)
    }

    /// As [`forward`](NetRef::forward), writing into `y` (`n * output_len()` floats).
    pub fn forward_into(&mut self, x: &[f32], n: usize, y: &mut [f32]) -> Result<()> {
        let (xs, ys) = (self.input_shape(), self.output_dims());
        check_len("Net::forward: input", x.len(), n, &xs)?;
        check_len("Net::forward: output", y.len(), n, &ys)?;
        let tx = tensor(x.as_ptr(), &[&[n][..], &xs].concat())?;
        let mut ty = tensor(y.as_mut_ptr(), &[&[n][..], &ys].concat())?;
        // SAFETY: the views match the slices' lengths; borrowed for the call.
        check(unsafe { sys::byol_net_forward(self.as_ptr(), &tx, &mut ty) })
    }

    /// Backward pass of the last training-mode forward of `n` samples: ADDS
    /// dLoss/dparams into the gradients and, when `dx` is given, writes
    /// dLoss/dx (`n * input_len()` floats).
    pub fn backward(&mut self, dy: &[f32], n: usize, dx: Option<&mut [f32]>) -> Result<()> {
        let (xs, ys) = (self.input_shape(), self.output_dims());
        check_len("Net::backward: dy", dy.len(), n, &ys)?;
        let tdy = tensor(dy.as_ptr(), &[&[n][..], &ys].concat())?;
        let mut tdx = None;
        if let Some(dx) = dx {
            check_len("Net::backward: dx", dx.len(), n, &xs)?;
            tdx = Some(tensor(dx.as_mut_ptr(), &[&[n][..], &xs].concat())?);
        }
        let pdx = tdx
            .as_mut()
            .map_or(ptr::null_mut(), |t| t as *mut sys::byol_tensor);
        // SAFETY: the views match the slices' lengths; borrowed for the call.
        check(unsafe { sys::byol_net_backward(self.as_ptr(), &tdy, pdx) })
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) -> Result<()> {
        // SAFETY: live net, exclusively borrowed.
        check(unsafe { sys::byol_net_zero_grad(self.as_ptr()) })
    }

    /// Inference on any number of samples (evaluation mode, in chunks of
    /// the planned batch): returns `[n, output_len()]`.
    pub fn embed(&mut self, x: &[f32], n: usize) -> Result<Vec<f32>> {
        let mut y = vec![0f32; n.saturating_mul(self.output_len())];
        self.embed_into(x, n, &mut y)?;
        Ok(y)
    }

    /// As [`embed`](NetRef::embed), writing into `y`.
    pub fn embed_into(&mut self, x: &[f32], n: usize, y: &mut [f32]) -> Result<()> {
        let xs = self.input_shape();
        let d = self.output_len();
        check_len("Net::embed: input", x.len(), n, &xs)?;
        check_len("Net::embed: output", y.len(), n, &[d])?;
        let tx = tensor(x.as_ptr(), &[&[n][..], &xs].concat())?;
        let mut ty = tensor(y.as_mut_ptr(), &[n, d])?;
        // SAFETY: the views match the slices' lengths; borrowed for the call.
        check(unsafe { sys::byol_net_embed(self.as_ptr(), &tx, &mut ty) })
    }

    fn buffer(&self, which: Buffer) -> (*mut f32, usize) {
        let mut count = 0i64;
        // SAFETY: live net; the buffer lives and never moves until the net
        // is destroyed.
        let p = unsafe { sys::byol_net_buffer(self.as_ptr(), which.raw(), &mut count) };
        assert!(!p.is_null(), "byol_net_buffer returned NULL");
        (p, count.max(0) as usize)
    }

    /// All parameters, one contiguous buffer (offsets in [`tensors`](NetRef::tensors)).
    pub fn params(&self) -> &[f32] {
        let (p, n) = self.buffer(Buffer::Params);
        // SAFETY: n floats at p, unchanged while `self` is borrowed shared.
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    /// All parameters, writable (e.g. for a custom optimizer).
    pub fn params_mut(&mut self) -> &mut [f32] {
        let (p, n) = self.buffer(Buffer::Params);
        // SAFETY: n floats at p; `&mut self` excludes every other access.
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }

    /// The gradients, laid out as the parameters.
    pub fn grads(&self) -> &[f32] {
        let (p, n) = self.buffer(Buffer::Grads);
        // SAFETY: as params().
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    /// The gradients, writable (e.g. to all-reduce them).
    pub fn grads_mut(&mut self) -> &mut [f32] {
        let (p, n) = self.buffer(Buffer::Grads);
        // SAFETY: as params_mut().
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }

    /// BatchNorm running means and variances.
    pub fn state(&self) -> &[f32] {
        let (p, n) = self.buffer(Buffer::State);
        // SAFETY: as params().
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    /// BatchNorm running statistics, writable.
    pub fn state_mut(&mut self) -> &mut [f32] {
        let (p, n) = self.buffer(Buffer::State);
        // SAFETY: as params_mut().
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }

    /// Number of named tensors (parameters and running statistics).
    pub fn tensor_count(&self) -> usize {
        // SAFETY: live net.
        unsafe { sys::byol_net_tensor_count(self.as_ptr()) }.max(0) as usize
    }

    /// Every named tensor in state_dict order, with its buffer, offset and shape.
    pub fn tensors(&self) -> Vec<TensorInfo> {
        (0..self.tensor_count())
            .filter_map(|i| {
                let mut info = sys::byol_tensor_info {
                    struct_size: core::mem::size_of::<sys::byol_tensor_info>() as u32,
                    buffer: 0,
                    name: ptr::null(),
                    ndim: 0,
                    flags: 0,
                    shape: [0; 4],
                    offset: 0,
                    numel: 0,
                };
                // SAFETY: live net, sized out-struct; the name is copied
                // while the net is borrowed.
                unsafe {
                    if sys::byol_net_tensor_info(self.as_ptr(), i as i64, &mut info) != sys::BYOL_OK
                    {
                        return None;
                    }
                    let name = if info.name.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(info.name).to_string_lossy().into_owned()
                    };
                    Some(TensorInfo {
                        name,
                        buffer: if info.buffer == sys::BYOL_BUFFER_STATE {
                            Buffer::State
                        } else {
                            Buffer::Params
                        },
                        shape: info.shape[..(info.ndim.clamp(0, 4) as usize)].to_vec(),
                        offset: info.offset.max(0) as usize,
                        numel: info.numel.max(0) as usize,
                        is_bias: info.flags & sys::BYOL_TENSOR_BIAS != 0,
                        is_norm: info.flags & sys::BYOL_TENSOR_NORM != 0,
                    })
                }
            })
            .collect()
    }

    /// Saves the weights as safetensors with PyTorch state_dict names,
    /// atomically (a failure keeps any previous file).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live net, NUL-terminated path.
        check(unsafe { sys::byol_net_save(self.as_ptr(), p.as_ptr()) })
    }

    /// Loads weights from a safetensors file; everything is checked before
    /// anything is copied, so on error the net is unchanged and the message
    /// names the file and tensor.
    pub fn load(&mut self, path: impl AsRef<Path>, mode: LoadMode) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live net, exclusively borrowed; NUL-terminated path.
        check(unsafe { sys::byol_net_load(self.as_ptr(), p.as_ptr(), mode.raw()) })
    }

    /// As [`load`](NetRef::load) from the bytes of a safetensors file.
    pub fn load_bytes(&mut self, bytes: &[u8], mode: LoadMode) -> Result<()> {
        // SAFETY: live net; bytes borrowed for the call.
        check(unsafe {
            sys::byol_net_load_buffer(
                self.as_ptr(),
                bytes.as_ptr().cast(),
                bytes.len(),
                mode.raw(),
            )
        })
    }
}

impl fmt::Debug for NetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("input", &self.input_dims())
            .field("output", &self.output_dims())
            .field("params", &self.params().len())
            .finish()
    }
}

/// An owned network: a preset chosen by `net.arch` ([`Net::new`]) or a
/// [`Builder`]'s graph. Destroyed on drop. All operations are those of
/// [`NetRef`], which `Net` dereferences to.
///
/// `Send` (a net may move to another thread) but not `Sync`: one thread
/// at a time, as the C API requires.
pub struct Net {
    raw: NonNull<sys::byol_net>,
}

// SAFETY: a byol_net has no thread affinity; `!Sync` and `&mut` give the
// one-thread-at-a-time use the C API asks for.
unsafe impl Send for Net {}

impl Net {
    /// Creates the network named by the config's `net.arch` ("resnet18",
    /// "resnet18-cifar", "cnn-small", "mlp", ...), `net.width`,
    /// `net.num_classes` and `seed`. The config may be dropped afterwards.
    pub fn new(cfg: &Config) -> Result<Net> {
        let mut raw = ptr::null_mut();
        // SAFETY: cfg is live for the call; raw is a valid out-pointer.
        check(unsafe { sys::byol_net_create(cfg.as_ptr(), &mut raw) })?;
        Ok(Net {
            raw: NonNull::new(raw).expect("byol_net_create returned NULL"),
        })
    }

    /// Takes ownership of a raw handle.
    ///
    /// # Safety
    /// `raw` is a live `byol_net` owned by the caller, destroyed by nothing else.
    pub unsafe fn from_raw(raw: NonNull<sys::byol_net>) -> Net {
        Net { raw }
    }

    /// Gives up ownership: the caller must `byol_net_destroy()` the handle.
    pub fn into_raw(self) -> NonNull<sys::byol_net> {
        let raw = self.raw;
        core::mem::forget(self);
        raw
    }
}

impl Deref for Net {
    type Target = NetRef;
    fn deref(&self) -> &NetRef {
        // SAFETY: we own the live net; the reference borrows `self`.
        unsafe { NetRef::from_ptr(self.raw.as_ptr()) }
    }
}

impl DerefMut for Net {
    fn deref_mut(&mut self) -> &mut NetRef {
        // SAFETY: we own the live net; `&mut self` is exclusive.
        unsafe { NetRef::from_ptr_mut(self.raw.as_ptr()) }
    }
}

impl AsRef<NetRef> for Net {
    fn as_ref(&self) -> &NetRef {
        self
    }
}
impl AsMut<NetRef> for Net {
    fn as_mut(&mut self) -> &mut NetRef {
        self
    }
}
impl Borrow<NetRef> for Net {
    fn borrow(&self) -> &NetRef {
        self
    }
}
impl BorrowMut<NetRef> for Net {
    fn borrow_mut(&mut self) -> &mut NetRef {
        self
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // SAFETY: we own the net; destroyed exactly once.
        unsafe { sys::byol_net_destroy(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A node of a [`Builder`] graph. Node 0 is the input ([`Builder::input`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node(pub i32);

/// Assembles a custom network from layers (`byol_builder_*`). Every call
/// adds one node fed by earlier nodes and returns it; a failed call leaves
/// the builder as it was. Layers with parameters take a name prefixing
/// their state_dict entries (`None`: the node id).
///
/// ```no_run
/// # fn main() -> byol::Result<()> {
/// let cfg = byol::Config::new()?;
/// let mut b = byol::Builder::new(&cfg, 1, 28, 28)?;
/// let x = b.input();
/// let x = b.conv2d(Some("conv"), x, 16, 3, 1, 1, false)?;
/// let x = b.relu(x)?;
/// let x = b.avgpool(x)?;
/// let net = b.finish(x)?;
/// assert_eq!(net.output_dims(), vec![16]);
/// # Ok(()) }
/// ```
pub struct Builder {
    raw: NonNull<sys::byol_builder>,
}

// SAFETY: as Net.
unsafe impl Send for Builder {}

impl Builder {
    /// Starts a graph whose input is `[channels, height, width]` per sample
    /// (height = width = 1: a vector of `channels` features). `cfg` gives
    /// initialisation settings (seed, net.init, net.bn_*).
    pub fn new(cfg: &Config, channels: usize, height: usize, width: usize) -> Result<Builder> {
        let mut raw = ptr::null_mut();
        // SAFETY: cfg live for the call; valid out-pointer.
        check(unsafe {
            sys::byol_builder_create(
                cfg.as_ptr(),
                to_i64(channels, "channels")?,
                to_i64(height, "height")?,
                to_i64(width, "width")?,
                &mut raw,
            )
        })?;
        Ok(Builder {
            raw: NonNull::new(raw).expect("byol_builder_create returned NULL"),
        })
    }

    /// The input node (0).
    pub fn input(&self) -> Node {
        Node(0)
    }

    fn add(&mut self, f: impl FnOnce(*mut sys::byol_builder, *mut i32) -> i32) -> Result<Node> {
        let mut out = -1i32;
        check(f(self.raw.as_ptr(), &mut out))?;
        Ok(Node(out))
    }

    /// 2-D convolution, square kernel, symmetric zero padding.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d(
        &mut self,
        name: Option<&str>,
        src: Node,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> Result<Node> {
        let name = name.map(|n| cstring(n, "layer name")).transpose()?;
        let (oc, k, s, p) = (
            to_i64(out_channels, "out_channels")?,
            to_i32(kernel, "kernel")?,
            to_i32(stride, "stride")?,
            to_i32(padding, "padding")?,
        );
        let np = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        // SAFETY: live builder; name NULL or NUL-terminated for the call.
        self.add(|b, out| unsafe {
            sys::byol_builder_conv2d(b, np, src.0, oc, k, s, p, bias as i32, out)
        })
    }

    /// BatchNorm over channels (2-D for maps, 1-D for vectors).
    pub fn batchnorm(&mut self, name: Option<&str>, src: Node) -> Result<Node> {
        let name = name.map(|n| cstring(n, "layer name")).transpose()?;
        let np = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        // SAFETY: as conv2d.
        self.add(|b, out| unsafe { sys::byol_builder_batchnorm(b, np, src.0, out) })
    }

    /// Rectified linear unit.
    pub fn relu(&mut self, src: Node) -> Result<Node> {
        // SAFETY: live builder.
        self.add(|b, out| unsafe { sys::byol_builder_relu(b, src.0, out) })
    }

    /// Max-pool, square window, -infinity padding, floor output size.
    pub fn maxpool(
        &mut self,
        src: Node,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Node> {
        let (k, s, p) = (
            to_i32(kernel, "kernel")?,
            to_i32(stride, "stride")?,
            to_i32(padding, "padding")?,
        );
        // SAFETY: live builder.
        self.add(|b, out| unsafe { sys::byol_builder_maxpool(b, src.0, k, s, p, out) })
    }

    /// Global average pool of a map `[C, H, W]` to a vector `[C]`.
    pub fn avgpool(&mut self, src: Node) -> Result<Node> {
        // SAFETY: live builder.
        self.add(|b, out| unsafe { sys::byol_builder_avgpool(b, src.0, out) })
    }

    /// Fully connected layer on a vector.
    pub fn linear(
        &mut self,
        name: Option<&str>,
        src: Node,
        out_features: usize,
        bias: bool,
    ) -> Result<Node> {
        let name = name.map(|n| cstring(n, "layer name")).transpose()?;
        let np = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        let of = to_i64(out_features, "out_features")?;
        // SAFETY: as conv2d.
        self.add(|b, out| unsafe { sys::byol_builder_linear(b, np, src.0, of, bias as i32, out) })
    }

    /// Element-wise sum of two nodes of the same shape.
    pub fn add_nodes(&mut self, a: Node, b_node: Node) -> Result<Node> {
        // SAFETY: live builder.
        self.add(|b, out| unsafe { sys::byol_builder_add(b, a.0, b_node.0, out) })
    }

    /// Flattens a map `[C, H, W]` into a vector in PyTorch's order.
    pub fn flatten(&mut self, src: Node) -> Result<Node> {
        // SAFETY: live builder.
        self.add(|b, out| unsafe { sys::byol_builder_flatten(b, src.0, out) })
    }

    /// Creates a net computing `output`; the builder may finish more.
    pub fn finish(&mut self, output: Node) -> Result<Net> {
        let mut raw = ptr::null_mut();
        // SAFETY: live builder; valid out-pointer; the net is independent of the builder.
        check(unsafe { sys::byol_builder_finish(self.raw.as_ptr(), output.0, &mut raw) })?;
        Ok(Net {
            raw: NonNull::new(raw).expect("byol_builder_finish returned NULL"),
        })
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        // SAFETY: we own the builder; nets it made are independent.
        unsafe { sys::byol_builder_destroy(self.raw.as_ptr()) }
    }
}
