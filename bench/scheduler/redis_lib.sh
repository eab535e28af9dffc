# bench/scheduler/redis_lib.sh -- sourced by the scheduler benches: a private
# redis-server on loopback with a random port and password, its files in
# $W/redis.
#   bench_redis_start AOF   AOF: "yes" (appendfsync everysec) or "no"
# Sets PORT, PW, RP (its pid, also appended to pids[] for the caller's
# cleanup) and exports TRACEKIT_REDIS_URL; returns once it answers PING.
bench_redis_start() {
  local aof=$1
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PW=bench-$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
  mkdir -p "$W/redis"
  { printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly %s\n' "$PORT" "$PW" "$aof"
    [ "$aof" = yes ] && printf 'appendfsync everysec\n'
    printf 'dir %s\nlogfile %s\n' "$W/redis" "$W/redis/log"; } >"$W/redis.conf"
  chmod 600 "$W/redis.conf"
  redis-server "$W/redis.conf" & RP=$!
  pids+=("$RP")
  for _ in $(seq 100); do
    [ "$(REDISCLI_AUTH=$PW redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
  done
  export TRACEKIT_REDIS_URL="redis://:$PW@127.0.0.1:$PORT/0"
}
