#!/usr/bin/env bash
# Benchmark of `tabula audit` against `find -xdev -printf` on the same tree.
#
#   bash benches/audit/run.sh            (RUNS=10 TOP=100 SUB=100 FILES=99 by default)
#
# Builds a 1,000,100-entry tree (10,100 directories, 990,000 files, 1 in 33 a
# symlink) on a tmpfs: /dev/shm when it is one, else a tmpfs mounted in a
# private mount namespace (root). Then, side by side on that tree:
#   - wall and CPU time: hyperfine (Debian package `hyperfine`) when
#     present, else RUNS timed runs of each;
#   - peak memory: /usr/bin/time -v (Debian package `time`);
#   - where the time goes: system calls by count and time (strace -c -f,
#     Debian package `strace`), when strace is present.
# The audit runs with the embedded host spec: nothing in the tree is
# persisted, so every file is stat-ed, as find does.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
RUNS=${RUNS:-10}
TOP=${TOP:-100}
SUB=${SUB:-100}
FILES=${FILES:-99}

if [ "${TABULA_BENCH_INNER:-}" != 1 ]; then
  cargo build --release -p tabula >&2
  if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    export TABULA_BENCH_BASE=/dev/shm/tabula-audit-bench
  else
    [ "$(id -u)" -eq 0 ] || { echo "no tmpfs at /dev/shm and not root: cannot mount one" >&2; exit 2; }
    base=$(mktemp -d)
    export TABULA_BENCH_BASE=$base TABULA_BENCH_MOUNT=1 TABULA_BENCH_INNER=1
    exec unshare -m --propagation private bash "$0" "$@"
  fi
fi
BASE=$TABULA_BENCH_BASE
if [ "${TABULA_BENCH_MOUNT:-}" = 1 ]; then
  mount -t tmpfs -o size=4G tabula-audit-bench "$BASE"
fi
BIN=$REPO/target/release/tabula
TREE=$BASE/tree
rm -rf "$TREE"
mkdir -p "$BASE"
trap 'rm -rf "$TREE"' EXIT

echo "== building the tree in $TREE ($(stat -f -c %T "$BASE"))"
entries=$(python3 "$REPO/benches/audit/mktree.py" "$TREE" "$TOP" "$SUB" "$FILES")
echo "entries: $entries"
echo "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$BASE"   # no host.toml here: the embedded host is the spec

AUDIT="$BIN audit --root $TREE --json"
AUDIT1="$BIN audit --root $TREE --json --jobs 1"
FIND="find $TREE -xdev -printf '%s %T@ %p\n'"

echo
echo "== time (wall: the machine's load shares the 2 CPUs; User and System are CPU time)"
if command -v hyperfine >/dev/null; then
  # -i: the audit exits 1 (everything in the tree would be lost).
  hyperfine -N -i -w 1 -r "$RUNS" --output=null \
    -n "tabula audit (2 threads)" "$AUDIT" \
    -n "tabula audit --jobs 1" "$AUDIT1" \
    -n "find -xdev -printf" "$FIND" \
    --export-markdown "$BASE/hyperfine.md"
  echo
  cat "$BASE/hyperfine.md"
else
  for name in AUDIT AUDIT1 FIND; do
    cmd=${!name}
    for _ in $(seq "$RUNS"); do
      { /usr/bin/time -f "$name %e s wall, %U s user, %S s sys" sh -c "$cmd >/dev/null" || true; } 2>&1 | tail -1
    done
  done
fi

echo
echo "== peak memory (/usr/bin/time -v)"
for name in AUDIT FIND; do
  cmd=${!name}
  rss=$( { /usr/bin/time -v sh -c "exec $cmd >/dev/null" || true; } 2>&1 | awk -F': ' '/Maximum resident/ {print $2}')
  echo "$name: $rss KB"
done

if command -v strace >/dev/null; then
  echo
  echo "== where the time goes: system calls (strace -c -f; strace slows both)"
  for name in AUDIT1 FIND; do
    cmd=${!name}
    echo "-- $name"
    strace -c -f -o "$BASE/strace.txt" sh -c "exec $cmd >/dev/null" || true
    # The busiest calls (futex is the idle thread waiting).
    sed -n '1,2p;/^ *[0-9]/p' "$BASE/strace.txt" | head -9
  done
fi
