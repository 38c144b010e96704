# test-recovery.sh - slots of killed processes come back: kill -9 a holder,
# and a later caller gets the slot within about a second; kill -9 a waiter,
# and the one queued behind it is not held up.
. "$(dirname "$0")/lib.sh"

probe_for() {
	[ "$1" = connect ] && probe_path connect || probe_path open
}

test_recovery_kill_holder() {
	gate_target "$1"
	conf_pool 1 wait "$MATCH" 'timeout = "5s"'
	start a "$(probe_for "$1")" "$TARGET" 1 "@$TMP/never"
	wait_line a 'ok|err'
	expect_line a 'ok fd='
	kill -KILL "${PID_OF[a]}"
	run b "$(probe_for "$1")" "$TARGET" 1 0
	expect_line b 'ok fd='
	expect_ms b 'ok fd=' 0 1200
	quiet b
}

# test_recovery_kill_zombie_holder KIND: the killed holder stays a zombie
# (its parent, here sleep(1), never reaps it); its slot comes back all the
# same.
test_recovery_kill_zombie_holder() {
	local pid
	gate_target "$1"
	conf_pool 1 wait "$MATCH" 'timeout = "5s"'
	start z bash -c '"$@" & echo "pid=$!" >&2; exec sleep 30' bash \
		"$(probe_for "$1")" "$TARGET" 1 "@$TMP/never"
	wait_line z 'ok|err'
	expect_line z 'ok fd='
	pid=$(state_get "$TMP/z.err" pid)
	kill -KILL "$pid"
	sleep 0.05
	grep -q '^State:.*Z' "/proc/$pid/status" ||
		fail "holder $pid is not a zombie: $(grep State "/proc/$pid/status")"
	run b "$(probe_for "$1")" "$TARGET" 1 0
	expect_line b 'ok fd='
	expect_ms b 'ok fd=' 0 1200
	quiet b
}

test_recovery_kill_waiter() {
	local t0
	gate_target "$1"
	conf_pool 1 wait "$MATCH" 'timeout = "5s"'
	start a "$(probe_for "$1")" "$TARGET" 1 "@$TMP/ra"
	wait_line a 'ok|err'
	expect_line a 'ok fd='
	start w1 "$(probe_for "$1")" "$TARGET" 1 0
	wait_waiting 1
	start w2 "$(probe_for "$1")" "$TARGET" 1 0
	wait_waiting 2
	kill -KILL "${PID_OF[w1]}"
	sleep 0.05
	t0=$(now_ms)
	release ra
	wait_line w2 'ok|err' 3
	expect_line w2 'ok fd='
	[ $(($(now_ms) - t0)) -lt 1200 ] ||
		fail "w2 got the slot $(($(now_ms) - t0)) ms after it was freed"
	finish w2
	finish a
	[ -s "$TMP/w1.out" ] && fail "the killed waiter w1 printed: $(cat "$TMP/w1.out")"
	quiet a w2
}

run_case "$@"
