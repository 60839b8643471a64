// byol.hpp: libbyol for C++17, header-only, over the C API of <byol/byol.h>.
// Installed as <byol/byol.hpp>; build with
//   g++ -std=c++17 prog.cpp $(pkg-config --cflags --libs libbyol)
// Each handle is owned by a std::unique_ptr with a deleter calling the
// library's destroy function (or an Image's byol_image_release), so objects
// release what they own exactly once, on every path (exceptions included);
// they move but do not copy. A failing call throws byol::Error, carrying the
// status code and the library's message (which names the file, key or shape
// at fault). Buffers the library hands over (embeddings) are copied into
// std::vectors and freed at once.
//
// What it covers: Config; Net, NetRef; Trainer; Image, Dataset, Augmenter,
// Loader and the preview (data); Embeddings, embed_dataset(), knn() and
// linear_probe() (eval). Anything else: the C API, through each object's get().
//
// Lifetimes the C API asks for, which this wrapper leaves to the caller:
// a Loader borrows its Dataset (declare the Dataset first, so it is
// destroyed last), and a NetRef from Trainer::encoder() is valid while the
// Trainer lives.
#ifndef BYOL_BYOL_HPP
#define BYOL_BYOL_HPP

#include <byol/byol.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace byol {

// ---- errors --------------------------------------------------------------------

class Error : public std::runtime_error {
public:
    Error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }                         // BYOL_E_*
    const char *name() const noexcept { return byol_error_name(code_); }  // "BYOL_E_IO", ...

private:
    int code_;
};

// Throws on a failed status. The message is copied at once: the library's
// is only valid until its next call on this thread.
inline void check(int rc, const char *call)
{
    if (rc != BYOL_OK)
        throw Error(rc, std::string(call) + ": " + byol_strerror(rc) + ": " + byol_last_error());
}

namespace detail {
template <typename T, void (*Destroy)(T *)>
struct Deleter {
    void operator()(T *p) const noexcept { Destroy(p); }
};
template <typename T, void (*Destroy)(T *)>
using Owned = std::unique_ptr<T, Deleter<T, Destroy>>;

// Memory the library returns "owned by the caller (byol_free)".
struct Free {
    void operator()(void *p) const noexcept { byol_free(p); }
};
template <typename T>
using Freed = std::unique_ptr<T[], Free>;
}  // namespace detail

// ---- config ------------------------------------------------------------------------

class Config {
public:
    Config()
    {
        byol_config *c = nullptr;
        check(byol_config_create(&c), "byol_config_create");
        p_.reset(c);
    }
    explicit Config(const std::string &preset) : Config() { apply_preset(preset); }

    Config &apply_preset(const std::string &name)
    {
        check(byol_config_apply_preset(get(), name.c_str()), "byol_config_apply_preset");
        return *this;
    }
    // "key=value key=value ...", all checked before any is applied.
    Config &parse(const std::string &settings)
    {
        check(byol_config_parse(get(), settings.c_str()), "byol_config_parse");
        return *this;
    }
    Config &set_int(const std::string &key, int64_t value)
    {
        check(byol_config_set_int(get(), key.c_str(), value), "byol_config_set_int");
        return *this;
    }
    Config &set_float(const std::string &key, double value)
    {
        check(byol_config_set_float(get(), key.c_str(), value), "byol_config_set_float");
        return *this;
    }
    int64_t get_int(const std::string &key) const
    {
        int64_t v = 0;
        check(byol_config_get_int(get(), key.c_str(), &v), "byol_config_get_int");
        return v;
    }

    byol_config *get() const noexcept { return p_.get(); }

private:
    detail::Owned<byol_config, byol_config_destroy> p_;
};

// ---- networks ----------------------------------------------------------------------

// A borrowed net: the operations, without ownership.
class NetRef {
public:
    explicit NetRef(byol_net *net) noexcept : net_(net) {}

