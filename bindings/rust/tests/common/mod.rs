//! Helpers shared by the integration tests (no crates: a tiny generator).
#![allow(dead_code)]

use std::path::PathBuf;

/// Deterministic pseudo-random floats in [-1, 1) (xorshift64*).
pub fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let r = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 bits
            r as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    random(n, seed)
        .into_iter()
        .map(|x| ((x + 1.0) * 127.5) as u8)
        .collect()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The small config most tests use: cnn-small, 2 threads.
pub fn small_config(batch: i64) -> byol::Config {
    let mut cfg = byol::Config::preset("fashion-mnist").unwrap();
    cfg.set("threads", 2)
        .unwrap()
        .set("train.batch_size", batch)
        .unwrap();
    cfg.set("train.total_steps", 100)
        .unwrap()
        .set("seed", 1)
        .unwrap();
    cfg
}
