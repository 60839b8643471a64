#!/usr/bin/env bash
# A crate that depends on bindings/rust, built and run the way its README
# says, against libbyol installed in a temporary prefix (run by make rust-test):
#   make install PREFIX=<tmp>; a copy of bindings/rust outside the tree (so
#   pkg-config's prefix is the only libbyol its build.rs can find); `cargo new`,
#   `cargo add byol --path`, the README's build.rs; then `cargo run --offline`
#   with PKG_CONFIG_PATH at the prefix and no LD_LIBRARY_PATH must load the
#   installed libbyol.so.1.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
major=$(sed -n 's/^#define BYOL_VERSION_MAJOR \([0-9]*\).*/\1/p' \
  "$root/include/byol/byol_version.h")
cargo=${CARGO:-cargo}
fail() { echo "rust-dependent: FAIL: $*" >&2; exit 1; }

make -C "$root" --no-print-directory install PREFIX="$prefix" DESTDIR= > "$tmp/make.log" 2>&1 ||
  { cat "$tmp/make.log" >&2; fail "make install PREFIX=$prefix"; }
mkdir "$tmp/byol-rs"
(cd "$root/bindings/rust" && tar -c --exclude=./target .) | tar -x -C "$tmp/byol-rs"

cd "$tmp"
"$cargo" new --quiet --vcs none app
cd app
"$cargo" add --quiet --offline byol --path ../byol-rs
# The README's marked block writes build.rs (tests/install/walkthrough.sh).
bash "$root/tests/install/walkthrough.sh" "$root/bindings/rust/README.md" > readme.sh
bash -euo pipefail readme.sh
[ -f build.rs ] || fail "bindings/rust/README.md has no marked build.rs block"
cat > src/main.rs <<'RS'
fn main() -> byol::Result<()> {
    let cfg = byol::Config::preset("fashion-mnist")?;
    let net = byol::Net::new(&cfg)?;
    println!("libbyol {}: cnn-small has {} parameters", byol::version(), net.params().len());
    Ok(())
}
RS
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig CARGO_TARGET_DIR=$tmp/target
unset LD_LIBRARY_PATH BYOL_LIB_DIR
"$cargo" run --quiet --offline -j2 > run.log 2>&1 ||
  { rc=$?; cat run.log >&2; fail "cargo run exited $rc"; }
loaded=$(ldd "$CARGO_TARGET_DIR/debug/app" | awk '/libbyol/ {print $3}')
want=$prefix/lib/libbyol.so.$major
[ "$loaded" = "$want" ] || fail "the crate's binary loads '$loaded', not $want"
echo "rust-dependent: OK: $(cat run.log), from $loaded"
