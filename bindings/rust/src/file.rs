//! `TensorFile`: what a safetensors file holds, read and checked by the
//! library (byol_file.h), and the library's atomic writers.

use core::ffi::{c_char, c_void};
use core::ptr::{self, NonNull};
use std::ffi::CStr;
use std::path::Path;

use crate::error::{check, cpath, cstring, product, to_i64, Error, Result};
use crate::sys;

/// What a file is, from its metadata `"format"` (`byol_file_kind()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `BYOL_FILE_TENSORS`: tensors only (weights, a state_dict, embeddings).
    Tensors,
    /// `BYOL_FILE_CHECKPOINT`: a trainer checkpoint this library reads.
    Checkpoint,
    /// `BYOL_FILE_CHECKPOINT_OTHER`: a libbyol checkpoint of a layout this
    /// library cannot read.
    CheckpointOther,
}

/// Element type of a tensor in a file (`BYOL_DTYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// `"F32"`
    F32,
    /// `"F64"`
    F64,
    /// `"I64"`
    I64,
    /// `"I32"`
    I32,
    /// `"U8"`
    U8,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::U8 => 1,
        }
    }

    fn raw(self) -> i32 {
        match self {
            Dtype::F32 => sys::BYOL_DTYPE_F32,
            Dtype::F64 => sys::BYOL_DTYPE_F64,
            Dtype::I64 => sys::BYOL_DTYPE_I64,
            Dtype::I32 => sys::BYOL_DTYPE_I32,
            Dtype::U8 => sys::BYOL_DTYPE_U8,
        }
    }

    fn from_raw(raw: i32) -> Dtype {
        match raw {
            sys::BYOL_DTYPE_F32 => Dtype::F32,
            sys::BYOL_DTYPE_F64 => Dtype::F64,
            sys::BYOL_DTYPE_I64 => Dtype::I64,
            sys::BYOL_DTYPE_I32 => Dtype::I32,
            sys::BYOL_DTYPE_U8 => Dtype::U8,
            other => panic!("libbyol reported dtype {other}, unknown to these bindings"),
        }
    }
}

/// One tensor of a [`TensorFile`], borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTensor<'a> {
    /// The tensor's name, e.g. `"online.encoder.conv1.weight"`.
    pub name: &'a str,
    /// Its element type.
    pub dtype: Dtype,
    /// Sizes, outermost first (empty for a scalar).
    pub shape: Vec<usize>,
    /// Its bytes, little-endian, row-major (possibly unaligned: use
    /// [`FileTensor::to_f32`] or copy them out).
    pub data: &'a [u8],
}

