#!/usr/bin/env bash
# run-fuzz.sh EXE SEEDS WORK [LIBFUZZER-FLAG...] - fuzzes one target for
# THR_FUZZ_SECONDS (default 60) from the committed seeds in SEEDS, which it
# only reads: new inputs go to WORK/corpus, a crash's input to
# WORK/artifacts, libFuzzer's output to WORK/log. Prints one summary line
# (runs, executions, coverage, corpus); on a crash, the log's end and what
# to do with the input. Exit 0 when no input failed, else 1.
set -u
exe=$1 seeds=$2 work=$3
shift 3
secs=${THR_FUZZ_SECONDS:-60}
name=$(basename "$seeds")
dict=${seeds%/corpus/*}/dict/${name%%-*}.dict   # config-include: config.dict

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp" || exit 1
flags=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
       -print_final_stats=1 -artifact_prefix="$work/artifacts/")
[ -f "$dict" ] && flags+=(-dict="$dict")

# The targets make their private folders under TMPDIR; a crash leaves its
# folder behind, and WORK/tmp keeps it out of /tmp.
TMPDIR=$work/tmp timeout $((secs * 2 + 120)) \
	"$exe" "${flags[@]}" "$@" "$work/corpus" "$seeds" >"$work/log" 2>&1
rc=$?

done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -n1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
echo "$(basename "$exe"): ${secs}s, ${execs:-?} executions; ${done_line:-no DONE line}"
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
	tail -n 40 "$work/log"
	echo "FAIL: $(basename "$exe") exited $rc; inputs in $work/artifacts:"
	ls -l "$work/artifacts"
	echo "Fix the cause, then commit the input to $seeds/ (named" \
	     "crash-<what>), where the -corpus test replays it."
	exit 1
fi
exit 0
