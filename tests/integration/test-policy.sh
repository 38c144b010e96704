# test-policy.sh - what a call does on a full pool, for open() and connect():
# wait (limit reached, never passed), timeout, fail, errno =, hold = call,
# observe, a signal during a wait, and non-blocking sockets. Timing bounds
# are loose: a shared 2-core machine only ever adds time.
. "$(dirname "$0")/lib.sh"

# probe_for KIND: the probe binary for open or connect cases.
probe_for() {
	[ "$1" = connect ] && probe_path connect || probe_path open
}

# hold_one KIND NAME: NAME takes the only slot and holds it until
# "release rNAME".
hold_one() {
	start "$2" "$(probe_for "$1")" "$TARGET" 1 "@$TMP/r$2"
	wait_line "$2" 'ok|err'
	expect_line "$2" 'ok fd='
}

# test_policy_wait_limit_reached KIND: five callers, a pool of two: all get
# through, two at a time, the last ones after waiting.
test_policy_wait_limit_reached() {
	local i slow=0 ms
	gate_target "$1"
	conf_pool 2 wait "$MATCH"
	for i in 1 2 3 4 5; do
		start "p$i" "$(probe_for "$1")" "$TARGET" 1 300
	done
	for i in 1 2 3 4 5; do
		finish "p$i"
		expect_line "p$i" 'ok fd='
		ms=$(ms_of "p$i" 'ok fd=')
		[ "$ms" -ge 450 ] && slow=$((slow + 1))
	done
	witness_reached 2
	[ "$slow" -ge 1 ] || fail "nobody waited for a slot (expected >= 1 wait of ~600 ms)"
	if [ "$WITNESS" = server ]; then
		[ "$(state_get "$TMP/server.state" total)" -eq 5 ] ||
			fail "server total=$(state_get "$TMP/server.state" total), expected 5"
	fi
	quiet p1 p2 p3 p4 p5
}

test_policy_timeout() {
	gate_target "$1"
	conf_pool 1 wait "$MATCH" 'timeout = "300ms"'
	hold_one "$1" a
	run b "$(probe_for "$1")" "$TARGET" 1 0
	expect_line b "err errno=$TIMEDOUT"
	expect_ms b err 250 3000
	release ra
	finish a
	quiet a b
}

test_policy_fail_at_once() {
	gate_target "$1"
	conf_pool 1 fail "$MATCH" 'timeout = "5s"'
	hold_one "$1" a
	run b "$(probe_for "$1")" "$TARGET" 1 0
	expect_line b "err errno=$REFUSED"
	expect_ms b err 0 250
	release ra
	finish a
	quiet a b
}

# test_policy_errno_override KIND: errno = replaces the per-call default,
# both for a refusal and for a timeout.
test_policy_errno_override() {
	local refuse timeout pool=$POOL
	gate_target "$1"
	if [ "$1" = connect ]; then
		refuse=ECONNREFUSED timeout=EHOSTUNREACH
	else
		refuse=EBUSY timeout=EMFILE
	fi
	conf_pool 1 fail "$MATCH" "errno = $refuse"
	hold_one "$1" a
	run b "$(probe_for "$1")" "$TARGET" 1 0
	expect_line b "err errno=$refuse"
	release ra
	finish a

	POOL=$pool.t
	conf_pool 1 wait "$MATCH" 'timeout = "200ms"' "errno = $timeout"
	hold_one "$1" a2
	run b2 "$(probe_for "$1")" "$TARGET" 1 0
	expect_line b2 "err errno=$timeout"
	expect_ms b2 err 150 3000
	release ra2
	finish a2
	rm -f "/dev/shm/throttle.$POOL"
	POOL=$pool
	quiet a b a2 b2
}

