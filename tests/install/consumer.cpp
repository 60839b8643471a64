// An out-of-tree C++17 program on the installed <byol/byol.hpp> (tests/install/run.sh):
//   consumer FOLDER    an image folder of 28x28 gray images in two or more classes
// Every part of the wrapper once: a dataset opened (class names, labels, an
// image decoded through the dataset and from a file), the augmenter's views,
// a preview, two training steps from the loader, the trained encoder's
// embeddings with k-NN and a linear probe, and a library error arriving as
// byol::Error. Exits 1 (after printing what) on any unexpected result.
#include <byol/byol.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void expect(bool ok, const std::string &what)
{
    if (!ok)
        throw std::runtime_error("unexpected: " + what);
}

// cnn-small on 1x28x28 at a quarter width: milliseconds a step.
byol::Config small_config()
{
    byol::Config cfg("fashion-mnist");
    cfg.parse("net.width=0.25 byol.proj_hidden=64 byol.pred_hidden=64 byol.proj_out=32 "
              "train.batch_size=8 train.total_steps=2 train.warmup_steps=0 loader.workers=1 "
              "threads=2 eval.knn_k=3 eval.probe_epochs=2");
    return cfg;
}

void check_data(const byol::Config &cfg, const byol::Dataset &ds, const std::string &folder)
{
    expect(ds.size() >= 8 && ds.num_classes() >= 2, "at least 8 images in 2 classes");
    std::printf("dataset: %lld images, classes", static_cast<long long>(ds.size()));
    for (int32_t c = 0; c < ds.num_classes(); c++)
        std::printf(" %s", ds.class_name(c).c_str());
    std::printf("\n");
    expect(ds.label(0) == 0 && ds.label(ds.size() - 1) == ds.num_classes() - 1,
           "labels in class order");

    byol::Image img = ds.image(0);
    expect(img.height() == 28 && img.width() == 28 && img.channels() == 1, "a 28x28 gray image");
    byol::Image same = byol::Image::decode(cfg, folder + "/" + ds.class_name(0) + "/0.pgm");
    expect(same.size() == img.size() && std::equal(img.data(), img.data() + img.size(),
                                                   same.data()),
           "the file decodes to the dataset's image 0");

    byol::Augmenter aug(cfg);
    std::array<int64_t, 3> d = aug.dims();
    std::vector<float> v1 = aug.view(img, 0, 0, 1), v2 = aug.view(img, 0, 0, 2);
    expect(v1.size() == static_cast<size_t>(d[0] * d[1] * d[2]) && v1 != v2, "two views");
    expect(aug.eval(img) == aug.eval(img), "a deterministic evaluation transform");
    ds.write_preview(cfg, 0, 2, "preview.png");
    expect(byol::Image::decode(cfg, "preview.png").height() > 0, "a preview PNG");
}

}  // namespace

int main(int argc, char **argv)
try {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer FOLDER\n");
        return 2;
    }
    byol::Config cfg = small_config();
    const byol::Dataset ds = byol::Dataset::open(cfg, argv[1]);
    check_data(cfg, ds, argv[1]);

    byol::Trainer trainer(cfg);
    byol::Loader loader(cfg, ds, BYOL_LOADER_TRAIN);
    byol_batch batch;
    for (int k = 0; k < 2; k++) {
        loader.next(batch);
        byol_step_stats s = trainer.step(batch.view1, batch.view2);
        expect(std::isfinite(s.loss), "a finite loss");
        std::printf("step %lld  loss %.4f\n", static_cast<long long>(s.step), s.loss);
    }

    byol::Embeddings e = byol::embed_dataset(trainer.encoder(), cfg, ds);
    // the preset's eval.grid=2: the encoder's last map pooled 2x2
    expect(e.count == ds.size() && e.dim == 4 * trainer.encoder().output_size(),
           "one row per image");
    double knn = byol::knn(cfg, e, e), probe = byol::linear_probe(cfg, e, e);
    std::printf("embedded %lld x %lld; k-NN %.2f, probe %.2f on the training images\n",
                static_cast<long long>(e.count), static_cast<long long>(e.dim), knn, probe);

    try {
        byol::Dataset::open(cfg, "no/such/folder");
        expect(false, "opening a missing folder succeeded");
    } catch (const byol::Error &err) {
        expect(std::string(err.what()).find("no/such/folder") != std::string::npos,
               "the error names the folder");
        std::printf("refused, as expected: %s: %s\n", err.name(), err.what());
    }
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
}
