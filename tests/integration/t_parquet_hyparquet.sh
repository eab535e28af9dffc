#!/usr/bin/env bash
# Our Parquet writer and reader against an independent reader (hyparquet):
# files written in every codec, encoding and page version are read back by
# hyparquet and must match, schema and every value, what the writer was
# given; our reader must read them (and the OpenDC fixtures) exactly as
# hyparquet does.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/need-hyparquet.sh"

need_hyparquet
make -C "$ROOT" -s build/bench/parquet/pqwrite build/bench/parquet/pqcat >"$T/make.log" 2>&1 ||
  { not_ok "build pqwrite/pqcat: $(tail -3 "$T/make.log")"; exit 1; }
PQWRITE=$ROOT/build/bench/parquet/pqwrite PQCAT=$ROOT/build/bench/parquet/pqcat
CMP="python3 $ROOT/tests/tools/pqcompare.py"
files=() pairs=$T/pairs

# write NAME LABEL ARGS...: write $T/NAME.parquet with its expected values,
# read it with our reader; hyparquet and the comparisons run below, batched.
write() {
  local name=$1 label=$2; shift 2
  if ! $PQWRITE "$@" --expect "$T/$name.exp" "$T/$name.parquet" 2>"$T/err"; then
    not_ok "$label: pqwrite failed: $(cat "$T/err")"; return
  fi
  if ! $PQCAT "$T/$name.parquet" >"$T/$name.ours" 2>"$T/err"; then
    not_ok "$label: our reader failed: $(cat "$T/err")"; return
  fi
  files+=("$T/$name.parquet")
  printf '%s\t%s\t%s\t%s\n' "$label: hyparquet reads the schema and every value we wrote" \
    "$T/$name.exp" "$T/$name.parquet.json" values-only >>"$pairs"
  printf '%s\t%s\t%s\t%s\n' "$label: our reader agrees with hyparquet (incl. row groups)" \
    "$T/$name.parquet.json" "$T/$name.ours" full >>"$pairs"
}

for codec in none snappy zstd; do
  for dict in auto never always; do
    for pv in 1 2; do
      write "$codec-$dict-$pv" "codec=$codec dict=$dict page=v$pv" --codec "$codec" --dict "$dict" \
        --page-version "$pv" --rows 2000 --row-group-rows 800 --page-values 300
    done
  done
done
write fallback "dictionary falls back to PLAIN mid-chunk" --dict always --dict-max-bytes 200 --rows 3000 --codec snappy
write empty "empty file" --rows 0
write tiny "one row per row group and page" --rows 7 --row-group-rows 1 --page-values 1 --codec zstd

# The real OpenDC fixtures (pyarrow: SNAPPY, dictionary-encoded).
for f in /work/shared/fixtures/opendc/*/*.parquet; do
  name=fixture-$(basename "$(dirname "$f")")-$(basename "$f")
  cp "$f" "$T/$name"
  if $PQCAT "$f" >"$T/$name.ours" 2>"$T/err"; then
    files+=("$T/$name")
    printf '%s\t%s\t%s\t%s\n' "fixture $name: our reader agrees with hyparquet" \
      "$T/$name.json" "$T/$name.ours" full >>"$pairs"
  else
    not_ok "fixture $name: our reader: $(cat "$T/err")"
  fi
done

if ! node "$ROOT/tests/tools/pqdump.mjs" "${files[@]}" 2>"$T/err"; then
  not_ok "hyparquet could not read every file: $(head -3 "$T/err")"
fi
$CMP --tap "$pairs"

check "hyparquet sees row groups of 800, 800, 400 rows" python3 -c "
import json, sys; d = json.load(open('$T/none-auto-1.parquet.json'))
sys.exit([g['num_rows'] for g in d['row_groups']] != ['800', '800', '400'])"

# The comparison itself can fail (a changed value, repetition, sign of zero).
python3 -c "
import json; e = '$T/tiny.exp'
d = json.load(open(e)); d['rows'][3]['i64'] = str(int(d['rows'][3]['i64']) + 1); json.dump(d, open('$T/bad1', 'w'))
d = json.load(open(e)); d['schema'][0]['repetition'] = 'OPTIONAL'; json.dump(d, open('$T/bad2', 'w'))
d = json.load(open(e)); d['rows'][1]['f64'] = '0' if d['rows'][1]['f64'] == '-0' else '-0'; json.dump(d, open('$T/bad3', 'w'))"
expect_fail "the comparison catches a changed value" $CMP --values-only "$T/bad1" "$T/tiny.parquet.json"
expect_fail "the comparison catches a changed repetition" $CMP --values-only "$T/bad2" "$T/tiny.parquet.json"
expect_fail "the comparison catches +0.0 vs -0.0" $CMP --values-only "$T/bad3" "$T/tiny.parquet.json"
