/**
 * @file byol_data.h
 * @brief Images in, two views out: decoding, datasets, the BYOL augmenter,
 *        the loader and a preview.
 *
 * Four pieces, each usable alone:
 *
 * - byol_image: a decoded picture, HWC uint8 (what a decoder returns).
 *   byol_image_decode() reads PNG, JPEG, BMP, TGA, GIF (first frame) and
 *   PNM through stb_image, from a path or from memory, and converts gray,
 *   gray+alpha, RGBA and palette images to the configured channel count
 *   (key data.channels: 1 or 3). Images larger than data.max_pixels are
 *   refused before any pixel is decoded (decompression bombs).
 * - byol_dataset: an indexed collection of images with optional labels: an
 *   image folder (one sub-folder per class, names sorted; loose files
 *   make an unlabeled set), IDX files of the MNIST family (gzip or not),
 *   CIFAR-10 / CIFAR-100 binary batches, or pixels held in caller memory.
 * - byol_augmenter: the two view pipelines of BYOL (Table 6 of the paper by
 *   default): random resized crop, flip, colour jitter, grayscale, blur,
 *   solarisation, then mean/std normalisation to CHW float32. Every random
 *   draw for an image derives from (seed, epoch, sample index, view) alone,
 *   so views never depend on threads, batch size or worker order.
 * - byol_loader: shuffles per epoch, cuts batches and runs worker threads
 *   that decode and augment ahead of the consumer; byol_loader_next() hands
 *   out (view1, view2, labels) batches ready for byol_trainer_step(). For
 *   data-parallel training, byol_loader_set_shard() makes each rank's loader
 *   hand out only its slice of the same global batches.
 *
 * Settings (keys data.*, augment.*, loader.*; presets "imagenet",
 * "cifar10", "fashion-mnist" set them with the rest of a recipe):
 * @code
 * byol_config *cfg; byol_dataset *ds; byol_loader *ld; byol_trainer *t;
 * byol_config_create(&cfg);
 * byol_config_apply_preset(cfg, "cifar10");
 * byol_dataset_open(cfg, "cifar10-jpg/train", &ds);
 * byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld);
 * byol_trainer_create(cfg, NULL, &t);
 * for (int64_t k = 0; k < steps; k++) {
 *     byol_batch b = { .struct_size = sizeof b };
 *     if (byol_loader_next(ld, &b) != BYOL_OK) break;
 *     byol_trainer_step(t, &b.view1, &b.view2, NULL);
 * }
 * byol_loader_destroy(ld);   // before the dataset it reads
 * byol_dataset_destroy(ds);
 * @endcode
 * (error checks left out; every call above returns a status.)
 *
 * Threads: datasets and augmenters are read-only after creation, so their
 * const functions may be called from several threads at once. A loader is
 * used by one thread at a time; its workers are its own.
 */
#ifndef BYOL_DATA_H
#define BYOL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "byol_common.h"
#include "byol_config.h"
#include "byol_net.h"

BYOL_BEGIN_DECL

/** byol_loader_next(): the evaluation pass is over (not an error). */
#define BYOL_DONE 1

/* ---- images ---------------------------------------------------------------- */

/** A picture, rows top to bottom, pixels left to right, channels interleaved. */
typedef struct byol_image {
    uint32_t struct_size;  /**< set to sizeof(byol_image) before a call fills it */
    int32_t height;        /**< rows */
    int32_t width;         /**< columns */
    int32_t channels;      /**< 1 (gray) or 3 (RGB) */
    uint8_t *data;         /**< height * width * channels bytes */
} byol_image;

