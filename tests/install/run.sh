#!/usr/bin/env bash
# Install test: what `make install` ships must be enough for a consumer that
# has never seen the source tree.
#   1. make install PREFIX=<tmp>: hello.c, built outside the tree with only
#      pkg-config's flags, runs against the installed libbyol.so; built with
#      the run path docs/quickstart.md shows, it runs with no LD_LIBRARY_PATH;
#      make install runs ldconfig only for a libdir the loader searches;
#      man byol finds the page, which renders cleanly and names every
#      command and option of byol's --help texts; consumer.cpp, built with
#      g++ -std=c++17 -pedantic on the installed <byol/byol.hpp>, opens an
#      image folder, trains two steps and embeds;
#   2. the same linked against libbyol.a with `pkg-config --static`, so the
#      .pc file's private libs must cover everything the archive needs; then
#      examples/custom_loop.c built both ways, trained and resumed;
#      The byol Python package, pip-installed into a venv, finds the prefix's
#      library, trains and embeds (tests/install/train_embed.py);
#   3. make install DESTDIR=<tmp2> PREFIX=/usr stages under <tmp2>/usr and the
#      staged .pc names /usr, not the staging dir; make uninstall removes it all.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix stage=$tmp/stage work=$tmp/consumer
mkdir -p "$work"
cp "$root/tests/install/hello.c" "$work/"

ver() { sed -n "s/^#define BYOL_VERSION_$1 \([0-9]*\).*/\1/p" "$root/include/byol/byol_version.h"; }
major=$(ver MAJOR) version=$(ver MAJOR).$(ver MINOR).$(ver PATCH)

fail() { echo "install-test: FAIL: $*" >&2; exit 1; }
# make's output only matters when it fails.
mk() { make -C "$root" --no-print-directory -j"$(nproc)" "$@" > "$tmp/make.log" 2>&1 ||
       { cat "$tmp/make.log" >&2; fail "make $*"; }; }

# ---- 1. PREFIX install, shared consumer -------------------------------------
mk install PREFIX="$prefix" DESTDIR=
pc() { PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config "$@" libbyol; }
[ "$(pc --modversion)" = "$version" ] || fail "pkg-config --modversion says '$(pc --modversion)', want $version"
[ "$(pc --variable=prefix)" = "$prefix" ] ||
  fail "installed libbyol.pc has prefix=$(pc --variable=prefix), want $prefix (stale pkgconfig/libbyol.pc?)"

cd "$work"   # outside the tree: nothing but the prefix can be found
CONSUMER_CFLAGS=(-std=c99 -Wall -Wextra -pedantic -Werror)
# shellcheck disable=SC2046  # pkg-config output is meant to be word-split
cc "${CONSUMER_CFLAGS[@]}" hello.c -o hello $(pc --cflags --libs) || fail "building hello.c (shared)"
LD_LIBRARY_PATH=$prefix/lib ./hello || fail "hello (shared) exited $?"
loaded=$(LD_LIBRARY_PATH=$prefix/lib ldd ./hello | awk '/libbyol/ {print $3}')
[ "$loaded" = "$prefix/lib/libbyol.so.$major" ] || fail "hello loaded '$loaded', not the installed library"

# ---- 1b. built as docs/quickstart.md says for a prefix the loader does not search
# shellcheck disable=SC2046
cc "${CONSUMER_CFLAGS[@]}" hello.c -o hello-rpath $(pc --cflags --libs) \
  -Wl,-rpath,"$(pc --variable=libdir)" || fail "building hello.c with the run path"
env -u LD_LIBRARY_PATH ./hello-rpath > /dev/null ||
  fail "hello (run path, no LD_LIBRARY_PATH) exited $?"

# ---- 1c. ldconfig: run for a directory the loader searches, else not -------------
# A stand-in ldconfig says the loader searches $LDSEARCH and records real runs.
cat > fake-ldconfig <<'SH'
#!/bin/sh
if [ "$1" = -v ]; then printf '%s: (from fake.conf:1)\n' "$LDSEARCH"; else echo ran >> "$LDLOG"; fi
SH
chmod +x fake-ldconfig
ldconfig_runs() {  # LDSEARCH, then make arguments: how many times install ran ldconfig
  : > ldconfig.log
  LDSEARCH=$1 LDLOG=$work/ldconfig.log mk install LDCONFIG="$work/fake-ldconfig" "${@:2}"
  wc -l < ldconfig.log
}
[ "$(ldconfig_runs "$prefix/lib" PREFIX="$prefix" DESTDIR=)" = 1 ] ||
  fail "make install did not run ldconfig for a LIBDIR the loader searches"