    // Features per sample of a net that ends in a vector.
    int64_t output_size() const
    {
        int32_t ndim = 0;
        int64_t dims[3] = { 1, 1, 1 };
        check(byol_net_output_dims(net_, &ndim, dims), "byol_net_output_dims");
        return dims[0] * (ndim == 3 ? dims[1] * dims[2] : 1);
    }
    // Inference on a batch x = [N, C, H, W]: N rows of output_size() floats.
    std::vector<float> embed(const byol_tensor &x) const
    {
        int64_t d = output_size();
        std::vector<float> y(static_cast<size_t>(x.shape[0] * d));
        byol_tensor ty = BYOL_TENSOR_INIT;
        ty.ndim = 2;
        ty.shape[0] = x.shape[0];
        ty.shape[1] = d;
        ty.data = y.data();
        check(byol_net_embed(net_, &x, &ty), "byol_net_embed");
        return y;
    }
    void save(const std::string &path) const
    {
        check(byol_net_save(net_, path.c_str()), "byol_net_save");
    }
    // Weights from a safetensors file (byol_net_save, byol export, torchvision).
    void load(const std::string &path, uint32_t flags = BYOL_LOAD_STRICT) const
    {
        check(byol_net_load(net_, path.c_str(), flags), "byol_net_load");
    }

    byol_net *get() const noexcept { return net_; }

private:
    byol_net *net_;
};

// An owned net, built from the config's net.* keys.
class Net {
public:
    explicit Net(const Config &cfg)
    {
        byol_net *n = nullptr;
        check(byol_net_create(cfg.get(), &n), "byol_net_create");
        p_.reset(n);
    }
    NetRef ref() const noexcept { return NetRef(p_.get()); }
    byol_net *get() const noexcept { return p_.get(); }

private:
    detail::Owned<byol_net, byol_net_destroy> p_;
};

// ---- trainer -------------------------------------------------------------------------

class Trainer {
public:
    // The online encoder is a copy of `encoder` (nullptr: net.arch's preset).
    explicit Trainer(const Config &cfg, const Net *encoder = nullptr)
    {
        byol_trainer *t = nullptr;
        check(byol_trainer_create(cfg.get(), encoder ? encoder->get() : nullptr, &t),
              "byol_trainer_create");
        p_.reset(t);
    }

    byol_step_stats step(const byol_tensor &view1, const byol_tensor &view2)
    {
        byol_step_stats s{};
        s.struct_size = sizeof s;
        check(byol_trainer_step(get(), &view1, &view2, &s), "byol_trainer_step");
        return s;
    }
    void save(const std::string &path) const
    {
        check(byol_trainer_save(get(), path.c_str()), "byol_trainer_save");
    }
    void load(const std::string &path)
    {
        check(byol_trainer_load(get(), path.c_str()), "byol_trainer_load");
    }
    // Borrowed: valid while this trainer lives.
    NetRef encoder() const noexcept { return NetRef(byol_trainer_encoder(get())); }

    byol_trainer *get() const noexcept { return p_.get(); }

private:
    detail::Owned<byol_trainer, byol_trainer_destroy> p_;
};

// ---- data ----------------------------------------------------------------------------

// A decoded picture, HWC uint8 (rows top to bottom, channels interleaved).
class Image {
public:
    Image() noexcept { img_.struct_size = sizeof img_; }
    Image(Image &&other) noexcept : img_(other.img_) { other.img_.data = nullptr; }
    Image &operator=(Image &&other) noexcept
    {
        if (this != &other) {
            byol_image_release(&img_);
            img_ = other.img_;
            other.img_.data = nullptr;
        }
        return *this;
    }
    Image(const Image &) = delete;
    Image &operator=(const Image &) = delete;
    ~Image() { byol_image_release(&img_); }

    // PNG, JPEG, BMP, TGA, GIF or PNM, converted to data.channels channels.
    static Image decode(const Config &cfg, const std::string &path)
    {
        Image im;
        check(byol_image_decode(cfg.get(), path.c_str(), &im.img_), "byol_image_decode");
        return im;
    }
    // The same from bytes in memory; `name` appears in error messages.
    static Image decode_memory(const Config &cfg, const void *bytes, size_t len,
                               const std::string &name)
    {
        Image im;
        check(byol_image_decode_memory(cfg.get(), bytes, len, name.c_str(), &im.img_),
              "byol_image_decode_memory");
        return im;
    }

    int32_t height() const noexcept { return img_.height; }
    int32_t width() const noexcept { return img_.width; }
    int32_t channels() const noexcept { return img_.channels; }
    const uint8_t *data() const noexcept { return img_.data; }
    // Bytes of data(): height x width x channels.
    size_t size() const noexcept
    {
        return static_cast<size_t>(img_.height) * static_cast<size_t>(img_.width) *
               static_cast<size_t>(img_.channels);
    }
    void write_png(const std::string &path) const
    {
        check(byol_image_write_png(path.c_str(), &img_), "byol_image_write_png");
    }

    const byol_image &get() const noexcept { return img_; }

private:
    friend class Dataset;
    byol_image img_{};
};

