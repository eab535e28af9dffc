# launcher_lib.sh -- what t_worker_launcher and t_local check of the task
# launcher (task/launcher.h) through /proc.  Sourced after lib.sh.

# launchers PID: its children running `tracekit exec --launcher` that read
# their socket (its task processes, also its children, have /dev/null as stdin)
launchers() {
  local k
  for k in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    [ "$({ tr '\0' ' ' </proc/"$k"/cmdline; } 2>/dev/null)" = "tracekit exec --launcher " ] &&
      case $(readlink /proc/"$k"/fd/0 2>/dev/null) in socket:*) echo "$k" ;; esac
  done
}
# a task command: what it sees of the process that runs it (its exec) and of that one's parent
PROBE='printf "exec=%s cmdline=%s parent=%s\n" "$PPID" "$(tr "\0" " " </proc/$PPID/cmdline)" "$(sed "s/.*) //" /proc/$PPID/stat | cut -d" " -f2)"'
# probe_forks FILE PARENT N: FILE holds the PROBE lines of N tasks, each run
# by a process of its own that is a fork of the launcher (its command line,
# not a tracekit exec of its own) and a child of PARENT
probe_forks() {
  py '
import re, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("exec=")]
assert len(lines) == int(sys.argv[3]), lines
execs = set()
for l in lines:
    m = re.match(r"exec=(\d+) cmdline=(.*) parent=(\d+)$", l.rstrip("\n"))
    assert m, l
    assert m.group(2) == "tracekit exec --launcher ", l
    assert m.group(3) == sys.argv[2], l
    execs.add(m.group(1))
assert len(execs) == len(lines), execs
' "$@"
}
