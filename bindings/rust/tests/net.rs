//! Net: shapes on cnn-small, forward/backward/embed, shape errors from the
//! Rust side and from the library, weights save/load, the builder.

mod common;

use byol::{Buffer, Builder, Config, ErrorKind, LoadMode, Net};
use common::{random, scratch};

fn cnn_small(seed: i64) -> Net {
    let mut cfg = Config::from_settings("net.arch=cnn-small threads=2").unwrap();
    cfg.set("seed", seed).unwrap();
    Net::new(&cfg).unwrap()
}

#[test]
fn cnn_small_forward_shapes() {
    let mut net = cnn_small(1);
    assert_eq!(net.input_dims(), [1, 28, 28]);
    assert_eq!(net.input_len(), 784);
    assert_eq!(net.output_dims(), vec![128]);
    assert_eq!(net.output_len(), 128);
    net.plan(8).unwrap();
    let x = random(8 * 784, 1);
    let y = net.forward(&x, 8).unwrap();
    assert_eq!(y.len(), 8 * 128);
    assert!(y.iter().all(|v| v.is_finite()));
    // Fewer samples than planned are fine.
    assert_eq!(net.forward(&x[..3 * 784], 3).unwrap().len(), 3 * 128);
}

#[test]
fn shape_errors_from_rust_and_from_the_library() {
    let mut net = cnn_small(1);
    // Not planned yet: the library refuses (bad state).
    let x = random(4 * 784, 2);
    let e = net.forward(&x, 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadState, "{e}");
    assert!(!e.message().is_empty());

    net.plan(4).unwrap();
    // Slice length disagrees with n: caught before the call.
    let e = net.forward(&x, 3).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert!(
        e.message().contains("3136") && e.message().contains("2352"),
        "{e}"
    );
    let e = net.forward(&x[..0], 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    // More samples than planned: the library's message gives both shapes.
    let x8 = random(8 * 784, 3);
    let e = net.forward(&x8, 8).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
    assert!(
        e.message().contains('8') && e.message().contains('4'),
        "{e}"
    );
    // Non-finite input: nothing changes.
    let mut bad = x.clone();
    bad[5] = f32::NAN;
    let e = net.forward(&bad, 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NonFinite, "{e}");
    // Backward before a training forward.
    let mut fresh = cnn_small(1);
    fresh.plan(4).unwrap();
    let e = fresh.backward(&vec![0.0; 4 * 128], 4, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadState, "{e}");
}

#[test]
fn backward_accumulates_gradients_and_embed_matches_eval_forward() {
    let mut net = cnn_small(2);
    net.plan(4).unwrap();
    let x = random(4 * 784, 4);
    assert!(net.grads().iter().all(|&g| g == 0.0));
    net.forward(&x, 4).unwrap();
    let dy = random(4 * 128, 5);
    let mut dx = vec![0f32; 4 * 784];
    net.backward(&dy, 4, Some(&mut dx)).unwrap();
    assert!(net.grads().iter().any(|&g| g != 0.0));
    assert!(dx.iter().any(|&g| g != 0.0));
    let g1: Vec<f32> = net.grads().to_vec();
    net.forward(&x, 4).unwrap();
    net.backward(&dy, 4, None).unwrap();
    // Gradients add up across calls.
    for (a, b) in g1.iter().zip(net.grads()) {
        assert!((2.0 * a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{a} {b}");
    }
    net.zero_grad().unwrap();
    assert!(net.grads().iter().all(|&g| g == 0.0));

    // embed = evaluation-mode forward, any number of samples (chunks of the plan).
    let x10 = random(10 * 784, 6);
    let e = net.embed(&x10, 10).unwrap();
    assert_eq!(e.len(), 10 * 128);
    net.set_training(false).unwrap();
    let f = net.forward(&x10[..4 * 784], 4).unwrap();
    assert_eq!(&e[..4 * 128], &f[..]);
}

#[test]
fn buffers_and_tensor_info() {
    let mut net = cnn_small(3);
    let tensors = net.tensors();
    assert_eq!(tensors.len(), net.tensor_count());
    let conv = &tensors[0];
    assert!(conv.name.ends_with("weight"), "{conv:?}");
    assert_eq!(conv.shape, vec![32, 1, 3, 3]);
    assert_eq!(conv.buffer, Buffer::Params);
    let nparams: usize = tensors
        .iter()
        .filter(|t| t.buffer == Buffer::Params)
        .map(|t| t.numel)
        .sum();
    assert_eq!(nparams, net.params().len());
    assert_eq!(net.grads().len(), net.params().len());
    assert!(tensors
        .iter()
        .any(|t| t.buffer == Buffer::State && t.is_norm));
    net.params_mut()[conv.offset] = 42.0;
    assert_eq!(net.params()[conv.offset], 42.0);
}

#[test]
fn weights_save_and_load() {
    let dir = scratch("net_weights");
    let path = dir.join("enc.safetensors");
    let a = cnn_small(1);
    a.save(&path).unwrap();
    let mut b = cnn_small(2);
    assert_ne!(a.params(), b.params());
    b.load(&path, LoadMode::Strict).unwrap();
    assert_eq!(a.params(), b.params());
    assert_eq!(a.state(), b.state());

    let bytes = std::fs::read(&path).unwrap();
    let mut c = cnn_small(3);
    c.load_bytes(&bytes, LoadMode::Strict).unwrap();
    assert_eq!(a.params(), c.params());

    // A missing file: Io, naming the path; the net is unchanged.
    let missing = dir.join("missing.safetensors");
    let before = c.params().to_vec();
    let e = c.load(&missing, LoadMode::Strict).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("missing.safetensors"), "{e}");
    // A corrupt file: Format.
    let e = c
        .load_bytes(&bytes[..bytes.len() / 2], LoadMode::Strict)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format, "{e}");
    // Another architecture: Format, naming a tensor.
    let r18 = Net::new(&Config::from_settings("net.arch=resnet18-cifar").unwrap()).unwrap();
    let rpath = dir.join("r18.safetensors");
    r18.save(&rpath).unwrap();
    let e = c.load(&rpath, LoadMode::Strict).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format, "{e}");
    assert_eq!(c.params(), &before[..]);
    // Saving into a missing directory: Io naming the path.
    let e = a.save(dir.join("no/such/dir/x.safetensors")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("no/such/dir"), "{e}");
}