class Dataset {
public:
    // A dataset on disk: image folder, MNIST-style IDX, CIFAR binary batches.
    static Dataset open(const Config &cfg, const std::string &path)
    {
        byol_dataset *d = nullptr;
        check(byol_dataset_open(cfg.get(), path.c_str(), &d), "byol_dataset_open");
        return Dataset(d);
    }
    // `count` images of h x w x c uint8 pixels (N,H,W,C), copied.
    static Dataset from_memory(const Config &cfg, const std::vector<uint8_t> &pixels,
                               int64_t count, int32_t h, int32_t w, int32_t c)
    {
        if (pixels.size() != static_cast<size_t>(count * h * w * c))
            throw Error(BYOL_E_SHAPE, "Dataset::from_memory: the pixel count does not match");
        byol_dataset *d = nullptr;
        check(byol_dataset_from_memory(cfg.get(), pixels.data(), count, h, w, c, nullptr, &d),
              "byol_dataset_from_memory");
        return Dataset(d);
    }

    int64_t size() const noexcept { return byol_dataset_size(get()); }
    int32_t num_classes() const noexcept { return byol_dataset_num_classes(get()); }
    // The folder name of an image folder, a CIFAR meta name, else the label in decimal.
    std::string class_name(int32_t label) const
    {
        const char *name = byol_dataset_class_name(get(), label);
        if (!name)
            throw Error(BYOL_E_RANGE, "Dataset::class_name: no class " + std::to_string(label) +
                                          " among " + std::to_string(num_classes()));
        return name;
    }
    // -1 when the dataset is unlabeled.
    int32_t label(int64_t index) const
    {
        int32_t l = -1;
        check(byol_dataset_label(get(), index, &l), "byol_dataset_label");
        return l;
    }
    // Image `index`, decoded (data.channels channels).
    Image image(int64_t index) const
    {
        Image im;
        check(byol_dataset_get(get(), index, &im.img_), "byol_dataset_get");
        return im;
    }
    // A PNG grid of images first .. first + count - 1 and their two views of epoch 0.
    void write_preview(const Config &cfg, int64_t first, int32_t count,
                       const std::string &path) const
    {
        check(byol_preview_write(cfg.get(), get(), first, count, path.c_str()),
              "byol_preview_write");
    }

    const byol_dataset *get() const noexcept { return p_.get(); }

private:
    explicit Dataset(byol_dataset *d) noexcept : p_(d) {}
    detail::Owned<byol_dataset, byol_dataset_destroy> p_;
};

// BYOL's two view pipelines and the evaluation transform, to CHW float32.
class Augmenter {
public:
    explicit Augmenter(const Config &cfg)
    {
        byol_augmenter *a = nullptr;
        check(byol_augmenter_create(cfg.get(), &a), "byol_augmenter_create");
        p_.reset(a);
    }
    // Shape of one output: {channels, size, size}.
    std::array<int64_t, 3> dims() const
    {
        std::array<int64_t, 3> d{};
        check(byol_augmenter_dims(get(), d.data()), "byol_augmenter_dims");
        return d;
    }
    // View 1 or 2 of `img` as sample `index` of `epoch` draws it.
    std::vector<float> view(const Image &img, int64_t epoch, int64_t index, int32_t view) const
    {
        std::vector<float> out = output();
        check(byol_augmenter_view(get(), &img.get(), epoch, index, view, out.data()),
              "byol_augmenter_view");
        return out;
    }
    // The evaluation transform: centre crop and normalisation, no randomness.
    std::vector<float> eval(const Image &img) const
    {
        std::vector<float> out = output();
        check(byol_augmenter_eval(get(), &img.get(), out.data()), "byol_augmenter_eval");
        return out;
    }

    const byol_augmenter *get() const noexcept { return p_.get(); }

private:
    std::vector<float> output() const
    {
        std::array<int64_t, 3> d = dims();
        return std::vector<float>(static_cast<size_t>(d[0] * d[1] * d[2]));
    }
    detail::Owned<byol_augmenter, byol_augmenter_destroy> p_;
};

class Loader {
public:
    // mode: BYOL_LOADER_TRAIN or BYOL_LOADER_EVAL. Borrows `ds` until destroyed.
    Loader(const Config &cfg, const Dataset &ds, int32_t mode)
    {
        byol_loader *l = nullptr;
        check(byol_loader_create(cfg.get(), ds.get(), mode, &l), "byol_loader_create");
        p_.reset(l);
    }

