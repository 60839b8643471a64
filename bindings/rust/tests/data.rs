//! Images, datasets, the augmenter and the loader: a loader over
//! Dataset::from_memory yields batches for the trainer; errors name what is
//! wrong; dropping in any allowed order is safe.

mod common;

use std::path::Path;

use byol::{Augmenter, Config, Dataset, ErrorKind, Image, Loader, LoaderMode, Trainer};
use common::{random_bytes, scratch, small_config};

const COUNT: usize = 20;
const PIX: usize = 28 * 28;

fn memory_dataset(cfg: &Config, labelled: bool) -> Dataset {
    let pixels = random_bytes(COUNT * PIX, 11);
    let labels: Vec<i32> = (0..COUNT as i32).map(|i| i % 4).collect();
    Dataset::from_memory(
        cfg,
        &pixels,
        COUNT,
        28,
        28,
        1,
        labelled.then_some(&labels[..]),
    )
    .unwrap()
}

#[test]
fn memory_dataset_basics() {
    let cfg = small_config(8);
    let pixels = random_bytes(COUNT * PIX, 11);
    let ds = memory_dataset(&cfg, true);
    assert_eq!(ds.len(), COUNT);
    assert!(!ds.is_empty());
    assert_eq!(ds.num_classes(), 4);
    assert_eq!(ds.label(5).unwrap(), Some(1));
    assert!(ds.class_name(3).is_some());
    assert!(ds.class_name(4).is_none());
    let img = ds.get(2).unwrap();
    assert_eq!((img.height(), img.width(), img.channels()), (28, 28, 1));
    assert_eq!(img.data(), &pixels[2 * PIX..3 * PIX]);

    let e = ds.get(COUNT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    assert!(e.message().contains(&COUNT.to_string()), "{e}");
    assert_eq!(ds.label(COUNT).unwrap_err().kind(), ErrorKind::Range);

    let unlabelled = memory_dataset(&cfg, false);
    assert_eq!(unlabelled.num_classes(), 0);
    assert_eq!(unlabelled.label(0).unwrap(), None);
}

#[test]
fn dataset_errors_name_the_problem() {
    let cfg = small_config(8);
    // Rust side: the pixel count disagrees with the shape.
    let e = Dataset::from_memory(&cfg, &[0; 100], 2, 28, 28, 1, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert!(e.message().contains("1568"), "{e}");
    let e = Dataset::from_memory(&cfg, &[0; 2 * PIX], 2, 28, 28, 1, Some(&[0])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
    // Library side: two channels, a negative label.
    let e = Dataset::from_memory(&cfg, &[0; 2 * 2 * PIX], 2, 28, 28, 2, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
    let e = Dataset::from_memory(&cfg, &[0; 2 * PIX], 2, 28, 28, 1, Some(&[0, -3])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg, "{e}");
    assert!(e.message().contains("-3"), "{e}");
    // A missing path: Io, naming it.
    let e = Dataset::open(&cfg, "/no/such/dataset/dir").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("/no/such/dataset/dir"), "{e}");
}

#[test]
fn image_png_round_trip_and_decode_errors() {
    let dir = scratch("data_png");
    let cfg = Config::from_settings("data.channels=3").unwrap();
    let bytes = random_bytes(5 * 7 * 3, 3);
    let img = Image::new(5, 7, 3, bytes.clone()).unwrap();
    let path = dir.join("x.png");
    img.write_png(&path).unwrap();
    let back = Image::decode(&cfg, &path).unwrap();
    assert_eq!(back, img);
    let mem = Image::decode_memory(&cfg, &std::fs::read(&path).unwrap(), Some("x.png")).unwrap();
    assert_eq!(mem.into_data(), bytes);

    let e = Image::new(5, 7, 3, vec![0; 10]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    let e = Image::decode_memory(&cfg, b"definitely not an image", Some("junk.bin")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    assert!(e.message().contains("junk.bin"), "{e}");
    let e = Image::decode(&cfg, dir.join("missing.png")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("missing.png"), "{e}");
}

#[test]
fn folder_images_name_their_sources() {
    let dir = scratch("data_sources");
    let cfg = Config::from_settings("data.channels=3").unwrap();
    let img = Image::new(2, 2, 3, random_bytes(12, 5)).unwrap();
    for name in ["cat/b.png", "cat/a.png", "cat/sub/c.png", "dog/d.png"] {
        std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
        img.write_png(dir.join(name)).unwrap();
    }
    let ds = Dataset::open(&cfg, &dir).unwrap();
    let sources: Vec<_> = (0..ds.len()).map(|i| ds.source(i).unwrap()).collect();
    let want = ["cat/a.png", "cat/b.png", "cat/sub/c.png", "dog/d.png"];
    assert_eq!(sources, want.map(Path::new));
    assert_eq!(ds.label(2).unwrap(), Some(0), "a nested image is in its class");
    assert!(ds.source(4).is_none());
    assert!(memory_dataset(&cfg, false).source(0).is_none());
}

#[test]
fn preview_sample_is_seeded_and_upscaled() {
    let dir = scratch("data_preview");
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    ds.write_preview_sample(&cfg, 4, dir.join("a.png")).unwrap();
    ds.write_preview_sample(&cfg, 4, dir.join("b.png")).unwrap();
    let a = std::fs::read(dir.join("a.png")).unwrap();
    assert_eq!(a, std::fs::read(dir.join("b.png")).unwrap());
    let grid = Image::decode(&cfg, dir.join("a.png")).unwrap();
    assert_eq!(grid.height(), 4 + 14 + 4 + 4 * (112 + 4)); // 28-pixel views, 4x
    let e = ds.write_preview_sample(&cfg, 0, dir.join("c.png")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
}

#[test]
fn augmenter_views_are_deterministic() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    let aug = Augmenter::new(&cfg).unwrap();
    assert_eq!(aug.dims(), [1, 28, 28]);
    let img = ds.get(0).unwrap();
    let a = aug.view(&img, 0, 0, 1).unwrap();
    assert_eq!(a.len(), PIX);
    assert_eq!(a, aug.view(&img, 0, 0, 1).unwrap());
    assert_ne!(a, aug.view(&img, 0, 0, 2).unwrap());
    assert_eq!(aug.eval(&img).unwrap().len(), PIX);
    let e = aug.view(&img, 0, 0, 3).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg, "{e}");
    let rgb = Image::new(28, 28, 3, vec![0; 3 * PIX]).unwrap();
    assert_eq!(aug.eval(&rgb).unwrap_err().kind(), ErrorKind::Shape);
}

#[test]
fn train_loader_over_memory_yields_batches() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    let loader = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
    assert_eq!(loader.batches_per_epoch(), 2); // 20 / 8, drop_last
    let batches: Vec<_> = loader.take(5).collect::<byol::Result<_>>().unwrap();
    for (k, b) in batches.iter().enumerate() {
        assert_eq!((b.epoch, b.index), ((k / 2) as i64, (k % 2) as i64));
        assert_eq!(b.count, 8);
        assert_eq!(b.dims, [1, 28, 28]);
        assert_eq!(b.view1.len(), 8 * PIX);
        assert_eq!(b.view2.as_ref().unwrap().len(), 8 * PIX);
        assert!(b.view1.iter().all(|v| v.is_finite()));
        for (&s, &l) in b.samples.iter().zip(&b.labels) {
            assert!((0..COUNT as i64).contains(&s));
            assert_eq!(l, s as i32 % 4);
        }
        let mut s = b.samples.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 8, "a sample twice in one batch");
    }
}

#[test]
fn eval_loader_hands_out_every_sample_once_then_ends() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    let mut loader = Loader::new(&cfg, &ds, LoaderMode::Eval).unwrap();
    let mut seen = Vec::new();
    while let Some(b) = loader.next_batch() {
        let b = b.unwrap();
        assert!(b.view2.is_none());
        assert_eq!(b.view1.len(), b.count * PIX);
        seen.extend_from_slice(b.samples);
    }
    assert_eq!(seen, (0..COUNT as i64).collect::<Vec<_>>());
    assert!(loader.next_batch().is_none());
    assert!(loader.next().is_none());
}

#[test]
fn seek_gives_the_same_bytes() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    let mut a = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
    let third = a.nth(2).unwrap().unwrap();
    let mut b = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
    b.seek(1, 0).unwrap();
    let again = b.next_batch().unwrap().unwrap().to_owned();
    assert_eq!(third, again);
    assert_eq!(b.seek(0, 99).unwrap_err().kind(), ErrorKind::Range);
}

