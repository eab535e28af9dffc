#!/usr/bin/env bash
# The finish of the tool: every command's --help lists exactly the options its
# parser accepts, the man pages carry the same options and render cleanly,
# make install puts binary, man pages, completion and systemd units in place,
# completion offers real commands and options, and --log-file works.
. "$(dirname "$0")/lib.sh"
TK=$ROOT/build/tracekit
MAN=$ROOT/build/man

commands=$("$TK" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')
check "tracekit --help lists commands" test -n "$commands"

# Options a command accepts, as its parser reports them (--list-options:
# "--name", or "--name=" when it takes a value).
accepted() { "$TK" "$1" --list-options; }
# Options a --help text defines: on each option line, the options of its
# leading term ("--a N, --b S," lists several) and of any further column
# ("--scale W:H   (default ...)  --preset NAME (default ...)": an option
# after two or more spaces); options named inside a description are not.
help_opts() {
  awk '/^  (-[a-zA-Z], )?--[a-z]/ {
    line = $0; sub(/^ +/, "", line)
    n = match(line, /  /)
    lead = n ? substr(line, 1, n - 1) : line; rest = n ? substr(line, n) : ""
    while (match(lead, /--[a-z][a-z0-9-]*/)) {
      print substr(lead, RSTART, RLENGTH); lead = substr(lead, RSTART + RLENGTH)
    }
    while (match(rest, /  +(-[a-zA-Z], )?--[a-z][a-z0-9-]*/)) {
      o = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
      sub(/^ +(-[a-zA-Z], )?/, "", o); print o
    }
  }' | sort -u
}

for c in $commands; do
  help=$("$TK" "$c" --help) || { not_ok "$c --help fails"; continue; }
  acc=$(accepted "$c") || { not_ok "$c --list-options fails"; continue; }
  s=$(sed 's/=$//' <<<"$acc" | sort -u); h=$(printf '%s\n' "$help" | help_opts)
  missing=$(comm -23 <(echo "$s") <(echo "$h") | tr '\n' ' ')
  extra=$(comm -13 <(echo "$s") <(echo "$h") | tr '\n' ' ')
  if [ -z "$missing" ] && [ -z "$extra" ]; then
    ok "$c: --help documents exactly the $(echo "$s" | wc -l) options it accepts"
  else
    not_ok "$c: options not in --help: [$missing]; in --help but not accepted: [$extra]"
  fi
  page=$MAN/tracekit-$c.1
  if [ ! -f "$page" ]; then not_ok "$c: no man page (make man)"; continue; fi
  warn=$(groff -man -ww -z -Tutf8 "$page" 2>&1)
  check "$c: man page renders without warnings${warn:+ ($warn)}" test -z "$warn"
  text=$(MANWIDTH=200 man -l "$page" 2>/dev/null | col -b)
  bad=
  for o in $h; do
    grep -qF -- "$o" <<<"$text" || bad="$bad $o"
  done
  check "$c: man page has every --help option${bad:+ (missing:$bad)}" test -z "$bad"
  # every option the help defines is accepted (not "unknown option"); --help
  # after it makes the command stop there instead of doing its work
  unknown=
  for o in $h; do
    if grep -qx -- "$o" <<<"$acc"; then a=$o; else a=$o=1; fi
    out=$(timeout -s KILL 10 "$TK" "$c" "$a" --help 2>&1 </dev/null | head -3)
    grep -qi "unknown option\|unrecognized option" <<<"$out" && unknown="$unknown $o"
  done
  check "$c: every documented option is accepted${unknown:+ (unknown:$unknown)}" test -z "$unknown"
done
check "tracekit(1) lists every command" \
  bash -c "t=\$(MANWIDTH=200 man -l '$MAN/tracekit.1' | col -b); for c in $(echo $commands); do grep -q \"tracekit-\$c(1)\" <<<\"\$t\" || exit 1; done"

# help COMMAND is --help
check "tracekit help exec = tracekit exec --help" \
  bash -c "diff <('$TK' help exec) <('$TK' exec --help)"
expect_fail "help for an unknown command fails" "$TK" help nosuch

# make install into a staging folder
make -C "$ROOT" --no-print-directory -s install DESTDIR="$T/inst" PREFIX=/usr >"$T/install.log" 2>&1
check "make install succeeds" test -x "$T/inst/usr/bin/tracekit"
n=0; for c in $commands; do [ -f "$T/inst/usr/share/man/man1/tracekit-$c.1" ] && n=$((n + 1)); done
check "make install installs a man page per command ($n)" test "$n" -eq "$(echo "$commands" | wc -w)"
check "make install installs bash completion" test -f "$T/inst/usr/share/bash-completion/completions/tracekit"
check "make install installs the systemd units with the binary's path" \
  grep -q '^ExecStart=/usr/bin/tracekit worker' "$T/inst/usr/lib/systemd/system/tracekit-worker@.service"