    // The next batch, its arrays valid until the next call; false when an
    // evaluation pass is over.
    bool next(byol_batch &batch)
    {
        batch = byol_batch{};
        batch.struct_size = sizeof batch;
        int rc = byol_loader_next(get(), &batch);
        if (rc == BYOL_DONE)
            return false;
        check(rc, "byol_loader_next");
        return true;
    }

    // Makes the next batch batch `index` of epoch `epoch` (resuming a run).
    void seek(int64_t epoch, int64_t index)
    {
        check(byol_loader_seek(get(), epoch, index), "byol_loader_seek");
    }
    // Hands out only rank `rank`'s slice of every global batch of `size`
    // ranks (data parallel; byol_loader_set_shard()).
    void set_shard(int32_t rank, int32_t size)
    {
        check(byol_loader_set_shard(get(), rank, size), "byol_loader_set_shard");
    }
    int64_t batches_per_epoch() const noexcept { return byol_loader_batches_per_epoch(get()); }
    // Bad images skipped in the batches handed out so far (loader.on_error=skip).
    int64_t skipped() const noexcept { return byol_loader_skipped(get()); }

    byol_loader *get() const noexcept { return p_.get(); }

private:
    detail::Owned<byol_loader, byol_loader_destroy> p_;
};

// ---- eval ------------------------------------------------------------------------------

// `count` rows of `dim` floats and their labels (-1 when unlabeled).
struct Embeddings {
    int64_t count = 0;
    int64_t dim = 0;
    std::vector<float> values;    // [count, dim], row-major
    std::vector<int32_t> labels;  // [count]
};

// Every image of `ds` through the evaluation transform and `encoder`
// (inference mode), in the dataset's order.
inline Embeddings embed_dataset(NetRef encoder, const Config &cfg, const Dataset &ds)
{
    float *values = nullptr;
    int32_t *labels = nullptr;
    Embeddings e;
    int rc = byol_embed_dataset(encoder.get(), cfg.get(), ds.get(), &values, &labels, &e.count,
                                &e.dim);
    detail::Freed<float> own_values(values);
    detail::Freed<int32_t> own_labels(labels);
    check(rc, "byol_embed_dataset");
    e.values.assign(values, values + e.count * e.dim);
    e.labels.assign(labels, labels + e.count);
    return e;
}

namespace detail {
// The C calls take counts and pointers: rows that do not fit would be read past.
inline void check_rows(const Embeddings &e, const char *call, const char *which)
{
    if (e.count < 1 || e.dim < 1 || e.values.size() != static_cast<size_t>(e.count * e.dim) ||
        e.labels.size() != static_cast<size_t>(e.count))
        throw Error(BYOL_E_SHAPE, std::string(call) + ": " + which + " holds " +
                                      std::to_string(e.values.size()) + " values and " +
                                      std::to_string(e.labels.size()) + " labels, not " +
                                      std::to_string(e.count) + " rows of " +
                                      std::to_string(e.dim));
}
inline void check_pair(const Embeddings &train, const Embeddings &test, const char *call)
{
    check_rows(train, call, "train");
    check_rows(test, call, "test");
    if (train.dim != test.dim)
        throw Error(BYOL_E_SHAPE, std::string(call) + ": train rows have " +
                                      std::to_string(train.dim) + " floats, test rows " +
                                      std::to_string(test.dim));
}
}  // namespace detail

// Top-1 accuracy of weighted k-NN (eval.knn_k, eval.knn_temperature): `train`
// is the bank, `test` the queries.
inline double knn(const Config &cfg, const Embeddings &train, const Embeddings &test)
{
    detail::check_pair(train, test, "byol::knn");
    double acc = 0;
    check(byol_eval_knn(cfg.get(), train.values.data(), train.labels.data(), train.count,
                        test.values.data(), test.labels.data(), test.count, train.dim, &acc),
          "byol_eval_knn");
    return acc;
}

// Top-1 accuracy on `test` of a linear classifier trained on `train` (eval.probe_*).
inline double linear_probe(const Config &cfg, const Embeddings &train, const Embeddings &test)
{
    detail::check_pair(train, test, "byol::linear_probe");
    double acc = 0;
    check(byol_eval_linear_probe(cfg.get(), train.values.data(), train.labels.data(),
                                 train.count, test.values.data(), test.labels.data(), test.count,
                                 train.dim, &acc),
          "byol_eval_linear_probe");
    return acc;
}

}  // namespace byol

#endif  // BYOL_BYOL_HPP
