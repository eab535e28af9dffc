// pqwrite.mjs SPEC.json -- writes Parquet files of any shape with an
// independent writer (hyparquet-writer), for the hostile-input tests:
// {"DIR/file.parquet": [{"name", "type" (INT32, INT64, FLOAT, DOUBLE, STRING,
// BOOLEAN), "nullable", "data": [...]}], ...}.  INT64 values may be strings
// (full 64-bit range); "NaN", "Inf" and "-Inf" stand for those FLOAT/DOUBLE
// values.  Columns may be empty (a file of 0 rows).  Paths are relative to
// SPEC.json's folder.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parquetWriteFile } from 'hyparquet-writer'

const special = { NaN: NaN, Inf: Infinity, '-Inf': -Infinity }
const conv = (type, v) => {
  if (v === null) return null
  if (type === 'INT64') return BigInt(v)
  if ((type === 'FLOAT' || type === 'DOUBLE') && typeof v === 'string') return special[v]
  return v
}
const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'))
for (const [file, cols] of Object.entries(spec)) {
  parquetWriteFile({
    filename: resolve(dirname(process.argv[2]), file),
    columnData: cols.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable ?? false,
      data: c.data.map((v) => conv(c.type, v)),
    })),
  })
}
