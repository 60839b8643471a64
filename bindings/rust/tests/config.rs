//! Config: typed set/get, presets, parsing, key listing, and errors that
//! arrive as Err carrying the library's message naming the key.

use byol::{Config, ErrorKind, KeyType, Value};

#[test]
fn defaults_and_typed_round_trips() {
    let mut cfg = Config::new().unwrap();
    cfg.set("threads", 2)
        .unwrap()
        .set("net.arch", "cnn-small")
        .unwrap();
    cfg.set("optim.lr", 0.5).unwrap();
    cfg.set("loader.shuffle", false).unwrap();
    assert_eq!(cfg.get::<i64>("threads").unwrap(), 2);
    assert_eq!(cfg.get::<String>("net.arch").unwrap(), "cnn-small");
    assert_eq!(cfg.get::<f64>("optim.lr").unwrap(), 0.5);
    assert!(!cfg.get::<bool>("loader.shuffle").unwrap());
    // An integer given to a float key is converted.
    cfg.set("optim.lr", 2).unwrap();
    assert_eq!(cfg.get_float("optim.lr").unwrap(), 2.0);
    assert_eq!(cfg.get_value("threads").unwrap(), Value::Int(2));
    assert_eq!(cfg.get_value("loader.shuffle").unwrap(), Value::Bool(false));
    assert_eq!(cfg.format("optim.lr").unwrap(), "2");
}

#[test]
fn unknown_key_is_an_err_naming_the_key() {
    let mut cfg = Config::new().unwrap();
    for err in [
        cfg.set_int("net.no_such_key", 3).unwrap_err(),
        cfg.set("net.no_such_key", 3).unwrap_err(),
        cfg.set_str("net.no_such_key", "x").unwrap_err(),
        cfg.parse("threads=2 net.no_such_key=3").unwrap_err(),
        Config::new()
            .unwrap()
            .get_int("net.no_such_key")
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Key, "{err}");
        assert_eq!(err.code(), byol::sys::BYOL_E_KEY);
        assert_eq!(err.name(), "BYOL_E_KEY");
        assert!(
            err.message().contains("net.no_such_key"),
            "message: {:?}",
            err.message()
        );
        assert!(
            err.to_string().contains("net.no_such_key"),
            "display: {err}"
        );
    }
    // parse checks everything before applying anything.
    assert_eq!(
        cfg.get_int("threads").unwrap(),
        Config::new().unwrap().get_int("threads").unwrap()
    );
}

#[test]
fn bad_values_are_range_errors_naming_key_and_choices() {
    let mut cfg = Config::new().unwrap();
    let e = cfg.set_int("threads", -5).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range);
    assert!(e.message().contains("threads"), "{e}");

    let e = cfg.set("net.arch", "resnet9000").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range);
    assert!(
        e.message().contains("net.arch") && e.message().contains("cnn-small"),
        "{e}"
    );

    let e = cfg.set_float("optim.lr", f64::NAN).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");

    // Wrong type: the library says the key is of another type.
    let e = cfg.get_float("threads").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range);
    assert!(e.message().contains("threads"), "{e}");
    let e = cfg.set("net.arch", 3).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range);

    let e = cfg.parse("threads=two").unwrap_err();
    assert!(
        e.message().contains("threads") && e.message().contains("two"),
        "{e}"
    );
}

#[test]
fn presets_and_unknown_preset() {
    let names = Config::presets();
    for p in ["imagenet", "cifar10", "fashion-mnist"] {
        assert!(names.contains(&p), "{names:?}");
    }
    let cfg = Config::preset("fashion-mnist").unwrap();
    assert_eq!(cfg.get::<String>("net.arch").unwrap(), "cnn-small");
    assert_eq!(cfg.get::<i64>("data.channels").unwrap(), 1);

    let e = Config::preset("mnist-but-wrong").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Key);
    assert!(
        e.message().contains("mnist-but-wrong") && e.message().contains("cifar10"),
        "{e}"
    );
}

#[test]
fn serialize_parses_back_and_clones_are_independent() {
    let mut cfg = Config::preset("cifar10").unwrap();
    cfg.parse("threads=2, seed=7\ntrain.batch_size=16").unwrap();
    let text = cfg.serialize().unwrap();
    assert!(text.contains("seed=7"), "{text}");
    let back = Config::from_settings(&text).unwrap();
    assert_eq!(back.serialize().unwrap(), text);
    assert_eq!(cfg.to_string(), text);

    let mut copy = cfg.clone();
    copy.set("seed", 8).unwrap();
    assert_eq!(cfg.get_int("seed").unwrap(), 7);
    assert_eq!(copy.get_int("seed").unwrap(), 8);
    drop(cfg); // the copy outlives its source
    assert_eq!(copy.get_int("train.batch_size").unwrap(), 16);
}

#[test]
fn key_listing() {
    let keys = Config::keys();
    assert!(keys.len() > 50, "{} keys", keys.len());
    let arch = keys.iter().find(|k| k.name == "net.arch").unwrap();
    assert_eq!(arch.key_type, KeyType::String);
    assert!(arch.choices.as_ref().unwrap().contains(&"resnet18"));
    let threads = Config::key_info("threads").unwrap();
    assert_eq!(threads.key_type, KeyType::Int);
    assert!(threads.min >= 0.0 && threads.max > threads.min);
    assert!(!threads.help.is_empty());
    let e = Config::key_info("no.such").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Key);
    assert!(e.message().contains("no.such"));
}

#[test]
fn nul_bytes_are_rejected_before_the_library() {
    let mut cfg = Config::new().unwrap();
    let e = cfg.set_str("net.arch", "cnn\0small").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArg);
    assert!(e.message().contains("NUL"), "{e}");
}

#[test]
fn errors_are_std_errors() {
    fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Config::new()?.set("nope", 1)?;
        Ok(())
    }
    let e = boxed().unwrap_err();
    assert!(e.to_string().contains("nope"));
    let e = Config::new().unwrap().set("nope", 1).unwrap_err();
    let dbg = format!("{e:?}");
    assert!(
        dbg.contains("BYOL_E_KEY") && dbg.contains("-14") && dbg.contains("nope"),
        "{dbg}"
    );
    assert_eq!(e.description(), byol::strerror(byol::sys::BYOL_E_KEY));
}

#[test]
fn config_is_send() {
    fn send<T: Send>() {}
    send::<Config>();
    let mut cfg = Config::new().unwrap();
    cfg.set("seed", 3).unwrap();
    let seed = std::thread::spawn(move || cfg.get_int("seed").unwrap())
        .join()
        .unwrap();
    assert_eq!(seed, 3);
}