#[test]
fn builder_makes_a_custom_net() {
    let cfg = Config::from_settings("seed=3 threads=1").unwrap();
    let mut b = Builder::new(&cfg, 3, 8, 8).unwrap();
    let x = b.input();
    let y = b.conv2d(Some("stem"), x, 4, 3, 1, 1, false).unwrap();
    let y = b.batchnorm(Some("bn"), y).unwrap();
    let y = b.relu(y).unwrap();
    let z = b.conv2d(Some("res"), y, 4, 3, 1, 1, true).unwrap();
    let y = b.add_nodes(y, z).unwrap();
    let p = b.maxpool(y, 2, 2, 0).unwrap();
    let f = b.flatten(p).unwrap();
    let out = b.linear(Some("fc"), f, 5, true).unwrap();
    // A failed call leaves the builder usable.
    let e = b.linear(None, y, 5, true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
    let mut net = b.finish(out).unwrap();
    let gap = b.avgpool(y).unwrap();
    let pooled = b.finish(gap).unwrap();
    drop(b); // nets are independent of their builder
    assert_eq!(net.output_dims(), vec![5]);
    assert_eq!(pooled.output_dims(), vec![4]);
    assert!(net.tensors().iter().any(|t| t.name == "stem.weight"));
    net.plan(2).unwrap();
    assert_eq!(net.forward(&random(2 * 3 * 64, 9), 2).unwrap().len(), 10);
}

#[test]
fn mlp_takes_vector_inputs() {
    let cfg =
        Config::from_settings("net.arch=mlp net.mlp.in=6 net.mlp.hidden=8 net.mlp.out=3").unwrap();
    let mut net = Net::new(&cfg).unwrap();
    assert_eq!(net.input_dims(), [6, 1, 1]);
    net.plan(4).unwrap();
    let y = net.forward(&random(4 * 6, 1), 4).unwrap();
    assert_eq!(y.len(), 12);
}

#[test]
fn nets_move_across_threads() {
    let mut net = cnn_small(5);
    net.plan(2).unwrap();
    let x = random(2 * 784, 7);
    let y0 = net.embed(&x, 2).unwrap();
    let (net, y1) = std::thread::spawn(move || {
        let y = net.embed(&x, 2).unwrap();
        (net, y)
    })
    .join()
    .unwrap();
    assert_eq!(y0, y1);
    drop(net);
}
