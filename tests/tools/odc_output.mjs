// odc_output.mjs SPEC.json DIR -- writes task.parquet, host.parquet and
// powerSource.parquet shaped as OpenDC HEAD writes them, with an independent
// writer (hyparquet-writer), for t_compare.
//
// The shapes are OpenDC's (opendc-compute-simulator .../telemetry/parquet/
// Dflt{Task,Host,PowerSource}ExportColumns.kt): the same names, physical
// types and REQUIRED/OPTIONAL repetition; ParquetDataWriter.kt writes with
// WriterVersion.PARQUET_2_0 and ZSTD, i.e. data pages v2, dictionary encoding
// falling back to DELTA_BINARY_PACKED (integers) and DELTA_BYTE_ARRAY
// (strings).  Here: the timestamps DELTA_BINARY_PACKED, task_id and
// scheduling_delay DELTA_BINARY_PACKED, names dictionary or DELTA_BYTE_ARRAY,
// ZSTD compression as a zstd frame of raw blocks (valid zstd; node has no
// zstd compressor).
//
// SPEC: {"tasks": [{task_id, task_name, host_name, task_state, cpu_count,
// mem_capacity, submission_time, schedule_time, finish_time,
// scheduling_delay, timestamp, timestamp_absolute}], "hosts": [{timestamp,
// timestamp_absolute, host_name, cluster_name, core_count, mem_capacity,
// cpu_capacity, cpu_utilization, cpu_time_active, cpu_time_idle,
// energy_usage, power_draw, uptime}], "power": [{timestamp,
// timestamp_absolute, source_name, cluster_name, power_draw, energy_usage}]}
// (null allowed where OpenDC's column is OPTIONAL).
import { readFileSync } from 'node:fs'
import { parquetWriteFile } from 'hyparquet-writer'

function zstdRaw(input) {
  const blocks = []
  const MAX = 128 * 1024
  let off = 0
  do {
    const n = Math.min(MAX, input.length - off)
    const last = off + n >= input.length ? 1 : 0
    const h = last | (0 << 1) | (n << 3)
    blocks.push(Uint8Array.of(h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff), input.subarray(off, off + n))
    off += n
  } while (off < input.length)
  const size = input.length
  const head = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0xa0, size & 0xff, (size >> 8) & 0xff, (size >> 16) & 0xff,
    (size >>> 24) & 0xff)
  const total = head.length + blocks.reduce((a, b) => a + b.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const b of [head, ...blocks]) {
    out.set(b, at)
    at += b.length
  }
  return out
}

const big = (v) => (v === null || v === undefined ? null : BigInt(v))
const col = (rows, name, type, nullable, encoding, conv = (v) => v) => ({
  name,
  type,
  nullable,
  ...(encoding ? { encoding } : {}),
  data: rows.map((r) => conv(r[name] === undefined ? null : r[name])),
})

function write(file, columnData) {
  parquetWriteFile({
    filename: file,
    columnData,
    codec: 'ZSTD',
    compressors: { ZSTD: zstdRaw },
    createdBy: 'parquet-mr version 1.13.1 (build db4183109d5b734ec5930d870cdae161e408ddba)',
  })
}

const [specPath, dir] = process.argv.slice(2)
const spec = JSON.parse(readFileSync(specPath, 'utf8'))
const D = 'DELTA_BINARY_PACKED'
if (spec.tasks) {
  const t = spec.tasks
  write(`${dir}/task.parquet`, [
    col(t, 'timestamp', 'INT64', false, D, big),
    col(t, 'timestamp_absolute', 'INT64', false, D, big),
    col(t, 'task_id', 'INT32', false, D),
    col(t, 'task_name', 'STRING', false, 'DELTA_BYTE_ARRAY'),
    col(t, 'host_name', 'STRING', false, 'RLE_DICTIONARY'),
    col(t, 'mem_capacity', 'INT64', false, null, big),
    col(t, 'cpu_count', 'INT32', false),
    col(t, 'cpu_limit', 'FLOAT', false, null, (v) => v ?? 0),
    col(t, 'uptime', 'INT64', false, null, (v) => big(v ?? 0)),
    col(t, 'schedule_time', 'INT64', true, D, big),
    col(t, 'submission_time', 'INT64', true, D, big),
    col(t, 'finish_time', 'INT64', true, D, big),
    col(t, 'task_state', 'STRING', true, 'RLE_DICTIONARY'),
    col(t, 'scheduling_delay', 'INT64', true, D, big),
  ])
}
if (spec.hosts) {
  const h = spec.hosts
  write(`${dir}/host.parquet`, [
    col(h, 'timestamp', 'INT64', false, D, big),
    col(h, 'timestamp_absolute', 'INT64', false, D, big),
    col(h, 'host_name', 'STRING', false, 'RLE_DICTIONARY'),
    col(h, 'cluster_name', 'STRING', false, 'RLE_DICTIONARY'),
    col(h, 'core_count', 'INT32', false),
    col(h, 'mem_capacity', 'INT64', false, null, big),
    col(h, 'cpu_capacity', 'FLOAT', false),
    col(h, 'cpu_utilization', 'FLOAT', false),
    col(h, 'cpu_time_active', 'INT64', false, D, big),
    col(h, 'cpu_time_idle', 'INT64', false, D, big),
    col(h, 'power_draw', 'FLOAT', false),
    col(h, 'energy_usage', 'FLOAT', false),
    col(h, 'uptime', 'INT64', false, D, big),
    col(h, 'boot_time', 'INT64', true, null, big),
  ])
}
if (spec.power) {
  const p = spec.power
  write(`${dir}/powerSource.parquet`, [
    col(p, 'timestamp', 'INT64', false, D, big),
    col(p, 'timestamp_absolute', 'INT64', false, D, big),
    col(p, 'source_name', 'STRING', false, 'DELTA_BYTE_ARRAY'),
    col(p, 'cluster_name', 'STRING', false, 'RLE_DICTIONARY'),
    col(p, 'power_draw', 'FLOAT', false),
    col(p, 'energy_usage', 'FLOAT', false),
    col(p, 'carbon_intensity', 'FLOAT', false, null, (v) => v ?? 0),
    col(p, 'carbon_emission', 'FLOAT', false, null, (v) => v ?? 0),
  ])
}
