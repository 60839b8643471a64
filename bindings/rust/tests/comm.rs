//! Data-parallel training through `Trainer::set_comm` without MPI: the
//! communicator's closures sum over ranks that are threads of this process
//! (tests/unit/test_trainer_comm.c does the same in C).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use byol::{Comm, CommResult, Config, ErrorKind, Trainer};
use common::{random, small_config};

const RANKS: usize = 2;
const GLOBAL: usize = 64;
const STEPS: usize = 5;
const IN: usize = 28 * 28;
/// The C test's settings: cnn-small, LARS, a small head, one thread.
const SETTINGS: &str = "net.arch=cnn-small net.width=0.25 optim.name=lars optim.lr=0.2 \
    train.batch_size=64 train.total_steps=10 train.warmup_steps=2 byol.proj_hidden=32 \
    byol.proj_out=16 byol.pred_hidden=32 seed=11 threads=1";

/// An in-process all-reduce over RANKS threads: each rank posts a copy of
/// its buffer, then every rank adds the posted buffers in rank order, so
/// all get the same bits. Two meetings: all posted before anyone reads,
/// all read before anyone posts again.
struct Hub<T> {
    met: Barrier,
    posted: Mutex<Vec<Vec<T>>>,
    /// Test switch: when set, each rank keeps its own buffer (no sum).
    broken: bool,
}

impl<T: Copy + Default + std::ops::Add<Output = T>> Hub<T> {
    fn new(broken: bool) -> Arc<Hub<T>> {
        Arc::new(Hub {
            met: Barrier::new(RANKS),
            posted: Mutex::new(vec![Vec::new(); RANKS]),
            broken,
        })
    }

    fn sum(&self, rank: usize, buf: &mut [T]) -> CommResult {
        self.posted.lock().unwrap()[rank] = buf.to_vec();
        self.met.wait();
        let total: Vec<T> = {
            let posted = self.posted.lock().unwrap();
            (0..buf.len())
                .map(|i| posted.iter().fold(T::default(), |acc, b| acc + b[i]))
                .collect()
        };
        self.met.wait();
        if !self.broken {
            buf.copy_from_slice(&total);
        }
        Ok(())
    }
}

/// The two views of each step's global batch.
fn global_views() -> Vec<(Vec<f32>, Vec<f32>)> {
    (0..STEPS as u64)
        .map(|k| {
            (
                random(GLOBAL * IN, 100 * k + 1),
                random(GLOBAL * IN, 100 * k + 2),
            )
        })
        .collect()
}

/// Trains STEPS steps on images [first, first + n) of every global batch;
/// returns the losses and the final parameters.
fn train(
    mut t: Trainer,
    batches: &[(Vec<f32>, Vec<f32>)],
    first: usize,
    n: usize,
) -> (Vec<f64>, Vec<f32>) {
    let part = first * IN..(first + n) * IN;
    let losses = batches
        .iter()
        .map(|(v1, v2)| {
            t.step(&v1[part.clone()], &v2[part.clone()], n)
                .unwrap()
                .loss
        })
        .collect();
    (losses, t.params().to_vec())
}

/// RANKS threads, each a trainer of rank r over its slice of the global
/// batches, joined by the hub: each rank's losses and final parameters.
fn run_ranks(batches: &Arc<Vec<(Vec<f32>, Vec<f32>)>>, broken: bool) -> Vec<(Vec<f64>, Vec<f32>)> {
    let (h32, h64) = (Hub::<f32>::new(broken), Hub::<f64>::new(broken));
    let threads: Vec<_> = (0..RANKS)
        .map(|r| {
            let (h32, h64, batches) = (h32.clone(), h64.clone(), batches.clone());
            thread::spawn(move || {
                let mut t = Trainer::new(&Config::from_settings(SETTINGS).unwrap(), None).unwrap();
                let comm = Comm::new(
                    r as u32,
                    RANKS as u32,
                    move |b: &mut [f32]| h32.sum(r, b),
                    move |b: &mut [f64]| h64.sum(r, b),
                );
                t.set_comm(Some(comm)).unwrap();
                let n = GLOBAL / RANKS;
                train(t, &batches, r * n, n)
            })
        })
        .collect();
    threads.into_iter().map(|h| h.join().unwrap()).collect()
}

/// The largest |a - b| / |b| over the losses.
fn loss_err(got: &[f64], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() / b.abs())
        .fold(0.0, f64::max)
}

#[test]
fn two_ranks_of_32_train_as_one_trainer_of_64() {
    let batches = Arc::new(global_views());
    let alone = Trainer::new(&Config::from_settings(SETTINGS).unwrap(), None).unwrap();
    let (want, _) = train(alone, &batches, 0, GLOBAL);
    let ranks = run_ranks(&batches, false);
    let err = loss_err(&ranks[0].0, &want);
    eprintln!("2 ranks x 32 against 1 x 64: largest relative loss error {err:.1e}");
    assert!(err <= 1e-5, "losses {:?} against {want:?}", ranks[0].0);
    assert_eq!(ranks[0].0, ranks[1].0);
    assert!(ranks[0].1 == ranks[1].1, "the ranks' parameters differ");
    assert!(ranks[0].1.iter().all(|p| p.is_finite()));

    // The comparison can fail: ranks that do not sum train apart from the
    // one trainer (and from each other).
    let apart = run_ranks(&batches, true);
    let err = loss_err(&apart[0].0, &want);
    eprintln!("without the sum: {err:.1e}");
    assert!(err > 1e-3, "{err:e}");
    assert!(apart[0].1 != apart[1].1);
}