#[test]
fn shards_make_the_global_batch() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    let whole = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
    let want: Vec<_> = whole.take(3).collect::<byol::Result<_>>().unwrap();
    for n in [2u32, 4] {
        let mut ranks: Vec<_> = (0..n)
            .map(|r| {
                let mut l = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
                l.set_shard(r, n).unwrap();
                l
            })
            .collect();
        for w in &want {
            let (mut samples, mut view1, mut view2) = (Vec::new(), Vec::new(), Vec::new());
            for l in ranks.iter_mut() {
                let b = l.next_batch().unwrap().unwrap();
                assert_eq!(
                    (b.epoch, b.index, b.count),
                    (w.epoch, w.index, 8 / n as usize)
                );
                samples.extend_from_slice(b.samples);
                view1.extend_from_slice(b.view1);
                view2.extend_from_slice(b.view2.unwrap());
            }
            assert_eq!(samples, w.samples);
            assert_eq!(view1, w.view1);
            assert_eq!(Some(view2), w.view2);
        }
    }
    let mut l = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
    assert_eq!(l.set_shard(0, 3).unwrap_err().kind(), ErrorKind::Range);
    assert_eq!(l.set_shard(2, 2).unwrap_err().kind(), ErrorKind::Range);
}

#[test]
fn loader_batches_train_a_trainer() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    let mut t = Trainer::new(&cfg, None).unwrap();
    let mut loader = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
    for k in 0..3 {
        let b = loader.next_batch().unwrap().unwrap();
        let s = t.step(b.view1, b.view2.unwrap(), b.count).unwrap();
        assert_eq!(s.step, k);
        assert!(s.loss.is_finite());
    }
}

