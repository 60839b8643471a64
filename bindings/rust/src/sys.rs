//! Raw declarations of the libbyol C ABI, written by hand from
//! `include/byol/*.h` (no bindgen). Names, types and values mirror the
//! headers one for one; the C headers are authoritative, and
//! `tests/abi.rs` compiles a C program against them to check every struct's
//! size, alignment and field offsets and every constant below.
//!
//! Everything here is `unsafe` to call and follows the C rules stated in the
//! headers (ownership, borrowed pointers, one thread per handle). The safe
//! wrapper is the crate root.

#![allow(non_camel_case_types)]
// Each item is documented in the C header it mirrors.
#![allow(missing_docs)]

use core::ffi::{c_char, c_double, c_float, c_int, c_void};
use core::marker::{PhantomData, PhantomPinned};

/// Declares an opaque C type: never constructed, only pointed to; !Send,
/// !Sync and !Unpin, as the nomicon recommends.
macro_rules! opaque {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    )*};
}

// ---- byol_version.h ---------------------------------------------------------
pub const BYOL_VERSION_MAJOR: c_int = 1;
pub const BYOL_VERSION_MINOR: c_int = 3;
pub const BYOL_VERSION_PATCH: c_int = 0;
/// MAJOR*10000 + MINOR*100 + PATCH of the headers these declarations mirror.
pub const BYOL_VERSION_NUMBER: c_int =
    BYOL_VERSION_MAJOR * 10000 + BYOL_VERSION_MINOR * 100 + BYOL_VERSION_PATCH;

// ---- byol_common.h ----------------------------------------------------------
pub const BYOL_OK: c_int = 0;
pub const BYOL_E_GENERIC: c_int = -1;
pub const BYOL_E_NOMEM: c_int = -2;
pub const BYOL_E_INVALID_ARG: c_int = -3;
pub const BYOL_E_BAD_STATE: c_int = -4;
pub const BYOL_E_SHAPE: c_int = -5;
pub const BYOL_E_UNSUPPORTED: c_int = -6;
pub const BYOL_E_IO: c_int = -7;
pub const BYOL_E_DECODE: c_int = -8;
pub const BYOL_E_FORMAT: c_int = -9;
pub const BYOL_E_NONFINITE: c_int = -10;
pub const BYOL_E_CANCELLED: c_int = -11;
pub const BYOL_E_ABI: c_int = -12;
pub const BYOL_E_BLAS: c_int = -13;
pub const BYOL_E_KEY: c_int = -14;
pub const BYOL_E_RANGE: c_int = -15;
pub const BYOL_E_COMM: c_int = -16;

pub const BYOL_LOG_ERROR: c_int = 0;
pub const BYOL_LOG_WARN: c_int = 1;
pub const BYOL_LOG_INFO: c_int = 2;
pub const BYOL_LOG_DEBUG: c_int = 3;

/// Allocator hook (byol_set_allocator()); struct_size = sizeof(byol_allocator).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_allocator {
    pub struct_size: u32,
    pub reserved: u32,
    pub alloc:
        Option<unsafe extern "C" fn(size: usize, align: usize, user: *mut c_void) -> *mut c_void>,
    pub free: Option<unsafe extern "C" fn(ptr: *mut c_void, user: *mut c_void)>,
    pub user: *mut c_void,
}

pub type byol_log_fn =
    Option<unsafe extern "C" fn(level: c_int, message: *const c_char, user: *mut c_void)>;
pub type byol_cancel_fn = Option<unsafe extern "C" fn(user: *mut c_void) -> c_int>;

// ---- byol_config.h ----------------------------------------------------------
pub const BYOL_TYPE_INT: i32 = 1;
pub const BYOL_TYPE_FLOAT: i32 = 2;
pub const BYOL_TYPE_STRING: i32 = 3;
pub const BYOL_TYPE_BOOL: i32 = 4;

/// Description of one key (byol_config_key_info()); struct_size = sizeof(byol_key_info).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_key_info {
    pub struct_size: u32,
    pub type_: i32,
    pub name: *const c_char,
    pub help: *const c_char,
    pub default_value: *const c_char,
    pub choices: *const c_char,
    pub min: c_double,
    pub max: c_double,
}