# test_policy_hold_call KIND: the slot is held only during the call, so two
# callers that keep their descriptors both get through a pool of one.
test_policy_hold_call() {
	gate_target "$1"
	conf_pool 1 fail "$MATCH" 'hold = call'
	hold_one "$1" a
	run b "$(probe_for "$1")" "$TARGET" 1 0
	expect_line b 'ok fd='
	in_use_is 0 "hold = call, while a holds its descriptor"
	if [ -n "$THR_SHIM" ]; then
		[ "$(poolstat granted)" -ge 2 ] ||
			fail "hold = call: pool granted=$(poolstat granted): the calls did not go through the pool"
	fi
	release ra
	finish a
	quiet a b
}

# test_policy_observe_counts_over KIND: observe never refuses or waits, and
# counts the call that found the pool full.
test_policy_observe_counts_over() {
	gate_target "$1"
	conf_pool 1 observe "$MATCH"
	hold_one "$1" a
	start b "$(probe_for "$1")" "$TARGET" 1 "@$TMP/rb"
	wait_line b 'ok|err'
	expect_line b 'ok fd='
	expect_ms b 'ok fd=' 0 250
	witness_reached 2
	[ "$(poolstat over)" -ge 1 ] 2>/dev/null ||
		fail "observe: pool over='$(poolstat over)', expected >= 1"
	release ra rb
	finish a
	finish b
	quiet a b
}

# test_policy_eintr KIND: a signal (handler without SA_RESTART) ends a wait
# with EINTR, and the interrupted caller leaves no trace in the queue.
test_policy_eintr() {
	local t0
	gate_target "$1"
	conf_pool 1 wait "$MATCH"
	hold_one "$1" a
	start b "$(probe_for "$1")" -s "$TARGET" 1 0
	wait_waiting 1
	t0=$(now_ms)
	kill -USR1 "${PID_OF[b]}"
	wait_line b err 2
	[ $(($(now_ms) - t0)) -lt 1500 ] || fail "EINTR came late"
	expect_line b signal
	expect_line b 'err errno=EINTR'
	release ra
	run c "$(probe_for "$1")" "$TARGET" 1 0
	expect_line c 'ok fd='
	expect_ms c 'ok fd=' 0 1000
	finish a
	finish b
	quiet a b c
}

# test_policy_sa_restart KIND: a signal whose handler has SA_RESTART, which
# would restart the real call, does not end the wait either: the call goes
# on waiting and gets its slot when the holder lets go.
test_policy_sa_restart() {
	gate_target "$1"
	conf_pool 1 wait "$MATCH"
	hold_one "$1" a
	start b "$(probe_for "$1")" -S "$TARGET" 1 0
	wait_waiting 1
	kill -USR1 "${PID_OF[b]}"
	wait_line b signal
	sleep 0.3
	wait_waiting 1
	expect_count b err 0
	release ra
	wait_line b 'ok|err'
	expect_line b 'ok fd='
	finish a
	finish b
	quiet a b
}

# test_policy_nonblocking_fail: a non-blocking connect on a full pool fails
# at once; a blocking one still waits (and here times out).
test_policy_nonblocking_fail() {
	gate_target connect
	conf_pool 1 wait "$MATCH" 'timeout = "300ms"' 'nonblocking = fail'
	hold_one connect a
	run b "$(probe_path connect)" -n "$TARGET" 1 0
	expect_line b "err errno=ECONNREFUSED"
	expect_ms b err 0 250
	run c "$(probe_path connect)" "$TARGET" 1 0
	expect_line c 'err errno=ETIMEDOUT'
	expect_ms c err 250 3000
	release ra
	finish a
	quiet a b c
}

# test_policy_nonblocking_wait: by default a non-blocking connect waits for
# a slot like a blocking one, then goes on (EINPROGRESS or done).
test_policy_nonblocking_wait() {
	gate_target connect
	conf_pool 1 wait "$MATCH" 'timeout = "3s"'
	hold_one connect a
	start b "$(probe_path connect)" -n "$TARGET" 1 0
	sleep 0.4
	release ra
	finish b
	expect_line b 'ok fd='
	expect_ms b 'ok fd=' 300 3000
	finish a
	witness_not_above 1
	quiet a b
}

run_case "$@"