/**
 * Decodes an image file into `out`, converted to data.channels channels.
 *
 * Formats (through Debian's stb_image 2.27): PNG (any bit depth, 16-bit
 * samples keep their high byte; interlaced), JPEG (baseline and
 * progressive), BMP, TGA, GIF (the first frame) and binary PNM (P5, P6).
 * PSD, HDR and PIC, which stb also reads, are refused. The file is read
 * whole first, so a read failure is BYOL_E_IO, never a decode error; then
 * its header: an image of more than data.max_pixels pixels is refused
 * before any pixel is decoded.
 *
 * Channels: gray is replicated to RGB; RGB becomes gray by ITU-R BT.601
 * luma, Y = round(0.299 R + 0.587 G + 0.114 B), halves rounded up (integer:
 * (299 R + 587 G + 114 B + 500) / 1000); alpha (gray+alpha, RGBA, palettes
 * with transparency) is dropped, never composited.
 *
 * Corrupt and truncated files: stb_image has no fallback for a cut file,
 * it fails, and so does this call, with BYOL_E_DECODE. The test photo
 * truncated.jpg (cut inside its Huffman tables, before any scan) gives
 * "truncated JPEG data: the file ends before component 1 of 3 is decoded".
 * Files that stb 2.27 would decode from uninitialised memory are refused
 * too (a JPEG scan with an undefined table, a JPEG component no scan
 * decodes, truncated raw TGA or PNM pixels, a BMP whose pixel offset leaves
 * no room for its palette, a PNG that ends before IEND), and a pixel whose
 * palette index is past the end of a PNG or BMP palette is black.
 *
 * Threads: safe to call from many threads at once (stb's failure reasons
 * are thread-local in Debian's build). A host program's process-wide
 * stbi_set_flip_vertically_on_load() does not flip these images.
 * @param cfg settings, borrowed for the call (NULL: defaults).
 * @param path borrowed for the call.
 * @param out filled on success; out->data is owned by the caller (byol_image_release()).
 *        On failure out->data is NULL.
 * @return BYOL_OK; BYOL_E_IO (cannot open or read: the message names the file and
 *         the system's reason); BYOL_E_DECODE (not an image, truncated, unsupported:
 *         the message names the file and stb_image's reason); BYOL_E_RANGE (more than
 *         data.max_pixels pixels, or a zero-sized image); BYOL_E_ABI; BYOL_E_NOMEM.
 */
BYOL_API int byol_image_decode(const byol_config *cfg, const char *path, byol_image *out);

/**
 * Decodes an encoded image held in memory, as byol_image_decode().
 * @param cfg settings, borrowed for the call (NULL: defaults).
 * @param bytes, len the encoded file, borrowed for the call.
 * @param name what error messages call it, borrowed for the call (NULL:
 *        "<memory>").
 * @param out caller memory with struct_size set, filled on success;
 *        out->data is owned by the caller (byol_image_release()). On
 *        failure out->data is NULL.
 * @return as byol_image_decode(), BYOL_E_IO aside; BYOL_E_INVALID_ARG for
 *         NULL bytes with a non-zero len.
 */
BYOL_API int byol_image_decode_memory(const byol_config *cfg, const void *bytes, size_t len,
                                      const char *name, byol_image *out);

/**
 * Frees the pixels of an image a byol_* call filled and sets img->data to
 * NULL, so releasing twice is safe. The struct itself is the caller's.
 * @param img the image, borrowed for the call; its data is owned by the
 *        caller until this call. NULL (and a NULL img->data) is accepted.
 *        Cannot fail.
 */
BYOL_API void byol_image_release(byol_image *img);

/**
 * Writes an image (1 or 3 channels) as a PNG file, atomically: a temporary
 * file in the same folder, synced and renamed over `path`, so a failed write
 * keeps the old file. stb_image_write encodes it; its process-wide
 * stbi_flip_vertically_on_write() setting, if a host program turns it on,
 * flips this PNG too.
 * @param path the file to create or replace, borrowed for the call.
 * @param img the image, borrowed for the call (struct_size set, 1 or 3
 *        channels, sizes >= 1, data not NULL).
 * @return BYOL_OK, BYOL_E_INVALID_ARG (bad image), BYOL_E_IO (names the file),
 *         BYOL_E_NOMEM.
 */
BYOL_API int byol_image_write_png(const char *path, const byol_image *img);

/* ---- datasets -------------------------------------------------------------- */

/** Opaque dataset handle. */
typedef struct byol_dataset byol_dataset;

