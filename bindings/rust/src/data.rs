//! Images, datasets, the augmenter and the loader (byol_data.h).

use core::ffi::CStr;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use std::fmt;
use std::path::Path;

use crate::config::Config;
use crate::error::{check, cpath, cstring, product, to_i32, to_i64, Error, Result};
use crate::sys;

fn raw_image() -> sys::byol_image {
    sys::byol_image {
        struct_size: core::mem::size_of::<sys::byol_image>() as u32,
        height: 0,
        width: 0,
        channels: 0,
        data: ptr::null_mut(),
    }
}

/// A decoded picture: rows top to bottom, pixels left to right, channels
/// interleaved (HWC uint8), held in a `Vec<u8>` of height*width*channels
/// bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    height: usize,
    width: usize,
    channels: usize,
    data: Vec<u8>,
}

impl Image {
    /// An image from HWC bytes; `data.len()` must be height*width*channels.
    pub fn new(height: usize, width: usize, channels: usize, data: Vec<u8>) -> Result<Image> {
        let want = product(&[height, width, channels], "Image::new")?;
        if data.len() != want || want == 0 {
            return Err(Error::new(
                sys::BYOL_E_SHAPE,
                format!(
                    "Image::new: {} bytes for {height}x{width}x{channels} (expected {want}, at least 1)",
                    data.len()
                ),
            ));
        }
        to_i32(height, "height")?;
        to_i32(width, "width")?;
        to_i32(channels, "channels")?;
        Ok(Image {
            height,
            width,
            channels,
            data,
        })
    }

    /// Copies a library-filled image and releases the library's pixels.
    ///
    /// # Safety
    /// `raw` was filled by a successful libbyol call.
    unsafe fn take(mut raw: sys::byol_image) -> Image {
        let (h, w, c) = (
            raw.height.max(0) as usize,
            raw.width.max(0) as usize,
            raw.channels.max(0) as usize,
        );
        let n = h * w * c;
        let data = if raw.data.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(raw.data, n).to_vec()
        };
        sys::byol_image_release(&mut raw);
        Image {
            height: h,
            width: w,
            channels: c,
            data,
        }
    }

    /// Decodes an image file (PNG, JPEG, BMP, TGA, GIF, PNM), converted to
    /// `data.channels` channels; errors name the file.
    pub fn decode(cfg: &Config, path: impl AsRef<Path>) -> Result<Image> {
        let p = cpath(path.as_ref())?;
        let mut raw = raw_image();
        // SAFETY: live config and path for the call; raw is a sized out-struct.
        unsafe {
            check(sys::byol_image_decode(cfg.as_ptr(), p.as_ptr(), &mut raw))?;
            Ok(Image::take(raw))
        }
    }

    /// Decodes an encoded image held in memory; `name` is what error
    /// messages call it.
    pub fn decode_memory(cfg: &Config, bytes: &[u8], name: Option<&str>) -> Result<Image> {
        let name = name.map(|n| cstring(n, "name")).transpose()?;
        let np = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        let mut raw = raw_image();
        // SAFETY: bytes and name borrowed for the call; sized out-struct.
        unsafe {
            check(sys::byol_image_decode_memory(
                cfg.as_ptr(),
                bytes.as_ptr().cast(),
                bytes.len(),
                np,
                &mut raw,
            ))?;
            Ok(Image::take(raw))
        }
    }

    /// The view the C functions read (never write).
    fn as_raw(&self) -> sys::byol_image {
        sys::byol_image {
            struct_size: core::mem::size_of::<sys::byol_image>() as u32,
            height: self.height as i32,
            width: self.width as i32,
            channels: self.channels as i32,
            data: self.data.as_ptr() as *mut u8,
        }
    }

    /// Writes the image as a PNG file, atomically.
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = cpath(path.as_ref())?;
        let raw = self.as_raw();
        // SAFETY: the view matches self.data; the library only reads it.
        check(unsafe { sys::byol_image_write_png(p.as_ptr(), &raw) })
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Columns.
    pub fn width(&self) -> usize {
        self.width
    }
    /// 1 (gray) or 3 (RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// The HWC bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The HWC bytes, writable (the size is fixed).
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
    /// The HWC bytes, by value.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}x{}x{})", self.height, self.width, self.channels)
    }
}

/// An indexed collection of images with optional labels: an image folder,
/// MNIST-family IDX files, CIFAR binary batches, or pixels copied from
/// memory. Destroyed on drop; a [`Loader`] borrows it, so the borrow
/// checker drops loaders first.
///
/// `Send` and `Sync`: a dataset is read-only after creation and its
/// functions may be called from several threads at once (byol_data.h).
pub struct Dataset {
    raw: NonNull<sys::byol_dataset>,
}

