"""Test driver for the collector: start children with PID sentinels the way
`tracekit exec` does (sentinel written before the child runs its own code),
let them burn a known amount of CPU, and compare what the collector recorded
with the kernel's exact figures from wait4().

usage: collect_driver.py TRACEKIT RUN_DIR  (prints ok/not ok lines)"""
import json
import os
import subprocess
import sys
import time

tracekit, logs = sys.argv[1], sys.argv[2]
run = "drv"
run_dir = os.path.join(logs, run)
pid_dir = os.path.join(run_dir, "pids")
INTERVAL = 200


def start_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def spawn(burn_ms, children=0):
    """Fork a child that waits until its sentinel exists, then burns burn_ms
    of CPU (and optionally forks children that burn too)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        kids = []
        for _ in range(children):
            k = os.fork()
            if k == 0:
                t = time.process_time()
                while time.process_time() - t < burn_ms / 1000:
                    pass
                os._exit(0)
            kids.append(k)
        t = time.process_time()
        while time.process_time() - t < burn_ms / 1000:
            pass
        for k in kids:
            os.waitpid(k, 0)
        os._exit(0)
    os.close(r)
    st = start_ticks(pid)
    tmp = os.path.join(pid_dir, f".{pid}.tmp")
    with open(tmp, "w") as f:
        f.write(f"{pid} {st}\n")
    os.rename(tmp, os.path.join(pid_dir, str(pid)))
    os.write(w, b"x")
    os.close(w)
    return pid, st


def finish(pid):
    """Wait for exit without reaping (like tracekit exec), give the collector
    a moment to take its exit reading, remove the sentinel, then reap."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    time.sleep(0.05)
    os.unlink(os.path.join(pid_dir, str(pid)))
    _, status, ru = os.wait4(pid, 0)
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def check(desc, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + desc + (f" ({detail})" if detail else ""))


os.makedirs(pid_dir, exist_ok=True)
col = subprocess.Popen([tracekit, "collect", "run", "--logs", logs, "--run-id", run,
                        "--interval-ms", str(INTERVAL), "--duration-s", "8",
                        "--host-interval-ms", "500", "--realtime"])
time.sleep(0.5)

burners = [spawn(ms) for ms in (300, 700, 1200)]
truth = {pid: finish(pid) for pid, _ in burners}

# A process living 30 ms, started just after a tick, so it lives between two.
time.sleep(0.02)
short_pid, short_st = spawn(30)
truth_short = finish(short_pid)

# A sleeper that lives across ticks, for the drift check.
sleeper = subprocess.Popen(["sleep", "3"])
st = start_ticks(sleeper.pid)
with open(os.path.join(pid_dir, str(sleeper.pid)), "w") as f:
    f.write(f"{sleeper.pid} {st}\n")
sleeper.wait()
os.unlink(os.path.join(pid_dir, str(sleeper.pid)))

col.wait()
check("collector exits 0 after --duration-s", col.returncode == 0, f"rc={col.returncode}")

recs = {}
with open(os.path.join(run_dir, "proc_metrics.jsonl")) as f:
    for line in f:
        o = json.loads(line)
        recs.setdefault((o["pid"], o["start_ticks"]), []).append(o)

for (pid, bst), burn in zip(burners, (300, 700, 1200)):
    got = recs.get((pid, bst), [])
    last = max((o["cpu_ms"] for o in got), default=0)
    err = abs(last - truth[pid]) / truth[pid]
    check(f"burner {burn} ms: recorded CPU {last:.1f} ms vs wait4 {truth[pid]:.1f} ms within 2%",
          err <= 0.02, f"error {err*100:.2f}%")
    check(f"burner {burn} ms: records carry the original raw fields and our identity fields",
          all(all(k in o for k in ("ts_ms", "pid", "rss_kb", "utime", "stime", "start_ticks",
                                   "comm", "cpu_ms", "mono_us")) for o in got) and len(got) > 0)
    check(f"burner {burn} ms: rss from the real page size is positive while it runs",
          all(o["rss_kb"] > 0 for o in got if o["ev"] != "exit"))
    check(f"burner {burn} ms: its exit was read before it was reaped (ev=exit)",
          any(o["ev"] == "exit" for o in got))

got = recs.get((short_pid, short_st), [])
check("a 30 ms process between two ticks is recorded", len(got) >= 1, f"{len(got)} records")
if got:
    check("the 30 ms process's first reading is taken at once (ev=new)", got[0]["ev"] == "new")

got = [o for o in recs.get((sleeper.pid, st), []) if o["ev"] == "tick"]
if len(got) >= 5:
    span = got[-1]["mono_us"] - got[0]["mono_us"]
    drift = span - (len(got) - 1) * INTERVAL * 1000
    check("ticks keep to the grid: N ticks take N intervals (drift < 2 ms)", abs(drift) < 2000,
          f"{len(got)} ticks, drift {drift} us")
    gaps = [b["mono_us"] - a["mono_us"] for a, b in zip(got, got[1:])]
    check("every tick interval is within 20 ms of the period (SCHED_FIFO, CPU burners on 2 cores)",
          all(abs(g - INTERVAL * 1000) < 20000 for g in gaps), f"gaps {min(gaps)}..{max(gaps)} us")
else:
    check("sleeper sampled on ticks", False, f"{len(got)} tick records")

check("no sentinel left behind", [n for n in os.listdir(pid_dir) if not n.startswith(".")] == [])

with open(os.path.join(run_dir, "host_metrics.jsonl")) as f:
    host = [json.loads(l) for l in f]
check("host metrics written every host interval", len(host) >= 10, f"{len(host)} lines")
h = host[-1]
fr = sum(h[k] for k in ("cpu_user", "cpu_nice", "cpu_system", "cpu_idle", "cpu_iowait",
                        "cpu_irq", "cpu_softirq", "cpu_steal"))
check("host CPU fractions sum to 1", abs(fr - 1) < 0.01, f"sum {fr}")
check("host memory and network present",
      h["mem_total_mb"] > 0 and h["mem_available_mb"] > 0 and "lo" in h["net"])

meta = json.load(open(os.path.join(run_dir, "node_meta.json")))
orig = ["run_id", "node", "stage", "host", "iface", "cpu_cores", "mem_mb", "cpu_model", "cpu_freq_mhz"]
check("node_meta.json starts with the original nine fields", list(meta)[:9] == orig, str(list(meta)[:9]))
check("node_meta.json has boot id, page size, clock ticks and the frequency's source",
      meta["boot_id"] and meta["page_size"] > 0 and meta["clk_tck"] > 0 and meta["cpu_freq_source"])
status = json.load(open(os.path.join(run_dir, "collector.json")))
check("collector.json says stopped, with statistics",
      status["state"] == "stopped" and status["stats"]["proc_samples"] > 0)
