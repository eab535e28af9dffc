#!/bin/bash
# tracekit worker against tasks that hunt for the Redis password (issue #13):
# a task of the worker's own user reads /proc of its parent (tracekit exec)
# and of the worker (whose pid its parent's --parent-pid names): the
# worker's environ is unreadable (not dumpable), its cmdline shows no
# password; with --task-user (root only) a task runs under that uid and
# cannot read the password file either.  --allow-argv refuses other
# programs without running them.  No message shows a password given in
# the user's place or without '@host', and a password that is a common
# word does not garble the messages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start

printf '%s\n' "$REDIS_PW" >"$T/pw"
chmod 600 "$T/pw"

# The probe: what a hostile task may try (stdout goes to its output file).
# (its parent is tracekit exec; exec's parent, the worker)
PROBE='w=$(sed "s/.*) //" /proc/$PPID/stat | cut -d" " -f2)
echo "uid=$(id -u) worker=$w"
echo "== parent environ"; tr "\0" "\n" </proc/$PPID/environ 2>&1
echo "== worker environ"; tr "\0" "\n" </proc/$w/environ 2>&1
echo "== worker cmdline"; tr "\0" " " </proc/$w/cmdline 2>&1; echo
f=$(tr "\0" "\n" </proc/$w/cmdline | sed -n "/^--redis-password-file$/{n;p;}")
echo "== password file $f"; [ -n "$f" ] && cat "$f" 2>&1
echo "== worker maps"; cat /proc/$w/maps >/dev/null 2>&1 && echo readable || echo denied'
probe_task() { python3 -c 'import json,sys; print(json.dumps({"argv": ["sh", "-c", sys.argv[1]], "app": "probe"}))' "$PROBE"; }

# The same-user cases need a user without CAP_SYS_PTRACE: as root, the
# worker (and so its tasks) runs as nobody, in a folder nobody may write.
AS=(); L=$T/logs
if [ "$(id -u)" = 0 ]; then
  if ! id nobody >/dev/null 2>&1; then skip "same-user cases: root without a user 'nobody'"; exit 0; fi
  AS=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
  chmod 711 "$T"
  L=$T/ulogs; mkdir -m 777 "$L"
fi

# run_probe NODE LOGS ENV WORKER-OPTIONS...: one probe task on a worker with
# TRACEKIT_REDIS_URL or nothing (ENV) and those options; $out is the task's
# output, $wpid the worker's pid.
run_probe() {
  local node=$1 logs=$2 envvar=$3; shift 3
  export RQ_RUN=wsec-$node   # a run of its own: the placer counts its tasks
  "$RQ" enqueue-json "$(probe_task)" >>"$T/ids" || not_ok "enqueue"
  env -u RQ_URL "$envvar" "${RUNAS[@]}" "$TRACEKIT" worker --run-id "$RQ_RUN" --logs "$logs" \
    --ttl 1 --cpu-binding none --node-id "$node" --parallel 1 --task-output "$logs/out-$node" \
    "$@" 2>"$T/$node.err" & wpid=$!
  track_pid "$wpid"
  "$RQ" placer Mem 2 0 1 >"$T/placer-$node.out" 2>&1 & pl=$!
  track_pid "$pl"
  wait_pid "$pl" 60
  # the worker is env's child (setpriv execs): its pid is the same
  kill -TERM "$wpid"; wait_pid "$wpid" 30
  out=$(cat "$logs/out-$node"/task-*.log 2>/dev/null)
}

# ---- the URL in the environment, same user ----
RUNAS=("${AS[@]}")
run_probe n1 "$L" TRACEKIT_REDIS_URL="$RQ_URL"
case $out in *"worker=$wpid"*) ok "env: the probe ran and found the worker's pid" ;;
  *) not_ok "env: probe output: $out $(cat "$T/n1.err")" ;; esac
case $out in *"TRACEKIT_REDIS_URL"*) not_ok "env: the task saw TRACEKIT_REDIS_URL: $out" ;;
  *) ok "env: no TRACEKIT_REDIS_URL in any environ the task can read" ;; esac
case $out in *"$REDIS_PW"*) not_ok "env: the task found the password" ;;
  *) ok "env: the task did not find the password" ;; esac
case $out in *"== worker maps"*denied*) ok "env: the worker's memory map is not readable" ;;
  *) not_ok "env: the worker's memory map is readable: $out" ;; esac

# ---- the URL with the password in argv, same user ----
run_probe n2 "$L" X=1 --redis "$RQ_URL"
case $out in *"worker=$wpid"*"== worker cmdline"*"--redis redis://:"*"@127.0.0.1:$REDIS_PORT/0"*)
  ok "argv: the worker's cmdline still shows the URL" ;;
  *) not_ok "argv: probe output: $out $(cat "$T/n2.err")" ;; esac
case $out in *"$REDIS_PW"*) not_ok "argv: the task found the password: $out" ;;
  *) ok "argv: the password is masked in the worker's cmdline" ;; esac
RUNAS=()

# ---- a password file and --task-user ----
if [ "$(id -u)" != 0 ]; then
  skip "--task-user: needs root (runs a task as nobody); not root here"