[ "$(ldconfig_runs /usr/local/lib PREFIX="$prefix" DESTDIR=)" = 0 ] ||
  fail "make install ran ldconfig for a LIBDIR the loader does not search"
[ "$(ldconfig_runs "$tmp/ldstage$prefix/lib" PREFIX="$prefix" DESTDIR="$tmp/ldstage")" = 0 ] ||
  fail "make install ran ldconfig while staging into DESTDIR"
rm -rf "$tmp/ldstage"

# ---- 1d. man byol ----------------------------------------------------------------
# The installed page renders without a groff warning, man finds it under the
# prefix, and it names every command of `byol --help` and every option of
# each command's --help (so the page cannot fall behind the command).
page=$prefix/share/man/man1/byol.1
[ -f "$page" ] || fail "make install did not install $page"
LC_ALL=C.UTF-8 groff -man -Tutf8 -ww "$page" > man.txt 2> man.err || fail "groff failed on $page"
[ ! -s man.err ] || { cat man.err >&2; fail "groff warns about $page (above)"; }
[ "$(MANPATH=$prefix/share/man man -w byol)" = "$page" ] || fail "man -w byol does not find $page"
col -b < man.txt > man.plain
byol=$prefix/bin/byol
commands=$("$byol" --help | awk '/^Commands:/ { on = 1; next } on && !NF { exit } on { print $1 }')
[ -n "$commands" ] || fail "byol --help lists no commands"
for c in $commands; do
  grep -qE "^ +$c( |$)" man.plain || fail "the man page has no section on 'byol $c'"
  for o in $("$byol" "$c" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    grep -qE -- "$o([^a-z-]|$)" man.plain || fail "the man page does not name 'byol $c $o'"
  done
done

# ---- 1e. C++: <byol/byol.hpp> -----------------------------------------------------
# tests/install/consumer.cpp on an image folder of two classes of 28x28 PGM
# images written here (an image's bytes depend on its class and number).
cp "$root/tests/install/consumer.cpp" "$work/"
for c in 0 1; do
  mkdir -p "folder/class$c"
  for i in 0 1 2 3 4 5; do
    LC_ALL=C awk -v c=$c -v i=$i 'BEGIN { printf "P5\n28 28\n255\n"
      for (p = 0; p < 784; p++) printf "%c", 1 + (p * (3 + i) + c * 120 + (p % 28) * c) % 250 }' \
      > "folder/class$c/$i.pgm"
  done
done
# shellcheck disable=SC2046
g++ -std=c++17 -Wall -Wextra -Werror -pedantic consumer.cpp -o consumer $(pc --cflags --libs) \
  -Wl,-rpath,"$(pc --variable=libdir)" || fail "building tests/install/consumer.cpp"
env -u LD_LIBRARY_PATH ./consumer folder > consumer.log 2>&1 ||
  { rc=$?; cat consumer.log >&2; fail "the C++ consumer exited $rc"; }
cat consumer.log

# ---- 2. static libbyol ---------------------------------------------------------
# --whole-archive pulls in every object of libbyol.a, so every symbol the
# archive needs must come from the .pc's private libs, not just hello's few.
static_libs=$(pc --static --libs | sed 's/\(^\| \)-lbyol\( \|$\)/ -Wl,-Bstatic,--whole-archive -lbyol -Wl,--no-whole-archive,-Bdynamic /')
# shellcheck disable=SC2046,SC2086
cc "${CONSUMER_CFLAGS[@]}" hello.c -o hello-static $(pc --cflags) $static_libs ||
  fail "linking hello.c with pkg-config --static --libs: $static_libs"
needed=$(readelf -d hello-static)   # not piped into grep -q: pipefail + SIGPIPE
! grep -q 'libbyol\.so' <<<"$needed" || fail "hello-static still needs libbyol.so"
./hello-static > /dev/null || fail "hello (static) exited $?"