/**
 * Opens a dataset. What `path` is depends on data.format:
 * - "folder": a directory; each sub-directory is a class (labels follow the
 *   names sorted with strcmp), image files directly inside make an
 *   unlabeled set; both at once is BYOL_E_FORMAT. Image files are those
 *   named .png .jpg .jpeg .bmp .tga .gif .pnm .pgm .ppm (any case), at any
 *   depth of the class folder (cls/x.jpg, cls/sub/y.jpg), as torchvision's
 *   ImageFolder takes them and in its order: folders sorted by path (strcmp),
 *   each folder's files by name; links are followed, a link back to an
 *   enclosing folder is skipped with a BYOL_LOG_WARN message; names
 *   starting with '.' are skipped. A class folder without images keeps its
 *   label and is reported with BYOL_LOG_WARN (byol_set_log_callback()).
 *   Files are listed once and decoded when read.
 * - "idx": an IDX image file of the MNIST family (".gz" or not); labels come
 *   from data.labels, or when that is empty from the sibling file whose name
 *   has "labels-idx1" for "images-idx3" (absent: unlabeled). A directory is
 *   taken as holding the MNIST file names, data.split choosing
 *   train-* or t10k-*. Class names are "0", "1", ... up to the largest label.
 * - "cifar": a CIFAR-10 or CIFAR-100 binary batch file, or a directory
 *   holding them (data.split: data_batch_1..5.bin, all five (a folder with
 *   only some is BYOL_E_FORMAT naming the missing ones), / train.bin or
 *   test_batch.bin / test.bin); class names from batches.meta.txt or
 *   fine_label_names.txt / coarse_label_names.txt when present (else "0",
 *   "1", ...). The edition comes from the file name (data_batch_*,
 *   test_batch*: CIFAR-10; train.bin, test.bin: CIFAR-100), else from the
 *   record size that divides the file (both or neither: BYOL_E_FORMAT);
 *   data.cifar_labels picks CIFAR-100's fine or coarse labels.
 * - "auto" (default): by what is there: a directory holding CIFAR batch
 *   names is "cifar", one holding MNIST names "idx", any other "folder"; a
 *   file named *.bin is "cifar", one starting (gunzipped if need be) with an
 *   IDX magic number "idx"; anything else is BYOL_E_FORMAT.
 * @param cfg settings, borrowed for the call (NULL: defaults).
 * @param path a directory or file as above, borrowed for the call (the
 *        dataset keeps its own copy of the file names).
 * @param out receives the dataset, owned by the caller (byol_dataset_destroy()).
 * @return BYOL_OK; BYOL_E_IO (missing or unreadable path); BYOL_E_FORMAT (an IDX or
 *         CIFAR file whose header disagrees with its size, an empty folder, a CIFAR-10
 *         folder missing some of its training batches, labels that do not match the
 *         images: each names the file, and the record for a bad
 *         CIFAR label); BYOL_E_KEY / BYOL_E_RANGE (data.channels=2 is refused);
 *         BYOL_E_INVALID_ARG; BYOL_E_NOMEM.
 */
BYOL_API int byol_dataset_open(const byol_config *cfg, const char *path, byol_dataset **out);

/**
 * A dataset over caller pixels: `count` images of height x width x channels
 * uint8, back to back (a C-contiguous N,H,W,C array). The pixels and labels
 * are copied; the caller keeps its arrays.
 * @param cfg settings (data.channels), borrowed for the call (NULL: defaults).
 * @param pixels count * height * width * channels bytes, borrowed for the call.
 * @param count number of images, >= 1.
 * @param height, width image size in pixels, each >= 1.
 * @param channels 1 or 3; converted to data.channels when read.
 * @param labels `count` labels in [0, 2^20), or NULL for an unlabeled set; the
 *        classes are 0 .. the largest label, named "0", "1", ...; borrowed for
 *        the call.
 * @param out receives the dataset, owned by the caller (byol_dataset_destroy()).
 * @return BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_SHAPE (channels not 1 or 3, a size
 *         below 1), BYOL_E_RANGE (data.channels=2), BYOL_E_NOMEM.
 */
BYOL_API int byol_dataset_from_memory(const byol_config *cfg, const uint8_t *pixels,
                                      int64_t count, int32_t height, int32_t width,
                                      int32_t channels, const int32_t *labels,
                                      byol_dataset **out);

/**
 * Destroys a dataset. Destroy its loaders first: they borrow it.
 * @param ds the dataset, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_dataset_destroy(byol_dataset *ds);

/**
 * Counts the images.
 * @param ds the dataset, borrowed for the call.
 * @return the number of images, 0 when ds is NULL. Sets no error.
 */
