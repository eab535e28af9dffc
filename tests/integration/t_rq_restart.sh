#!/usr/bin/env bash
# Redis killed (SIGKILL) and restarted mid-run, with the settings
# docs/redis.md asks for (appendonly yes, appendfsync always): every client
# reconnects with back-off, scripts are reloaded, and nothing is lost or
# done twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start "appendonly yes" "appendfsync always"
export RQ_RUN=restart
P=tk:restart
N=80
"$RQ" enqueue $N 1 100
"$RQ" worker n1 wa 2 2 4000 $N >"$T/wa.out" 2>&1 & wa=$!
"$RQ" worker n2 wb 2 2 4000 $N >"$T/wb.out" 2>&1 & wb=$!
"$RQ" placer Mem 4 0 $N >"$T/placer.out" 2>&1 & pl=$!
for i in $(seq 1 100); do
  d=$(rcli HGET $P:stats done 2>/dev/null)
  [ "${d:-0}" -ge 15 ] && break
  sleep 0.05
done
before=$(rcli HGET $P:stats done)
check "mid-run: $before of $N done" test "$before" -ge 15 -a "$before" -lt $N
running=$(( $(rcli LLEN $P:inflight:wa) + $(rcli LLEN $P:inflight:wb) ))
redis_kill9
sleep 0.7
redis_spawn
after=$(rcli HGET $P:stats done)
check "nothing acknowledged was lost ($after >= $before done after the restart)" test "$after" -ge "$before"
rc=0
for p in $pl $wa $wb; do wait_pid $p 90 || rc=1; done
check "scheduler and workers finished" test $rc = 0
check "every task done exactly once" "$RQ" verify $N
check "the clients reconnected" grep -q 'reconnects [1-9]' "$T/placer.out"
check "... workers too" grep -q 'reconnects [1-9]' "$T/wa.out"
check "the AOF was used" test -s "$(ls -d "$T"/redis/appendonlydir 2>/dev/null)/$(ls "$T"/redis/appendonlydir 2>/dev/null | grep incr | head -1)"
echo "# tasks running at the kill: $running"