impl FileTensor<'_> {
    /// The number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The values of an `F32` tensor as a vector (an invalid-argument error
    /// for another dtype).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        if self.dtype != Dtype::F32 {
            return Err(Error::new(
                sys::BYOL_E_INVALID_ARG,
                format!("tensor '{}' is {:?}, not F32", self.name, self.dtype),
            ));
        }
        Ok(self
            .data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

/// A safetensors file (a weight file, a checkpoint, embeddings) read
/// whole and checked by the library's reader, the one `Net::load` and
/// `Trainer::load` use: a file refused here is refused there with the
/// same error. Tensors and metadata borrow from it.
pub struct TensorFile {
    raw: NonNull<sys::byol_file>,
}

// SAFETY: a byol_file has no thread affinity; &self methods only read, but
// the C API asks for one thread at a time, hence no Sync.
unsafe impl Send for TensorFile {}

/// A C string the library hands out, valid as long as the file (UTF-8: the
/// reader refuses headers that are not).
///
/// # Safety
/// `p` points to a NUL-terminated string that outlives `'a`.
unsafe fn borrowed_str<'a>(p: *const c_char) -> &'a str {
    CStr::from_ptr(p).to_str().unwrap_or("<non-UTF-8 text>")
}

impl TensorFile {
    /// Reads and checks the file at `path` (`byol_file_open()`).
    pub fn open(path: impl AsRef<Path>) -> Result<TensorFile> {
        let p = cpath(path.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: p is a C string, raw a valid out-pointer.
        check(unsafe { sys::byol_file_open(p.as_ptr(), &mut raw) })?;
        Ok(TensorFile {
            raw: NonNull::new(raw).expect("byol_file_open returned NULL"),
        })
    }

    /// What the file is.
    pub fn kind(&self) -> FileKind {
        // SAFETY: a valid handle.
        match unsafe { sys::byol_file_kind(self.raw.as_ptr()) } {
            sys::BYOL_FILE_CHECKPOINT => FileKind::Checkpoint,
            sys::BYOL_FILE_CHECKPOINT_OTHER => FileKind::CheckpointOther,
            _ => FileKind::Tensors,
        }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        // SAFETY: a valid handle.
        unsafe { sys::byol_file_size(self.raw.as_ptr()) as u64 }
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        // SAFETY: a valid handle.
        unsafe { sys::byol_file_tensor_count(self.raw.as_ptr()) as usize }
    }

    /// True for a file without tensors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn view(&self, t: &sys::byol_file_tensor) -> FileTensor<'_> {
        // SAFETY: name and data are borrowed from the handle, which &self
        // keeps alive; data holds nbytes bytes (NULL only when empty).
        unsafe {
            FileTensor {
                name: borrowed_str(t.name),
                dtype: Dtype::from_raw(t.dtype),
                shape: t.shape[..t.ndim as usize]
                    .iter()
                    .map(|&d| d as usize)
                    .collect(),
                data: if t.nbytes == 0 {
                    &[]
                } else {
                    core::slice::from_raw_parts(t.data as *const u8, t.nbytes as usize)
                },
            }
        }
    }

    fn blank() -> sys::byol_file_tensor {
        sys::byol_file_tensor {
            struct_size: core::mem::size_of::<sys::byol_file_tensor>() as u32,
            dtype: 0,
            name: ptr::null(),
            ndim: 0,
            reserved: 0,
            shape: [0; sys::BYOL_FILE_MAX_DIMS],
            numel: 0,
            nbytes: 0,
            data: ptr::null(),
        }
    }

    /// Tensor `index`, in the order of the file's header.
    pub fn tensor(&self, index: usize) -> Result<FileTensor<'_>> {
        let mut t = TensorFile::blank();
        let i = to_i64(index, "tensor index")?;
        // SAFETY: a valid handle and a struct with struct_size set.
        check(unsafe { sys::byol_file_tensor_info(self.raw.as_ptr(), i, &mut t) })?;
        Ok(self.view(&t))
    }

    /// Every tensor, in the order of the file's header.
    pub fn tensors(&self) -> impl Iterator<Item = FileTensor<'_>> + '_ {
        (0..self.len()).map(|i| self.tensor(i).expect("index in range"))
    }

    /// The tensor called `name` (a `BYOL_E_KEY` error if there is none).
    pub fn find(&self, name: &str) -> Result<FileTensor<'_>> {
        let c = cstring(name, "tensor name")?;
        let mut t = TensorFile::blank();
        // SAFETY: a valid handle, a C string and a struct with struct_size set.
        check(unsafe { sys::byol_file_tensor_find(self.raw.as_ptr(), c.as_ptr(), &mut t) })?;
        Ok(self.view(&t))
    }

    /// The `"__metadata__"` entries, in byte order of the keys.
    pub fn metadata(&self) -> Vec<(&str, &str)> {
        // SAFETY: a valid handle.
        let n = unsafe { sys::byol_file_metadata_count(self.raw.as_ptr()) };
        (0..n)
            .map(|i| {
                let (mut k, mut v) = (ptr::null(), ptr::null());
                // SAFETY: i is in range; the strings live as long as the handle.
                unsafe {
                    check(sys::byol_file_metadata_entry(
                        self.raw.as_ptr(),
                        i,
                        &mut k,
                        &mut v,
                    ))
                    .expect("index in range");
                    (borrowed_str(k), borrowed_str(v))
                }
            })
            .collect()
    }

    /// The metadata value stored under `key`, if any.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        let c = std::ffi::CString::new(key).ok()?;
        let mut v = ptr::null();
        // SAFETY: a valid handle and C string; the value lives as long as the handle.
        let rc = unsafe { sys::byol_file_metadata_find(self.raw.as_ptr(), c.as_ptr(), &mut v) };
        // SAFETY: on success v points into the handle's memory.
        (rc == sys::BYOL_OK).then(|| unsafe { borrowed_str(v) })
    }
}

impl Drop for TensorFile {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed once.
        unsafe { sys::byol_file_close(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for TensorFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorFile")
            .field("kind", &self.kind())
            .field("size", &self.size())
            .field("tensors", &self.len())
            .finish()
    }
}

/// A tensor to write with [`write_safetensors`]: borrowed bytes with a
/// name, dtype and shape.
#[derive(Debug, Clone, Copy)]
pub struct TensorRef<'a> {
    /// Its name (UTF-8, unique in the file).
    pub name: &'a str,
    /// Its element type.
    pub dtype: Dtype,
    /// Sizes, outermost first (empty for a scalar).
    pub shape: &'a [usize],
    /// Its bytes, little-endian: the shape's element count times the dtype's size.
    pub data: &'a [u8],
}

