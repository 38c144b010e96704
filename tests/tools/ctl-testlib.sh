# ctl-testlib.sh - what the shell tests of throttlectl share, sourced after
# they set ctl (throttlectl), hold (pool-hold), tmp (a folder of their own)
# and pids=() (processes to kill at the end). Defines functions only; starts
# nothing and removes nothing by itself.

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

# Runs CMD ARGS every 0.1 s, up to 10 s, until it succeeds; else fails
# saying WHAT never happened. Usage: await WHAT CMD [ARGS...]
await() {
	local what=$1
	shift
	for _ in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	fail "$what"
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

# Kills what start_hold and the test started, and reaps it.
stop_started() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
