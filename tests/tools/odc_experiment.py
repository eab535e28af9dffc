#!/usr/bin/env python3
"""odc_experiment.py EXPERIMENT.json [TOPOLOGY.json]: decode an OpenDC SDK
experiment file the way OpenDC HEAD does, strictly (`opendc --strict run`:
kotlinx.serialization with ignoreUnknownKeys = false, class discriminator
"type"), then apply the model's validate().  Exit 0 if it decodes, else 1
with one line per problem.  With TOPOLOGY.json, that file is decoded as a
TopologySpec too.

OpenDC cannot be built or run here (docs: shared/reference/opendc.md §5), so
the model is written down from its source, atlarge-research/opendc at HEAD
691036deb (2026-07-20), opendc-sdk/opendc-sdk-model/src/main/kotlin/org/
opendc/sdk/model/:
  experiment/ExperimentSpec.kt       the top-level keys and their defaults
  topology/{TopologySpec,ClusterSpec,HostSpec,CpuSpec,MemorySpec,PowerSpec,
           PowerSourceSpec,DistributionPolicy}.kt
  workload/{WorkloadSpec,ScalingPolicySpec}.kt, resource/ResourceReference.kt
  scheduler/{AllocationPolicySpec,HostFilterSpec,HostWeigherSpec,
            SchedulerNameSpec}.kt
  export/{ExportSpec,OutputFileSpec,ExportColumnsSpec}.kt
and units from opendc-common/.../units/UnitSerializer.kt (a number, or a
number and a unit).  Failure, checkpoint, battery, GPU and inline-task specs
are only checked to be objects (this exporter writes none of them).
"""
import json
import re
import sys

# SchedulerNameSpec.kt (enum, case-sensitive in JSON)
PREFABS = ["Mem", "MemInv", "CoreMem", "CoreMemInv", "ActiveServers", "ActiveServersInv",
           "ProvisionedCores", "ProvisionedCoresInv", "Random", "TaskNumMemorizing", "Timeshift",
           "ProvisionedCpuGpuCores", "ProvisionedCpuGpuCoresInv", "GpuTaskMemorizing"]
# HostFilterSpec.kt: @SerialName -> its fields (name: required?)
FILTERS = {"compute": {}, "sameHost": {}, "differentHost": {}, "instanceCount": {"limit": True},
           "ram": {"allocationRatio": False}, "vcpuCapacity": {}, "vcpu": {"allocationRatio": False},
           "vgpu": {"allocationRatio": False}}
# HostWeigherSpec.kt: every weigher has only "multiplier" (default 1.0)
WEIGHERS = ["ram", "coreRam", "instanceCount", "vcpuCapacity", "vcpu", "vgpu"]
SCALING = ["NoDelay", "Perfect"]                                    # ScalingPolicySpec.kt
FILES = ["host", "task", "powerSource", "battery", "service"]       # OutputFileSpec.kt
POWER_TYPES = ["constant", "linear", "square", "cubic", "sqrt", "mse", "asymptotic"]  # PowerSpec.kt
DISTRIBUTIONS = {"maxMinFairness": [], "bestEffort": ["updateIntervalMs"], "equalShare": [],
                 "firstFit": [], "fixedShare": ["shareRatio"]}      # DistributionPolicy.kt

NUM = r"\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*"
UNITS = {  # unit -> factor to MHz / MiB / W / ms
    "freq": {"hz": 1e-6, "khz": 1e-3, "mhz": 1, "ghz": 1e3},
    "size": {"B": 1 / 1048576, "KiB": 1 / 1024, "KB": 1000 / 1048576, "MiB": 1, "MB": 1e6 / 1048576,
             "GiB": 1024, "GB": 1e9 / 1048576, "TiB": 1048576, "TB": 1e12 / 1048576},
    "power": {"w": 1, "watts": 1, "kw": 1e3, "kwatts": 1e3},
    "time": {"ms": 1, "s": 1e3, "sec": 1e3, "second": 1e3, "seconds": 1e3, "min": 6e4, "mins": 6e4,
             "minute": 6e4, "minutes": 6e4, "h": 3.6e6, "hour": 3.6e6, "hours": 3.6e6},
}

errors = []


def err(path, msg):
    errors.append(f"{path}: {msg}")


def unit(v, kind, path):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)  # a bare number: MHz, MiB, W, ms (with a warning)
    if not isinstance(v, str):
        err(path, f"not a {kind} value: {v!r}")
        return None
    m = re.fullmatch(NUM + r"([A-Za-z]*)\s*", v)
    table = UNITS[kind]
    if m:
        u = m.group(2)
        f = table.get(u) if kind == "size" else table.get(u.lower())
        if u == "":
            return float(m.group(1))
        if f is not None:
            return float(m.group(1)) * f
    err(path, f"unable to parse unit of measure {v!r}")
    return None