/// A communicator of 2 ranks whose other rank holds the same data as this
/// one (every sum doubles), failing its `fail_at`-th call (1-based; 0:
/// none) with an error, or with a panic when `panic` is set.
struct Mirror {
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    panic: bool,
}

fn mirror(m: &Arc<Mirror>) -> Comm {
    fn double<T: Copy + std::ops::Add<Output = T>>(m: &Mirror, buf: &mut [T]) -> CommResult {
        if m.calls.fetch_add(1, Ordering::SeqCst) + 1 == m.fail_at.load(Ordering::SeqCst) {
            if m.panic {
                panic!("lost rank 0");
            }
            return Err("rank 0 is gone".into());
        }
        buf.iter_mut().for_each(|x| *x = *x + *x);
        Ok(())
    }
    let (a, b) = (m.clone(), m.clone());
    Comm::new(
        1,
        2,
        move |buf: &mut [f32]| double(&a, buf),
        move |buf: &mut [f64]| double(&b, buf),
    )
}

const N: usize = 8;

#[test]
fn a_failed_sum_fails_the_step_with_comm_and_changes_nothing() {
    let (v1, v2) = (random(N / 2 * IN, 1), random(N / 2 * IN, 2));
    for panic in [false, true] {
        let m = Arc::new(Mirror {
            calls: AtomicUsize::new(0),
            fail_at: AtomicUsize::new(0),
            panic,
        });
        let mut t = Trainer::new(&small_config(N as i64), None).unwrap();
        t.set_comm(Some(mirror(&m))).unwrap();
        t.step(&v1, &v2, N / 2).unwrap();
        let per_step = m.calls.swap(0, Ordering::SeqCst);
        assert!(per_step > 10, "{per_step} sums per step");
        let before = t.params().to_vec();
        // The first sum (the ranks' verdict on their views), one of the
        // BatchNorm sums, the last (the gradients).
        for at in [1, per_step / 2, per_step] {
            m.calls.store(0, Ordering::SeqCst);
            m.fail_at.store(at, Ordering::SeqCst);
            let e = t.step(&v1, &v2, N / 2).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Comm, "{e}");
            assert!(e.message().contains("failed on rank 1"), "{e}");
            let why = if panic {
                "the closure panicked: lost rank 0"
            } else {
                "rank 0 is gone"
            };
            assert!(e.message().ends_with(why), "{e}");
            assert_eq!(
                m.calls.load(Ordering::SeqCst),
                at,
                "no sum after the failed one"
            );
            assert_eq!(t.params(), &before[..]);
            assert_eq!(t.step_index(), 1);
        }
        m.fail_at.store(0, Ordering::SeqCst);
        t.step(&v1, &v2, N / 2).unwrap();
        assert_eq!(t.step_index(), 2);
    }
}

#[test]
fn bad_ranks_and_sizes_are_refused_and_the_old_comm_kept() {
    let m = Arc::new(Mirror {
        calls: AtomicUsize::new(0),
        fail_at: AtomicUsize::new(0),
        panic: false,
    });
    let mut t = Trainer::new(&small_config(N as i64), None).unwrap();
    t.set_comm(Some(mirror(&m))).unwrap();
    let none = || |_: &mut [f32]| -> CommResult { panic!("a refused communicator was called") };
    let none64 = || |_: &mut [f64]| -> CommResult { panic!("a refused communicator was called") };
    for (rank, size, kind, text) in [
        (2, 2, ErrorKind::InvalidArg, "rank 2 is not in [0, size 2)"),
        (0, 0, ErrorKind::InvalidArg, "rank 0 is not in [0, size 0)"),
        (0, 3, ErrorKind::Shape, "train.batch_size 8"),
        (
            u32::MAX,
            2,
            ErrorKind::InvalidArg,
            "rank 4294967295 does not fit in int32",
        ),
        (
            0,
            1 << 31,
            ErrorKind::InvalidArg,
            "size 2147483648 does not fit in int32",
        ),
    ] {
        let e = t
            .set_comm(Some(Comm::new(rank, size, none(), none64())))
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{rank} of {size}: {e}");
        assert!(e.message().contains(text), "{rank} of {size}: {e}");
    }
    // Still rank 1 of 2 with the mirror: views of N/2 images, summed.
    let (v1, v2) = (random(N * IN, 3), random(N * IN, 4));
    let h = N / 2 * IN;
    assert_eq!(t.step(&v1, &v2, N).unwrap_err().kind(), ErrorKind::Shape);
    t.step(&v1[..h], &v2[..h], N / 2).unwrap();
    assert!(m.calls.load(Ordering::SeqCst) > 10);

    // Alone again: the global batch, no sum, and the closures are dropped
    // (the trainer held the only other references to m).
    t.set_comm(None).unwrap();
    assert_eq!(Arc::strong_count(&m), 1);
    let calls = m.calls.load(Ordering::SeqCst);
    t.step(&v1, &v2, N).unwrap();
    assert_eq!(m.calls.load(Ordering::SeqCst), calls);
    // Dropping the trainer drops its closures too.
    t.set_comm(Some(mirror(&m))).unwrap();
    assert_eq!(Arc::strong_count(&m), 3);
    drop(t);
    assert_eq!(Arc::strong_count(&m), 1);
}
