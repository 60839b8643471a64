//! The C headers are authoritative: this test compiles a C program against
//! include/byol/byol.h that prints every struct's size, alignment and field
//! offsets and every constant, and compares them with src/sys.rs.
//!
//! The headers come from BYOL_INCLUDE_DIR, the in-tree include/, or an
//! installed libbyol (see build.rs); the C compiler from $CC, else `cc`.

use std::collections::BTreeMap;
use std::fs;
use std::mem::{align_of, offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use byol::sys;

/// (C struct, C field, Rust offset); (C struct, "", size) and (C struct, "#align", align).
fn rust_layout() -> Vec<(&'static str, &'static str, usize)> {
    let mut v = Vec::new();
    macro_rules! st {
        ($t:ident { $($rf:ident => $cf:literal),* $(,)? }) => {{
            v.push((stringify!($t), "", size_of::<sys::$t>()));
            v.push((stringify!($t), "#align", align_of::<sys::$t>()));
            $( v.push((stringify!($t), $cf, offset_of!(sys::$t, $rf))); )*
        }};
    }
    st!(byol_allocator { struct_size => "struct_size", reserved => "reserved", alloc => "alloc", free => "free", user => "user" });
    st!(byol_key_info {
        struct_size => "struct_size", type_ => "type", name => "name", help => "help",
        default_value => "default_value", choices => "choices", min => "min", max => "max",
    });
    st!(byol_tensor { struct_size => "struct_size", ndim => "ndim", shape => "shape", data => "data" });
    st!(byol_tensor_info {
        struct_size => "struct_size", buffer => "buffer", name => "name", ndim => "ndim",
        flags => "flags", shape => "shape", offset => "offset", numel => "numel",
    });
    st!(byol_step_stats {
        struct_size => "struct_size", reserved => "reserved", step => "step", loss => "loss",
        loss_12 => "loss_12", loss_21 => "loss_21", lr => "lr", tau => "tau",
        grad_norm => "grad_norm", collapse_std => "collapse_std",
    });
    st!(byol_comm {
        struct_size => "struct_size", rank => "rank", size => "size",
        allreduce_f32 => "allreduce_f32", allreduce_f64 => "allreduce_f64", user => "user",
    });
    st!(byol_image { struct_size => "struct_size", height => "height", width => "width", channels => "channels", data => "data" });
    st!(byol_batch {
        struct_size => "struct_size", reserved => "reserved", epoch => "epoch", index => "index",
        count => "count", view1 => "view1", view2 => "view2", labels => "labels", samples => "samples",
    });
    st!(byol_file_tensor {
        struct_size => "struct_size", dtype => "dtype", name => "name", ndim => "ndim",
        reserved => "reserved", shape => "shape", numel => "numel", nbytes => "nbytes",
        data => "data",
    });
    v
}

fn rust_constants() -> Vec<(&'static str, i64)> {
    macro_rules! c {
        ($($n:ident),* $(,)?) => { vec![$((stringify!($n), sys::$n as i64)),*] };
    }
    c!(
        BYOL_VERSION_MAJOR,
        BYOL_VERSION_MINOR,
        BYOL_VERSION_PATCH,
        BYOL_VERSION_NUMBER,
        BYOL_OK,
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
        BYOL_LOG_ERROR,
        BYOL_LOG_WARN,
        BYOL_LOG_INFO,
        BYOL_LOG_DEBUG,
        BYOL_TYPE_INT,
        BYOL_TYPE_FLOAT,
        BYOL_TYPE_STRING,
        BYOL_TYPE_BOOL,
        BYOL_BUFFER_PARAMS,
        BYOL_BUFFER_GRADS,
        BYOL_BUFFER_STATE,
        BYOL_TENSOR_BIAS,
        BYOL_TENSOR_NORM,
        BYOL_LOAD_STRICT,
        BYOL_LOAD_IGNORE_UNEXPECTED,
        BYOL_DONE,
        BYOL_LOADER_TRAIN,
        BYOL_LOADER_EVAL,
        BYOL_FILE_TENSORS,
        BYOL_FILE_CHECKPOINT,
        BYOL_FILE_CHECKPOINT_OTHER,
        BYOL_DTYPE_F32,
        BYOL_DTYPE_F64,
        BYOL_DTYPE_I64,
        BYOL_DTYPE_I32,
        BYOL_DTYPE_U8,
        BYOL_FILE_MAX_DIMS,
    )
}

/// Compiles and runs the C program; returns its "key value" lines.
fn c_values() -> BTreeMap<String, i64> {
    let layout = rust_layout();
    let mut src = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <byol/byol.h>\n\
         #define ALIGNOF(T) offsetof(struct { char c; T t; }, t)\nint main(void) {\n",
    );
    for (t, f, _) in &layout {
        match *f {
            "" => src += &format!("  printf(\"{t}. %zu\\n\", sizeof({t}));\n"),
            "#align" => src += &format!("  printf(\"{t}.#align %zu\\n\", ALIGNOF({t}));\n"),
            _ => src += &format!("  printf(\"{t}.{f} %zu\\n\", offsetof({t}, {f}));\n"),
        }
    }
    for (n, _) in rust_constants() {
        src += &format!("  printf(\"{n} %lld\\n\", (long long)({n}));\n");
    }
    src += "  return 0;\n}\n";

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("abi");
    fs::create_dir_all(&dir).unwrap();
    let (c_file, exe) = (dir.join("layout.c"), dir.join("layout"));
    fs::write(&c_file, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=c11", "-Wall", "-Werror"]);
    let inc = env!("BYOL_BUILD_INCLUDE_DIR");
    if !inc.is_empty() {
        cmd.arg(format!("-I{inc}"));
    }
    cmd.arg(&c_file).arg("-o").arg(&exe);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        out.status.success(),
        "compiling {} against the headers in {inc:?} failed:\n{}",
        c_file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe)
        .output()
        .expect("running the layout program");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn struct_layouts_and_constants_match_the_c_headers() {
    let c = c_values();
    let mut bad = Vec::new();
    let mut n = 0;
    for (t, f, rust) in rust_layout() {
        let key = format!("{t}.{f}");
        let want = c[&key];
        n += 1;
        if want != rust as i64 {
            bad.push(format!("{key}: C says {want}, Rust has {rust}"));
        }
    }
    for (name, rust) in rust_constants() {
        n += 1;
        if c[name] != rust {
            bad.push(format!("{name}: C says {}, Rust has {rust}", c[name]));
        }
    }
    assert!(
        bad.is_empty(),
        "bindings/rust/src/sys.rs disagrees with the C headers (mirror the header change there; a new version also goes into Cargo.toml):\n  {}",
        bad.join("\n  ")
    );
    assert!(n > 90, "only {n} items compared");
}

#[test]
fn loaded_library_matches_the_headers() {
    // The crate's version is the version of the headers it mirrors.
    let headers = format!(
        "{}.{}.{}",
        sys::BYOL_VERSION_MAJOR,
        sys::BYOL_VERSION_MINOR,
        sys::BYOL_VERSION_PATCH
    );
    assert_eq!(
        env!("CARGO_PKG_VERSION"),
        headers,
        "bindings/rust/Cargo.toml version"
    );
    // The run-time library and the headers the bindings mirror agree on
    // MAJOR.MINOR (a newer PATCH or MINOR library would also do).
    let v = byol::version_number();
    assert_eq!(
        v / 10000,
        sys::BYOL_VERSION_MAJOR,
        "library {} vs headers {}",
        byol::version(),
        sys::BYOL_VERSION_NUMBER
    );
    assert!(
        v >= sys::BYOL_VERSION_NUMBER,
        "library {} is older than the headers",
        byol::version()
    );
    assert_eq!(
        byol::version(),
        format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
    );
}

/// Every function the headers declare with BYOL_API is declared in
/// src/sys.rs, and nothing else is (a new function in a later release
/// shows up here first).
#[test]
fn every_header_function_is_declared() {
    let inc = env!("BYOL_BUILD_INCLUDE_DIR");
    if inc.is_empty() {
        eprintln!("skipped: no header directory found (set BYOL_INCLUDE_DIR)");
        return;
    }
    let mut header_fns = std::collections::BTreeSet::new();
    for entry in fs::read_dir(PathBuf::from(inc).join("byol")).unwrap() {
        let text = strip_comments(&fs::read_to_string(entry.unwrap().path()).unwrap());
        // "BYOL_API <type> [*]name(" possibly spanning spaces and stars.
        for part in text.split("BYOL_API ").skip(1) {
            let head = &part[..part.find('(').unwrap()];
            let name = head.rsplit([' ', '*', '\n']).next().unwrap();
            header_fns.insert(name.to_string());
        }
    }
    header_fns.retain(|n| n.starts_with("byol_"));
    let sys = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/sys.rs")).unwrap();
    let rust_fns: std::collections::BTreeSet<String> = sys
        .split("pub fn ")
        .skip(1)
        .map(|p| p[..p.find('(').unwrap()].to_string())
        .collect();
    let missing: Vec<_> = header_fns.difference(&rust_fns).collect();
    let extra: Vec<_> = rust_fns.difference(&header_fns).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "declare new header functions in bindings/rust/src/sys.rs (and wrap them in the crate); missing in sys.rs: {missing:?}; not in the headers: {extra:?}"
    );
    assert!(header_fns.len() > 90, "{} functions", header_fns.len());
}

/// C source without its /* */ and // comments (doc comments mention BYOL_API).
fn strip_comments(src: &str) -> String {
    let (mut out, mut rest) = (String::new(), src);
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.map_or(true, |l| b < l) => {
                out.push_str(&rest[..b]);
                rest = rest[b + 2..].split_once("*/").map_or("", |(_, r)| r);
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].split_once('\n').map_or("", |(_, r)| r);
                out.push('\n');
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}