// ---- byol_net.h -------------------------------------------------------------
/// A borrowed float32 tensor view; struct_size = sizeof(byol_tensor).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_tensor {
    pub struct_size: u32,
    pub ndim: i32,
    pub shape: [i64; 4],
    pub data: *mut c_float,
}

pub const BYOL_BUFFER_PARAMS: i32 = 0;
pub const BYOL_BUFFER_GRADS: i32 = 1;
pub const BYOL_BUFFER_STATE: i32 = 2;

pub const BYOL_TENSOR_BIAS: u32 = 1;
pub const BYOL_TENSOR_NORM: u32 = 2;

/// Where one named tensor lives (byol_net_tensor_info()).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_tensor_info {
    pub struct_size: u32,
    pub buffer: i32,
    pub name: *const c_char,
    pub ndim: i32,
    pub flags: u32,
    pub shape: [i64; 4],
    pub offset: i64,
    pub numel: i64,
}

pub const BYOL_LOAD_STRICT: u32 = 0;
pub const BYOL_LOAD_IGNORE_UNEXPECTED: u32 = 1;

// ---- byol_trainer.h ---------------------------------------------------------
/// Figures of one step; struct_size = sizeof(byol_step_stats).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct byol_step_stats {
    pub struct_size: u32,
    pub reserved: u32,
    pub step: i64,
    pub loss: c_double,
    pub loss_12: c_double,
    pub loss_21: c_double,
    pub lr: c_double,
    pub tau: c_double,
    pub grad_norm: c_double,
    pub collapse_std: c_double,
}

pub type byol_grad_hook =
    Option<unsafe extern "C" fn(grads: *mut c_float, count: i64, user: *mut c_void) -> c_int>;

/// A communicator of data-parallel training; struct_size = sizeof(byol_comm).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_comm {
    pub struct_size: u32,
    pub rank: i32,
    pub size: i32,
    pub allreduce_f32:
        Option<unsafe extern "C" fn(data: *mut c_float, count: i64, user: *mut c_void) -> c_int>,
    pub allreduce_f64:
        Option<unsafe extern "C" fn(data: *mut c_double, count: i64, user: *mut c_void) -> c_int>,
    pub user: *mut c_void,
}

// ---- byol_data.h ------------------------------------------------------------
pub const BYOL_DONE: c_int = 1;

/// A decoded picture, HWC uint8; struct_size = sizeof(byol_image).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_image {
    pub struct_size: u32,
    pub height: i32,
    pub width: i32,
    pub channels: i32,
    pub data: *mut u8,
}

pub const BYOL_LOADER_TRAIN: i32 = 0;
pub const BYOL_LOADER_EVAL: i32 = 1;

/// One batch from byol_loader_next(); struct_size = sizeof(byol_batch).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_batch {
    pub struct_size: u32,
    pub reserved: u32,
    pub epoch: i64,
    pub index: i64,
    pub count: i64,
    pub view1: byol_tensor,
    pub view2: byol_tensor,
    pub labels: *const i32,
    pub samples: *const i64,
}

// ---- byol_file.h ------------------------------------------------------------
pub const BYOL_FILE_TENSORS: i32 = 1;
pub const BYOL_FILE_CHECKPOINT: i32 = 2;
pub const BYOL_FILE_CHECKPOINT_OTHER: i32 = 3;

pub const BYOL_DTYPE_F32: i32 = 1;
pub const BYOL_DTYPE_F64: i32 = 2;
pub const BYOL_DTYPE_I64: i32 = 3;
pub const BYOL_DTYPE_I32: i32 = 4;
pub const BYOL_DTYPE_U8: i32 = 5;

pub const BYOL_FILE_MAX_DIMS: usize = 8;

