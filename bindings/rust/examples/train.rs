//! A few BYOL steps of a preset (fashion-mnist: cnn-small on 1x28x28;
//! cifar10: resnet18-cifar on 3x32x32), on random pixels or on a real
//! dataset through the library's loader, then the encoder's embeddings.
//!
//!     cargo run --offline --example train -- [--preset NAME] [--data PATH]
//!                                            [--steps N] [--batch N] [--threads N]
//!
//! `--data` takes what byol_dataset_open() reads: an image folder, the
//! Fashion-MNIST IDX files (/usr/share/datasets/fashion-mnist from Debian's
//! dataset-fashion-mnist), CIFAR binary batches.

use std::process::ExitCode;
use std::time::Instant;

use byol::{Config, Dataset, Loader, LoaderMode, Trainer};

struct Args {
    preset: String,
    data: Option<String>,
    steps: usize,
    batch: usize,
    threads: usize,
}

const USAGE: &str = "usage: train [--preset fashion-mnist|cifar10] [--data PATH] [--steps N] [--batch N] [--threads N]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        preset: "fashion-mnist".into(),
        data: None,
        steps: 5,
        batch: 32,
        threads: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |name: &str, v: String| -> Result<usize, String> {
            v.parse()
                .map_err(|_| format!("{name}: {v:?} is not a positive integer"))
        };
        match a.as_str() {
            "--preset" => args.preset = value("--preset")?,
            "--data" => args.data = Some(value("--data")?),
            "--steps" => args.steps = num("--steps", value("--steps")?)?,
            "--batch" => args.batch = num("--batch", value("--batch")?)?,
            "--threads" => args.threads = num("--threads", value("--threads")?)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// Uniform noise in [-1, 1).
fn noise(n: usize, seed: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn run(args: &Args) -> byol::Result<()> {
    let mut cfg = Config::preset(&args.preset)?;
    cfg.set("train.batch_size", args.batch as i64)?
        .set("train.total_steps", args.steps.max(1) as i64)?
        .set("threads", args.threads as i64)?;
    let mut trainer = Trainer::new(&cfg, None)?;
    let [c, h, w] = trainer.encoder().input_dims();
    let per = c * h * w;
    println!(
        "libbyol {}, preset {}, encoder input [{c}, {h}, {w}], {} online parameters",
        byol::version(),
        args.preset,
        trainer.params().len()
    );

    let mut seed = 42u64;
    let t0 = Instant::now();
    let report = |s: byol::StepStats| {
        println!(
            "step {:3}  loss {:.4}  lr {:.4}  tau {:.4}  grad_norm {:.3}",
            s.step, s.loss, s.lr, s.tau, s.grad_norm
        )
    };

    // The views, and a batch of images to embed at the end.
    let (probe, n) = match &args.data {
        None => {
            println!("data: random pixels");
            for _ in 0..args.steps {
                let v1 = noise(args.batch * per, &mut seed);
                let v2 = noise(args.batch * per, &mut seed);
                report(trainer.step(&v1, &v2, args.batch)?);
            }
            (noise(10 * per, &mut seed), 10)
        }
        Some(path) => {
            let ds = Dataset::open(&cfg, path)?;
            println!(
                "data: {path}: {} images, {} classes",
                ds.len(),
                ds.num_classes()
            );
            let mut loader = Loader::new(&cfg, &ds, LoaderMode::Train)?;
            for _ in 0..args.steps {
                let b = loader.next_batch().expect("training loaders never end")?;
                report(trainer.step(b.view1, b.view2.unwrap_or(b.view1), b.count)?);
            }
            drop(loader); // before the dataset it borrows (the compiler insists)
            let mut eval = Loader::new(&cfg, &ds, LoaderMode::Eval)?;
            let b = eval.next().expect("a non-empty dataset")?;
            (b.view1, b.count)
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{:.1} img/s (two views per image)",
        (args.steps * args.batch) as f64 / secs.max(1e-9)
    );

    let emb = trainer.encoder_mut().embed(&probe, n)?;
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
