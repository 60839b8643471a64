//! Tells cargo where libbyol is and links it dynamically.
//!
//! The library directory is, in order:
//! 1. `BYOL_LIB_DIR` when set (a directory holding `libbyol.so`);
//! 2. the in-tree build, `../../lib` from this crate (`make` at the root of
//!    the libbyol tree puts `libbyol.so` there);
//! 3. `pkg-config --variable=libdir libbyol` (an installed libbyol);
//! 4. otherwise none: the linker's default search path (`/usr/lib`, ...).
//!
//! For cases 1 to 3 the directory is also written into the run path of this
//! crate's own tests, examples and binaries (`-Wl,-rpath`), so `cargo test`
//! and `cargo run --example train` find the library without
//! `LD_LIBRARY_PATH`. Set `BYOL_NO_RPATH=1` to leave the run path out.
//! That run path reaches no other crate's binaries (cargo passes a build
//! script's `rustc-link-arg` to its own package only), so crates that depend
//! on this one get the directory as `DEP_BYOL_LIB_DIR` (cargo's `links`
//! metadata) and write it into their own run path from their build.rs, as
//! README.md shows.
//!
//! The header directory used by the ABI test (tests/abi.rs compiles a C
//! program against the headers to compare struct layouts) is found the same
//! way: `BYOL_INCLUDE_DIR`, the in-tree `../../include`, pkg-config's
//! includedir, else the compiler's default search path.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn pkg_config_var(var: &str) -> Option<PathBuf> {
    let out = Command::new("pkg-config")
        .args([&format!("--variable={var}"), "libbyol"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    if s.is_empty() {
        None
    } else {
        Some(PathBuf::from(s))
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "BYOL_LIB_DIR",
        "BYOL_INCLUDE_DIR",
        "BYOL_NO_RPATH",
        "PKG_CONFIG_PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let tree = manifest.join("..").join("..");
    let in_tree_lib = tree.join("lib");
    // A missing file counts as changed: cargo reruns this script until the
    // in-tree library exists, then only when it is rebuilt.
    println!(
        "cargo:rerun-if-changed={}",
        in_tree_lib.join("libbyol.so").display()
    );

    let lib_dir: Option<PathBuf> = match env::var_os("BYOL_LIB_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if !d.join("libbyol.so").exists() {
                println!(
                    "cargo:warning=BYOL_LIB_DIR={} holds no libbyol.so; linking will likely fail",
                    d.display()
                );
            }
            Some(canonical(&d))
        }
        _ if in_tree_lib.join("libbyol.so").exists() => Some(canonical(&in_tree_lib)),
        _ => pkg_config_var("libdir").filter(|d| d.join("libbyol.so").exists()),
    };

    if let Some(dir) = &lib_dir {
        println!("cargo:rustc-link-search=native={}", dir.display());
        if env::var_os("BYOL_NO_RPATH").map_or(true, |v| v.is_empty() || v == "0") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
        println!("cargo:lib_dir={}", dir.display());
    } else {
        println!(
            "cargo:warning=libbyol.so not found in BYOL_LIB_DIR, {} or pkg-config's libdir; \
             linking relies on the linker's default path (run `make` at the root of the libbyol \
             tree, or set BYOL_LIB_DIR)",
            canonical(&in_tree_lib).display()
        );
    }
    println!("cargo:rustc-link-lib=dylib=byol");
    println!(
        "cargo:rustc-env=BYOL_BUILD_LIB_DIR={}",
        lib_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    );

    let include_dir: Option<PathBuf> = match env::var_os("BYOL_INCLUDE_DIR") {
        Some(d) if !d.is_empty() => Some(canonical(Path::new(&d))),
        _ if tree.join("include/byol/byol.h").exists() => Some(canonical(&tree.join("include"))),
        _ => pkg_config_var("includedir").filter(|d| d.join("byol/byol.h").exists()),
    };
    if let Some(dir) = &include_dir {
        println!("cargo:include={}", dir.display());
    }
    println!(
        "cargo:rustc-env=BYOL_BUILD_INCLUDE_DIR={}",
        include_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    );
}
