#!/usr/bin/env bash
# The long fuzz run: every target of tabula-fuzz in a release build, one
# after the other, each for SECONDS (default 1800: the 30 minutes
# RELIABILITY.md asks for), at low priority. Prints, per target,
# executions, exec/s, unique crashes (by panic location or broken
# invariant) and coverage-like counts; crash inputs land in
# target/fuzz/crashes/<target>/. Exit 1 when any target crashed.
#
#   bash benches/fuzz/run.sh [SECONDS] [SEED] [TARGET...]
#   bash benches/fuzz/run.sh 300 1 spec render     # 5 minutes each, two targets
#
# Targets: spec, render, probe, mountinfo. A crash becomes a regression
# input: copy its .input file to crates/tabula-fuzz/regressions/<target>/
# and fix the code until `cargo test -p tabula-fuzz --test regressions` passes.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-1800}
seed=${2:-1}
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec render probe mountinfo)

cargo build --release --locked -p tabula-fuzz
log=target/fuzz/run-$(date -u +%Y%m%dT%H%M%SZ).log
mkdir -p target/fuzz
status=0
for t in "${targets[@]}"; do
  echo "== $t: ${seconds} s, seed $seed" | tee -a "$log"
  nice -n 10 target/release/tabula-fuzz --target "$t" --seconds "$seconds" --seed "$seed" \
    --crashes target/fuzz/crashes 2>&1 | tee -a "$log" || status=1
done
echo "log: $log"
exit $status
