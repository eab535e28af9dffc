// duckdb_job.mjs CTS_PROC_METRICS OUT_PARQUET THREADS -- the core of
// `tracekit export opendc` done by DuckDB, as a reference for e2e.sh: read
// CTS/proc_metrics.jsonl, per process (pid, start_ticks) in time order the
// CPU deltas by a window function (interval = ts_ms - previous ts_ms, usage
// = cpu_ms / dt_ms x MHz), written as snappy Parquet (id, duration,
// cpu_usage).  The least of the job (no final sort, no totals, no exact
// totals, run delay or occupancy), so that the comparison does not flatter
// tracekit.  Prints the query's wall
// time in seconds (the time from connecting to the file written; DuckDB's
// start-up is not counted).
import { DuckDBInstance } from '@duckdb/node-api';

const [input, output, threads] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:', { threads: String(threads || 1) });
const con = await inst.connect();
const t0 = process.hrtime.bigint();
await con.run(`
COPY (
  SELECT CAST(pid AS INTEGER) AS id,
         ts_ms - lag(ts_ms, 1, ts_ms - CAST(dt_ms AS BIGINT)) OVER w AS duration,
         coalesce(cpu_ms / nullif(dt_ms, 0), 0) * 2400 AS cpu_usage
  FROM read_json('${input.replace(/'/g, "''")}', format = 'newline_delimited',
                 columns = {ts_ms: 'BIGINT', pid: 'BIGINT', dt_ms: 'DOUBLE', cpu_ms: 'DOUBLE',
                            rss_kb: 'BIGINT', start_ticks: 'BIGINT', run_delay_ms: 'DOUBLE',
                            cpu_before_ms: 'DOUBLE'})
  WHERE dt_ms > 0
  WINDOW w AS (PARTITION BY pid, start_ticks ORDER BY ts_ms)
) TO '${output.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION snappy)`);
const t1 = process.hrtime.bigint();
console.log((Number(t1 - t0) / 1e9).toFixed(3));