// SAFETY: byol_data.h: datasets are read-only after creation; their const
// functions may run on several threads at once.
unsafe impl Send for Dataset {}
unsafe impl Sync for Dataset {}

impl Dataset {
    /// Opens a dataset at `path`; `data.format` says what it is ("folder",
    /// "idx", "cifar" or "auto"). Errors name the path.
    pub fn open(cfg: &Config, path: impl AsRef<Path>) -> Result<Dataset> {
        let p = cpath(path.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: live config and path for the call; valid out-pointer.
        check(unsafe { sys::byol_dataset_open(cfg.as_ptr(), p.as_ptr(), &mut raw) })?;
        Ok(Dataset {
            raw: NonNull::new(raw).expect("byol_dataset_open returned NULL"),
        })
    }

    /// A dataset over `count` images of height x width x channels bytes
    /// back to back in `pixels` (an N,H,W,C array), with `count` labels
    /// (>= 0) or none. Pixels and labels are copied.
    pub fn from_memory(
        cfg: &Config,
        pixels: &[u8],
        count: usize,
        height: usize,
        width: usize,
        channels: usize,
        labels: Option<&[i32]>,
    ) -> Result<Dataset> {
        let want = product(&[count, height, width, channels], "Dataset::from_memory")?;
        if pixels.len() != want {
            return Err(Error::new(
                sys::BYOL_E_SHAPE,
                format!(
                    "Dataset::from_memory: pixels has {} bytes, expected {count}*{height}*{width}*{channels} = {want}",
                    pixels.len()
                ),
            ));
        }
        if let Some(l) = labels {
            if l.len() != count {
                return Err(Error::new(
                    sys::BYOL_E_SHAPE,
                    format!(
                        "Dataset::from_memory: {} labels for {count} images",
                        l.len()
                    ),
                ));
            }
        }
        let mut raw = ptr::null_mut();
        // SAFETY: pixels and labels hold what the counts say; copied by the call.
        check(unsafe {
            sys::byol_dataset_from_memory(
                cfg.as_ptr(),
                pixels.as_ptr(),
                to_i64(count, "count")?,
                to_i32(height, "height")?,
                to_i32(width, "width")?,
                to_i32(channels, "channels")?,
                labels.map_or(ptr::null(), |l| l.as_ptr()),
                &mut raw,
            )
        })?;
        Ok(Dataset {
            raw: NonNull::new(raw).expect("byol_dataset_from_memory returned NULL"),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        // SAFETY: live dataset.
        unsafe { sys::byol_dataset_size(self.raw.as_ptr()) }.max(0) as usize
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes; 0 when unlabeled.
    pub fn num_classes(&self) -> usize {
        // SAFETY: live dataset.
        unsafe { sys::byol_dataset_num_classes(self.raw.as_ptr()) }.max(0) as usize
    }

    /// Name of class `label`, borrowed from the dataset; `None` out of range.
    pub fn class_name(&self, label: usize) -> Option<&str> {
        let l = i32::try_from(label).ok()?;
        // SAFETY: the name lives until the dataset is destroyed, and the
        // returned &str borrows `self`.
        unsafe {
            let p = sys::byol_dataset_class_name(self.raw.as_ptr(), l);
            if p.is_null() {
                None
            } else {
                CStr::from_ptr(p).to_str().ok()
            }
        }
    }

    /// Label of image `index`; `None` when the dataset is unlabeled.
    pub fn label(&self, index: usize) -> Result<Option<i32>> {
        let mut l = -1i32;
        // SAFETY: live dataset, valid out-pointer.
        check(unsafe {
            sys::byol_dataset_label(self.raw.as_ptr(), to_i64(index, "index")?, &mut l)
        })?;
        Ok(if l < 0 { None } else { Some(l) })
    }

    /// Where image `index` comes from: for an image folder, the file's path
    /// relative to the folder opened (`cat/0001.jpg`), borrowed from the
    /// dataset; `None` for a dataset of records (IDX, CIFAR, memory: the
    /// index is the record's number) or an index out of range.
    pub fn source(&self, index: usize) -> Option<&Path> {
        let i = i64::try_from(index).ok()?;
        // SAFETY: the path lives until the dataset is destroyed, and the
        // returned &Path borrows `self`.
        unsafe {
            let p = sys::byol_dataset_source(self.raw.as_ptr(), i);
            if p.is_null() {
                None
            } else {
                Some(path_of(CStr::from_ptr(p)))
            }
        }
    }

    /// Decodes image `index` (`data.channels` channels).
    pub fn get(&self, index: usize) -> Result<Image> {
        let mut raw = raw_image();
        // SAFETY: live dataset; sized out-struct.
        unsafe {
            check(sys::byol_dataset_get(
                self.raw.as_ptr(),
                to_i64(index, "index")?,
                &mut raw,
            ))?;
            Ok(Image::take(raw))
        }
    }

    /// Writes a PNG grid of images `first .. first + count`, one labelled
    /// row per image: evaluation crop, view 1 and view 2 of epoch 0,
    /// upscaled to at least 112 pixels (`byol_preview_write()`).
    pub fn write_preview(
        &self,
        cfg: &Config,
        first: usize,
        count: usize,
        path: impl AsRef<Path>,
    ) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live config, dataset and path for the call.
        check(unsafe {
            sys::byol_preview_write(
                cfg.as_ptr(),
                self.raw.as_ptr(),
                to_i64(first, "first")?,
                to_i32(count, "count")?,
                p.as_ptr(),
            )
        })
    }

    /// Writes the same grid for `count` images drawn across the classes,
    /// a function of the `seed` setting (`byol_preview_write_sample()`).
    pub fn write_preview_sample(
        &self,
        cfg: &Config,
        count: usize,
        path: impl AsRef<Path>,
    ) -> Result<()> {
        let p = cpath(path.as_ref())?;
        // SAFETY: live config, dataset and path for the call.
        check(unsafe {
            sys::byol_preview_write_sample(
                cfg.as_ptr(),
                self.raw.as_ptr(),
                to_i32(count, "count")?,
                p.as_ptr(),
            )
        })
    }

    /// The raw handle, borrowed for as long as `self`.
    pub fn as_ptr(&self) -> *const sys::byol_dataset {
        self.raw.as_ptr()
    }
}

/// A C path as a Path: its bytes on Unix, else (lossless only for UTF-8)
/// its text.
fn path_of(c: &CStr) -> &Path {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Path::new(std::ffi::OsStr::from_bytes(c.to_bytes()))
    }
    #[cfg(not(unix))]
    {
        Path::new(c.to_str().unwrap_or(""))
    }
}

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: we own the dataset; loaders borrowing it are gone (lifetimes).
        unsafe { sys::byol_dataset_destroy(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("len", &self.len())
            .field("num_classes", &self.num_classes())
            .finish()
    }
}

/// The two view pipelines of BYOL and the evaluation transform, from the
/// augment.* keys. Destroyed on drop.
///
/// `Send` and `Sync`: read-only after creation; views may be drawn from
/// several threads at once (byol_data.h).
pub struct Augmenter {
    raw: NonNull<sys::byol_augmenter>,
}

// SAFETY: byol_data.h: augmenters are read-only after creation.
unsafe impl Send for Augmenter {}
unsafe impl Sync for Augmenter {}

impl Augmenter {
    /// Builds the augmenter from augment.*, data.channels and seed.
    pub fn new(cfg: &Config) -> Result<Augmenter> {
        let mut raw = ptr::null_mut();
        // SAFETY: live config for the call; valid out-pointer.
        check(unsafe { sys::byol_augmenter_create(cfg.as_ptr(), &mut raw) })?;
        Ok(Augmenter {
            raw: NonNull::new(raw).expect("byol_augmenter_create returned NULL"),
        })
    }

    /// Shape of one output: `[channels, size, size]`.
    pub fn dims(&self) -> [usize; 3] {
        let mut d = [0i64; 3];
        // SAFETY: live augmenter, 3 writable dims.
        unsafe { sys::byol_augmenter_dims(self.raw.as_ptr(), d.as_mut_ptr()) };
        d.map(|x| x.max(0) as usize)
    }

    fn out_len(&self) -> usize {
        self.dims().iter().product()
    }

    /// One augmented, normalised view (CHW float32) of `img`; the draws
    /// depend only on (seed, epoch, index, view) and the image's size.
    /// `view` is 1 or 2.
    pub fn view(&self, img: &Image, epoch: u32, index: u64, view: u32) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.out_len()];
        let raw = img.as_raw();
        let index = i64::try_from(index).map_err(|_| {
            Error::new(
                sys::BYOL_E_INVALID_ARG,
                format!("Augmenter::view: index {index} too large"),
            )
        })?;
        // SAFETY: img's view matches its bytes; out holds dims() floats.
        check(unsafe {
            sys::byol_augmenter_view(
                self.raw.as_ptr(),
                &raw,
                epoch as i64,
                index,
                view as i32,
                out.as_mut_ptr(),
            )
        })?;
        Ok(out)
    }

