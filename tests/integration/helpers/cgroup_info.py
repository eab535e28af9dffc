#!/usr/bin/env python3
"""cgroup_info.py OUT.json -- test helper: run as a task, write this process's
CPU cgroup settings (v1 cpu.shares/cfs quota or v2 cpu.weight/cpu.max, and the
cpuset) as JSON, read from /proc/self/cgroup and /proc/self/mountinfo."""
import json
import os
import sys


def mounts():
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.rstrip("\n").split(" - ", 1)
            mnt = pre.split()[4].replace("\\040", " ")
            fstype, _src, opts = post.split()[:3]
            if fstype == "cgroup2":
                out.setdefault("v2", mnt)
            elif fstype == "cgroup":
                for c in opts.split(","):
                    out.setdefault(c, mnt)
    return out


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


m = mounts()
info = {}
with open("/proc/self/cgroup") as f:
    for line in f:
        _id, ctrls, path = line.rstrip("\n").split(":", 2)
        for c in ctrls.split(","):
            if c == "cpu" and "cpu" in m:
                d = m["cpu"] + path
                info.update(cpu_version="v1", cpu_path=path, cpu_dir=d,
                            shares=read(d + "/cpu.shares"),
                            quota_us=read(d + "/cpu.cfs_quota_us"),
                            period_us=read(d + "/cpu.cfs_period_us"))
            if c == "cpuset" and "cpuset" in m:
                d = m["cpuset"] + path
                info.update(cpuset_path=path, cpuset_dir=d, cpuset_cpus=read(d + "/cpuset.cpus"))
        if ctrls == "" and "v2" in m:
            d = m["v2"] + path
            if read(d + "/cpu.weight") is not None and "cpu_version" not in info:
                info.update(cpu_version="v2", cpu_path=path, cpu_dir=d,
                            weight=read(d + "/cpu.weight"), max=read(d + "/cpu.max"))
with open(sys.argv[1], "w") as f:
    json.dump(info, f)
