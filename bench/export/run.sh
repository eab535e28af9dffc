#!/usr/bin/env bash
# bench/export/run.sh [RUNS] -- Parquet writer throughput and memory for an
# OpenDC fragments table (3 columns): 1 M and 10 M rows, uncompressed,
# SNAPPY and ZSTD, dictionary on (auto) and off, without and with fsync.
# Each configuration runs RUNS times (default 3); the median rows/s and the
# largest peak RSS are shown, as a Markdown table for docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-3}
make -s build/bench/export/fragbench
out=$(mktemp -d "${TMPDIR:-/tmp}/fragbench.XXXXXX")
trap 'rm -rf "$out"' EXIT
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| rows | codec | dictionary | fsync | rows/s (median of $runs) | file MB | peak RSS MB |"
echo "|---:|---|---|---|---:|---:|---:|"
for rows in 1000000 10000000; do
  for cfg in "none auto" "none never" "snappy auto" "zstd auto" "none auto --sync"; do
    set -- $cfg
    codec=$1 dict=$2 sync=${3:-}
    rates=() rss=0 bytes=0
    for ((i = 0; i < runs; i++)); do
      line=$(build/bench/export/fragbench --rows "$rows" --codec "$codec" --dict "$dict" $sync "$out/f.parquet")
      rates+=("$(sed 's/.*rows_per_s=\([0-9]*\).*/\1/' <<<"$line")")
      r=$(sed 's/.*peak_rss_kb=\([0-9]*\).*/\1/' <<<"$line")
      bytes=$(sed 's/.*file_bytes=\([0-9]*\).*/\1/' <<<"$line")
      [ "$r" -gt "$rss" ] && rss=$r
      rm -f "$out/f.parquet"
    done
    median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    printf '| %s | %s | %s | %s | %s | %.1f | %.1f |\n' "$rows" "$codec" "$dict" "${sync:+yes}" \
      "$(printf "%'d" "$median" 2>/dev/null || echo "$median")" "$(echo "$bytes / 1000000" | bc -l)" \
      "$(echo "$rss / 1024" | bc -l)"
  done
done