/// One tensor of a file (byol_file_tensor_info(), byol_file_write_safetensors());
/// struct_size = sizeof(byol_file_tensor).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct byol_file_tensor {
    pub struct_size: u32,
    pub dtype: i32,
    pub name: *const c_char,
    pub ndim: i32,
    pub reserved: i32,
    pub shape: [i64; BYOL_FILE_MAX_DIMS],
    pub numel: i64,
    pub nbytes: u64,
    pub data: *const c_void,
}

opaque! {
    /// Opaque settings object (byol_config.h).
    byol_config;
    /// Opaque network (byol_net.h).
    byol_net;
    /// Opaque network builder (byol_net.h).
    byol_builder;
    /// Opaque trainer (byol_trainer.h).
    byol_trainer;
    /// Opaque dataset (byol_data.h).
    byol_dataset;
    /// Opaque augmenter (byol_data.h).
    byol_augmenter;
    /// Opaque loader (byol_data.h).
    byol_loader;
    /// Opaque safetensors file read into memory (byol_file.h).
    byol_file;
}

/// `sizeof` of each struct on 64-bit targets, as the C compiler lays them
/// out (checked against C by tests/abi.rs); a mistake in a field list
/// fails the build here.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::size_of;
    assert!(size_of::<byol_allocator>() == 32);
    assert!(size_of::<byol_key_info>() == 56);
    assert!(size_of::<byol_tensor>() == 48);
    assert!(size_of::<byol_tensor_info>() == 72);
    assert!(size_of::<byol_step_stats>() == 72);
    assert!(size_of::<byol_image>() == 24);
    assert!(size_of::<byol_batch>() == 144);
    assert!(size_of::<byol_file_tensor>() == 112);
};