    /// The evaluation transform (centre crop, resize, normalise; no randomness).
    pub fn eval(&self, img: &Image) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.out_len()];
        let raw = img.as_raw();
        // SAFETY: as view().
        check(unsafe { sys::byol_augmenter_eval(self.raw.as_ptr(), &raw, out.as_mut_ptr()) })?;
        Ok(out)
    }
}

impl Drop for Augmenter {
    fn drop(&mut self) {
        // SAFETY: we own the augmenter.
        unsafe { sys::byol_augmenter_destroy(self.raw.as_ptr()) }
    }
}

/// What a [`Loader`] hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderMode {
    /// `BYOL_LOADER_TRAIN`: shuffled, drop_last, two augmented views,
    /// epochs without end.
    Train,
    /// `BYOL_LOADER_EVAL`: in order, every sample once, one view through
    /// the evaluation transform; then the loader is done.
    Eval,
}

/// One batch, borrowed from the loader: valid until the next call on it.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'l> {
    /// Epoch of this batch, from 0.
    pub epoch: i64,
    /// Batch index within the epoch, from 0.
    pub index: i64,
    /// Samples in this batch.
    pub count: usize,
    /// Per-sample shape `[C, S, S]` of the views.
    pub dims: [usize; 3],
    /// `[count, C, S, S]`.
    pub view1: &'l [f32],
    /// `[count, C, S, S]`; `None` in evaluation mode.
    pub view2: Option<&'l [f32]>,
    /// `count` labels, -1 when unlabeled.
    pub labels: &'l [i32],
    /// `count` dataset indices.
    pub samples: &'l [i64],
}

