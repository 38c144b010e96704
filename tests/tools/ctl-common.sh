# ctl-common.sh - what the shell tests of throttlectl share; sourced, never
# run. The test sets $ctl (throttlectl), $hold (pool-hold), $tmp (its own
# folder) and the array pids (processes its cleanup kills) first.

fail() {
	echo "FAIL: $*"
	exit 1
}

# Runs throttlectl ARGS, leaving stdout, stderr and status in $tmp/out,
# $tmp/err and $rc.
run() {
	"$ctl" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# Starts pool-hold ARGS in the background and waits until it says WORD;
# its output goes to $log, $tmp/hold.N for the Nth started.
start_hold() {
	local word=$1
	shift
	log="$tmp/hold.${#pids[@]}"
	"$hold" "$@" >"$log" 2>&1 &
	pids+=($!)
	for _ in $(seq 200); do
		grep -qx "$word" "$log" && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || fail "pool-hold $*: $(cat "$log")"
		sleep 0.05
	done
	fail "pool-hold $* never said $word"
}