extern "C" {
    // ---- byol_common.h
    pub fn byol_strerror(code: c_int) -> *const c_char;
    pub fn byol_error_name(code: c_int) -> *const c_char;
    pub fn byol_last_error() -> *const c_char;
    pub fn byol_last_error_copy(buf: *mut c_char, len: usize) -> usize;
    pub fn byol_version_number() -> c_int;
    pub fn byol_version_string() -> *const c_char;
    pub fn byol_set_allocator(allocator: *const byol_allocator) -> c_int;
    pub fn byol_free(ptr: *mut c_void);
    pub fn byol_set_log_callback(fn_: byol_log_fn, user: *mut c_void, max_level: c_int);

    // ---- byol_config.h
    pub fn byol_config_create(out: *mut *mut byol_config) -> c_int;
    pub fn byol_config_copy(src: *const byol_config, out: *mut *mut byol_config) -> c_int;
    pub fn byol_config_destroy(cfg: *mut byol_config);
    pub fn byol_config_set_int(cfg: *mut byol_config, key: *const c_char, value: i64) -> c_int;
    pub fn byol_config_set_float(
        cfg: *mut byol_config,
        key: *const c_char,
        value: c_double,
    ) -> c_int;
    pub fn byol_config_set_string(
        cfg: *mut byol_config,
        key: *const c_char,
        value: *const c_char,
    ) -> c_int;
    pub fn byol_config_get_int(
        cfg: *const byol_config,
        key: *const c_char,
        value: *mut i64,
    ) -> c_int;
    pub fn byol_config_get_float(
        cfg: *const byol_config,
        key: *const c_char,
        value: *mut c_double,
    ) -> c_int;
    pub fn byol_config_get_string(
        cfg: *const byol_config,
        key: *const c_char,
        value: *mut *const c_char,
    ) -> c_int;
    pub fn byol_config_parse(cfg: *mut byol_config, settings: *const c_char) -> c_int;
    pub fn byol_config_apply_preset(cfg: *mut byol_config, name: *const c_char) -> c_int;
    pub fn byol_config_preset_name(index: i32) -> *const c_char;
    pub fn byol_config_format(
        cfg: *const byol_config,
        key: *const c_char,
        buf: *mut c_char,
        len: usize,
    ) -> i64;
    pub fn byol_config_serialize(cfg: *const byol_config, out: *mut *mut c_char) -> c_int;
    pub fn byol_config_key_count() -> i32;
    pub fn byol_config_key_info(index: i32, info: *mut byol_key_info) -> c_int;
    pub fn byol_config_key_find(name: *const c_char, index: *mut i32) -> c_int;

    // ---- byol_net.h
    pub fn byol_net_create(cfg: *const byol_config, out: *mut *mut byol_net) -> c_int;
    pub fn byol_net_destroy(net: *mut byol_net);
    pub fn byol_net_plan(net: *mut byol_net, max_batch: i64) -> c_int;
    pub fn byol_net_set_training(net: *mut byol_net, training: i32) -> c_int;
    pub fn byol_net_input_dims(net: *const byol_net, dims: *mut i64) -> c_int;
    pub fn byol_net_output_dims(net: *const byol_net, ndim: *mut i32, dims: *mut i64) -> c_int;
    pub fn byol_net_forward(
        net: *mut byol_net,
        x: *const byol_tensor,
        y: *mut byol_tensor,
    ) -> c_int;
    pub fn byol_net_backward(
        net: *mut byol_net,
        dy: *const byol_tensor,
        dx: *mut byol_tensor,
    ) -> c_int;
    pub fn byol_net_zero_grad(net: *mut byol_net) -> c_int;
    pub fn byol_net_embed(net: *mut byol_net, x: *const byol_tensor, y: *mut byol_tensor) -> c_int;
    pub fn byol_net_buffer(net: *mut byol_net, which: i32, count: *mut i64) -> *mut c_float;
    pub fn byol_net_tensor_count(net: *const byol_net) -> i64;
    pub fn byol_net_tensor_info(
        net: *const byol_net,
        index: i64,
        info: *mut byol_tensor_info,
    ) -> c_int;
    pub fn byol_net_set_cancel(net: *mut byol_net, fn_: byol_cancel_fn, user: *mut c_void)
        -> c_int;
    pub fn byol_net_save(net: *const byol_net, path: *const c_char) -> c_int;
    pub fn byol_net_export(net: *const byol_net, cfg: *const byol_config, path: *const c_char)
        -> c_int;
    pub fn byol_net_counter(net: *const byol_net, name: *const c_char, value: *mut i64) -> c_int;
    pub fn byol_net_load(net: *mut byol_net, path: *const c_char, flags: u32) -> c_int;
    pub fn byol_net_load_buffer(
        net: *mut byol_net,
        data: *const c_void,
        len: usize,
        flags: u32,
    ) -> c_int;

    pub fn byol_builder_create(
        cfg: *const byol_config,
        channels: i64,
        height: i64,
        width: i64,
        out: *mut *mut byol_builder,
    ) -> c_int;
    pub fn byol_builder_destroy(b: *mut byol_builder);
    pub fn byol_builder_conv2d(
        b: *mut byol_builder,
        name: *const c_char,
        src: i32,
        out_channels: i64,
        kernel: i32,
        stride: i32,
        padding: i32,
        bias: i32,
        out: *mut i32,
    ) -> c_int;
    pub fn byol_builder_batchnorm(
        b: *mut byol_builder,
        name: *const c_char,
        src: i32,
        out: *mut i32,
    ) -> c_int;
    pub fn byol_builder_relu(b: *mut byol_builder, src: i32, out: *mut i32) -> c_int;
    pub fn byol_builder_maxpool(
        b: *mut byol_builder,
        src: i32,
        kernel: i32,
        stride: i32,
        padding: i32,
        out: *mut i32,
    ) -> c_int;
    pub fn byol_builder_avgpool(b: *mut byol_builder, src: i32, out: *mut i32) -> c_int;
    pub fn byol_builder_linear(
        b: *mut byol_builder,
        name: *const c_char,
        src: i32,
        out_features: i64,
        bias: i32,
        out: *mut i32,
    ) -> c_int;
    pub fn byol_builder_add(b: *mut byol_builder, src_a: i32, src_b: i32, out: *mut i32) -> c_int;
    pub fn byol_builder_flatten(b: *mut byol_builder, src: i32, out: *mut i32) -> c_int;
    pub fn byol_builder_finish(b: *mut byol_builder, output: i32, out: *mut *mut byol_net)
        -> c_int;

    // ---- byol_trainer.h
    pub fn byol_trainer_create(
        cfg: *const byol_config,
        encoder: *const byol_net,
        out: *mut *mut byol_trainer,
    ) -> c_int;
    pub fn byol_trainer_destroy(t: *mut byol_trainer);
    pub fn byol_trainer_step(
        t: *mut byol_trainer,
        view1: *const byol_tensor,
        view2: *const byol_tensor,
        stats: *mut byol_step_stats,
    ) -> c_int;
    pub fn byol_trainer_zero_grad(t: *mut byol_trainer) -> c_int;
    pub fn byol_trainer_accumulate(
        t: *mut byol_trainer,
        view1: *const byol_tensor,
        view2: *const byol_tensor,
        stats: *mut byol_step_stats,
    ) -> c_int;
    pub fn byol_trainer_step_index(t: *const byol_trainer) -> i64;
    pub fn byol_trainer_apply_update(t: *mut byol_trainer, stats: *mut byol_step_stats) -> c_int;
    pub fn byol_trainer_update_target(t: *mut byol_trainer, tau: c_double) -> c_int;
    pub fn byol_trainer_set_grad_hook(
        t: *mut byol_trainer,
        fn_: byol_grad_hook,
        user: *mut c_void,
    ) -> c_int;
    pub fn byol_trainer_set_comm(t: *mut byol_trainer, comm: *const byol_comm) -> c_int;
    pub fn byol_trainer_buffer(t: *mut byol_trainer, which: i32, count: *mut i64) -> *mut c_float;
    pub fn byol_trainer_encoder(t: *mut byol_trainer) -> *mut byol_net;
    pub fn byol_schedule_lr(
        step: i64,
        total_steps: i64,
        warmup_steps: i64,
        peak_lr: c_double,
    ) -> c_double;
    pub fn byol_schedule_tau(step: i64, total_steps: i64, tau_base: c_double) -> c_double;
    pub fn byol_trainer_save(t: *const byol_trainer, path: *const c_char) -> c_int;
    pub fn byol_trainer_load(t: *mut byol_trainer, path: *const c_char) -> c_int;

    // ---- byol_data.h
    pub fn byol_image_decode(
        cfg: *const byol_config,
        path: *const c_char,
        out: *mut byol_image,
    ) -> c_int;
    pub fn byol_image_decode_memory(
        cfg: *const byol_config,
        bytes: *const c_void,
        len: usize,
        name: *const c_char,
        out: *mut byol_image,
    ) -> c_int;
    pub fn byol_image_release(img: *mut byol_image);
    pub fn byol_image_write_png(path: *const c_char, img: *const byol_image) -> c_int;

    pub fn byol_dataset_open(
        cfg: *const byol_config,
        path: *const c_char,
        out: *mut *mut byol_dataset,
    ) -> c_int;
    pub fn byol_dataset_from_memory(
        cfg: *const byol_config,
        pixels: *const u8,
        count: i64,
        height: i32,
        width: i32,
        channels: i32,
        labels: *const i32,
        out: *mut *mut byol_dataset,
    ) -> c_int;
    pub fn byol_dataset_destroy(ds: *mut byol_dataset);
    pub fn byol_dataset_size(ds: *const byol_dataset) -> i64;
    pub fn byol_dataset_num_classes(ds: *const byol_dataset) -> i32;
    pub fn byol_dataset_class_name(ds: *const byol_dataset, label: i32) -> *const c_char;
    pub fn byol_dataset_label(ds: *const byol_dataset, index: i64, label: *mut i32) -> c_int;
    pub fn byol_dataset_get(ds: *const byol_dataset, index: i64, out: *mut byol_image) -> c_int;
    pub fn byol_dataset_source(ds: *const byol_dataset, index: i64) -> *const c_char;

    pub fn byol_augmenter_create(cfg: *const byol_config, out: *mut *mut byol_augmenter) -> c_int;
    pub fn byol_augmenter_destroy(aug: *mut byol_augmenter);
    pub fn byol_augmenter_dims(aug: *const byol_augmenter, dims: *mut i64) -> c_int;
    pub fn byol_augmenter_view(
        aug: *const byol_augmenter,
        img: *const byol_image,
        epoch: i64,
        index: i64,
        view: i32,
        out: *mut c_float,
    ) -> c_int;
    pub fn byol_augmenter_eval(
        aug: *const byol_augmenter,
        img: *const byol_image,
        out: *mut c_float,
    ) -> c_int;

    pub fn byol_loader_create(
        cfg: *const byol_config,
        ds: *const byol_dataset,
        mode: i32,
        out: *mut *mut byol_loader,
    ) -> c_int;
    pub fn byol_loader_next(ld: *mut byol_loader, out: *mut byol_batch) -> c_int;
    pub fn byol_loader_seek(ld: *mut byol_loader, epoch: i64, index: i64) -> c_int;
    pub fn byol_loader_batches_per_epoch(ld: *const byol_loader) -> i64;
    pub fn byol_loader_skipped(ld: *const byol_loader) -> i64;
    pub fn byol_loader_set_shard(ld: *mut byol_loader, rank: i32, size: i32) -> c_int;
    pub fn byol_loader_destroy(ld: *mut byol_loader);

    pub fn byol_preview_write(
        cfg: *const byol_config,
        ds: *const byol_dataset,
        first: i64,
        count: i32,
        path: *const c_char,
    ) -> c_int;
    pub fn byol_preview_write_sample(
        cfg: *const byol_config,
        ds: *const byol_dataset,
        count: i32,
        path: *const c_char,
    ) -> c_int;

    // ---- byol_eval.h
    pub fn byol_eval_knn(
        cfg: *const byol_config,
        bank: *const c_float,
        bank_labels: *const i32,
        n_bank: i64,
        query: *const c_float,
        query_labels: *const i32,
        n_query: i64,
        dim: i64,
        accuracy: *mut c_double,
    ) -> c_int;
    pub fn byol_eval_linear_probe(
        cfg: *const byol_config,
        train: *const c_float,
        train_labels: *const i32,
        n_train: i64,
        test: *const c_float,
        test_labels: *const i32,
        n_test: i64,
        dim: i64,
        accuracy: *mut c_double,
    ) -> c_int;
    pub fn byol_embed_dataset(
        encoder: *mut byol_net,
        cfg: *const byol_config,
        ds: *const byol_dataset,
        embeddings: *mut *mut c_float,
        labels: *mut *mut i32,
        count: *mut i64,
        dim: *mut i64,
    ) -> c_int;

    // ---- byol_file.h
    pub fn byol_file_open(path: *const c_char, out: *mut *mut byol_file) -> c_int;
    pub fn byol_file_close(f: *mut byol_file);
    pub fn byol_file_kind(f: *const byol_file) -> i32;
    pub fn byol_file_size(f: *const byol_file) -> i64;
    pub fn byol_file_tensor_count(f: *const byol_file) -> i64;
    pub fn byol_file_tensor_info(
        f: *const byol_file,
        index: i64,
        info: *mut byol_file_tensor,
    ) -> c_int;
    pub fn byol_file_tensor_find(
        f: *const byol_file,
        name: *const c_char,
        info: *mut byol_file_tensor,
    ) -> c_int;
    pub fn byol_file_metadata_count(f: *const byol_file) -> i64;
    pub fn byol_file_metadata_entry(
        f: *const byol_file,
        index: i64,
        key: *mut *const c_char,
        value: *mut *const c_char,
    ) -> c_int;
    pub fn byol_file_metadata_find(
        f: *const byol_file,
        key: *const c_char,
        value: *mut *const c_char,
    ) -> c_int;
    pub fn byol_file_write_safetensors(
        path: *const c_char,
        tensors: *const byol_file_tensor,
        count: i64,
        metadata: *const *const c_char,
        n_metadata: i64,
    ) -> c_int;
    pub fn byol_file_write_atomic(
        path: *const c_char,
        parts: *const *const c_void,
        sizes: *const usize,
        nparts: i64,
    ) -> c_int;
}
