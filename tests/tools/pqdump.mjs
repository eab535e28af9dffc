// pqdump.mjs FILE -- print a Parquet file as one JSON document, read with
// hyparquet: an implementation independent of ours.  Same layout as
// bench/parquet/pqcat.c (our reader) so tests/tools/pqcompare.py can compare
// them: schema (name, physical type, repetition, logical and converted type),
// row groups, and every value -- integers as decimal strings, floating point
// as strings ("NaN", "Infinity", "-0"), byte arrays without STRING as hex.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

// pqdump.mjs FILE1 FILE2 ... -- the same for each file, into FILEn.json
// (one node start-up for many files).
const files = process.argv.slice(2)
if (!files.length) { console.error('usage: node pqdump.mjs FILE...'); process.exit(2) }
const fs = await import('node:fs')
let failed = 0
for (const file of files) {
  try {
    const text = await dump(file)
    if (files.length === 1) process.stdout.write(text)
    else fs.writeFileSync(file + '.json', text)
  } catch (e) {
    console.error(`pqdump: ${file}: ${e.message}`)
    failed = 1
  }
}
process.exit(failed)

async function dump(file) {
const buf = await asyncBufferFromFile(file)
const md = await parquetMetadataAsync(buf)
const lt = (l) => {
  if (!l) return null
  if (l.type === 'TIMESTAMP' || l.type === 'TIME') return `${l.type}(${l.unit},${l.isAdjustedToUTC ? 'UTC' : 'local'})`
  return l.type
}
const leaves = md.schema.slice(1).filter(s => !s.num_children)
const schema = leaves.map(s => ({
  name: s.name, type: s.type ?? null, repetition: s.repetition_type ?? null,
  logical: lt(s.logical_type), converted: s.converted_type ?? null,
}))
const floatStr = (v) => Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity'
  : Object.is(v, -0) ? '-0' : String(v)
const fmt = (s, v) => {
  if (v === null || v === undefined) return null
  switch (s.type) {
    case 'INT32': case 'INT64': return v instanceof Date ? String(v.getTime()) : String(v)
    case 'FLOAT': case 'DOUBLE': return floatStr(v)
    case 'BOOLEAN': return v
    default: return typeof v === 'string' ? v : Buffer.from(v).toString('hex')
  }
}
const rows = await parquetReadObjects({ file: buf, compressors, utf8: true })
const out = {
  num_rows: String(md.num_rows), created_by: md.created_by ?? null, schema,
  row_groups: md.row_groups.map(rg => ({ num_rows: String(rg.num_rows) })),
  rows: rows.map(r => Object.fromEntries(leaves.map(s => [s.name, fmt(s, r[s.name])]))),
}
return JSON.stringify(out) + '\n'
}
