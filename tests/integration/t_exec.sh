#!/usr/bin/env bash
# t_exec.sh -- tracekit exec: exact CPU totals, status/signal, sentinels, records.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export RUN_ID=texec NODE_ID=node1 STAGE=cloud
unset TS_ENQUEUE CPUSET CPU_WEIGHT CPU_QUOTA PROC_PID_DIR
R=logs/texec

${CC:-cc} -O2 -o burn "$ROOT/tests/integration/helpers/burn.c" || { not_ok "build the CPU burner"; exit 1; }

# last FIELD of the last record in FILE (python repr; None for null)
last() { py "import json; r=[json.loads(l) for l in open('$1')][-1]; print(r['$2'])"; }
# CPU total of the last record minus TRUTH_US/1000, in ms
cpu_err() { py "import json; r=[json.loads(l) for l in open('$1')][-1]; print(round(r['cpu_user_ms']+r['cpu_sys_ms']-$2/1000.0, 3))"; }
truth() { awk -v w="$2" '$1==w {s+=$2} END {print s+0}' "$1"; }
# 0 <= err <= max(pct% of truth, floor_ms): the task's exit (after its own
# getrusage) costs it a little more CPU, never less
within() { py "e=$1; t=$2/1000.0; import sys; sys.exit(0 if -0.01 <= e <= max(t*$3/100.0, $4) else 1)"; }

# --- usage ---
check "--help exits 0 with usage on stdout" bash -c "'$TRACEKIT' exec --help | grep -q 'usage: tracekit exec'"
"$TRACEKIT" exec --cpu-units 0 -- true 2>err; rc=$?
check "bad --cpu-units: exit 2 naming the value" bash -c "[ $rc = 2 ] && grep -q \"invalid --cpu-units '0'\" err"
"$TRACEKIT" exec --cpuset 3-1 -- true 2>err; rc=$?
check "bad --cpuset: exit 2 naming the item" bash -c "[ $rc = 2 ] && grep -q \"'3-1'\" err"
"$TRACEKIT" exec --cpu-binding exclusive --cpu-weight 100 -- true 2>err; rc=$?
check "weight without shared binding: exit 2" bash -c "[ $rc = 2 ] && grep -q 'needs --cpu-binding shared' err"
"$TRACEKIT" exec 2>err; rc=$?
check "no command: exit 2" bash -c "[ $rc = 2 ] && grep -q 'no command given' err"
CPU_QUOTA=abc "$TRACEKIT" exec -- true 2>err; rc=$?
check "bad CPU_QUOTA from the environment: exit 2 naming it" bash -c "[ $rc = 2 ] && grep -q \"invalid CPU_QUOTA 'abc'\" err"

# --- a CPU burner of known CPU time ---
"$TRACEKIT" exec -q -- ./burn 300 rep300; rc=$?
t=$(truth rep300 main); e=$(cpu_err $R/events.burn.jsonl "$t")
check "300 ms burner: exit 0" [ "$rc" = 0 ]
check "300 ms burner: event CPU within 2% of its own rusage (truth ${t} us, error ${e} ms)" within "$e" "$t" 2 0
"$TRACEKIT" exec -q -- ./burn 20 rep20
t=$(truth rep20 main); e=$(cpu_err $R/events.burn.jsonl "$t")
check "20 ms task: CPU total correct (truth ${t} us, error ${e} ms, exit cost <= 1.5 ms)" within "$e" "$t" 2 1.5
"$TRACEKIT" exec -q -- ./burn 100 3 repkids
t=$(truth repkids main); e=$(cpu_err $R/events.burn.jsonl "$t")
check "task with 3 children: their CPU included (truth ${t} us, error ${e} ms)" within "$e" "$t" 2 2
check "burner record: ts_end - ts_start covers the burn" \
  py "import json; r=[json.loads(l) for l in open('$R/events.burn.jsonl')][-1]; assert 100 <= r['ts_end']-r['ts_start'] < 5000"

# A grandchild that outlives the command is reaped by exec (subreaper) and counted.
"$TRACEKIT" exec -q -- ./burn 30 0 150 reporph
to=$(truth reporph orphan); tm=$(truth reporph main)
check "orphaned grandchild finished before exec returned" [ "$to" -gt 0 ]
e=$(cpu_err $R/events.burn.jsonl "$((to + tm))")
check "orphan's CPU included (truth $((to + tm)) us, error ${e} ms)" within "$e" "$((to + tm))" 2 3

# --orphan-wait: leftovers are terminated after the grace time
start=$(date +%s%N)
"$TRACEKIT" exec -q --orphan-wait 0.3 -- sh -c 'sleep 30 & echo $! > leftover; exit 0'
took=$(( ($(date +%s%N) - start) / 1000000 ))
check "a leftover sleep 30 is terminated after --orphan-wait (took ${took} ms)" [ "$took" -lt 5000 ]
check "... and is gone" bash -c "! kill -0 $(cat leftover) 2>/dev/null"

# --- status, error, signals ---
"$TRACEKIT" exec -q -- sh -c 'exit 7'; rc=$?
check "exit status is passed through" [ "$rc" = 7 ]
check "record status 7, signal null" py "import json; r=[json.loads(l) for l in open('$R/events.sh.jsonl')][-1]; assert r['status']==7 and r['signal'] is None and r['error'] is None"

"$TRACEKIT" exec -q -- ./no-such-command arg 2>err; rc=$?
check "missing command: exit 127" [ "$rc" = 127 ]
check "missing command: record with status 127 and the error" \
  py "import json; r=[json.loads(l) for l in open('$R/events.no-such-command.jsonl')][-1]; assert r['status']==127 and 'No such file' in r['error'] and r['argv']==['./no-such-command','arg'], r"
