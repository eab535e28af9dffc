#!/usr/bin/env python3
"""mutate.py make RUN_DIR | mutate DIR SEED -- the file side of mutate.sh.

make: write a small run in the collector's format (node_meta.json,
events.*.jsonl, proc_metrics.jsonl, host_metrics.jsonl, pids/).
mutate: change one to three files under DIR, chosen and changed by a
random.Random(SEED), so a seed replays exactly; prints what it did."""
import json
import os
import random
import sys

T0 = 1758580000000


def make(d):
    os.makedirs(f"{d}/pids", exist_ok=True)
    meta = {"run_id": "m1", "node": "cloud1", "stage": "cloud", "host": "h1", "iface": "lo",
            "cpu_cores": 2, "mem_mb": 15997, "cpu_model": "QEMU", "cpu_freq_mhz": 2399,
            "cpu_cores_online": 2, "cpu_allowed": "0-1", "mem_total_kb": 16381000, "kernel": "6.1",
            "boot_id": "b1", "page_size": 4096, "clk_tck": 100, "btime": 1758500000,
            "tracekit_version": "0.1.0", "ts_ms": 1, "proc_interval_ms": 200, "clock_offset_ms": 1.5}
    json.dump(meta, open(f"{d}/node_meta.json", "w"))
    procs, events = [], []
    for t in range(6):
        pid, start, a = 500 + t, 1000 * (t + 1), 700 * t
        b = a + 1500 + 100 * t
        for i, ts in enumerate(range(a + 100, b, 200)):
            procs.append({"ts_ms": T0 + ts, "pid": pid, "rss_kb": 1000 + ts // 100, "utime": i * 7,
                          "stime": 0, "start_ticks": start, "comm": "ffmpeg", "cpu_ms": 70.0 * i,
                          "mono_us": 5000000 + ts * 1000, "threads": 1, "ev": "new" if i == 0 else "tick"})
        events.append({"trace_id": f"T{t}", "span_id": None, "parent_id": None, "module_id": "ffmpeg",
                       "instance_id": None, "ts_enqueue": T0 + a - 50, "ts_start": T0 + a, "ts_end": T0 + b,
                       "node": "cloud1", "stage": "cloud", "method": "CLI", "path": "ffmpeg",
                       "input": "in.mp4", "output": "out.mp4", "pid": pid, "cpuset": None, "bytes_in": 1,
                       "bytes_out": 2, "status": 137 if t == 3 else 0, "start_ticks": start,
                       "signal": 9 if t == 3 else None, "cpu_user_ms": 300 + t, "cpu_sys_ms": 20,
                       "max_rss_kb": 2000, "argv": ["ffmpeg", "-i", "in.mp4"], "app": "ffmpeg",
                       "cpu_units": 1, "cpu_binding": "none", "cpuset_applied": "0",
                       "cpu_weight_applied": None, "cpu_quota_applied": None, "cgroup": None,
                       "attempt": 1, "error": None})
    with open(f"{d}/proc_metrics.jsonl", "w") as f:
        f.writelines(json.dumps(p) + "\n" for p in procs)
    with open(f"{d}/events.ffmpeg.jsonl", "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in events)
    h = {"ts_ms": T0, "mono_us": 1, "node": "cloud1", "dt_ms": 1000.2, "cpu_user": 0.1, "cpu_util": 15.5,
         "net": {"lo": {"rx_bytes_ps": 1.0}}}
    with open(f"{d}/host_metrics.jsonl", "w") as f:
        f.write(json.dumps(h) + "\n" + json.dumps(dict(h, ts_ms=T0 + 1000)) + "\n")
    open(f"{d}/pids/500", "w").close()


HUGE = [b"9223372036854775807", b"-9223372036854775808", b"18446744073709551616", b"1e308",
        b"-1e308", b"NaN", b"-1", b"0", b"4294967296", b"1" * 400, b"2147483648", b"-0"]


def files_under(d):
    out = []
    for root, _, names in os.walk(d):
        for n in names:
            out.append(os.path.join(root, n))
    return sorted(out)


def mutate_bytes(rng, data, log):
    ops = ["flip", "truncate", "insert", "delete", "dup_line", "huge", "deep", "long_line", "splice"]
    op = rng.choice(ops)
    n = len(data)
    if op == "flip" or n == 0:
        data = bytearray(data)
        # Parquet footers and page headers sit near the end and the start.
        for _ in range(rng.randint(1, 8)):
            if not data:
                break
            where = rng.choice([rng.randrange(len(data)), max(0, len(data) - 1 - rng.randrange(min(len(data), 300)))])
            data[where] ^= 1 << rng.randrange(8)
        log.append(f"flip bits")
        return bytes(data)
    if op == "truncate":
        k = rng.randrange(n)
        log.append(f"truncate at {k}/{n}")
        return data[:k]
    if op == "insert":
        k = rng.randrange(n + 1)
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        log.append(f"insert {len(junk)} bytes at {k}")
        return data[:k] + junk + data[k:]
    if op == "delete":
        k = rng.randrange(n)
        m = rng.randint(1, 64)
        log.append(f"delete {m} bytes at {k}")
        return data[:k] + data[k + m:]
    lines = data.split(b"\n")
    if op == "dup_line":
        i = rng.randrange(len(lines))
        times = rng.choice([1, 2, 50])
        log.append(f"duplicate line {i} x{times}")
        return b"\n".join(lines[:i + 1] + [lines[i]] * times + lines[i + 1:])
    if op == "huge":
        import re
        nums = list(re.finditer(rb"-?\d+(\.\d+)?", data))
        if not nums:
            return mutate_bytes(rng, data, log)
        m = rng.choice(nums)
        h = rng.choice(HUGE)
        log.append(f"number {m.group(0)[:20]!r} -> {h[:20]!r}")
        return data[:m.start()] + h + data[m.end():]
    if op == "deep":
        depth = rng.choice([100, 1000, 5000])
        k = rng.randrange(n + 1)
        o, c = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
        log.append(f"nest {depth} deep at {k}")
        return data[:k] + o * depth + b"1" + c * depth + data[k:]
    if op == "long_line":
        size = rng.choice([1 << 16, 1 << 20, 10 << 20])
        k = rng.randrange(n + 1)
        log.append(f"{size}-byte string at {k}")
        return data[:k] + b'"' + b"x" * size + b'"' + data[k:]
    # splice: a piece of the file copied elsewhere in it
    a = rng.randrange(n)
    b = min(n, a + rng.randint(1, 256))
    k = rng.randrange(n + 1)
    log.append(f"splice [{a},{b}) to {k}")
    return data[:k] + data[a:b] + data[k:]


def mutate(d, seed):
    rng = random.Random(seed)
    files = [f for f in files_under(d) if os.path.getsize(f) > 0 or rng.random() < 0.1]
    log = []
    for _ in range(rng.randint(1, 3)):
        if not files:
            break
        f = rng.choice(files)
        rel = os.path.relpath(f, d)
        if rng.random() < 0.08 and len(files) > 1:
            g = rng.choice(files)
            a, b = open(f, "rb").read(), open(g, "rb").read()
            open(f, "wb").write(b)
            open(g, "wb").write(a)
            log.append(f"swap {rel} <-> {os.path.relpath(g, d)}")
            continue
        sub = []
        data = mutate_bytes(rng, open(f, "rb").read(), sub)
        open(f, "wb").write(data)
        log.append(f"{rel}: {'; '.join(sub)}")
    print(" | ".join(log))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        mutate(sys.argv[2], int(sys.argv[3]))
