#!/usr/bin/env python3
"""pqcompare.py A.json B.json -- compare two Parquet dumps (tools/pqdump.mjs,
bench/parquet/pqcat, or a writer's expected output): row count, schema
(names, physical types, repetition, logical and converted types), row group
sizes and every value.  Floating point values compare as numbers (NaN equals
NaN, and the sign of zero counts).  Prints the first difference; exit 1 if any.
--values-only: skip created_by and row-group sizes (for expected files).

pqcompare.py --tap LIST -- one comparison per line of LIST
("label<TAB>A<TAB>B<TAB>values-only|full"), printed as TAP "ok - label" /
"not ok - label" lines (one python start-up for many files)."""
import json, math, sys

def flt(s):
    return float({'Infinity': 'inf', '-Infinity': '-inf'}.get(s, s))

def same_value(typ, a, b):
    if a is None or b is None:
        return a is None and b is None
    if typ in ('FLOAT', 'DOUBLE'):
        x, y = flt(a), flt(b)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return x == y and math.copysign(1, x) == math.copysign(1, y)
    if typ in ('INT32', 'INT64'):
        return int(a) == int(b)
    return a == b

def difference(pa, pb, values_only):
    """None if the dumps agree, else the first difference."""
    try:
        A, B = (json.load(open(p)) for p in (pa, pb))
    except (OSError, ValueError) as e:
        return str(e)
    if A['num_rows'] != B['num_rows']:
        return f"num_rows: {A['num_rows']} != {B['num_rows']}"
    if A['schema'] != B['schema']:
        return f"schema:\n  {A['schema']}\n  {B['schema']}"
    if not values_only and A['row_groups'] != B['row_groups']:
        return f"row groups: {A['row_groups']} != {B['row_groups']}"
    if len(A['rows']) != len(B['rows']):
        return f"rows: {len(A['rows'])} != {len(B['rows'])}"
    types = {s['name']: s['type'] for s in A['schema']}
    for i, (ra, rb) in enumerate(zip(A['rows'], B['rows'])):
        if set(ra) != set(rb):
            return f"row {i}: columns {sorted(ra)} != {sorted(rb)}"
        for k in ra:
            if not same_value(types[k], ra[k], rb[k]):
                return f"row {i} column {k}: {ra[k]!r} != {rb[k]!r}"
    return None

def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--tap':
        for line in open(sys.argv[2]):
            label, a, b, mode = line.rstrip('\n').split('\t')
            d = difference(a, b, mode == 'values-only')
            if d:
                print(f"not ok - {label}\n# {d}")
            else:
                print(f"ok - {label}")
        return 0
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = difference(args[0], args[1], '--values-only' in sys.argv)
    if d:
        print(d)
        return 1
    return 0

sys.exit(main())
