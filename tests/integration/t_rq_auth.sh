#!/usr/bin/env bash
# Connecting to a password-protected Redis: the password from a file, clear
# and fast failures, and never a password in a message.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start "user alice on >alice-$REDIS_PW ~* &* +@all"
export RQ_RUN=auth
printf '%s\n' "$REDIS_PW" >"$T/pw"
chmod 600 "$T/pw"

check "password from --redis-password-file connects" \
  env RQ_URL="redis://127.0.0.1:$REDIS_PORT/0" RQ_PASSWORD_FILE="$T/pw" "$RQ" connect
check "password as ?password= connects" \
  env RQ_URL="redis://127.0.0.1:$REDIS_PORT/0?password=$REDIS_PW" "$RQ" connect
check "ACL user connects" env RQ_URL="redis://alice:alice-$REDIS_PW@127.0.0.1:$REDIS_PORT/0" "$RQ" connect

# A wrong password: fails fast, says so, shows neither password.
start=$(date +%s%N)
RQ_URL="redis://:Wr0ng-secret@127.0.0.1:$REDIS_PORT/0" "$RQ" connect >"$T/out" 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "wrong password fails" test "$rc" -ne 0
check "wrong password fails fast (${ms} ms < 2000)" test "$ms" -lt 2000
check "message says the password is wrong" grep -q 'authentication failed: wrong password' "$T/err"
check "message shows where, redacted" grep -q "redis://:\*\*\*@127.0.0.1:$REDIS_PORT/0" "$T/err"
expect_fail "message does not contain the wrong password" grep -q 'Wr0ng-secret' "$T/out" "$T/err"
expect_fail "message does not contain the real password" grep -qF -- "$REDIS_PW" "$T/out" "$T/err"

RQ_URL="redis://alice:bad-$REDIS_PW@127.0.0.1:$REDIS_PORT/0" "$RQ" connect 2>"$T/err"
check "wrong ACL password: user name or password" grep -q 'wrong user name or password' "$T/err"
expect_fail "... without the password" grep -qF -- "bad-$REDIS_PW" "$T/err"

RQ_URL="redis://127.0.0.1:$REDIS_PORT/0" "$RQ" connect 2>"$T/err"
check "no password: the server requires one" grep -q 'requires a password' "$T/err"

printf 'not-it\n' >"$T/badpw"
chmod 600 "$T/badpw"
RQ_URL="redis://127.0.0.1:$REDIS_PORT/0" RQ_PASSWORD_FILE="$T/badpw" "$RQ" connect 2>"$T/err"
check "wrong password from a file fails" grep -q 'authentication failed' "$T/err"
expect_fail "... without the file's content" grep -q 'not-it' "$T/err"

port=$(redis_free_port)
RQ_URL="redis://:x@127.0.0.1:$port/0" "$RQ" connect 2>"$T/err"
check "nothing listening: connection refused" grep -q 'connection refused' "$T/err"
RQ_URL="rediss://:x@127.0.0.1:$REDIS_PORT/0" "$RQ" connect 2>"$T/err"
check "rediss:// is refused clearly" grep -q 'TLS) is not supported' "$T/err"
