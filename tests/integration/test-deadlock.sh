# test-deadlock.sh - a wait that could never end fails at once, with the
# pool's errno and one line naming the pool, the program and what to
# change, instead of hanging: a program that holds what it waits for (cp
# with a pool of 1, an event loop opening more connections than the
# limit), and processes that each hold a slot and wait for another.
. "$(dirname "$0")/lib.sh"

# said NAME CALL: NAME's stderr is the one deadlock line for CALL.
said() {
	local n
	n=$(wc -l <"$TMP/$1.err")
	[ "$n" -eq 1 ] || fail "$1: $n lines on stderr, expected 1"
	grep -Eq "^throttle: pool '$POOL': steps \(pid [0-9]+\) .*; failing $2\(\) - set hold = process" \
		"$TMP/$1.err" || fail "$1: unexpected stderr: $(cat "$TMP/$1.err")"
}

# refused_fast NAME ERRNO: NAME's call was refused with ERRNO within 1 s.
refused_fast() {
	expect_line "$1" "err errno=$2"
	expect_ms "$1" err 0 1000
}

# test_deadlock_second_call KIND: a program holds the only slot and asks
# for a second one: refused at once, and said why. Before, it waited for
# its own slot for ever (cp a b in a gated folder).
test_deadlock_second_call() {
	local step=open
	gate_target "$1"
	[ "$1" = connect ] && step=connect
	conf_pool 1 wait "$MATCH"
	run a "$THR_BIN/steps" "$step=$TARGET" "$step=$TARGET" close
	expect_count a 'ok fd=' 1
	refused_fast a "$REFUSED"
	said a "$1"
	witness_not_above 1
}

# test_deadlock_event_loop: a single-threaded loop connects three
# non-blocking sockets on a pool of 2 (nonblocking = wait): the third is
# refused at once with ECONNREFUSED, which event-loop clients report and
# may retry, rather than the loop blocking inside connect() on slots only
# it could give back.
test_deadlock_event_loop() {
	gate_target connect
	conf_pool 2 wait "$MATCH"
	run a "$THR_BIN/steps" "nbconnect=$TARGET" "nbconnect=$TARGET" \
		"nbconnect=$TARGET" wait=300 close close
	expect_count a 'ok fd=' 2
	refused_fast a ECONNREFUSED
	said a connect
	witness_reached 2
}

# test_deadlock_cycle: a and b each hold one of 2 slots; a asks for a
# second and waits (b could let go); then b asks for a second: every slot
# is held by a process that waits, so b is refused at once, lets its slot
# go as it ends, and a gets it.
test_deadlock_cycle() {
	gate_target open
	conf_pool 2 wait "$MATCH"
	start a "$THR_BIN/steps" "open=$TARGET" "wait=@$TMP/go_a" \
		"open=$TARGET" close close
	wait_line a 'ok fd='
	start b "$THR_BIN/steps" "open=$TARGET" "wait=@$TMP/go_b" \
		"open=$TARGET" close
	wait_line b 'ok fd='
	release go_a
	wait_waiting 1
	release go_b
	finish b
	refused_fast b ENFILE
	said b open
	finish a
	expect_count a 'ok fd=' 2
	quiet a
	witness_reached 2
}

# test_deadlock_timeout: with a timeout, the wait that could never end
# fails at once too, not when the timeout runs out (tar with timeout = 1s
# took 21 s and failed part of the way).
test_deadlock_timeout() {
	gate_target open
	conf_pool 1 wait "$MATCH" 'timeout = 5s'
	run a "$THR_BIN/steps" "open=$TARGET" "open=$TARGET" close
	refused_fast a ENFILE
	said a open
}

# test_deadlock_threads_wait: one thread holds the only slot while another
# asks: not refused (the first may close its file), it waits, and gets it.
test_deadlock_threads_wait() {
	gate_target open
	conf_pool 1 wait "$MATCH"
	run a "$(probe_path threads)" "$TMP/d" 4 30 1000
	expect_line a 'threads max=1 takes=120 errors=0'
	quiet a
}

# test_deadlock_exit_while_waiting: a program exits while its thread waits
# for the slot the program itself holds, and its exit joins that thread
# (node's exit joins its libuv threads): the wait ends, refused as by a
# full pool (ENFILE: not EINTR, which libuv retries), and the program
# exits. Before, the exit waited for the thread for ever.
test_deadlock_exit_while_waiting() {
	gate_target open
	conf_pool 1 wait "$MATCH"
	run a "$THR_BIN/exitwait" "$TARGET"
	[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
	expect_line a 'thread errno=ENFILE'
	expect_line a exited
}

# test_deadlock_handed_files_wait: one thread opens both files of a pool
# of 2 and another closes them later, as libuv's pool does with node's
# files: the first thread's third open waits for that, it is not refused.
# Before, it was refused as "holds 2 of 2 slots and waits for another".
test_deadlock_handed_files_wait() {
	gate_target open
	conf_pool 2 wait "$MATCH"
	run a "$THR_BIN/handoff" "$TARGET"
	expect_line a 'ok fd='
	expect_ms a 'ok fd=' 250 5000
	quiet a
}

run_case "$@"