else
  chmod 755 "$T"   # the task user may reach its output folder...
  run_probe n3 "$T/logs" X=1 --redis "redis://127.0.0.1:$REDIS_PORT/0" \
    --redis-password-file "$T/pw" --task-user nobody
  chmod 711 "$T"   # ... and the password file is 0600 root
  nobody=$(id -u nobody)
  case $out in *"uid=$nobody worker=$wpid"*) ok "task-user: the task ran as nobody (uid $nobody)" ;;
    *) not_ok "task-user: probe output: $out $(cat "$T/n3.err")" ;; esac
  case $out in *"== password file $T/pw"*) ok "task-user: the task found the password file's name" ;;
    *) not_ok "task-user: no password file in the worker's cmdline: $out" ;; esac
  case $out in *"$REDIS_PW"*) not_ok "task-user: the task read the password: $out" ;;
    *) ok "task-user: the task could not read the password file or the worker" ;; esac
  check "task-user: tracekit exec wrote the task's record" test -s "$T/logs/wsec-n3/events.probe.jsonl"
fi
if [ "$(id -u)" != 0 ]; then
  expect_fail "--task-user is refused when not root" \
    "$TRACEKIT" worker --run-id x --task-user root 2>"$T/tu.err"
  grep -q "needs root" "$T/tu.err" && ok "... saying it needs root" || not_ok "task-user error: $(cat "$T/tu.err")"
elif [ ${#AS[@]} -gt 0 ]; then
  expect_fail "--task-user is refused when not root" \
    "${AS[@]}" "$TRACEKIT" worker --run-id x --task-user root 2>"$T/tu.err"
  grep -q "needs root" "$T/tu.err" && ok "... saying it needs root" || not_ok "task-user error: $(cat "$T/tu.err")"
  expect_fail "exec --user is refused when not root" \
    "${AS[@]}" "$TRACEKIT" exec --run-id x --logs "$L" --user root -- true 2>"$T/eu.err"
  grep -q "needs root" "$T/eu.err" && ok "... saying it needs root" || not_ok "exec --user error: $(cat "$T/eu.err")"
fi

# ---- --allow-argv ----
export RQ_RUN=wsec-n4
marker=$T/ran
"$RQ" enqueue-json "{\"argv\": [\"sh\", \"-c\", \"touch $marker\"]}" \
  '{"argv": ["true"]}' '{"argv": ["/bin/true"]}' >"$T/ids2" || not_ok "enqueue"
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" worker --run-id "$RQ_RUN" \
  --logs "$T/logs" --ttl 1 --cpu-binding none --node-id n4 --parallel 1 \
  --allow-argv true,sleep 2>"$T/n4.err" & wpid=$!
track_pid "$wpid"
"$RQ" placer Mem 2 0 3 >"$T/placer-n4.out" 2>&1 & pl=$!
track_pid "$pl"
wait_pid "$pl" 60
kill -TERM "$wpid"; wait_pid "$wpid" 30
expect_fail "allow-argv: the refused task did not run" test -e "$marker"
read -r sh_id <"$T/ids2"
grep -q "task $sh_id: refused: program 'sh' is not in this worker's --allow-argv list" "$T/n4.err" \
  && ok "allow-argv: the refusal is logged with its reason" || not_ok "allow-argv log: $(cat "$T/n4.err")"
"$RQ" results >"$T/ledger"
py '
import json, sys
by = {r["task_id"]: r for r in map(json.loads, open(sys.argv[1]))}
ids = [int(l) for l in open(sys.argv[2])]
assert by[ids[0]]["status"] == "failed" and by[ids[0]]["rc"] == 127, by[ids[0]]
assert by[ids[1]]["status"] == "done", by[ids[1]]
assert by[ids[2]]["status"] == "done", by[ids[2]]  # /bin/true: the same file as true
' "$T/ledger" "$T/ids2" && ok "allow-argv: refused as failed (rc 127), allowed ones done" \
  || not_ok "allow-argv ledger: $(cat "$T/ledger")"
expect_fail "allow-argv: an empty entry is a usage error" \
  "$TRACEKIT" worker --run-id x --allow-argv "true,,sleep" 2>/dev/null

# ---- messages: a password in odd places, a wrong one, a common word ----
export RQ_RUN=wsec-n5
S=Zq7SECRETx
for url in "redis://$S@127.0.0.1:$REDIS_PORT/0" "redis://%3A$S@127.0.0.1:$REDIS_PORT/0" \
           "redis://:$S" "redis://:$S/0" "redis://127.0.0.1:$S" \
           "redis://127.0.0.1:$REDIS_PORT/0?pasword=$S" "redis://:$S@127.0.0.1:$REDIS_PORT/0"; do
  env -u RQ_URL "$TRACEKIT" worker --run-id "$RQ_RUN" --logs "$T/logs" --node-id n5 \
    --redis "$url" >"$T/bad.out" 2>"$T/bad.err"
  rc=$?
  if [ "$rc" = 0 ]; then not_ok "$url: the worker ran"
  elif grep -qF "$S" "$T/bad.out" "$T/bad.err"; then not_ok "password printed: $(cat "$T/bad.err")"
  else ok "no password in the messages for a URL like ${url//$S/PW} (exit $rc)"; fi
done
env -u RQ_URL "$TRACEKIT" worker --run-id "$RQ_RUN" --logs "$T/logs" --node-id n5 \
  --redis "redis://:Redis@127.0.0.1:$REDIS_PORT/0" 2>"$T/word.err"
grep -q "Redis at redis://:\*\*\*@127.0.0.1:$REDIS_PORT/0: authentication failed" "$T/word.err" \
  && ok "a password that is a common word does not garble the message" \
  || not_ok "message: $(cat "$T/word.err")"
