# test-stuck.sh - a pool whose lock a live process holds for seconds
# (stopped inside it, say) is judged broken once, with one line for an
# operator, not on every call: the first call waits the lock's 2 s of
# patience, the next ones do not wait again while the lock stands as it
# stood; once it moves, the pool gates again.
. "$(dirname "$0")/lib.sh"

# test_stuck_lock_judged_once: a holds the pool's one slot; poolstat holds
# its lock 5 s. b's first open waits 2 s and runs unthrottled (on-error =
# open), its second runs at once; once the lock is let go, b's third is
# gated again: refused, since a still holds the slot. Before, every call
# waited 2 s, and the message said "Resource deadlock avoided".
test_stuck_lock_judged_once() {
	gate_target open
	conf_pool 1 fail "$MATCH"
	start a "$(probe_path open)" "$TARGET" 1 "@$TMP/h"
	wait_line a 'ok fd='
	start lock "$THR_BIN/poolstat" --lock "$POOL" 5000
	wait_line lock locked
	start b "$THR_BIN/steps" "open=$TARGET" close "open=$TARGET" close \
		"wait=@$TMP/unstuck" "open=$TARGET"
	wait_line b 'ok fd=.*' 10
	finish lock 10
	release unstuck
	finish b
	release h
	finish a
	expect_count b 'ok fd=' 2
	[ "$(grep '^ok fd=' "$TMP/b.out" | head -1 | sed 's/.*ms=//')" -ge 1900 ] ||
		fail "the first call did not wait the lock's patience"
	[ "$(grep '^ok fd=' "$TMP/b.out" | tail -1 | sed 's/.*ms=//')" -lt 500 ] ||
		fail "the second call waited again"
	expect_line b 'err errno=ENFILE'
	[ "$(wc -l <"$TMP/b.err")" -eq 1 ] &&
		grep -q "^throttle: pool '$POOL': its lock has been held for over 2 s by pid ${PID_OF[lock]}, which is stopped or stuck" \
			"$TMP/b.err" || fail "b: stderr: $(cat "$TMP/b.err")"
}

run_case "$@"
