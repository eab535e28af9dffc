#!/usr/bin/env python3
"""odc_model.py TASKS_JSON FRAGS_JSON TOPOLOGY_JSON SCALING QUANTUM_MS

An independent, time-stepped (1 ms) model of OpenDC HEAD's replay for the
filter-only policy (compute, vcpu, ram; no weighers), written from
../shared/reference/opendc.md §3 without looking at src/opendc/replay.c,
to cross-check `tracekit replay` (t_replay).  TASKS_JSON and FRAGS_JSON are
pqcat outputs.  Prints {"makespan_ms": .., "finish": {id: ms}} as JSON.
"""
import json, sys

tasks_rows = json.load(open(sys.argv[1]))["rows"]
frag_rows = json.load(open(sys.argv[2]))["rows"]
topo = json.load(open(sys.argv[3]))
perfect = sys.argv[4] == "perfect"
q = int(sys.argv[5])

def mhz(s):
    if isinstance(s, (int, float)):
        return float(s)
    v, u = s.split()
    return float(v) * {"Hz": 1e-6, "kHz": 1e-3, "MHz": 1, "GHz": 1e3}[u]

def mib(s):
    if isinstance(s, (int, float)):
        return float(s)
    v, u = s.split()
    return float(v) * {"MiB": 1, "GiB": 1024, "KiB": 1 / 1024, "TiB": 1024 * 1024}[u]

hosts = []  # in topology order
for c in topo["clusters"]:
    for _ in range(c.get("count", 1)):
        for h in c["hosts"]:
            for _ in range(h.get("count", 1)):
                cores = h["cpu"]["coreCount"] * h["cpu"].get("count", 1)
                hosts.append({"cores": cores, "cap": cores * mhz(h["cpu"]["coreSpeed"]),
                              "mem": int(mib(h["memory"]["size"])), "free_cores": cores,
                              "free_mem": int(mib(h["memory"]["size"])), "running": []})
frags = {}
for r in frag_rows:
    frags.setdefault(int(r["id"]), []).append((int(r["duration"]), float(r["cpu_usage"])))
tasks = []
for r in tasks_rows:
    i = int(r["id"])
    if i not in frags:
        continue
    tasks.append({"id": i, "sub": int(r["submission_time"]), "cores": int(r["cpu_count"]),
                  "mem": int(float(r["mem_capacity"]) / 1000 + 0.5), "frags": frags[i]})
tasks.sort(key=lambda t: t["sub"])  # stable
t0 = tasks[0]["sub"]
idle = list(range(len(hosts)))  # idle hosts, in order; a host idle again goes to the end
queue, pending, finish = [], None, {}

def work(f):
    return int(f[1] * f[0]) if perfect else f[0]

def start_frag(t, now):
    while t["fi"] < len(t["frags"]) and work(t["frags"][t["fi"]]) <= 0:
        t["fi"] += 1
    if t["fi"] >= len(t["frags"]):
        return False
    d, u = t["frags"][t["fi"]]
    t["left"] = u * d if perfect else d
    return True

def fits(h, t):
    return h["free_cores"] >= t["cores"] and h["free_mem"] >= t["mem"]

def choose(t):
    busy = [i for i, h in enumerate(hosts) if h["running"] and fits(h, t)]
    if busy:
        return min(busy, key=lambda i: (hosts[i]["free_cores"], hosts[i]["free_mem"]))
    for i in idle:
        if fits(hosts[i], t):
            return i
    return None

def done(t, h, now):
    global pending
    h["running"].remove(t)
    h["free_cores"] += t["cores"]; h["free_mem"] += t["mem"]
    if not h["running"]:
        idle.append(hosts.index(h))
    finish[t["id"]] = now
    if pending is None:
        pending = -(-now // q) * q

now, nxt = 0, 0
maxc = max(h["cores"] for h in hosts); maxm = max(h["mem"] for h in hosts)
while nxt < len(tasks) or queue or any(h["running"] for h in hosts):
    # submissions at this ms
    while nxt < len(tasks) and tasks[nxt]["sub"] - t0 <= now:
        queue.append(tasks[nxt]); nxt += 1
        if pending is None:
            pending = -(-now // q) * q
    if pending == now:
        pending = None
        while queue:
            t = queue[0]
            i = choose(t)
            if i is None:
                if t["cores"] > maxc or t["mem"] > maxm:
                    queue.pop(0); finish[t["id"]] = None
                    continue
                break
            queue.pop(0)
            h = hosts[i]
            if i in idle:
                idle.remove(i)
            h["free_cores"] -= t["cores"]; h["free_mem"] -= t["mem"]
            h["running"].append(t); t["fi"] = 0
            if not start_frag(t, now):
                done(t, h, now)
        if pending == now:
            continue   # a completion at this very slot: cycle again
    # one ms of progress, max-min shares per host
    for h in hosts:
        if not h["running"]:
            continue
        dem = {id(t): t["frags"][t["fi"]][1] for t in h["running"]}
        share, left, todo = {}, h["cap"], sorted(h["running"], key=lambda t: dem[id(t)])
        for k, t in enumerate(todo):
            g = min(dem[id(t)], left / (len(todo) - k)); share[id(t)] = g; left -= g
        for t in list(h["running"]):
            g = share[id(t)] if perfect else 1
            t["left"] -= g
            # Perfect: OpenDC schedules the end at floor(work / supplied) ms,
            # i.e. once less than one ms of work is left
            # (every fragment with work lasts at least 1 ms: W / g >= its duration)
            if (t["left"] < g * (1 - 1e-6)) if perfect else t["left"] <= 0:
                t["fi"] += 1
                if not start_frag(t, now + 1):
                    done(t, h, now + 1)
    now += 1
fin = {k: v for k, v in finish.items() if v is not None}
print(json.dumps({"makespan_ms": max(fin.values()), "finish": fin}))
