# rq_lib.sh -- a private redis-server for the t_rq*.sh tests (source after
# lib.sh).  127.0.0.1 only, a random free port, a random password, data in
# $T/redis, no RDB snapshots; stopped by PID (lib.sh's cleanup, or here).
#
# The tests drive Redis through build/asan/test_rq, whose argument mode is
# the integration driver (see the end of tests/unit/test_rq.c).  The URL
# with the password goes through the environment (RQ_URL), never argv.
RQ=$ROOT/build/asan/test_rq

rq_require() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    skip "redis-server not installed"; exit 0
  fi
  if [ ! -x "$RQ" ]; then not_ok "$RQ missing (run make units)"; exit 1; fi
  REDIS_PORT=$(redis_free_port)
  REDIS_PW=tk-$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
}

redis_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# redis_start [CONFIG LINE]...: write $T/redis.conf and start the server
# (port and password from rq_require).
redis_start() {
  mkdir -p "$T/redis"
  {
    echo "port $REDIS_PORT"
    echo "bind 127.0.0.1"
    echo "requirepass $REDIS_PW"
    echo "save \"\""
    echo "dir $T/redis"
    echo "logfile $T/redis/redis.log"
    for line in "$@"; do echo "$line"; done
  } >"$T/redis.conf"
  chmod 600 "$T/redis.conf"
  export RQ_URL="redis://:$REDIS_PW@127.0.0.1:$REDIS_PORT/0"
  redis_spawn
}

# Start (again) with the same configuration, port and data folder.
redis_spawn() {
  redis-server "$T/redis.conf" &
  REDIS_PID=$!
  track_pid "$REDIS_PID"
  local i
  for i in $(seq 1 250); do
    if [ "$(REDISCLI_AUTH=$REDIS_PW redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
      return 0
    fi
    sleep 0.02
  done
  not_ok "redis-server did not start (see $T/redis/redis.log)"
  exit 1
}

redis_kill9() { kill -9 "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; }

# rcli ARGS...: redis-cli against the test server (password from the environment).
rcli() { REDISCLI_AUTH=$REDIS_PW redis-cli -p "$REDIS_PORT" "$@"; }

# json_field FILE KEY: integer field of the one-line JSON in FILE.
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# wait_pid PID SECONDS: wait for a child, killing it after SECONDS; its exit status.
wait_pid() {
  local pid=$1 secs=$2 i
  for i in $(seq 1 $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; fi
  wait "$pid"
}
