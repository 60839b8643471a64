//! A few BYOL steps of the fashion-mnist preset (cnn-small), then the
//! encoder's embeddings.
//!
//!     cargo run --offline --example train -- [--steps N] [--batch N]
//!
//! The views are random pixels: the point is the API, not the accuracy.

use std::process::ExitCode;
use std::time::Instant;

use byol::{Config, Trainer};

struct Args {
    steps: usize,
    batch: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { steps: 5, batch: 32 };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a positive integer"))
        };
        match a.as_str() {
            "--steps" => args.steps = num("--steps")?,
            "--batch" => args.batch = num("--batch")?,
            "-h" | "--help" => {
                println!("usage: train [--steps N] [--batch N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(args)
}

/// Uniform noise in [0, 1), normalised like the preset's inputs.
fn noise(n: usize, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (*seed >> 40) as f32 / (1u64 << 24) as f32;
            (u - 0.2860) / 0.3530
        })
        .collect()
}

fn run(args: &Args) -> byol::Result<()> {
    println!("libbyol {}", byol::version());
    let mut cfg = Config::preset("fashion-mnist")?;
    cfg.set("train.batch_size", args.batch as i64)?
        .set("train.total_steps", args.steps.max(1) as i64)?
        .set("threads", 2)?;

    let mut trainer = Trainer::new(&cfg, None)?;
    let [c, h, w] = trainer.encoder().input_dims();
    let per = c * h * w;
    println!("encoder input [{c}, {h}, {w}], {} online parameters", trainer.params().len());

    let mut seed = 42u64;
    let t0 = Instant::now();
    for _ in 0..args.steps {
        let v1 = noise(args.batch * per, &mut seed);
        let v2 = noise(args.batch * per, &mut seed);
        let s = trainer.step(&v1, &v2, args.batch)?;
        println!(
            "step {:3}  loss {:.4}  lr {:.4}  tau {:.4}  grad_norm {:.3}",
            s.step, s.loss, s.lr, s.tau, s.grad_norm
        );
    }
    let secs = t0.elapsed().as_secs_f64();
    println!("{:.1} img/s", (args.steps * args.batch) as f64 / secs.max(1e-9));

    let n = 10;
    let x = noise(n * per, &mut seed);
    let emb = trainer.encoder_mut().embed(&x, n)?;
    println!("embeddings: [{n}, {}]", emb.len() / n);
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("train: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train: {e}");
            ExitCode::FAILURE
        }
    }
}