BYOL_API int64_t byol_dataset_size(const byol_dataset *ds);

/**
 * Counts the classes.
 * @param ds the dataset, borrowed for the call.
 * @return the number of classes (labels are 0 .. count-1); 0 for an
 *         unlabeled dataset or NULL. Sets no error.
 */
BYOL_API int32_t byol_dataset_num_classes(const byol_dataset *ds);

/**
 * Names a class: the folder name of an image folder, the name from a
 * CIFAR meta file, else the label in decimal.
 * @param ds the dataset, borrowed for the call.
 * @param label a class, 0 .. byol_dataset_num_classes()-1.
 * @return the name, borrowed from the dataset (valid until it is
 *         destroyed); NULL for a NULL ds or a label out of range (no error
 *         recorded).
 */
BYOL_API const char *byol_dataset_class_name(const byol_dataset *ds, int32_t label);

/**
 * Names where one image comes from, without decoding it: for an image
 * folder, the file's path relative to the folder opened ("cat/0001.jpg",
 * "cat/sub/0002.jpg"; a loose file's name), as listed when it was opened.
 * Datasets of records (IDX, CIFAR, caller memory) have no files: there the
 * index itself is the record's number (CIFAR batches counted in order).
 * @param ds the dataset, borrowed for the call.
 * @param index the image, in [0, byol_dataset_size()).
 * @return the path, borrowed from the dataset: valid until it is destroyed
 *         (join it to the path given to byol_dataset_open() to reach the
 *         file); NULL for a dataset of records, a NULL ds or an index out
 *         of range (no error recorded). Since 1.3.
 */
BYOL_API const char *byol_dataset_source(const byol_dataset *ds, int64_t index);

/**
 * Label of one image, without decoding it.
 * @param ds the dataset, borrowed for the call.
 * @param index the image, in [0, byol_dataset_size()).
 * @param label receives the label, -1 when the dataset is unlabeled.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (a NULL argument), BYOL_E_RANGE (index
 *         outside [0, size)).
 */
BYOL_API int byol_dataset_label(const byol_dataset *ds, int64_t index, int32_t *label);

/**
 * Decodes image `index` (data.channels channels) into `out`, as byol_image_decode().
 * Records of IDX, CIFAR and memory datasets are converted to data.channels
 * the same way (gray replicated, RGB to gray by the BT.601 formula).
 * Errors name the file (and, for a record of a binary file, its index).
 * Safe to call from several threads at once on one dataset.
 * @param ds the dataset, borrowed for the call.
 * @param index the image, in [0, byol_dataset_size()).
 * @param out caller memory with struct_size set, filled on success;
 *        out->data is owned by the caller (byol_image_release()).
 * @return as byol_image_decode(), plus BYOL_E_RANGE for a bad index and
 *         BYOL_E_INVALID_ARG for a NULL ds.
 */
BYOL_API int byol_dataset_get(const byol_dataset *ds, int64_t index, byol_image *out);

/* ---- the augmenter ----------------------------------------------------------- */

/** Opaque augmenter handle: two view pipelines and the evaluation transform. */
typedef struct byol_augmenter byol_augmenter;

/**
 * Builds the augmenter from the augment.* keys (per view: augment.view1.*,
 * augment.view2.*), data.channels and seed.
 * @param cfg settings, borrowed for the call (NULL: defaults).
 * @param out receives the augmenter, owned by the caller (byol_augmenter_destroy());
 *        NULL on failure.
 * @return BYOL_OK; BYOL_E_RANGE naming the key: a view's crop_area_min above
 *         crop_area_max (likewise crop_ratio_*, blur_sigma_*), augment.mean or
 *         augment.std not a comma-separated list of one number per channel, a std
 *         <= 0, an even augment.blur_taps, data.channels other than 1 or 3;
 *         BYOL_E_INVALID_ARG (out is NULL); BYOL_E_NOMEM.
 */
BYOL_API int byol_augmenter_create(const byol_config *cfg, byol_augmenter **out);

/**
 * Destroys an augmenter.
 * @param aug the augmenter, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_augmenter_destroy(byol_augmenter *aug);

/**
 * Shape of one output view.
 * @param aug the augmenter, borrowed for the call.
 * @param dims receives {data.channels, augment.size, augment.size} (caller
 *        memory, 3 elements).
 * @return BYOL_OK or BYOL_E_INVALID_ARG (a NULL argument).
 */