check "missing command: error on stderr" grep -q "cannot run './no-such-command'" err

# SIGTERM to exec reaches the child; exec exits 143 and the record says so
"$TRACEKIT" exec -q --app sleeper -- sleep 30 & epid=$!; track_pid $epid
for _ in $(seq 100); do ls $R/pids/ 2>/dev/null | grep -q . && break; sleep 0.05; done
child=$(ls $R/pids/ | head -1)
check "sentinel of the running task is named by the child PID" [ -n "$child" ]
ticks=$(awk '{sub(/.*\) /, ""); print $20}' /proc/$child/stat 2>/dev/null)
check "sentinel content is 'PID START_TICKS' of the running child" [ "$(cat $R/pids/$child)" = "$child $ticks" ]
check "the sentinel's process is the command (sleep), its parent is exec" \
  bash -c "[ \"\$(cat /proc/$child/comm)\" = sleep ] && [ \"\$(awk '{sub(/.*\) /, \"\"); print \$2}' /proc/$child/stat)\" = $epid ]"
kill -TERM $epid; wait $epid; rc=$?
check "SIGTERM: exec exits 143" [ "$rc" = 143 ]
check "SIGTERM: record has signal 15, status 143, ended early" \
  py "import json; r=[json.loads(l) for l in open('$R/events.sleeper.jsonl')][-1]; assert r['signal']==15 and r['status']==143 and r['ts_end']-r['ts_start'] < 20000, r"
check "SIGTERM: the child is gone" bash -c "! kill -0 $child 2>/dev/null"

# SIGINT sent to exec (not from a terminal) is forwarded too
py "
import subprocess, signal, os, time, sys
p = subprocess.Popen(['$TRACEKIT', 'exec', '-q', '--app', 'intr', '--', 'sleep', '30'])
for _ in range(200):
    if os.listdir('$R/pids'): break
    time.sleep(0.02)
p.send_signal(signal.SIGINT)
sys.exit(0 if p.wait(timeout=20) == 130 else 1)"
check "SIGINT: exec exits 130" [ $? = 0 ]
check "SIGINT: record has signal 2" py "import json; r=[json.loads(l) for l in open('$R/events.intr.jsonl')][-1]; assert r['signal']==2 and r['status']==130"

# Started with SIGCHLD ignored (inherited): exec still gets the status and rusage
py "
import signal, subprocess
subprocess.run(['$TRACEKIT', 'exec', '-q', '--app', 'ign', '--', './burn', '20', 'repign'],
               preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))"
check "inherited SIGCHLD=SIG_IGN: record still has status and CPU" \
  py "import json; r=[json.loads(l) for l in open('$R/events.ign.jsonl')][-1]; assert r['status']==0 and r['cpu_user_ms']+r['cpu_sys_ms'] >= 20, r"

# The sentinel exists before the command runs its own code: the task reads it.
"$TRACEKIT" exec -q --app selfcheck -- sh -c "cat $R/pids/\$\$ > seen; awk '{sub(/.*\) /, \"\"); print \$20}' /proc/\$\$/stat > myticks; echo \$\$ > mypid"
check "the task saw its own sentinel 'PID START_TICKS' at its first line" [ "$(cat seen)" = "$(cat mypid) $(cat myticks)" ]
check "record pid and start_ticks match the task" \
  py "import json; r=[json.loads(l) for l in open('$R/events.selfcheck.jsonl')][-1]; assert r['pid']==$(cat mypid) and r['start_ticks']==$(cat myticks), r"
check "no sentinel left after all runs" bash -c "[ -z \"\$(ls -A $R/pids)\" ]"

# --- record fields ---
TS_ENQUEUE=1700000000000 "$TRACEKIT" exec -q --app rec --attempt 3 -- true
check "record: 34 keys in the documented order, defaults" py "
import json, re
line = open('$R/events.rec.jsonl').read().splitlines()[-1]
r = json.loads(line)
keys = ['trace_id','span_id','parent_id','module_id','instance_id','ts_enqueue','ts_start','ts_end','node','stage','method','path','input','output','pid','cpuset','bytes_in','bytes_out','status','start_ticks','signal','cpu_user_ms','cpu_sys_ms','max_rss_kb','argv','app','cpu_units','cpu_binding','cpuset_applied','cpu_weight_applied','cpu_quota_applied','cgroup','attempt','error']
assert list(r) == keys, list(r)
assert re.fullmatch(r'[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}', r['trace_id'])
assert r['ts_enqueue'] == 1700000000000 and r['ts_start'] <= r['ts_end']
assert r['node'] == 'node1' and r['stage'] == 'cloud' and r['module_id'] == 'rec' and r['path'] == 'true'
assert r['attempt'] == 3 and r['cpu_binding'] == 'none' and r['cgroup'] is None and r['bytes_in'] is None
assert ', \"' in line and '\": ' in line
"
"$TRACEKIT" exec -q --app rec --trace-id abc-1 --ts-enqueue 5 -- true
check "--trace-id and --ts-enqueue are recorded" py "import json; r=[json.loads(l) for l in open('$R/events.rec.jsonl')][-1]; assert r['trace_id']=='abc-1' and r['ts_enqueue']==5"
"$TRACEKIT" exec -q --run-id other --logs alt --pid-dir alt/p -- true
check "--run-id/--logs/--pid-dir choose the files" bash -c "[ -s alt/other/events.true.jsonl ] && [ -d alt/p ] && [ -z \"\$(ls -A alt/p)\" ]"