links=$(cd "$T/inst/usr/share/doc/tracekit" && python3 "$ROOT/tests/integration/helpers/doclinks.py" README.md docs/*.md examples/*.md 2>&1)
check "the installed README's and docs' links resolve${links:+: $links}" \
  bash -c '[ -z "$1" ] && [ -f "$2/docs/guide.md" ]' _ "$links" "$T/inst/usr/share/doc/tracekit"
check "no unit is left with a placeholder" bash -c "! grep -q @BINDIR@ '$T'/inst/usr/lib/systemd/system/*.service"

# the units pass systemd's own checker
if command -v systemd-analyze >/dev/null; then
  for u in "$T"/inst/usr/lib/systemd/system/*.service; do
    sed "s|/usr/bin/tracekit|$TK|" "$u" >"$T/$(basename "$u")"
    out=$(cd "$T" && MANPATH=$T/inst/usr/share/man systemd-analyze verify "$T/$(basename "$u")" 2>&1)
    check "systemd-analyze verify $(basename "$u")${out:+: $out}" test -z "$out"
  done
else
  skip "systemd-analyze not installed"
fi

# completion
comp() { # WORDS...: complete the last word
  PATH=$ROOT/build:$PATH bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tracekit; echo "${COMPREPLY[*]}"' \
    _ "$ROOT/dist/bash-completion/tracekit" "$@"
}
check "completion: commands" bash -c "[[ ' $(comp tracekit '') ' == *' collect '* && ' $(comp tracekit '') ' == *' report '* ]]"
check "completion: options of a command" test "$(comp tracekit exec --cpu-b)" = "--cpu-binding"
check "completion: values of an option" test "$(comp tracekit exec --cpu-binding ex)" = "exclusive"
check "completion: actions" test "$(comp tracekit collect st)" = "start stop status"
check "completion: --mix offers the profiles" test "$(comp tracekit dispatch --mix '')" = "medium480p= fast1080p= hevc1080p= light1c="
check "completion: --mix after a comma" test "$(comp tracekit local --mix medium480p=2,li)" = "medium480p=2,light1c="
check "completion: the dispatcher's --policy names" test "$(comp tracekit dispatch --policy dur)" = "duration-greedy duration-online"
check "completion: the scheduler's --policy names" test "$(comp tracekit scheduler --policy Core)" = "CoreMem CoreMemInv"
check "completion: local's --policy offers both" \
  bash -c '[[ " $1 " == *" rr3 "* && " $1 " == *" FilterOnly "* ]]' _ "$(comp tracekit local --policy '')"
check "completion: the command after exec --" bash -c "[[ ' $(comp tracekit exec -- bas) ' == *' bash '* ]]"

# --log-file and TRACEKIT_LOG_FILE
"$TK" --log-file "$T/a.log" exec --logs "$T/logs" --run-id r1 -- true 2>/dev/null
check "--log-file gets the log lines (time, level, command)" \
  grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z info  exec: true pid' "$T/a.log"
TRACEKIT_LOG_FILE=$T/b.log "$TK" exec --logs "$T/logs" --run-id r1 -- true 2>/dev/null
check "TRACEKIT_LOG_FILE gets the log lines" grep -q 'exec: true pid' "$T/b.log"
"$TK" --log-file "$T/a.log" export opendc --no-such-option 2>/dev/null
check "--log-file also gets a command-line error" \
  grep -qE '^[0-9]{4}-[0-9-]+T[0-9:.]+Z error export: usage: .*--no-such-option' "$T/a.log"
"$TK" --log-file "$T/none/x.log" exec -- true 2>"$T/err"; rc=$?
check "an unwritable --log-file exits 2" test "$rc" -eq 2
check "... naming the file" grep -q "cannot open the log file '$T/none/x.log'" "$T/err"

# every relative link [x](path#anchor) in README.md and docs/*.md names a file
# and a heading that exist (GitHub's heading anchors)
links=$(cd "$ROOT" && python3 tests/integration/helpers/doclinks.py README.md docs/*.md 2>&1)
check "doc links resolve to files and headings${links:+: $links}" test -z "$links"
printf '# One\n\n[ok](#one) [bad](#two) [gone](nosuch.md)\n' >"$T/links.md"
out=$(python3 "$ROOT/tests/integration/helpers/doclinks.py" "$T/links.md"); rc=$?
check "the link check finds a missing heading and a missing file" \
  bash -c "[ $rc -eq 1 ] && grep -q '#two' <<<\"\$1\" && grep -q nosuch.md <<<\"\$1\" && ! grep -q '#one' <<<\"\$1\"" _ "$out"