def obj(v, path, fields, required=()):
    """v must be an object whose keys are all in fields (strict); returns it."""
    if not isinstance(v, dict):
        err(path, f"expected an object, got {type(v).__name__}")
        return {}
    for k in v:
        if k not in fields:
            err(path, f"unknown key {k!r} (OpenDC --strict refuses it; the default mode drops it)")
    for k in required:
        if k not in v:
            err(path, f"missing required field {k!r}")
    return v


def typed(v, path, types):
    """A sealed-interface value: "type" picks the subclass; returns (type, object)."""
    if not isinstance(v, dict) or "type" not in v:
        err(path, "expected an object with a \"type\" discriminator")
        return None, {}
    t = v["type"]
    if t not in types:
        err(path, f"type {t!r} is not one of {sorted(types)}")
        return None, v
    return t, v


def integer(v, path):
    if not isinstance(v, int) or isinstance(v, bool):
        err(path, f"expected an integer, got {v!r}")
        return 0
    return v


def number(v, path):
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        err(path, f"expected a number, got {v!r}")
        return 0.0
    return float(v)


def string(v, path):
    if not isinstance(v, str):
        err(path, f"expected a string, got {v!r}")


def power_spec(v, path):
    o = obj(v, path, ["type", "maxPower", "idlePower", "power", "calibrationFactor", "asymUtil", "dvfs"],
            ["maxPower", "idlePower"])
    if "type" in o and o["type"] not in POWER_TYPES:
        err(path + ".type", f"{o['type']!r} is not one of {POWER_TYPES}")
    mx = unit(o.get("maxPower"), "power", path + ".maxPower") if "maxPower" in o else None
    idle = unit(o.get("idlePower"), "power", path + ".idlePower") if "idlePower" in o else None
    if "power" in o:
        unit(o["power"], "power", path + ".power")
    if mx is not None and idle is not None and mx < idle:
        err(path, "validate: maxPower must be >= idlePower")


def host_spec(v, path):
    o = obj(v, path, ["name", "count", "cpu", "memory", "gpu", "cpuPowerModel", "gpuPowerModel",
                      "cpuDistribution", "gpuDistribution"], ["cpu", "memory"])
    if "name" in o:
        string(o["name"], path + ".name")
    if integer(o.get("count", 1), path + ".count") <= 0:
        err(path + ".count", "validate: must be > 0")
    cpu = obj(o.get("cpu", {}), path + ".cpu",
              ["coreCount", "coreSpeed", "count", "vendor", "modelName", "architecture"],
              ["coreCount", "coreSpeed"])
    if integer(cpu.get("coreCount", 0), path + ".cpu.coreCount") <= 0:
        err(path + ".cpu.coreCount", "validate: must be > 0")
    if "coreSpeed" in cpu:
        unit(cpu["coreSpeed"], "freq", path + ".cpu.coreSpeed")
    mem = obj(o.get("memory", {}), path + ".memory",
              ["size", "speed", "vendor", "modelName", "architecture"], ["size"])
    if "size" in mem:
        unit(mem["size"], "size", path + ".memory.size")
    for k in ("cpuPowerModel", "gpuPowerModel"):
        if k in o:
            power_spec(o[k], f"{path}.{k}")
    for k in ("cpuDistribution", "gpuDistribution"):
        if k in o:
            t, d = typed(o[k], f"{path}.{k}", DISTRIBUTIONS)
            if t:
                obj(d, f"{path}.{k}", ["type"] + DISTRIBUTIONS[t])


def topology_spec(v, path):
    o = obj(v, path, ["clusters"], ["clusters"])
    cl = o.get("clusters", [])
    if not isinstance(cl, list) or not cl:
        err(path + ".clusters", "validate: must be a non-empty list")
        return
    for i, c in enumerate(cl):
        p = f"{path}.clusters[{i}]"
        c = obj(c, p, ["name", "count", "hosts", "powerSource", "battery"], ["hosts"])
        integer(c.get("count", 1), p + ".count")
        hosts = c.get("hosts", [])
        if not isinstance(hosts, list) or not hosts:
            err(p + ".hosts", "validate: must be a non-empty list")
            continue
        for j, h in enumerate(hosts):
            host_spec(h, f"{p}.hosts[{j}]")
        if "powerSource" in c:
            ps = obj(c["powerSource"], p + ".powerSource", ["name", "maxPower", "carbon"])
            if "maxPower" in ps:
                unit(ps["maxPower"], "power", p + ".powerSource.maxPower")


