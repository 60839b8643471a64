//! Dropping objects in any order is safe: owned handles are independent
//! (functions taking a &Config or &Net copy what they need), and borrowed
//! ones are tied by lifetimes to their owner (the compile_fail examples in
//! the crate docs show the compiler refusing the wrong order). Each test
//! also runs cleanly under valgrind/ASan with no double free.

mod common;

use byol::{Config, Net, Trainer};
use common::{random, scratch, small_config};

const N: usize = 8;

#[test]
fn config_dropped_before_what_it_made() {
    let cfg = small_config(N as i64);
    let mut net = Net::new(&cfg).unwrap();
    let mut t = Trainer::new(&cfg, Some(&net)).unwrap();
    drop(cfg);
    net.plan(2).unwrap();
    assert_eq!(net.embed(&random(2 * 784, 1), 2).unwrap().len(), 256);
    let v = random(N * 784, 2);
    t.step(&v, &v, N).unwrap();
}

#[test]
fn encoder_net_dropped_before_its_trainer() {
    let cfg = small_config(N as i64);
    let net = Net::new(&cfg).unwrap();
    let mut t = Trainer::new(&cfg, Some(&net)).unwrap();
    drop(net);
    let v = random(N * 784, 3);
    assert!(t.step(&v, &v, N).unwrap().loss.is_finite());
}

#[test]
fn trainer_dropped_after_its_encoder_borrow_ends() {
    let dir = scratch("drop_encoder");
    let cfg = small_config(N as i64);
    let mut t = Trainer::new(&cfg, None).unwrap();
    let params = {
        let enc = t.encoder_mut();
        enc.plan(N).unwrap();
        enc.embed(&random(3 * 784, 4), 3).unwrap();
        enc.save(dir.join("e.safetensors")).unwrap();
        enc.params().to_vec()
    };
    drop(t);
    // What was exported outlives the trainer.
    let mut net = Net::new(&cfg).unwrap();
    net.load(dir.join("e.safetensors"), byol::LoadMode::Strict)
        .unwrap();
    assert_eq!(net.params(), &params[..]);
}

#[test]
fn handles_dropped_in_every_order() {
    // Three independent owners, dropped in all six orders.
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let cfg = small_config(N as i64);
        let net = Net::new(&cfg).unwrap();
        let t = Trainer::new(&cfg, Some(&net)).unwrap();
        let mut slots: [Option<Box<dyn std::any::Any>>; 3] =
            [Some(Box::new(cfg)), Some(Box::new(net)), Some(Box::new(t))];
        for i in order {
            drop(slots[i].take());
        }
    }
}

#[test]
fn trainer_with_a_hook_drops_cleanly() {
    let cfg = small_config(N as i64);
    let mut t = Trainer::new(&cfg, None).unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = seen.clone();
    t.set_grad_hook(move |_| {
        s.store(true, std::sync::atomic::Ordering::SeqCst);
        true
    })
    .unwrap();
    let v = random(N * 784, 5);
    t.step(&v, &v, N).unwrap();
    // Replacing a hook frees the old closure; dropping the trainer the new one.
    t.set_grad_hook(|_| true).unwrap();
    drop(t);
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(std::sync::Arc::strong_count(&seen), 1);
}

#[test]
fn raw_ownership_round_trip() {
    let cfg = Config::from_settings("net.arch=cnn-small").unwrap();
    let net = Net::new(&cfg).unwrap();
    let n = net.params().len();
    let raw = net.into_raw();
    // SAFETY: raw came from into_raw and is owned by nothing else.
    let net = unsafe { Net::from_raw(raw) };
    assert_eq!(net.params().len(), n);
}

#[test]
fn cloned_configs_drop_independently() {
    let a = Config::preset("cifar10").unwrap();
    let b = a.clone();
    let c = b.try_clone().unwrap();
    drop(b);
    drop(a);
    assert_eq!(c.get::<String>("net.arch").unwrap(), "resnet18-cifar");
}
