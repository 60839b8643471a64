//! Trainer: a few steps on cnn-small at batch 8 with random inputs, the
//! step in parts, the gradient hook, checkpoints, the borrowed encoder.

mod common;

use byol::{schedule_lr, schedule_tau, Config, ErrorKind, Net, Trainer};
use common::{random, scratch, small_config};

const N: usize = 8;
const IN: usize = 28 * 28;

fn views(seed: u64) -> (Vec<f32>, Vec<f32>) {
    (random(N * IN, seed), random(N * IN, seed + 1000))
}

#[test]
fn trains_a_few_steps_with_finite_loss() {
    let cfg = small_config(N as i64);
    let mut t = Trainer::new(&cfg, None).unwrap();
    assert_eq!(t.step_index(), 0);
    assert_eq!(t.encoder().input_dims(), [1, 28, 28]);
    let mut last = -1;
    for k in 0..4 {
        let (v1, v2) = views(k);
        let s = t.step(&v1, &v2, N).unwrap();
        assert!(s.loss.is_finite() && (0.0..=8.0).contains(&s.loss), "{s:?}");
        assert!(
            (s.loss - (s.loss_12 + s.loss_21)).abs() < 1e-9 * (1.0 + s.loss),
            "{s:?}"
        );
        assert!(s.grad_norm.is_finite() && s.grad_norm > 0.0, "{s:?}");
        assert!(s.step > last, "{s:?}");
        last = s.step;
        assert_eq!(t.step_index(), k as i64 + 1);
    }
    let emb = t.encoder_mut().embed(&random(3 * IN, 9), 3).unwrap();
    assert_eq!(emb.len(), 3 * 128);
}

#[test]
fn step_errors_change_nothing() {
    let cfg = small_config(N as i64);
    let mut t = Trainer::new(&cfg, None).unwrap();
    let (v1, v2) = views(1);
    // Rust-side: slice lengths must be n*C*H*W.
    let e = t.step(&v1[..IN], &v2, N).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert!(e.message().contains("view1"), "{e}");
    // Library-side: n must be train.batch_size.
    let e = t.step(&v1[..4 * IN], &v2[..4 * IN], 4).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
    // Non-finite views: nothing changes, not even the step counter.
    let before = t.params().to_vec();
    let mut bad = v1.clone();
    bad[7] = f32::INFINITY;
    let e = t.step(&bad, &v2, N).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NonFinite, "{e}");
    assert_eq!(t.step_index(), 0);
    assert_eq!(t.params(), &before[..]);
    t.step(&v1, &v2, N).unwrap();
    assert_eq!(t.step_index(), 1);
}

