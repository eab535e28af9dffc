#!/usr/bin/env bash
# t_fuzz.sh -- the fuzzing of tests/fuzz/ keeps working and its findings stay
# fixed: every harness is built, has a seed corpus, replays every seed and
# every past crash (tests/fuzz/crashes/NAME/) cleanly, and fuzzes for a few
# seconds (FUZZ_SMOKE_SECONDS, default 3) without a finding; then the end-to-end
# mutation test for MUTATE_SMOKE_SECONDS (default 15).  `make fuzz`
# runs the long version (docs/security.md).
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
secs=${FUZZ_SMOKE_SECONDS:-3}

for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c); name=${name#fuzz_}; h=build/fuzz/fuzz_$name
  if [ ! -x "$h" ]; then not_ok "$name: harness not built (make fuzzers)"; continue; fi
  seeds=$(find "tests/fuzz/corpus/$name" -type f 2>/dev/null | wc -l)
  check "$name: has a seed corpus ($seeds files)" test "$seeds" -gt 0
  mapfile -t inputs < <(find "tests/fuzz/corpus/$name" "tests/fuzz/crashes/$name" -type f 2>/dev/null | sort)
  crashes=$(find "tests/fuzz/crashes/$name" -type f 2>/dev/null | wc -l)
  if (cd "$T" && "$ROOT/$h" -rss_limit_mb=512 -malloc_limit_mb=512 -timeout=10 \
        "${inputs[@]/#/$ROOT/}") >"$T/$name.replay" 2>&1; then
    ok "$name: replays ${#inputs[@]} inputs ($crashes past crashes)"
  else
    not_ok "$name: replaying its corpus: $(grep -m1 -E 'ERROR|SUMMARY|runtime error|Running:' "$T/$name.replay" | tail -1)"
    grep -E 'Running:|ERROR|SUMMARY|runtime error' "$T/$name.replay" | tail -5 | sed 's/^/# /'
  fi
  mkdir -p "$T/corpus-$name"
  if (cd "$T" && "$ROOT/$h" -max_total_time="$secs" -rss_limit_mb=512 -malloc_limit_mb=512 \
        -timeout=10 -artifact_prefix="$T/" "$T/corpus-$name" "$ROOT/tests/fuzz/corpus/$name") \
        >"$T/$name.smoke" 2>&1; then
    ok "$name: ${secs}s of fuzzing, no finding"
  else
    not_ok "$name: fuzzing found: $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$T/$name.smoke")"
    tail -20 "$T/$name.smoke" | sed 's/^/# /'
    cp "$T"/crash-* "$T"/leak-* "$T"/oom-* "$T"/timeout-* "${TEST_OUTPUT:-$T}/" 2>/dev/null
  fi
done

# The end-to-end mutation test, briefly (scripts/fuzz runs it for as long as
# the harnesses): export, verify, report and parse of the ASan binary on
# mutated copies of a small run; a finding keeps its case and prints its seed.
if [ -x tests/fuzz/mutate.sh ]; then
  msecs=${MUTATE_SMOKE_SECONDS:-15}
  if tests/fuzz/mutate.sh "$msecs" >"$T/mutate.out" 2>&1; then
    ok "mutate: $(tail -1 "$T/mutate.out")"
  else
    not_ok "mutate: $(grep -m1 -E 'FINDING|cannot|not built' "$T/mutate.out")"
    sed 's/^/# /' "$T/mutate.out" | tail -10
  fi
fi
