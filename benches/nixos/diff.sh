#!/bin/sh
# Benchmark: `tabula diff` against `nix store diff-closures` on the same pair
# of closures of a few thousand store paths, side by side.
#
#   sudo sh benches/nixos/diff.sh [PATHS] [RUNS]     (default 3000 paths, 10 runs)
#
# Runs itself again under `unshare -m` with a private tmpfs on /nix: a real
# Nix store (Debian's nix-bin) whose paths are registered with
# `nix-store --register-validity` (each package refers to two others, so the
# closures are graphs, not lists). Closure B bumps the version of every 20th
# package, drops every 50th and adds 40. Needs root, nix-bin, a release build
# of tabula (cargo build --release -p tabula).
set -eu
N=${1:-3000}
RUNS=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
TABULA=${TABULA:-$here/../../target/release/tabula}
if [ "${TABULA_BENCH_INNER:-}" != 1 ]; then
  [ -x "$TABULA" ] || { echo "build tabula first: cargo build --release -p tabula" >&2; exit 4; }
  exec env TABULA_BENCH_INNER=1 TABULA="$TABULA" unshare -m --propagation private sh "$0" "$N" "$RUNS"
fi
[ -d /nix ] || mkdir /nix
mount -t tmpfs -o size=1g tabula-bench-nix /nix
export NIX_CONFIG='build-users-group =
sandbox = false
substituters =
experimental-features = nix-command'
export HOME=/nix/home
mkdir -p /nix/store /nix/home
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Store paths: a 32-character name in Nix's base-32 alphabet, then the name.
awk -v n="$N" '
function h(side, i,   a, s, k) {
  a = "0123456789abcdfghijklmnpqrsvwxyz"; s = side
  k = i; while (length(s) < 32) { s = s substr(a, k % 32 + 1, 1); k = int(k / 32) + 7 * length(s) }
  return "/nix/store/" s
}
function pkg(side, i, ver) { return h(side, i) "-pkg" i "-" ver }
BEGIN {
  for (side = 0; side < 2; side++) {
    count = (side ? n + 40 : n)
    for (i = 0; i < count; i++) {
      if (side && i % 50 == 1) continue                   # dropped in B
      ver = "1." (i % 7) ".0"
      if (side && i % 20 == 0) ver = "1." (i % 7) ".1"      # bumped in B
      key = (side && (i % 20 == 0 || i >= n)) ? "b" : "a"
      p[side, i] = pkg(key, i, ver)
      if (side && i % 50 == 1) continue
      paths[p[side, i]] = 1
    }
  }
  for (side = 0; side < 2; side++) {
    count = (side ? n + 40 : n); root = h("r" side, 0) "-nixos-system-bench-24.11." side
    refs = ""; nr = 0
    for (i = 0; i < count; i++) {
      if (!((side, i) in p)) continue
      if (side && i % 50 == 1) continue
      me = p[side, i]
      if (!(me in done)) {
        done[me] = 1
        # References only point to higher numbers: a store graph has no cycles.
        j1 = i + 1; j2 = (i * 7 + 3) % count
        d1 = (j1 < count && (side, j1) in p) ? p[side, j1] : ""
        d2 = (j2 > i && (side, j2) in p) ? p[side, j2] : ""
        print me > "/dev/stderr"
        printf "%s\n\n", me
        k = 0; r = ""
        if (d1 != "" && !(side && j1 % 50 == 1)) { r = r d1 "\n"; k++ }
        if (d2 != "" && d2 != d1 && !(side && j2 % 50 == 1)) { r = r d2 "\n"; k++ }
        printf "%d\n%s", k, r
      }
      refs = refs me "\n"; nr++
    }
    print root > "/dev/stderr"
    printf "%s\n\n%d\n%s", root, nr, refs
    print root > "'"$work"'/root" side
  }
}' > "$work/reg" 2> "$work/paths"
while read -r p; do mkdir "$p"; echo "$p" > "$p/name"; done < "$work/paths"
nix-store --register-validity < "$work/reg"
A=$(cat "$work/root0"); B=$(cat "$work/root1")
echo "closures: A $(nix-store -q --requisites "$A" | wc -l) paths, B $(nix-store -q --requisites "$B" | wc -l) paths"

ms() { date +%s%N; }
bench() { # name, command...
  name=$1; shift
  "$@" > "$work/out.$name" 2>&1 || { echo "$name failed:"; cat "$work/out.$name"; exit 1; }
  t0=$(ms); i=0
  while [ $i -lt "$RUNS" ]; do "$@" > /dev/null 2>&1; i=$((i + 1)); done
  t1=$(ms)
  echo "$name $(( (t1 - t0) / RUNS / 1000 ))"
}
{
  bench nix nix store diff-closures "$A" "$B"
  bench tabula "$TABULA" diff "$A" "$B"
  bench tabula-cli "$TABULA" diff --no-db "$A" "$B"
} > "$work/times"
nixl=$(grep -c . "$work/out.nix")
tabl=$(grep -c '^  ' "$work/out.tabula")
echo "packages listed: nix $nixl, tabula $tabl"
awk '{ t[$1] = $2 } END {
  printf "mean of '"$RUNS"' runs: nix store diff-closures %.1f ms, tabula diff %.1f ms (database), tabula diff --no-db %.1f ms\n", t["nix"]/1000, t["tabula"]/1000, t["tabula-cli"]/1000
  printf "ratio nix/tabula: %.1fx (database), %.1fx (--no-db)\n", t["nix"]/t["tabula"], t["nix"]/t["tabula-cli"]
}' "$work/times"