#[test]
fn bad_settings_fail_trainer_creation() {
    let mut cfg = small_config(N as i64);
    let e = cfg.set("train.batch_size", 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    assert!(e.message().contains("train.batch_size"), "{e}");
    // An encoder whose output is not a vector.
    let mut b = byol::Builder::new(&cfg, 1, 28, 28).unwrap();
    let x = b.input();
    let y = b.conv2d(None, x, 4, 3, 1, 1, false).unwrap();
    let map_net = b.finish(y).unwrap();
    let e = Trainer::new(&small_config(N as i64), Some(&map_net)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
}

#[test]
fn checkpoint_save_and_load_resume_bit_for_bit() {
    let dir = scratch("trainer_ckpt");
    let ckpt = dir.join("ckpt.safetensors");
    let cfg = small_config(N as i64);
    let mut a = Trainer::new(&cfg, None).unwrap();
    for k in 0..2 {
        let (v1, v2) = views(k);
        a.step(&v1, &v2, N).unwrap();
    }
    a.save(&ckpt).unwrap();

    let mut b = Trainer::new(&cfg, None).unwrap();
    b.load(&ckpt).unwrap();
    assert_eq!(b.step_index(), 2);
    assert_eq!(a.params(), b.params());
    let (v1, v2) = views(2);
    let sa = a.step(&v1, &v2, N).unwrap();
    let sb = b.step(&v1, &v2, N).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(a.params(), b.params());

    // A missing or corrupt checkpoint: the trainer is unchanged.
    let before = b.params().to_vec();
    let e = b.load(dir.join("nope.safetensors")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("nope.safetensors"), "{e}");
    let bad = dir.join("bad.safetensors");
    std::fs::write(&bad, b"not a checkpoint at all").unwrap();
    let e = b.load(&bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format, "{e}");
    assert!(e.message().contains("bad.safetensors"), "{e}");
    // A weight file is not a checkpoint.
    let w = dir.join("weights.safetensors");
    b.encoder().save(&w).unwrap();
    assert_eq!(b.load(&w).unwrap_err().kind(), ErrorKind::Format);
    assert_eq!(b.params(), &before[..]);
    assert_eq!(b.step_index(), 3);
}

#[test]
fn encoder_borrow_exports_weights_and_copies_into_a_new_trainer() {
    let dir = scratch("trainer_encoder");
    let cfg = small_config(N as i64);
    let mut t = Trainer::new(&cfg, None).unwrap();
    let (v1, v2) = views(3);
    t.step(&v1, &v2, N).unwrap();
    let path = dir.join("encoder.safetensors");
    {
        let enc = t.encoder();
        enc.save(&path).unwrap();
        assert!(enc.tensors().iter().any(|i| i.name.contains("weight")));
    } // the borrow ends here; the trainer can step again
    t.step(&v1, &v2, N).unwrap();

    // A net loaded from the export seeds a new trainer (copied in).
    let mut net = Net::new(&cfg).unwrap();
    net.load(&path, byol::LoadMode::Strict).unwrap();
    let t2 = Trainer::new(&cfg, Some(&net)).unwrap();
    drop(net); // the trainer holds its own copy
    assert_eq!(t2.encoder().params().len(), t.encoder().params().len());
    assert_ne!(t2.encoder().params(), t.encoder().params()); // t stepped once more
    assert!(t2.encoder().params().iter().all(|p| p.is_finite()));
}

#[test]
fn step_in_parts_equals_the_whole_step() {
    let cfg = small_config(N as i64);
    let mut whole = Trainer::new(&cfg, None).unwrap();
    let mut parts = Trainer::new(&cfg, None).unwrap();
    let (v1, v2) = views(4);
    let s = whole.step(&v1, &v2, N).unwrap();

    parts.zero_grad().unwrap();
    let a = parts.accumulate(&v1, &v2, N).unwrap();
    assert_eq!(a.loss, s.loss);
    let k = parts.step_index();
    let u = parts.apply_update().unwrap();
    let total: i64 = cfg.get("train.total_steps").unwrap();
    let tau_base: f64 = cfg.get("ema.tau_base").unwrap();
    parts
        .update_target(schedule_tau(k, total, tau_base))
        .unwrap();
    assert_eq!(parts.step_index(), 1);
    assert_eq!((u.lr, u.grad_norm), (s.lr, s.grad_norm));
    assert_eq!(whole.params(), parts.params());
    // The next whole steps agree too: the targets were updated alike.
    let (w1, w2) = views(40);
    assert_eq!(
        whole.step(&w1, &w2, N).unwrap(),
        parts.step(&w1, &w2, N).unwrap()
    );

    // Micro-batches of n < train.batch_size accumulate.
    parts.zero_grad().unwrap();
    let h = N / 2 * IN;
    parts.accumulate(&v1[..h], &v2[..h], N / 2).unwrap();
    let g1: f64 = parts.grads().iter().map(|&g| (g as f64).powi(2)).sum();
    parts.accumulate(&v1[h..], &v2[h..], N / 2).unwrap();
    let g2: f64 = parts.grads().iter().map(|&g| (g as f64).powi(2)).sum();
    assert!(g1 > 0.0 && g2.is_finite() && g2 != g1);
    let e = parts.update_target(1.5).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
}

#[test]
fn grad_hook_sees_gradients_and_can_cancel() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let cfg = small_config(N as i64);
    let mut t = Trainer::new(&cfg, None).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let nparams = t.params().len();
    t.set_grad_hook(move |g| {
        assert_eq!(g.len(), nparams);
        c2.fetch_add(1, Ordering::SeqCst);
        true
    })
    .unwrap();
    let (v1, v2) = views(5);
    t.step(&v1, &v2, N).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    t.set_grad_hook(|_| false).unwrap();
    let before = t.params().to_vec();
    let e = t.step(&v1, &v2, N).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert_eq!(t.params(), &before[..]);
    assert_eq!(t.step_index(), 1);

    // A panicking hook cancels the step and the panic reaches the caller.
    t.set_grad_hook(|_| panic!("hook panicked")).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.step(&v1, &v2, N)));
    assert!(r.is_err());
    assert_eq!(t.step_index(), 1);

    t.clear_grad_hook().unwrap();
    t.step(&v1, &v2, N).unwrap();
    assert_eq!(t.step_index(), 2);
}

#[test]
fn schedules() {
    assert_eq!(schedule_lr(0, 100, 10, 1.0), 0.0);
    assert!((schedule_lr(10, 100, 10, 1.0) - 1.0).abs() < 1e-12);
    assert_eq!(schedule_lr(100, 100, 10, 1.0), 0.0);
    assert!((schedule_tau(0, 100, 0.99) - 0.99).abs() < 1e-12);
    assert!((schedule_tau(100, 100, 0.99) - 1.0).abs() < 1e-12);
}

#[test]
fn trainers_move_across_threads() {
    let cfg = small_config(N as i64);
    let mut t = Trainer::new(&cfg, None).unwrap();
    drop(cfg);
    let (v1, v2) = views(6);
    let s0 = t.step(&v1, &v2, N).unwrap();
    let t = std::thread::spawn(move || {
        let mut t = t;
        let s1 = t.step(&v1, &v2, N).unwrap();
        assert!(s1.step > s0.step);
        t
    })
    .join()
    .unwrap();
    assert_eq!(t.step_index(), 2);
    let _ = Config::new();
}
