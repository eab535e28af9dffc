#!/usr/bin/env bash
# bench/replay/run.sh [RUNS] -- tracekit replay's time and peak memory on
# OpenDC's 100K-task trace (taskScaling_100K_tasks under
# /work/shared/fixtures/opendc/ or $ODC_FIXTURES, when present; said when
# not) and on synthetic workloads from rpgen: 100K tasks x 1 fragment and
# 10K tasks x 100 fragments (1 M fragments), 32 hosts of 16 cores, under
# NoDelay and Perfect.  RUNS runs each (default 3): the median wall time and
# the largest peak RSS, as a Markdown table for docs/replay.md.
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-3}
make -s build/tracekit build/bench/replay/rpgen
out=$(mktemp -d "${TMPDIR:-/tmp}/rpbench.XXXXXX")
trap 'rm -rf "$out"' EXIT
fix=${ODC_FIXTURES:-/work/shared/fixtures/opendc}/taskScaling_100K_tasks
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
build/bench/replay/rpgen "$out/t100k" 100000 1 32
build/bench/replay/rpgen "$out/f1m" 10000 100 32
sets=("synthetic 100K tasks x 1 fragment|$out/t100k|"
      "synthetic 10K tasks x 100 fragments (1 M)|$out/f1m|")
if [ -f "$fix/tasks.parquet" ]; then
  sets=("OpenDC taskScaling_100K_tasks|$fix|--topology $out/t100k/topology.json" "${sets[@]}")
else
  echo "(OpenDC's 100K-task trace is not at $fix: only the synthetic workloads)"
  echo
fi
echo "| workload | scaling | tasks | makespan (simulated s) | wall s (median of $runs) | peak RSS MB |"
echo "|---|---|---:|---:|---:|---:|"
for s in "${sets[@]}"; do
  IFS='|' read -r name dir extra <<<"$s"
  for sc in nodelay perfect; do
    times=() rss=0
    for ((i = 0; i < runs; i++)); do
      /usr/bin/time -f "%e %M" -o "$out/time" build/tracekit replay --input "$dir" $extra --scaling "$sc" \
        --json >"$out/r.json"
      read -r t m <"$out/time"
      times+=("$t")
      [ "$m" -gt "$rss" ] && rss=$m
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    read -r tasks ms < <(python3 -c "import json; d=json.load(open('$out/r.json')); print(d['tasks'], d['makespan_ms'])")
    echo "| $name | $sc | $tasks | $((ms / 1000)) | $median | $((rss / 1024)) |"
  done
done