/// The bytes of a slice of `f32` or `i32` (private: only such types, whose
/// every value is its initialised bytes with no padding, may come here).
fn bytes_of<T: Copy>(values: &[T]) -> &[u8] {
    // SAFETY: T is f32 or i32 (see the callers): no padding, all bytes
    // initialised; the slice covers the same memory for the same lifetime.
    unsafe {
        core::slice::from_raw_parts(values.as_ptr() as *const u8, core::mem::size_of_val(values))
    }
}

impl<'a> TensorRef<'a> {
    /// An `F32` tensor over `values`.
    pub fn f32(name: &'a str, shape: &'a [usize], values: &'a [f32]) -> TensorRef<'a> {
        TensorRef {
            name,
            dtype: Dtype::F32,
            shape,
            data: bytes_of(values),
        }
    }

    /// An `I32` tensor over `values`.
    pub fn i32(name: &'a str, shape: &'a [usize], values: &'a [i32]) -> TensorRef<'a> {
        TensorRef {
            name,
            dtype: Dtype::I32,
            shape,
            data: bytes_of(values),
        }
    }
}

/// Writes tensors and string metadata as a safetensors file, atomically
/// (`byol_file_write_safetensors()`): a failure keeps any previous file.
/// The data must be little-endian (as on every platform libbyol supports).
pub fn write_safetensors(
    path: impl AsRef<Path>,
    tensors: &[TensorRef<'_>],
    metadata: &[(&str, &str)],
) -> Result<()> {
    let p = cpath(path.as_ref())?;
    let names = tensors
        .iter()
        .map(|t| cstring(t.name, "tensor name"))
        .collect::<Result<Vec<_>>>()?;
    let mut raw = Vec::with_capacity(tensors.len());
    for (t, name) in tensors.iter().zip(&names) {
        if t.shape.len() > sys::BYOL_FILE_MAX_DIMS {
            return Err(Error::new(
                sys::BYOL_E_INVALID_ARG,
                format!(
                    "tensor '{}': {} dimensions, at most 8",
                    t.name,
                    t.shape.len()
                ),
            ));
        }
        let mut shape = [0i64; sys::BYOL_FILE_MAX_DIMS];
        for (d, &s) in t.shape.iter().enumerate() {
            shape[d] = to_i64(s, "dimension")?;
        }
        let want = product(t.shape, t.name)?.checked_mul(t.dtype.size());
        if want != Some(t.data.len()) {
            return Err(Error::new(
                sys::BYOL_E_INVALID_ARG,
                format!(
                    "tensor '{}': {} bytes, its shape {:?} of {:?} needs {:?}",
                    t.name,
                    t.data.len(),
                    t.shape,
                    t.dtype,
                    want
                ),
            ));
        }
        raw.push(sys::byol_file_tensor {
            dtype: t.dtype.raw(),
            name: name.as_ptr(),
            ndim: t.shape.len() as i32,
            shape,
            nbytes: t.data.len() as u64,
            data: t.data.as_ptr() as *const c_void,
            ..TensorFile::blank()
        });
    }
    let strings = metadata
        .iter()
        .flat_map(|(k, v)| [cstring(k, "metadata key"), cstring(v, "metadata value")])
        .collect::<Result<Vec<_>>>()?;
    let pointers: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    // SAFETY: every pointer is valid for the call; counts match the arrays.
    check(unsafe {
        sys::byol_file_write_safetensors(
            p.as_ptr(),
            raw.as_ptr(),
            raw.len() as i64,
            pointers.as_ptr(),
            metadata.len() as i64,
        )
    })
}

/// Writes the concatenation of `parts` as the file at `path`, atomically
/// (`byol_file_write_atomic()`): a temporary file beside it, synced and
/// renamed over it, then the folder synced; a failure keeps any previous file.
pub fn write_atomic(path: impl AsRef<Path>, parts: &[&[u8]]) -> Result<()> {
    let p = cpath(path.as_ref())?;
    let ptrs: Vec<*const c_void> = parts.iter().map(|s| s.as_ptr() as *const c_void).collect();
    let sizes: Vec<usize> = parts.iter().map(|s| s.len()).collect();
    // SAFETY: parts and sizes describe borrowed slices valid for the call.
    check(unsafe {
        sys::byol_file_write_atomic(
            p.as_ptr(),
            ptrs.as_ptr(),
            sizes.as_ptr(),
            parts.len() as i64,
        )
    })
}
