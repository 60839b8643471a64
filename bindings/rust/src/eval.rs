//! Evaluation of frozen embeddings: weighted k-NN and a linear probe
//! (byol_eval.h), and embedding a whole dataset.

use core::ptr;

use crate::config::Config;
use crate::data::Dataset;
use crate::error::{check, to_i64, Error, Result};
use crate::net::NetRef;
use crate::sys;

fn rows(what: &str, data: &[f32], labels: &[i32], dim: usize) -> Result<i64> {
    if dim == 0 {
        return Err(Error::new(
            sys::BYOL_E_INVALID_ARG,
            format!("{what}: dim must be at least 1"),
        ));
    }
    if labels.len().checked_mul(dim) != Some(data.len()) {
        return Err(Error::new(
            sys::BYOL_E_SHAPE,
            format!(
                "{what}: {} floats for {} labels of dim {dim} (expected {})",
                data.len(),
                labels.len(),
                labels.len().saturating_mul(dim)
            ),
        ));
    }
    to_i64(labels.len(), "rows")
}

/// Weighted k-NN top-1 accuracy (lightly's knn_predict protocol;
/// docs/DATA.md): rows are L2-normalised, each query's `eval.knn_k` most
/// cosine-similar bank rows vote with weight exp(sim / eval.knn_temperature).
/// `bank` is `[bank_labels.len(), dim]`, `query` is `[query_labels.len(), dim]`,
/// row-major; labels are >= 0.
pub fn knn(
    cfg: &Config,
    bank: &[f32],
    bank_labels: &[i32],
    query: &[f32],
    query_labels: &[i32],
    dim: usize,
) -> Result<f64> {
    let nb = rows("eval::knn: bank", bank, bank_labels, dim)?;
    let nq = rows("eval::knn: query", query, query_labels, dim)?;
    let mut acc = 0f64;
    // SAFETY: every array holds what its count says; borrowed for the call.
    check(unsafe {
        sys::byol_eval_knn(
            cfg.as_ptr(),
            bank.as_ptr(),
            bank_labels.as_ptr(),
            nb,
            query.as_ptr(),
            query_labels.as_ptr(),
            nq,
            dim as i64,
            &mut acc,
        )
    })?;
    Ok(acc)
}

/// Linear-probe top-1 accuracy on the `test` rows: softmax regression on
/// standardised frozen embeddings, trained on the `train` rows with
/// libbyol's Nesterov SGD (eval.probe_epochs, eval.probe_lr,
/// eval.probe_batch, eval.probe_weight_decay, seed).
pub fn linear_probe(
    cfg: &Config,
    train: &[f32],
    train_labels: &[i32],
    test: &[f32],
    test_labels: &[i32],
    dim: usize,
) -> Result<f64> {
    let ntr = rows("eval::linear_probe: train", train, train_labels, dim)?;
    let nte = rows("eval::linear_probe: test", test, test_labels, dim)?;
    let mut acc = 0f64;
    // SAFETY: as knn().
    check(unsafe {
        sys::byol_eval_linear_probe(
            cfg.as_ptr(),
            train.as_ptr(),
            train_labels.as_ptr(),
            ntr,
            test.as_ptr(),
            test_labels.as_ptr(),
            nte,
            dim as i64,
            &mut acc,
        )
    })?;
    Ok(acc)
}

/// Embeddings of a dataset, from [`embed_dataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// `[count, dim]` row-major.
    pub data: Vec<f32>,
    /// `count` labels, -1 when unlabeled.
    pub labels: Vec<i32>,
    /// Floats per row.
    pub dim: usize,
}

impl Embeddings {
    /// Number of rows.
    pub fn count(&self) -> usize {
        self.labels.len()
    }
}

/// Embeds every image of `ds` with `encoder` (evaluation transform of the
/// augmenter built from `cfg`, inference mode, batches of
/// train.batch_size). Rows are the encoder's output, or with eval.grid =
/// G > 1 the map before its final average pool on a G x G grid (C*G*G
/// floats). Takes `&mut` because the encoder's activation arena
/// is used; a trainer's encoder works too (`trainer.encoder_mut()`).
pub fn embed_dataset(encoder: &mut NetRef, cfg: &Config, ds: &Dataset) -> Result<Embeddings> {
    let mut emb: *mut f32 = ptr::null_mut();
    let mut labels: *mut i32 = ptr::null_mut();
    let (mut count, mut dim) = (0i64, 0i64);
    // SAFETY: live encoder (exclusive), config and dataset for the call;
    // the outputs are owned by us, copied, then freed with byol_free.
    unsafe {
        check(sys::byol_embed_dataset(
            encoder.as_ptr(),
            cfg.as_ptr(),
            ds.as_ptr(),
            &mut emb,
            &mut labels,
            &mut count,
            &mut dim,
        ))?;
        let (n, d) = (count.max(0) as usize, dim.max(0) as usize);
        let data = if emb.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(emb, n * d).to_vec()
        };
        let labs = if labels.is_null() {
            vec![-1; n]
        } else {
            std::slice::from_raw_parts(labels, n).to_vec()
        };
        sys::byol_free(emb.cast());
        sys::byol_free(labels.cast());
        Ok(Embeddings {
            data,
            labels: labs,
            dim: d,
        })
    }
}