/// One batch with its arrays copied out of the loader.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Epoch of this batch, from 0.
    pub epoch: i64,
    /// Batch index within the epoch, from 0.
    pub index: i64,
    /// Samples in this batch.
    pub count: usize,
    /// Per-sample shape `[C, S, S]` of the views.
    pub dims: [usize; 3],
    /// `[count, C, S, S]`.
    pub view1: Vec<f32>,
    /// `[count, C, S, S]`; `None` in evaluation mode.
    pub view2: Option<Vec<f32>>,
    /// `count` labels, -1 when unlabeled.
    pub labels: Vec<i32>,
    /// `count` dataset indices.
    pub samples: Vec<i64>,
}

impl BatchRef<'_> {
    /// Copies the batch out of the loader.
    pub fn to_owned(&self) -> Batch {
        Batch {
            epoch: self.epoch,
            index: self.index,
            count: self.count,
            dims: self.dims,
            view1: self.view1.to_vec(),
            view2: self.view2.map(<[f32]>::to_vec),
            labels: self.labels.to_vec(),
            samples: self.samples.to_vec(),
        }
    }
}

/// Shuffles, cuts batches and decodes and augments them ahead on worker
/// threads. Borrows its dataset (`'a`), so the dataset outlives it; the
/// workers are stopped and joined on drop.
///
/// As an [`Iterator`] it yields owned [`Batch`]es (`Some(Err(_))` for a bad
/// sample under loader.on_error=stop, after which it goes on with the next
/// batch); [`next_batch`](Loader::next_batch) lends the loader's own arrays
/// without copying. In [`LoaderMode::Train`] it never ends: use `take(n)`.
///
/// `Send` (it may move to another thread) but not `Sync`.
pub struct Loader<'a> {
    raw: NonNull<sys::byol_loader>,
    done: bool,
    _dataset: PhantomData<&'a Dataset>,
}

// SAFETY: byol_data.h: a loader is used by one thread at a time and its
// workers are its own; the dataset it borrows is Sync.
unsafe impl Send for Loader<'_> {}

