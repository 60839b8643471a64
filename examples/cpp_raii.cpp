// cpp_raii: libbyol from C++17 through the RAII wrapper <byol/byol.hpp>.
// Trains a few BYOL steps on random in-memory images, embeds a batch with
// the trained encoder, and shows a library error arriving as an exception.
// No handle is destroyed by hand: each is released when its owner goes out
// of scope, whether the program returns or throws.
//
//   cpp_raii [steps]      (default 3)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <vector>

#include <byol/byol.hpp>

namespace {

constexpr int64_t kImages = 64;
constexpr int32_t kSide = 28;

// Uniform noise standing in for a real dataset: 28x28 gray images.
std::vector<uint8_t> random_pixels()
{
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<uint8_t> pixels(static_cast<size_t>(kImages * kSide * kSide));
    for (auto &p : pixels)
        p = static_cast<uint8_t>(byte(rng));
    return pixels;
}

// The fashion-mnist recipe (cnn-small on 1x28x28), shrunk to milliseconds a step.
byol::Config small_config(int64_t steps)
{
    byol::Config cfg("fashion-mnist");
    cfg.parse("net.width=0.125 byol.proj_hidden=64 byol.pred_hidden=64 byol.proj_out=32 "
              "train.batch_size=16 train.warmup_steps=0 loader.workers=1 threads=2");
    cfg.set_int("train.total_steps", steps);
    return cfg;
}

void train(byol::Trainer &trainer, byol::Loader &loader, int64_t steps)
{
    byol_batch batch;
    for (int64_t k = 0; k < steps; k++) {
        loader.next(batch);  // training mode: epochs without end
        byol_step_stats s = trainer.step(batch.view1, batch.view2);
        std::printf("step %lld  loss %.4f  lr %.5f  tau %.5f\n", static_cast<long long>(s.step),
                    s.loss, s.lr, s.tau);
    }
}

// Embeds the first evaluation batch (centre crop, no augmentation).
void embed_one_batch(const byol::Config &cfg, const byol::Dataset &ds, byol::NetRef encoder)
{
    byol::Loader eval(cfg, ds, BYOL_LOADER_EVAL);
    byol_batch batch;
    if (!eval.next(batch))
        return;
    std::vector<float> emb = encoder.embed(batch.view1);
    int64_t d = encoder.output_size();
    double norm = 0;
    for (int64_t j = 0; j < d; j++)
        norm += static_cast<double>(emb[static_cast<size_t>(j)]) * emb[static_cast<size_t>(j)];
    std::printf("embedded %lld images: [%lld, %lld] floats, |row 0| = %.4f\n",
                static_cast<long long>(batch.count), static_cast<long long>(batch.count),
                static_cast<long long>(d), std::sqrt(norm));
}

}  // namespace

int main(int argc, char **argv)
try {
    char *end = nullptr;
    const int64_t steps = argc > 1 ? std::strtoll(argv[1], &end, 10) : 3;
    if (argc > 2 || steps < 1 || (end && *end != '\0')) {
        std::cerr << "usage: cpp_raii [steps >= 1]\n";
        return 2;
    }
    byol::Config cfg = small_config(steps);

    // Declared before the loaders that borrow it, so it is destroyed after them.
    byol::Dataset ds = byol::Dataset::from_memory(cfg, random_pixels(), kImages, kSide, kSide, 1);
    byol::Loader loader(cfg, ds, BYOL_LOADER_TRAIN);

    // The trainer copies the encoder: `encoder` could go out of scope right away.
    byol::Net encoder(cfg);
    byol::Trainer trainer(cfg, &encoder);
    std::printf("libbyol %s: %lld random images, %lld-d embeddings\n", byol_version_string(),
                static_cast<long long>(ds.size()),
                static_cast<long long>(encoder.ref().output_size()));

    train(trainer, loader, steps);
    embed_one_batch(cfg, ds, trainer.encoder());

    // A bad setting is refused with a message naming the key and its bounds.
    try {
        cfg.set_float("net.width", 100.0);
    } catch (const byol::Error &e) {
        std::printf("refused, as expected (code %d): %s\n", e.code(), e.what());
    }
    return 0;
} catch (const std::exception &e) {
    std::cerr << "cpp_raii: " << e.what() << "\n";
    return 1;
}
