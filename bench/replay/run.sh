#!/usr/bin/env bash
# bench/replay/run.sh [RUNS] -- tracekit replay's time and peak memory on
# OpenDC's 100K-task trace (taskScaling_100K_tasks under
# /work/shared/fixtures/opendc/ or $ODC_FIXTURES; else taken from a local
# mirror of atlarge-research/opendc, a bare git folder at $ODC_MIRROR,
# default /work/.mirror/atlarge-research+opendc/repo, into the git-ignored
# bench/replay/data/ -- no network; said when neither has it), replayed on
# OpenDC's own topology for it (topology_100.json of its jmh benchmark) when
# the mirror has it, and on synthetic workloads from rpgen: 100K tasks x 1 fragment and
# 10K tasks x 100 fragments (1 M fragments), 32 hosts of 16 cores, under
# NoDelay and Perfect; and a real export of 1 M+ fragments: bench_parse's
# synthetic run (200 processes x 5000 ticks), parsed and exported by
# tracekit export opendc.  RUNS runs each (default 3): the median wall time and
# the largest peak RSS, as a Markdown table for docs/replay.md.
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-3}
make -s build/tracekit build/bench/replay/rpgen build/bench/parse/bench_parse
out=$(mktemp -d "${TMPDIR:-/tmp}/rpbench.XXXXXX")
trap 'rm -rf "$out"' EXIT
fix=${ODC_FIXTURES:-/work/shared/fixtures/opendc}/taskScaling_100K_tasks
mirror=${ODC_MIRROR:-/work/.mirror/atlarge-research+opendc/repo}
jmh=opendc-experiments/opendc-experiments-base/src/jmh/resources
# from_mirror PATH DEST: a file of the mirror's HEAD, when it is there and
# not a Git LFS pointer (a real Parquet file starts with PAR1).
from_mirror() {
  git --git-dir="$mirror" show "HEAD:$1" >"$2.tmp" 2>/dev/null && [ -s "$2.tmp" ] &&
    { [ "${2##*.}" != parquet ] || [ "$(head -c 4 "$2.tmp")" = PAR1 ]; } && mv "$2.tmp" "$2" ||
    { rm -f "$2.tmp"; return 1; }
}
if [ ! -f "$fix/tasks.parquet" ] && [ -d "$mirror" ]; then
  fix=bench/replay/data/taskScaling_100K_tasks
  mkdir -p "$fix"
  for f in tasks fragments; do
    [ -f "$fix/$f.parquet" ] || from_mirror "$jmh/workloadTraces/taskScaling/100K_tasks/$f.parquet" "$fix/$f.parquet" || true
  done
  [ -f "$fix/topology_100.json" ] || from_mirror "$jmh/topologies/taskScaling/topology_100.json" "$fix/topology_100.json" || true
fi
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
build/bench/replay/rpgen "$out/t100k" 100000 1 32
build/bench/replay/rpgen "$out/f1m" 10000 100 32
build/bench/parse/bench_parse --procs 200 --ticks 5000 --dir "$out/run" --keep >/dev/null
build/tracekit export opendc --input "$out/run/bench" --output "$out/export" --quiet
rm -rf "$out/run"
nfrag=$(sed -n 's/.*`fragments.parquet` (\([0-9]*\) fragments).*/\1/p' "$out/export/export_report.md")
sets=("synthetic 100K tasks x 1 fragment|$out/t100k|"
      "synthetic 10K tasks x 100 fragments (1 M)|$out/f1m|"
      "export of bench_parse's 1 M-sample run ($nfrag fragments), its topology|$out/export|")
if [ -f "$fix/tasks.parquet" ] && [ -f "$fix/fragments.parquet" ]; then
  topo=$out/t100k/topology.json name="OpenDC taskScaling_100K_tasks, synthetic topology"
  [ -f "$fix/topology_100.json" ] && topo=$fix/topology_100.json name="OpenDC taskScaling_100K_tasks, its topology_100.json"
  sets=("$name|$fix|--topology $topo" "${sets[@]}")
  echo "(OpenDC's 100K-task trace: $fix)"
else
  echo "(OpenDC's 100K-task trace is neither at $fix nor in a mirror at $mirror: only the synthetic workloads)"
fi
echo
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
