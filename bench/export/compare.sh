#!/usr/bin/env bash
# bench/export/compare.sh BEFORE AFTER DIR... -- byte-compare the output of
# two tracekit binaries' `export opendc` on run folders.  Every folder under
# the DIRs that holds CTS/ (or is an experiment folder of such folders) is
# exported by both binaries with each option set below, into outputs of the
# same name, and every file is compared with cmp.  Prints one line per
# difference and a summary; exits 1 if anything differs (or one binary
# fails where the other does not).
set -u
before=$1 after=$2
shift 2
out=$(mktemp -d "${TMPDIR:-/tmp}/export-compare.XXXXXX")
trap 'rm -rf "$out"' EXIT
configs=("" "--upstream-compat" "--cpu-usage demand" "--attempts all" "--unsampled drop"
         "--submission slot --mem-unit mb" "--task-id-mode sequential --compression zstd"
         "--compression none --failed exclude")
runs=() same=0 diff=0
while IFS= read -r d; do runs+=("$d"); done < <(
  for root in "$@"; do
    find "$root" -type d -name CTS -printf '%h\n'
    # experiment folders: a folder whose sub-folders have CTS/
    find "$root" -mindepth 2 -type d -name CTS -printf '%h\n' | xargs -r -n1 dirname
  done | sort -u)
for run in "${runs[@]}"; do
  for cfg in "${configs[@]}"; do
    rc=()
    for side in before after; do
      bin=$before; [ $side = after ] && bin=$after
      rm -rf "$out/$side"; mkdir -p "$out/$side"
      (cd "$out/$side" && "$bin" export opendc --input "$run" --output w --quiet $cfg >/dev/null 2>&1)
      rc+=($?)
    done
    if [ "${rc[0]}" != "${rc[1]}" ]; then
      echo "DIFF exit ${rc[0]} vs ${rc[1]}: $run $cfg"; diff=$((diff + 1)); continue
    fi
    [ "${rc[0]}" = 0 ] || { same=$((same + 1)); continue; }
    bad=0
    for f in "$out"/before/w/*; do
      cmp -s "$f" "$out/after/w/$(basename "$f")" || { echo "DIFF $(basename "$f"): $run $cfg"; bad=1; }
    done
    [ "$(ls "$out/before/w" | wc -l)" = "$(ls "$out/after/w" | wc -l)" ] || { echo "DIFF file list: $run $cfg"; bad=1; }
    if [ $bad = 0 ]; then same=$((same + 1)); else diff=$((diff + 1)); fi
  done
done
echo "${#runs[@]} run folder(s) x ${#configs[@]} option sets: $same identical, $diff different"
[ $diff = 0 ]