BYOL_API int byol_augmenter_dims(const byol_augmenter *aug, int64_t dims[3]);

/**
 * One augmented view of `img`, normalised, as CHW float32.
 * The random draws are a function of (seed, epoch, index, view) and the
 * image's size only, never of threads or call order; the function may run
 * on one augmenter from several threads at once. In DM's order: random
 * resized crop of the uint8 image, resize to size x size (bicubic as TF's,
 * or bilinear), /255 and clip, flip, colour jitter (the four operations in
 * a random order, each clipped), grayscale, blur (zero padding),
 * solarisation, clip, (x - mean) / std. With one channel, saturation, hue
 * and grayscale are skipped.
 * @param aug the augmenter, borrowed for the call (read only).
 * @param img borrowed for the call; its channels must equal data.channels.
 * @param epoch in [0, 2^32).
 * @param index the sample's index, in [0, 2^62).
 * @param view 1 or 2.
 * @param out channels * size * size floats, written.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (NULL pointer, no pixels, view, epoch or index
 *         out of range), BYOL_E_SHAPE (channel count, a size below 1), BYOL_E_NOMEM.
 */
BYOL_API int byol_augmenter_view(const byol_augmenter *aug, const byol_image *img,
                                 int64_t epoch, int64_t index, int32_t view, float *out);

/**
 * The evaluation transform: no randomness. A centred square of
 * augment.eval_crop times the shorter side (DM's _decode_and_center_crop:
 * side int(eval_crop * min(H, W)), offsets rounded up), resized to size x
 * size, /255, clip, normalised: the same framing as resizing the shorter
 * side to size / eval_crop and cropping size x size in the centre.
 * @param aug the augmenter, borrowed for the call (read only; any number
 *        of threads at once).
 * @param img borrowed for the call; its channels must equal data.channels.
 * @param out channels * size * size floats (caller memory), written.
 * @return as byol_augmenter_view().
 */
BYOL_API int byol_augmenter_eval(const byol_augmenter *aug, const byol_image *img, float *out);

/* ---- the loader ---------------------------------------------------------------- */

/** Opaque loader handle. */
typedef struct byol_loader byol_loader;

/** Training: shuffled, drop_last, two augmented views, epochs without end. */
#define BYOL_LOADER_TRAIN 0
/** Evaluation: in order, every sample once, view1 only (byol_augmenter_eval()). */
#define BYOL_LOADER_EVAL 1

/**
 * One batch. Its arrays belong to the loader and stay valid until the next
 * byol_loader_next() or byol_loader_seek() call or byol_loader_destroy().
 */
typedef struct byol_batch {
    uint32_t struct_size;   /**< set to sizeof(byol_batch) before the call */
    uint32_t reserved;      /**< set to 0; not written */
    int64_t epoch;          /**< epoch of this batch, from 0 */
    int64_t index;          /**< batch index within the epoch, from 0 */
    int64_t count;          /**< samples in this batch (this rank's slice when sharded) */
    byol_tensor view1;      /**< [count, C, S, S] */
    byol_tensor view2;      /**< [count, C, S, S]; data NULL in evaluation mode */
    const int32_t *labels;  /**< count labels, -1 when unlabeled */
    const int64_t *samples; /**< count dataset indices */
} byol_batch;

/**
 * Creates a loader over `ds` and starts its workers (loader.workers
 * threads, loader.prefetch batches ahead). Batches have train.batch_size
 * samples; the last batch of an epoch has fewer when it is not dropped
 * (evaluation mode, or loader.drop_last=0).
 * @param cfg settings (data.*, augment.*, loader.*, train.batch_size,
 *        seed), borrowed for the call (NULL: defaults).
 * @param ds the dataset, borrowed until the loader is destroyed: destroy
 *        the loader first.
 * @param mode BYOL_LOADER_TRAIN or BYOL_LOADER_EVAL.
 * @param out receives the loader, owned by the caller
 *        (byol_loader_destroy()); NULL on failure.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (a NULL argument, another mode), BYOL_E_SHAPE (dataset smaller than one batch
 *         in training mode), BYOL_E_KEY / BYOL_E_RANGE, BYOL_E_NOMEM, BYOL_E_GENERIC
 *         (a thread could not be started).
 */
