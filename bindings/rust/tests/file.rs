//! TensorFile and the writers (byol_file.h), and error names from the
//! library (byol_error_name()).

mod common;

use byol::{
    error_name, sys, write_atomic, write_safetensors, Config, Dtype, ErrorKind, FileKind, LoadMode,
    Net, TensorFile, TensorRef, Trainer,
};
use common::{random, scratch, small_config};

#[test]
fn error_names_come_from_the_library() {
    macro_rules! spelled {
        ($($c:ident),* $(,)?) => {$(
            assert_eq!(error_name(sys::$c), stringify!($c));
        )*};
    }
    spelled!(
        BYOL_OK,
        BYOL_DONE,
        BYOL_E_GENERIC,
        BYOL_E_NOMEM,
        BYOL_E_INVALID_ARG,
        BYOL_E_BAD_STATE,
        BYOL_E_SHAPE,
        BYOL_E_UNSUPPORTED,
        BYOL_E_IO,
        BYOL_E_DECODE,
        BYOL_E_FORMAT,
        BYOL_E_NONFINITE,
        BYOL_E_CANCELLED,
        BYOL_E_ABI,
        BYOL_E_BLAS,
        BYOL_E_KEY,
        BYOL_E_RANGE,
        BYOL_E_COMM,
    );
    assert_eq!(error_name(-999), "BYOL_E_UNKNOWN");
    assert_eq!(ErrorKind::Range.name(), "BYOL_E_RANGE");
    assert_eq!(ErrorKind::from_code(-15), ErrorKind::Range);
    assert_eq!(ErrorKind::Unknown(-99).name(), "BYOL_E_UNKNOWN");
    assert_eq!(ErrorKind::Unknown(-99).code(), -99);
    let e = Config::from_settings("no.such=1").unwrap_err();
    assert_eq!(e.name(), "BYOL_E_KEY");
    assert!(e.to_string().contains("BYOL_E_KEY"), "{e}");
}

#[test]
fn a_weight_file_as_the_library_reads_it() {
    let dir = scratch("file_weights");
    let path = dir.join("w.safetensors");
    let cfg = Config::from_settings("net.arch=cnn-small net.width=0.25 threads=2").unwrap();
    let net = Net::new(&cfg).unwrap();
    net.save(&path).unwrap();
    let f = TensorFile::open(&path).unwrap();
    assert_eq!(f.kind(), FileKind::Tensors);
    assert_eq!(f.size(), std::fs::metadata(&path).unwrap().len());
    // the floats, and one num_batches_tracked per BatchNorm
    assert_eq!(f.len(), net.tensor_count() + 3);
    for t in net.tensors() {
        let ft = f.find(&t.name).unwrap();
        assert_eq!(ft.dtype, Dtype::F32);
        assert_eq!(
            ft.shape,
            t.shape.iter().map(|&d| d as usize).collect::<Vec<_>>()
        );
        let values = ft.to_f32().unwrap();
        let src = match t.buffer {
            byol::Buffer::Params => net.params(),
            _ => net.state(),
        };
        assert_eq!(values, &src[t.offset..t.offset + t.numel], "{}", t.name);
    }
    let counter = f.find("bn1.num_batches_tracked").unwrap();
    assert_eq!(
        (counter.dtype, counter.shape.len(), counter.data.len()),
        (Dtype::I64, 0, 8)
    );
    assert_eq!(f.tensors().next().unwrap().name, "conv1.weight");
    assert_eq!(f.metadata_value("format"), Some("pt"));
    assert_eq!(f.metadata_value("step"), None);
    assert_eq!(f.metadata()[0].0, "format");
    let e = f.find("no.such").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Key, "{e}");
}

#[test]
fn a_checkpoint_is_recognised() {
    let dir = scratch("file_checkpoint");
    let path = dir.join("ck.safetensors");
    let trainer = Trainer::new(&small_config(4), None).unwrap();
    trainer.save(&path).unwrap();
    let f = TensorFile::open(&path).unwrap();
    assert_eq!(f.kind(), FileKind::Checkpoint);
    assert_eq!(f.metadata_value("format"), Some("libbyol-checkpoint-1"));
    assert_eq!(f.metadata_value("step"), Some("0"));
    assert!(f.find("online.encoder.conv1.weight").is_ok());
}

#[test]
fn malformed_files_fail_as_net_load_fails() {
    let dir = scratch("file_bad");
    let good = dir.join("good.safetensors");
    let cfg = Config::from_settings("net.arch=cnn-small net.width=0.25").unwrap();
    let mut net = Net::new(&cfg).unwrap();
    net.save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    for cut in [0, 5, 8, 100, bytes.len() - 1] {
        let bad = dir.join(format!("cut{cut}"));
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let e = TensorFile::open(&bad).unwrap_err();
        let l = net.load(&bad, LoadMode::Strict).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);
        assert_eq!((e.code(), e.message()), (l.code(), l.message()));
    }
    let e = TensorFile::open(dir.join("missing")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}

#[test]
fn write_safetensors_round_trip() {
    let dir = scratch("file_write");
    let path = dir.join("emb.safetensors");
    let emb = random(6, 3);
    let labels = [0i32, 1, -1];
    let tensors = [
        TensorRef::f32("embeddings", &[3, 2], &emb),
        TensorRef::i32("labels", &[3], &labels),
        TensorRef {
            name: "flag",
            dtype: Dtype::U8,
            shape: &[],
            data: &[7],
        },
    ];
    write_safetensors(&path, &tensors, &[("format", "pt"), ("producer", "test")]).unwrap();
    let f = TensorFile::open(&path).unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(f.find("embeddings").unwrap().to_f32().unwrap(), emb);
    let l = f.find("labels").unwrap();
    assert_eq!(
        (l.dtype, l.shape.clone(), l.data.len()),
        (Dtype::I32, vec![3], 12)
    );
    assert_eq!(f.find("flag").unwrap().data, &[7]);
    assert_eq!(f.metadata(), vec![("format", "pt"), ("producer", "test")]);
    // a size that does not fit the shape is refused, and the file stays
    let e = write_safetensors(&path, &[TensorRef::f32("x", &[4], &emb)], &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg, "{e}");
    let twice = [tensors[0], tensors[0]];
    let e = write_safetensors(&path, &twice, &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg, "{e}");
    assert!(e.message().contains("duplicate"), "{e}");
    assert_eq!(TensorFile::open(&path).unwrap().len(), 3);
}

#[test]
fn write_atomic_parts_and_failures() {
    let dir = scratch("file_atomic");
    let path = dir.join("x.bin");
    write_atomic(&path, &[b"head", b"", b"body"]).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"headbody");
    write_atomic(&path, &[]).unwrap();
    assert!(std::fs::read(&path).unwrap().is_empty());
    let e = write_atomic(dir.join("no/such/x.bin"), &[b"x"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.message().contains("no/such/x.bin"), "{e}");
}