#[test]
fn loaders_and_datasets_drop_in_allowed_orders() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    // A loader dropped mid-epoch with its workers busy; another after its end.
    let mut l1 = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
    let mut l2 = Loader::new(&cfg, &ds, LoaderMode::Eval).unwrap();
    l1.next_batch().unwrap().unwrap();
    while l2.next().is_some() {}
    drop(cfg); // the config is only borrowed at creation
    drop(l1);
    drop(l2);
    drop(ds);

    // Loaders dropped in creation order, then the dataset.
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, false);
    let loaders: Vec<_> = (0..3)
        .map(|_| Loader::new(&cfg, &ds, LoaderMode::Train).unwrap())
        .collect();
    for l in loaders {
        drop(l);
    }
    drop(ds);
}

#[test]
fn a_dataset_is_shared_between_threads() {
    let cfg = small_config(8);
    let ds = memory_dataset(&cfg, true);
    let firsts: Vec<Vec<i64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let cfg = small_config(8);
                    let mut l = Loader::new(&cfg, &ds, LoaderMode::Train).unwrap();
                    l.next().unwrap().unwrap().samples
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(firsts[0], firsts[1]); // same seed, same order
}

#[test]
fn fashion_mnist_from_the_debian_package() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.join("t10k-images-idx3-ubyte.gz").exists() {
        eprintln!(
            "skipped: {} not found (package dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let mut cfg = small_config(8);
    cfg.set("data.split", "test").unwrap();
    let ds = Dataset::open(&cfg, dir).unwrap();
    assert_eq!(ds.len(), 10_000);
    assert_eq!(ds.num_classes(), 10);
    let img = ds.get(0).unwrap();
    assert_eq!((img.height(), img.width(), img.channels()), (28, 28, 1));
    assert!(ds.label(0).unwrap().is_some());
}