BYOL_API int byol_loader_create(const byol_config *cfg, const byol_dataset *ds, int32_t mode,
                                byol_loader **out);

/**
 * Waits for the next batch and describes it in `out`.
 * A sample that fails to decode stops the batch with that error
 * (loader.on_error=stop: the message names the file; the next call goes on
 * with the next batch) or is replaced by the dataset's next image (index
 * + 1, + 2, ... until one decodes) and counted (loader.on_error=skip,
 * byol_loader_skipped()).
 * @param ld the loader, borrowed for the call.
 * @param out caller memory with struct_size set; on success its pointers
 *        (view data, labels, samples) are borrowed from the loader, valid
 *        until the next byol_loader_next() or byol_loader_seek() call or
 *        byol_loader_destroy().
 * @return BYOL_OK; BYOL_DONE (evaluation mode: every sample was handed out);
 *         BYOL_E_IO / BYOL_E_DECODE / BYOL_E_FORMAT / BYOL_E_RANGE (a bad sample, on
 *         stop); BYOL_E_ABI; BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_loader_next(byol_loader *ld, byol_batch *out);

/**
 * Makes the next batch batch `index` of epoch `epoch` (resuming a run):
 * the same bytes an uninterrupted loader would give there. The batch last
 * handed out becomes invalid; work the workers did ahead is dropped.
 * @param ld the loader, borrowed for the call.
 * @param epoch in [0, 2^32) (only 0 in evaluation mode).
 * @param index the batch within the epoch, in [0, byol_loader_batches_per_epoch()).
 * @return BYOL_OK, BYOL_E_INVALID_ARG (ld is NULL), BYOL_E_RANGE (epoch or
 *         index out of range; nothing changed).
 */
BYOL_API int byol_loader_seek(byol_loader *ld, int64_t epoch, int64_t index);

/**
 * Makes this loader hand out only rank `rank`'s slice of every batch, for
 * data-parallel training where each of `size` processes (ranks) holds a
 * loader and a trainer and steps on its own part of the global batch.
 *
 * Every rank keeps the unsharded sequence: the same epochs, the same
 * batches per epoch, the same shuffle and the same two views of each
 * sample (they depend on (seed, epoch, sample index, view) alone). Of a
 * batch of c samples (c = train.batch_size, the global batch, or fewer for
 * the last batch of an epoch that is not dropped), rank r receives
 * positions [r*c/size, (r+1)*c/size) (rounded down), so the ranks' batches
 * put one after the other in rank order are, byte for byte, the batch one
 * unsharded loader gives, whatever the rank count. A full batch gives every
 * rank train.batch_size/size samples; a short last batch (evaluation mode,
 * or loader.drop_last=0) gives slices that differ by at most one sample,
 * possibly none (count 0), and every rank returns BYOL_DONE at the same
 * call at the end of an evaluation pass. Each rank decodes and augments
 * only its own slice, and its batches hold only train.batch_size/size
 * samples' memory.
 *
 * Resuming with another rank count: byol_loader_seek(ld, epoch, index) on
 * a sharded loader gives rank r's slice of the batch an uninterrupted
 * loader of any rank count gives there, so a run checkpointed on 2 ranks
 * continues the same global sequence on 1 or 4.
 *
 * Bad images: with loader.on_error=skip, a bad image is replaced by the
 * dataset's next one that decodes, as unsharded, at the same position of
 * the same slice, so no slice moves and the global batch stays the
 * unsharded one. byol_loader_skipped() counts the images this rank skipped
 * (the global count is the sum over the ranks). With loader.on_error=stop
 * only the rank whose slice holds the bad image gets the error (the
 * message numbers the sample within the global batch, as unsharded); the
 * others get their slices. Ranks must agree on the outcome before they
 * step (for example by all-reducing the status): a rank that stops while
 * the others step would leave them waiting in their collective calls.
 *
 * Best called right after byol_loader_create(). It may also be called
 * later, and again to change the shard: the next batch is then this rank's
 * slice of the batch the next byol_loader_next() would have handed out;
 * the batch last handed out becomes invalid and work done ahead is
 * dropped. byol_loader_skipped() keeps its count. size 1 (rank 0) is the
 * unsharded loader.
 * @param ld the loader, borrowed for the call.
 * @param rank this process's rank, in [0, size).
 * @param size the number of ranks, >= 1, dividing train.batch_size (the
 *        global batch) so that full batches cut into equal slices.
 * @return BYOL_OK; BYOL_E_INVALID_ARG (ld is NULL); BYOL_E_RANGE (size below
 *         1, rank outside [0, size), or size not dividing train.batch_size:
 *         the message names the numbers); BYOL_E_NOMEM. On failure nothing
 *         changed. Since 1.3.
 */
