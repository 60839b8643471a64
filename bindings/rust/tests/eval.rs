//! eval::knn on a tiny hand example, the linear probe on separable blobs,
//! embed_dataset with a net and with a trainer's encoder.

mod common;

use byol::{eval, Config, Dataset, ErrorKind, Net, Trainer};
use common::{random, random_bytes, small_config};

fn knn_config(k: i64, t: f64) -> Config {
    let mut cfg = Config::new().unwrap();
    cfg.set("eval.knn_k", k)
        .unwrap()
        .set("eval.knn_temperature", t)
        .unwrap();
    cfg
}

#[test]
fn knn_hand_example() {
    // Bank: A=(1,0) class 0; B=(0.6,0.8), C=(0.6,-0.8) class 1 (unit rows).
    let bank = [1.0, 0.0, 0.6, 0.8, 0.6, -0.8];
    let bank_labels = [0, 1, 1];
    // Queries (scaled: rows are L2-normalised): q1 = 5*(1,0) of class 0,
    // q2 = 2*(0,1) of class 1.
    let query = [5.0, 0.0, 0.0, 2.0];
    let query_labels = [0, 1];
    // k=3, t=0.1: q1 sims (1, .6, .6): class 0 weighs e^10 > 2e^6, right;
    // q2 sims (0, .8, -.8): class 1 weighs e^8 + e^-8 > e^0, right.
    let acc = eval::knn(
        &knn_config(3, 0.1),
        &bank,
        &bank_labels,
        &query,
        &query_labels,
        2,
    )
    .unwrap();
    assert_eq!(acc, 1.0);
    // t=10 flattens the weights: q1 gets e^.1 < 2e^.06 for class 1, wrong.
    let acc = eval::knn(
        &knn_config(3, 10.0),
        &bank,
        &bank_labels,
        &query,
        &query_labels,
        2,
    )
    .unwrap();
    assert_eq!(acc, 0.5);
    // k=1: the nearest row alone decides; both right.
    let acc = eval::knn(
        &knn_config(1, 10.0),
        &bank,
        &bank_labels,
        &query,
        &query_labels,
        2,
    )
    .unwrap();
    assert_eq!(acc, 1.0);
}

#[test]
fn knn_errors() {
    let cfg = knn_config(1, 0.1);
    // Rust side: rows and labels disagree, dim 0.
    let e = eval::knn(&cfg, &[1.0, 0.0, 1.0], &[0, 1], &[1.0, 0.0], &[0], 2).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert!(e.message().contains("bank"), "{e}");
    assert_eq!(
        eval::knn(&cfg, &[], &[], &[], &[], 0).unwrap_err().kind(),
        ErrorKind::InvalidArg
    );
    // Library side: a negative label, an empty bank.
    let e = eval::knn(&cfg, &[1.0, 0.0], &[-1], &[1.0, 0.0], &[0], 2).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg, "{e}");
    let e = eval::knn(&cfg, &[], &[], &[1.0, 0.0], &[0], 2).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg, "{e}");
}

/// Four separable blobs in 4-D: class c around 3 * e_c.
fn blobs(n: usize, seed: u64) -> (Vec<f32>, Vec<i32>) {
    let noise = random(n * 4, seed);
    let labels: Vec<i32> = (0..n as i32).map(|i| i % 4).collect();
    let data = (0..n * 4)
        .map(|j| {
            noise[j] * 0.5
                + if (j % 4) as i32 == labels[j / 4] {
                    3.0
                } else {
                    0.0
                }
        })
        .collect();
    (data, labels)
}

#[test]
fn linear_probe_separates_blobs() {
    let (train, train_labels) = blobs(80, 1);
    let (test, test_labels) = blobs(40, 2);
    let mut cfg = Config::from_settings("eval.probe_epochs=20 eval.probe_batch=16 seed=1").unwrap();
    let acc = eval::linear_probe(&cfg, &train, &train_labels, &test, &test_labels, 4).unwrap();
    assert!(acc >= 0.95, "accuracy {acc}");
    // Deterministic.
    assert_eq!(
        acc,
        eval::linear_probe(&cfg, &train, &train_labels, &test, &test_labels, 4).unwrap()
    );
    cfg.set("threads", 1).unwrap();
    assert_eq!(
        acc,
        eval::linear_probe(&cfg, &train, &train_labels, &test, &test_labels, 4).unwrap()
    );
    let e =
        eval::linear_probe(&cfg, &train, &train_labels[1..], &test, &test_labels, 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
}

#[test]
fn embed_dataset_with_a_net_and_a_trainer_encoder() {
    let cfg = small_config(8);
    let labels: Vec<i32> = (0..12).map(|i| i % 3).collect();
    let ds = Dataset::from_memory(
        &cfg,
        &random_bytes(12 * 784, 5),
        12,
        28,
        28,
        1,
        Some(&labels),
    )
    .unwrap();

    let mut net = Net::new(&cfg).unwrap();
    net.plan(8).unwrap();
    let e = eval::embed_dataset(&mut net, &cfg, &ds).unwrap();
    // The preset's eval.grid=2: cnn-small's 128-channel map pooled 2x2.
    assert_eq!((e.count(), e.dim), (12, 128 * 2 * 2));
    assert_eq!(e.data.len(), 12 * 512);
    assert_eq!(e.labels, labels);
    assert!(e.data.iter().all(|v| v.is_finite()));

    let mut t = Trainer::new(&cfg, Some(&net)).unwrap();
    let from_trainer = eval::embed_dataset(t.encoder_mut(), &cfg, &ds).unwrap();
    assert_eq!(from_trainer, e); // the trainer's encoder is a copy of net
                                 // The whole evaluation path: k-NN of the embeddings against themselves.
    let acc = eval::knn(
        &knn_config(1, 0.1),
        &e.data,
        &e.labels,
        &e.data,
        &e.labels,
        e.dim,
    )
    .unwrap();
    assert_eq!(acc, 1.0);

    // An encoder whose input does not match the images: Shape.
    let rgb = Config::from_settings("net.arch=resnet18-cifar").unwrap();
    let mut wrong = Net::new(&rgb).unwrap();
    wrong.plan(8).unwrap();
    let err = eval::embed_dataset(&mut wrong, &cfg, &ds).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Shape, "{err}");
}