impl<'a> Loader<'a> {
    /// Creates a loader over `ds` with train.batch_size samples per batch,
    /// loader.workers threads and loader.prefetch batches ahead.
    pub fn new(cfg: &Config, ds: &'a Dataset, mode: LoaderMode) -> Result<Loader<'a>> {
        let m = match mode {
            LoaderMode::Train => sys::BYOL_LOADER_TRAIN,
            LoaderMode::Eval => sys::BYOL_LOADER_EVAL,
        };
        let mut raw = ptr::null_mut();
        // SAFETY: live config for the call; ds outlives the loader ('a).
        check(unsafe { sys::byol_loader_create(cfg.as_ptr(), ds.as_ptr(), m, &mut raw) })?;
        Ok(Loader {
            raw: NonNull::new(raw).expect("byol_loader_create returned NULL"),
            done: false,
            _dataset: PhantomData,
        })
    }

    /// Waits for the next batch and lends it; `None` once an evaluation
    /// pass is over.
    pub fn next_batch(&mut self) -> Option<Result<BatchRef<'_>>> {
        if self.done {
            return None;
        }
        let mut b = sys::byol_batch {
            struct_size: core::mem::size_of::<sys::byol_batch>() as u32,
            reserved: 0,
            epoch: 0,
            index: 0,
            count: 0,
            view1: empty_tensor(),
            view2: empty_tensor(),
            labels: ptr::null(),
            samples: ptr::null(),
        };
        // SAFETY: live loader, exclusively borrowed; sized out-struct.
        let rc = unsafe { sys::byol_loader_next(self.raw.as_ptr(), &mut b) };
        if rc == sys::BYOL_DONE {
            self.done = true;
            return None;
        }
        if rc != sys::BYOL_OK {
            return Some(Err(Error::last(rc)));
        }
        let count = b.count.max(0) as usize;
        let dims =
            [b.view1.shape[1], b.view1.shape[2], b.view1.shape[3]].map(|d| d.max(0) as usize);
        let n = count * dims.iter().product::<usize>();
        // SAFETY: the arrays belong to the loader and stay valid until the
        // next call on it, which the borrow of `self` prevents.
        unsafe {
            let view1 = slice_or_empty(b.view1.data, n);
            let view2 = if b.view2.data.is_null() {
                None
            } else {
                Some(slice_or_empty(b.view2.data, n))
            };
            Some(Ok(BatchRef {
                epoch: b.epoch,
                index: b.index,
                count,
                dims,
                view1,
                view2,
                labels: slice_or_empty(b.labels, count),
                samples: slice_or_empty(b.samples, count),
            }))
        }
    }

    /// Makes the next batch batch `index` of epoch `epoch` (resuming).
    pub fn seek(&mut self, epoch: u64, index: u64) -> Result<()> {
        let e = i64::try_from(epoch).unwrap_or(i64::MAX);
        let i = i64::try_from(index).unwrap_or(i64::MAX);
        // SAFETY: live loader.
        check(unsafe { sys::byol_loader_seek(self.raw.as_ptr(), e, i) })?;
        self.done = false;
        Ok(())
    }

    /// Hands out only rank `rank`'s slice of every batch of `size` ranks
    /// (data parallel; train.batch_size is the global batch, which `size`
    /// must divide): positions `[rank*c/size, (rank+1)*c/size)` of a batch
    /// of `c` samples, the same samples and views whatever the rank count.
    /// The next batch is this rank's slice of the one that would have come
    /// next.
    pub fn set_shard(&mut self, rank: u32, size: u32) -> Result<()> {
        let r = i32::try_from(rank).unwrap_or(i32::MAX);
        let n = i32::try_from(size).unwrap_or(i32::MAX);
        // SAFETY: live loader, exclusively borrowed (the last batch's
        // arrays, which this call frees, cannot be borrowed any more).
        check(unsafe { sys::byol_loader_set_shard(self.raw.as_ptr(), r, n) })
    }

    /// Batches in one epoch (after drop_last in training mode).
    pub fn batches_per_epoch(&self) -> usize {
        // SAFETY: live loader.
        unsafe { sys::byol_loader_batches_per_epoch(self.raw.as_ptr()) }.max(0) as usize
    }

    /// Bad samples skipped so far (loader.on_error=skip).
    pub fn skipped(&self) -> usize {
        // SAFETY: live loader.
        unsafe { sys::byol_loader_skipped(self.raw.as_ptr()) }.max(0) as usize
    }
}

fn empty_tensor() -> sys::byol_tensor {
    sys::byol_tensor {
        struct_size: core::mem::size_of::<sys::byol_tensor>() as u32,
        ndim: 0,
        shape: [0; 4],
        data: ptr::null_mut(),
    }
}

/// # Safety
/// `p` is NULL or points to `n` valid elements for `'l`.
unsafe fn slice_or_empty<'l, T>(p: *const T, n: usize) -> &'l [T] {
    if p.is_null() || n == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, n)
    }
}

impl Iterator for Loader<'_> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        self.next_batch().map(|r| r.map(|b| b.to_owned()))
    }
}

impl Drop for Loader<'_> {
    fn drop(&mut self) {
        // SAFETY: we own the loader; its dataset is still alive ('a).
        unsafe { sys::byol_loader_destroy(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Loader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("batches_per_epoch", &self.batches_per_epoch())
            .finish()
    }
}