# ---- 2b. examples/custom_loop.c, a real program, out of tree -------------------
# Built like hello.c (shared, then static); the shared build trains 2 steps of
# a 3-step run on Fashion-MNIST and the static one resumes its checkpoint.
fmnist=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
cp "$root/examples/custom_loop.c" "$work/"
# shellcheck disable=SC2046
cc "${CONSUMER_CFLAGS[@]}" custom_loop.c -o custom_loop $(pc --cflags --libs) ||
  fail "building examples/custom_loop.c (shared)"
# shellcheck disable=SC2046,SC2086
cc "${CONSUMER_CFLAGS[@]}" custom_loop.c -o custom_loop-static $(pc --cflags) $static_libs ||
  fail "building examples/custom_loop.c (static)"
if [ -d "$fmnist" ]; then
  loop_args=(--steps 3 --checkpoint loop.safetensors "$fmnist")
  LD_LIBRARY_PATH=$prefix/lib ./custom_loop "${loop_args[@]}" --stop-at 2 > loop.log ||
    { rc=$?; cat loop.log >&2; fail "custom_loop (shared) exited $rc"; }
  ./custom_loop-static "${loop_args[@]}" --resume >> loop.log ||
    { rc=$?; cat loop.log >&2; fail "custom_loop-static --resume exited $rc"; }
  grep -q '^step    2 ' loop.log || { cat loop.log >&2; fail "custom_loop did not resume to step 2"; }
  loop_note="examples/custom_loop.c trained and resumed"
else
  loop_note="examples/custom_loop.c built, not run: no Fashion-MNIST at $fmnist"
fi

# ---- 2c. the Python package, out of tree ---------------------------------------
# pip installs bindings/python into a venv (offline, Debian's numpy) with
# PKG_CONFIG_PATH naming the prefix, as a C consumer's build has it; then
# tests/install/train_embed.py, run outside the tree with no BYOL_LIBRARY or
# LD_LIBRARY_PATH, must load the installed library, train and embed.
PKG_CONFIG_PATH=$prefix/lib/pkgconfig bash "$root/bindings/python/pip-install.sh" "$tmp/venv" ||
  fail "pip install bindings/python"
cp "$root/tests/install/train_embed.py" "$work/"
env -u BYOL_LIBRARY -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH \
  "$tmp/venv/bin/python" train_embed.py "$prefix/lib/libbyol.so.$major" ||
  fail "train_embed.py (the pip-installed byol package) exited $?"

# ---- 3. DESTDIR staging --------------------------------------------------------
cd "$root"
mk install DESTDIR="$stage" PREFIX=/usr
for f in include/byol/byol.h lib/libbyol.a "lib/libbyol.so.$version" \
         "lib/libbyol.so.$major" lib/libbyol.so lib/pkgconfig/libbyol.pc share/man/man1/byol.1; do
  [ -e "$stage/usr/$f" ] || fail "DESTDIR install lacks /usr/$f"
done
for h in include/byol/*.h include/byol/*.hpp; do
  cmp -s "$h" "$stage/usr/$h" || fail "DESTDIR install lacks or differs in /usr/$h"
done
# Symlinks must be relative so they survive being moved out of the stage.
[ "$(readlink "$stage/usr/lib/libbyol.so")" = "libbyol.so.$major" ] || fail "libbyol.so link is $(readlink "$stage/usr/lib/libbyol.so")"
outside=$(cd "$stage" && find . -mindepth 1 -maxdepth 1 ! -name usr)
[ -z "$outside" ] || fail "DESTDIR install wrote outside /usr: $outside"
grep -qx 'prefix=/usr' "$stage/usr/lib/pkgconfig/libbyol.pc" || fail "staged libbyol.pc lacks prefix=/usr"
! grep -qF "$stage" "$stage/usr/lib/pkgconfig/libbyol.pc" || fail "staged libbyol.pc mentions the staging dir"
mk uninstall DESTDIR="$stage" PREFIX=/usr
left=$(find "$stage" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"

echo "install-test: OK: PREFIX install (shared + static consumer, run path, ldconfig, man page," \
  "C++ consumer; $loop_note; Python package), DESTDIR staging, uninstall"
