#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian 12 machine, then run
# every test. This is the README's test command, and what CI runs.
#
#   sudo bash ci/test.sh
#
# Root is needed for the packages and for the tests on loop devices.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "ci/test.sh installs packages and uses loop devices: run it as root (sudo bash ci/test.sh)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
# Extra apt sources an area needs (e.g. bookworm-backports for QEMU).
for src in ci/apt-sources/*.sources; do
  [ -e "$src" ] || continue
  install -m 0644 "$src" /etc/apt/sources.list.d/
done
packages=$(cat ci/apt-packages/*.txt | sed -e 's/#.*//' | awk 'NF' | sort -u)
log "installing: $(echo $packages)"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $packages >/dev/null

# Anything an area needs prepared before its tests (a VM kernel, ...).
for prep in ci/prepare.d/*.sh; do
  [ -e "$prep" ] || continue
  log "preparing: $prep"
  bash "$prep"
done

# Under sudo, PATH and HOME are root's: use the invoking user's rustup.
if ! command -v cargo >/dev/null; then
  for home in "${HOME:-/root}" "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)"; do
    if [ -x "$home/.cargo/bin/cargo" ]; then
      export CARGO_HOME="$home/.cargo" RUSTUP_HOME="$home/.rustup" PATH="$home/.cargo/bin:$PATH"
      break
    fi
  done
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first (https://rustup.rs)" >&2; exit 4; }

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test (every crate, every layer)"
cargo test --workspace --locked 2>&1 | tee target/test.log
# Print one plain closing line with the totals of every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' target/test.log
