#!/usr/bin/env bash
# t_exec_ffmpeg.sh -- gen-inputs makes a tiny clip; a real ffmpeg transcode
# runs through the light1c profile via tracekit exec.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export RUN_ID=tff NODE_ID=node1
unset TS_ENQUEUE CPUSET CPU_WEIGHT CPU_QUOTA PROC_PID_DIR
R=logs/tff
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  skip "ffmpeg/ffprobe not installed (scripts/install-deps test installs them)"; exit 0
fi

# --- gen-inputs ---
check "gen-inputs --help exits 0" bash -c "'$TRACEKIT' gen-inputs --help | grep -q 'usage: tracekit gen-inputs'"
"$TRACEKIT" gen-inputs --output in --sizes 853x480 2>err; rc=$?
check "gen-inputs: odd size is a usage error naming it" bash -c "[ $rc = 2 ] && grep -q \"invalid size '853x480'\" err"
"$TRACEKIT" gen-inputs --output in --patterns rainbow 2>err; rc=$?
check "gen-inputs: unknown pattern is a usage error" bash -c "[ $rc = 2 ] && grep -q \"unknown pattern 'rainbow'\" err"
check "gen-inputs: nothing written on usage errors" bash -c "[ ! -e in ]"

"$TRACEKIT" gen-inputs --output in --durations 1 --sizes 160x120,96x64 --patterns testsrc2,mandelbrot >out1; rc=$?
check "gen-inputs: 4 clips generated" bash -c "[ $rc = 0 ] && grep -q '4 generated, 0 kept, 0 failed' out1"
check "gen-inputs: names gen_WxH_Ds[_pattern].mp4" \
  bash -c "[ -s in/gen_160x120_1s.mp4 ] && [ -s in/gen_96x64_1s_mandelbrot.mp4 ] && [ -z \"\$(ls -A in | grep -v '^gen_.*\.mp4$')\" ]"
check "gen-inputs: the clip is 1 s of 160x120 H.264" bash -c \
  "ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height:format=duration -of csv=p=0 in/gen_160x120_1s.mp4 | tr '\n' ' ' | grep -Eq '^h264,160,120 1\.0'"
"$TRACEKIT" gen-inputs --output in --durations 1 --sizes 160x120 >out2
check "gen-inputs: a valid existing file is kept" grep -q '0 generated, 1 kept' out2
printf 'not a video' > in/gen_96x64_1s.mp4
"$TRACEKIT" gen-inputs --output in --durations 1 --sizes 96x64 >out3
check "gen-inputs: an invalid existing file is regenerated" \
  bash -c "grep -q '1 generated, 0 kept' out3 && [ \$(stat -c %s in/gen_96x64_1s.mp4) -gt 1000 ]"
"$TRACEKIT" gen-inputs --output in --durations 1 --sizes 160x120 --force >out4
check "gen-inputs --force regenerates" grep -q '1 generated, 0 kept' out4
"$TRACEKIT" gen-inputs --output in --durations 1 --sizes 96x64 --ffmpeg ./no-ffmpeg --force >out5 2>err5; rc=$?
check "gen-inputs: missing ffmpeg fails clearly (exit 1)" bash -c "[ $rc = 1 ] && grep -q 'cannot run' err5 && grep -q '1 failed' out5"

# --- a real transcode through the light1c profile ---
check "--list-profiles shows the four profiles" bash -c "'$TRACEKIT' exec --list-profiles | grep -c -E '^(medium480p|fast1080p|hevc1080p|light1c) ' | grep -qx 4"
"$TRACEKIT" exec --profile nope --input x --output y 2>err; rc=$?
check "unknown profile: usage error" bash -c "[ $rc = 2 ] && grep -q \"unknown --profile 'nope'\" err"

"$TRACEKIT" exec -q --profile light1c --input in/gen_160x120_1s.mp4 --output out/t1.mp4 --ts-enqueue 1 2>ff.log; rc=$?
check "light1c transcode via exec: exit 0" [ "$rc" = 0 ]
check "light1c output is 854x480 H.264" bash -c \
  "ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height -of csv=p=0 out/t1.mp4 | grep -qx 'h264,854,480'"
insize=$(stat -c %s in/gen_160x120_1s.mp4); outsize=$(stat -c %s out/t1.mp4)
check "record: ffmpeg app, profile argv with -y -nostdin, bytes_in/bytes_out > 0 and exact" py "
import json
r = [json.loads(l) for l in open('$R/events.ffmpeg.jsonl')][-1]
assert r['app'] == 'ffmpeg' and r['module_id'] == 'ffmpeg' and r['status'] == 0, r
assert r['argv'] == ['ffmpeg', '-y', '-nostdin', '-i', 'in/gen_160x120_1s.mp4', '-vf', 'scale=854:480', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '28', '-threads:v', '1', '-filter_threads', '1', '-c:a', 'copy', 'out/t1.mp4'], r['argv']
assert r['bytes_in'] == $insize > 0 and r['bytes_out'] == $outsize > 0, r
assert r['input'] == 'gen_160x120_1s.mp4' and r['output'] == 't1.mp4', r
assert r['cpu_units'] == 1 and r['cpu_user_ms'] > 10 and r['max_rss_kb'] > 1000, r"

# B33: an existing output is overwritten without a prompt.  Without -y an
# ffmpeg reading "n" from stdin would answer its own question and exit 1.
touch -d 2000-01-01 out/t1.mp4
"$TRACEKIT" exec -q --profile light1c --input in/gen_160x120_1s.mp4 --output out/t1.mp4 <<<"n" 2>/dev/null; rc=$?
check "existing output: overwritten, no prompt (-y -nostdin)" \
  bash -c "[ $rc = 0 ] && [ \$(stat -c %Y out/t1.mp4) -gt 946771200 ]"

# --profile with an ffmpeg under another name still measures its files
ln -s "$(command -v ffmpeg)" myff
"$TRACEKIT" exec -q --profile light1c --ffmpeg ./myff --input in/gen_96x64_1s.mp4 --output out/t3.mp4 2>/dev/null
check "--profile --ffmpeg ./myff: bytes measured" \
  py "import json,os; r=[json.loads(l) for l in open('$R/events.ffmpeg.jsonl')][-1]; assert r['argv'][0]=='./myff' and r['bytes_in']==os.path.getsize('in/gen_96x64_1s.mp4') and r['bytes_out']==os.path.getsize('out/t3.mp4')>0, r"

# A plain ffmpeg command line: inputs and output detected from the arguments
"$TRACEKIT" exec -q -- ffmpeg -hide_banner -loglevel error -nostdin -y -i in/gen_96x64_1s.mp4 -i in/gen_160x120_1s.mp4 -map 0:v -t 0.5 -c:v libx264 -preset ultrafast out/t2.mp4
check "plain ffmpeg command: bytes_in sums both inputs, output detected" py "
import json, os
r = [json.loads(l) for l in open('$R/events.ffmpeg.jsonl')][-1]
assert r['bytes_in'] == os.path.getsize('in/gen_96x64_1s.mp4') + os.path.getsize('in/gen_160x120_1s.mp4'), r
assert r['output'] == 't2.mp4' and r['bytes_out'] == os.path.getsize('out/t2.mp4') > 0, r"
check "no sentinel left" bash -c "[ -z \"\$(ls -A $R/pids)\" ]"