BYOL_API int byol_loader_set_shard(byol_loader *ld, int32_t rank, int32_t size);

/**
 * Counts the batches of one epoch.
 * @param ld the loader, borrowed for the call.
 * @return batches per epoch (after loader.drop_last in training mode; the
 *         whole pass in evaluation mode), 0 when ld is NULL; the same for a
 *         sharded loader (global batches). Sets no error.
 */
BYOL_API int64_t byol_loader_batches_per_epoch(const byol_loader *ld);

/**
 * Counts the bad images skipped in the batches handed out so far
 * (loader.on_error=skip): a function of those batches alone, not of how
 * far the workers ran ahead. A sharded loader counts its own slices only
 * (byol_loader_set_shard()).
 * @param ld the loader, borrowed for the call.
 * @return the count, 0 when ld is NULL. Sets no error.
 */
BYOL_API int64_t byol_loader_skipped(const byol_loader *ld);

/**
 * Stops and joins the workers (also in the middle of a batch) and frees the
 * loader and its batches. The dataset it borrowed may be destroyed after.
 * @param ld the loader, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_loader_destroy(byol_loader *ld);

/* ---- preview ------------------------------------------------------------------- */

/**
 * Writes a PNG grid of images `first` .. `first + count - 1` of `ds`, one
 * row per image: a label (the class name, or "#index" in an unlabelled
 * dataset), the evaluation crop, view 1 and view 2 of epoch 0,
 * un-normalised for display, under a label row naming the columns ("eval
 * crop", "view 1", "view 2"). Cells are the augmenter's output upscaled by
 * the smallest whole factor that makes them at least 112 pixels (nearest
 * neighbour: 28-pixel Fashion-MNIST views become 112 pixels, 32-pixel
 * CIFAR views 128), so small images can be seen; labels are in a built-in
 * 5x7 bitmap font drawn twice as large, at most 16 characters.
 * byol_preview_write_sample() draws the images at random across classes.
 * @param cfg settings (augment.*, data.channels, seed), borrowed for the
 *        call (NULL: defaults).
 * @param ds the dataset, borrowed for the call.
 * @param first index of the first image.
 * @param count number of images (rows), in [1, 256].
 * @param path the PNG to create or replace (atomically), borrowed for the call.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (a NULL ds or path), BYOL_E_RANGE (images
 *         outside the dataset, count outside [1, 256]), errors of
 *         byol_dataset_get() and byol_image_write_png().
 */
BYOL_API int byol_preview_write(const byol_config *cfg, const byol_dataset *ds, int64_t first,
                                int32_t count, const char *path);

/**
 * Writes the grid of byol_preview_write() for `count` images drawn at
 * random, a function of the `seed` setting alone (the same seed gives the
 * same PNG): in a labelled dataset the classes take turns, in a shuffled
 * order, each giving a random image of its own, so `count` images span
 * min(count, classes) classes; an unlabelled dataset is sampled uniformly.
 * No image is drawn twice; a dataset of fewer than `count` images gives
 * all of them. Since 1.3.
 * @param cfg settings (seed, augment.*, data.channels), borrowed for the
 *        call (NULL: defaults, seed 0).
 * @param ds the dataset, borrowed for the call.
 * @param count number of images (rows), in [1, 256].
 * @param path the PNG to create or replace (atomically), borrowed for the call.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (a NULL ds or path), BYOL_E_RANGE (count
 *         outside [1, 256]), BYOL_E_NOMEM, errors of byol_dataset_get() and
 *         byol_image_write_png().
 */
BYOL_API int byol_preview_write_sample(const byol_config *cfg, const byol_dataset *ds,
                                       int32_t count, const char *path);

BYOL_END_DECL

#endif
