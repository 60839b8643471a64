// byol.hpp: a tiny header-only C++17 wrapper over libbyol's C API, for the
// examples. Each handle is owned by a std::unique_ptr with a deleter calling
// the library's destroy function, so objects release their handle exactly
// once, on every path (exceptions included); they move but do not copy.
// A failing call throws byol::Error, carrying the status code and the
// library's message (which names the file, key or shape at fault).
//
// Lifetimes the C API asks for, which this wrapper leaves to the caller:
// a Loader borrows its Dataset (declare the Dataset first, so it is
// destroyed last), and a NetRef from Trainer::encoder() is valid while the
// Trainer lives.
#ifndef BYOL_EXAMPLES_BYOL_HPP
#define BYOL_EXAMPLES_BYOL_HPP

#include <byol/byol.h>

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
    int code() const noexcept { return code_; }  // BYOL_E_*

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
    const byol_dataset *get() const noexcept { return p_.get(); }

private:
    explicit Dataset(byol_dataset *d) noexcept : p_(d) {}
    detail::Owned<byol_dataset, byol_dataset_destroy> p_;
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

    byol_loader *get() const noexcept { return p_.get(); }

private:
    detail::Owned<byol_loader, byol_loader_destroy> p_;
};

}  // namespace byol

#endif
