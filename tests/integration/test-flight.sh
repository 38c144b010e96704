# test-flight.sh - a call that a signal handler leaves by siglongjmp (the
# alarm() timeout of wget and many older programs) leaves nothing behind:
# no place in the queue that a slot could later go to, no guard left up
# that would let the thread's later calls through ungated, and no slot of
# a call it left inside the real system call.
. "$(dirname "$0")/lib.sh"

# gets_at_once NAME TARGET: a new process opens (or connects to) TARGET,
# with the open (or connect) probe, within a second.
gets_at_once() {
	local ms kind=open
	[ "$WITNESS" = server ] && kind=connect
	run "$1" "$(probe_path "$kind")" "$2" 1 0
	expect_line "$1" 'ok fd='
	ms=$(ms_of "$1" 'ok fd=')
	[ "$ms" -lt 1000 ] || fail "$1 waited ${ms} ms for a free slot"
}

# test_flight_longjmp_out_of_wait KIND: another process holds the only
# slot; the jumper's two attempts each wait and are left after 300 ms. The
# second must be gated too (with the guard left up it went through at once:
# "ok", and the witness saw 2), no place is left queued, and once the
# holder lets go a third process gets the slot at once (before, the slot
# went to the left place and stayed there until the jumper exited).
test_flight_longjmp_out_of_wait() {
	local kind=$1 bin
	bin=$(probe_path "$kind")
	gate_target "$kind"
	conf_pool 1 wait "$MATCH"
	start holder "$bin" "$TARGET" 1 "@$TMP/h"
	wait_line holder 'ok fd='
	start jumper "$THR_BIN/jumper" "$kind" "$TARGET" 2 300 "@$TMP/j"
	wait_line jumper after
	expect_count jumper 'jumped' 2
	witness_not_above 1
	[ -z "$THR_SHIM" ] || [ "$(poolstat waiting)" = 0 ] ||
		fail "a place is left in the queue: waiting=$(poolstat waiting)"
	release h
	finish holder
	gets_at_once third "$TARGET"
	release j
	finish jumper
	witness_not_above 1
	quiet holder third
}

# test_flight_longjmp_out_of_call: the jumper's open of a FIFO with no
# writer takes the only slot and blocks in the kernel until the handler
# leaves it. Its next call (an open no pool wants) gives the slot back:
# another process then opens a file of the pool at once. Before, the
# ticket lived on the stack the longjmp threw away, and the slot stayed
# held until the jumper exited.
test_flight_longjmp_out_of_call() {
	mkdir "$TMP/d"
	mkfifo "$TMP/d/fifo"
	: >"$TMP/d/f"
	conf_pool 1 wait "open = \"$TMP/d/*\""
	watch_start "$TMP/d/"
	start jumper "$THR_BIN/jumper" open "$TMP/d/fifo" 1 300 "@$TMP/j"
	wait_line jumper after
	expect_count jumper 'jumped' 1
	gets_at_once other "$TMP/d/f"
	release j
	finish jumper
	quiet other
}

run_case "$@"
