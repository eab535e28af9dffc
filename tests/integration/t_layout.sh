#!/usr/bin/env bash
# t_layout.sh -- the architecture stays as docs/hacking.md describes it:
# the layering of src/ (common/ includes only common/, parquet/ only itself
# and common/, no header of src/cmd/ included outside it but by main.c),
# includes written from src/, a purpose comment atop every .c file, and the
# size limits (no function over 150 lines, no command entry over 80).
. "$(dirname "$0")/lib.sh"
cd "$ROOT/src" || exit 1

# FILE:LINE:group/name.h for every quoted include of the given files
includes() { grep -Hn '^#include "' "$@" | sed -E 's/#include "([^"]*)".*/\1/'; }
# the lines of a finding on one line
one_line() { paste -sd';' | sed 's/;/; /g'; }

bad=$(includes common/*.[ch] | grep -vE ':common/[a-z0-9_]+\.h$' | one_line)
check "common/ includes only common/${bad:+: $bad}" test -z "$bad"

bad=$(includes parquet/*.[ch] | grep -vE ':(parquet|common)/[a-z0-9_]+\.h$' | one_line)
check "parquet/ includes only parquet/ and common/${bad:+: $bad}" test -z "$bad"

bad=$(includes $(ls */*.[ch] | grep -v '^cmd/') | grep -E ':cmd/' | one_line)
check "nothing outside src/cmd/ but main.c includes a command header${bad:+: $bad}" test -z "$bad"

bad=$(includes main.c */*.[ch] | awk -F: '{ f = $3 } f !~ /^[a-z]+\/[a-z0-9_]+\.h$/ || system("test -f " f) { print }')
check "includes are written from src/ and name files that exist${bad:+: $bad}" test -z "$bad"

groups=$(ls -d */ | tr -d / | sort | tr '\n' ' ')
check "src/ has the folders of the design ($groups)" \
  test "$groups" = "cmd collect common http opendc parquet report sched task trace "

bad=$(for f in main.c */*.c; do head -1 "$f" | grep -q '^/\* [a-z0-9_]*\.c -- ' || echo "$f"; done)
check "every .c file opens with 'NAME.c -- purpose'${bad:+: $bad}" test -z "$bad"

lengths=$(python3 "$ROOT/tests/tools/funclen.py" .)
long=$(awk '$1 > 150 { print $3 " (" $1 " lines, " $2 ")" }' <<<"$lengths" | paste -sd';' | sed 's/;/; /g')
check "no function over 150 lines${long:+: $long}" test -z "$long"
long=$(awk '$3 ~ /^cmd_/ && $1 > 80 { print $3 " (" $1 " lines)" }' <<<"$lengths" | paste -sd';' | sed 's/;/; /g')
check "no command entry over 80 lines${long:+: $long}" test -z "$long"
n=$(grep -c '' <<<"$lengths")
check "the length check read the functions ($n)" test "$n" -gt 500

# the checks themselves: a planted violation is found
mkdir -p "$T/src/common" "$T/src/sched"
printf '/* x.c -- x */\n#include "sched/rq.h"\n' >"$T/src/common/x.c"
out=$(cd "$T/src" && includes common/*.[ch] | grep -vE ':common/[a-z0-9_]+\.h$')
check "the layering check finds common/ including sched/" test -n "$out"
{ echo 'static int f(void)'; echo '{'; for i in $(seq 200); do echo "    (void)$i;"; done; echo '}'; } >"$T/src/sched/y.c"
out=$(python3 "$ROOT/tests/tools/funclen.py" "$T/src" | awk '$1 > 150')
check "the length check finds a 203-line function" grep -q ' f$' <<<"$out"

# No shell between tracekit and a command (docs/hacking.md): task and user
# input reaches programs as an argv, never through system() or popen().
bad=$(cd "$ROOT" && grep -rnE '(^|[^a-z_])(system|popen)[[:space:]]*\(' src tests bench examples \
        --include='*.c' --include='*.h' | one_line)
check "no system() or popen() in the C code${bad:+: $bad}" test -z "$bad"