def resource(v, path):
    t, o = typed(v, path, ["named", "uri"])
    if t == "named":
        obj(o, path, ["type", "name"], ["name"])
    elif t == "uri":
        obj(o, path, ["type", "uri"], ["uri"])


def workload(v, path):
    t, o = typed(v, path, ["trace", "inline"])
    if t == "trace":
        obj(o, path, ["type", "source", "sampleFraction", "submissionTime", "scalingPolicy", "deferAll"],
            ["source"])
        if "source" in o:
            resource(o["source"], path + ".source")
        if number(o.get("sampleFraction", 1.0), path + ".sampleFraction") <= 0:
            err(path + ".sampleFraction", "validate: must be greater than zero")
    elif t == "inline":
        obj(o, path, ["type", "tasks", "scalingPolicy"], ["tasks"])
    if t and o.get("scalingPolicy", "NoDelay") not in SCALING:
        err(path + ".scalingPolicy", f"{o.get('scalingPolicy')!r} is not one of {SCALING}")


def policy(v, path):
    t, o = typed(v, path, ["prefab", "filter", "timeshift"])
    if t == "prefab":
        obj(o, path, ["type", "prefabName"])
        if o.get("prefabName", "Mem") not in PREFABS:
            err(path + ".prefabName", f"{o['prefabName']!r} is not one of SchedulerNameSpec {PREFABS}")
        return
    if t is None:
        return
    extra = ["windowSize", "forecast", "shortForecastThreshold", "longForecastThreshold", "forecastSize",
             "taskStopper", "memorize"] if t == "timeshift" else []
    obj(o, path, ["type", "filters", "weighers", "subsetSize"] + extra)
    for i, f in enumerate(o.get("filters", [])):
        ft, fo = typed(f, f"{path}.filters[{i}]", FILTERS)
        if ft:
            fields = FILTERS[ft]
            obj(fo, f"{path}.filters[{i}]", ["type"] + list(fields), [k for k, r in fields.items() if r])
            if ft == "instanceCount" and integer(fo.get("limit", 1), f"{path}.filters[{i}].limit") < 1:
                err(f"{path}.filters[{i}].limit", "validate: must be >= 1")
            if "allocationRatio" in fo and number(fo["allocationRatio"], path) <= 0:
                err(f"{path}.filters[{i}].allocationRatio", "validate: must be > 0")
    for i, w in enumerate(o.get("weighers", [])):
        wt, wo = typed(w, f"{path}.weighers[{i}]", WEIGHERS)
        if wt:
            obj(wo, f"{path}.weighers[{i}]", ["type", "multiplier"])
            number(wo.get("multiplier", 1.0), f"{path}.weighers[{i}].multiplier")
    if integer(o.get("subsetSize", 1), path + ".subsetSize") <= 0:
        err(path + ".subsetSize", "validate: must be > 0")


def export_model(v, path):
    o = obj(v, path, ["exportInterval", "printFrequency", "columns", "filesToExport"])
    iv = unit(o.get("exportInterval", "5 minutes"), "time", path + ".exportInterval")
    if iv is not None and iv <= 0:
        err(path + ".exportInterval", "validate: must be greater than zero")
    for i, f in enumerate(o.get("filesToExport", [])):
        if f not in FILES:
            err(f"{path}.filesToExport[{i}]", f"{f!r} is not one of {FILES}")
    if "columns" in o:
        obj(o["columns"], path + ".columns", FILES)


def experiment(v):
    o = obj(v, "experiment", ["topologies", "workloads", "allocationPolicies", "failureModels",
                              "maxNumFailures", "checkpointModels", "exportModels", "runs", "initialSeed",
                              "name"], ["topologies", "workloads"])
    for key, fn in (("topologies", topology_spec), ("workloads", workload),
                    ("allocationPolicies", policy), ("exportModels", export_model)):
        items = o.get(key, [None]) if key in ("allocationPolicies", "exportModels") else o.get(key, [])
        if key in o and (not isinstance(o[key], list) or not o[key]):
            err(key, "validate: must be a non-empty list")
            continue
        for i, x in enumerate(items if key in o else []):
            fn(x, f"{key}[{i}]")
    if integer(o.get("runs", 1), "runs") <= 0:
        err("runs", "validate: must be > 0")
    integer(o.get("initialSeed", 0), "initialSeed")
    if "name" in o:
        string(o["name"], "name")


def main():
    exp = json.load(open(sys.argv[1]))
    experiment(exp)
    if len(sys.argv) > 2:
        topology_spec(json.load(open(sys.argv[2])), "topology.json")
    for e in errors:
        print(e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
