#!/usr/bin/env bash
# Build a statically linked tabula for the NixOS installer (copy it from a USB
# stick: no Nix, no glibc, no dynamic loader needed).
#
#   scripts/build-static.sh [--debug] [--out FILE]
#
# Release (the default, for the stick) or --debug (what the tests use: about
# 2.7 CPU-minutes from scratch against 10 for release, most of it SQLite at -O3).
#
# The only target here is x86_64-unknown-linux-gnu; glibc links statically with
# `-C target-feature=+crt-static`. tabula calls nothing that needs NSS or dlopen
# (no getpwnam/getaddrinfo/iconv): user and group names come from the spec, and
# every lookup the tools need is done by the tools themselves. The one dlopen
# caller in the tree was SQLite's extension loader (bundled by rusqlite for
# tabula-nixos): it is compiled out with SQLITE_OMIT_LOAD_EXTENSION.
# crates/tabula/tests/ship_static.rs checks the binary's call sites (objdump)
# and runs it in an empty chroot.
#
# The build uses its own target dir (CARGO_TARGET_DIR, default target/static) so
# the RUSTFLAGS change never invalidates the normal build's cache. It prints the
# binary's path on stdout and fails unless `ldd` says "not a dynamic executable".
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=dev ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "build-static.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/static}"
# --target keeps crt-static away from build scripts and proc macros (they stay
# dynamic and run on the build machine); only tabula itself is static.
# relocation-model=static: a plain static executable (no static-pie), so
# there is no dynamic section at all and ldd says "not a dynamic executable".
export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static"
export LIBSQLITE3_FLAGS="${LIBSQLITE3_FLAGS:-} -DSQLITE_OMIT_LOAD_EXTENSION"
cargo build --locked -p tabula --bin tabula --target "$target" --profile "$profile" >&2

dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
bin="$CARGO_TARGET_DIR/$target/$dir/tabula"

# Static means: no interpreter, no NEEDED libraries.
ldd_out=$(ldd "$bin" 2>&1 || true)
case "$ldd_out" in
  *"not a dynamic executable"*) ;;
  *) echo "build-static.sh: $bin is not static; ldd says:" >&2; echo "$ldd_out" >&2; exit 1 ;;
esac

if [ -n "$out" ]; then
  install -m 0755 "$bin" "$out"
  bin="$out"
fi
echo "$bin"
