# test-gate.sh - every probe, in every build, really goes through the shim:
# with a pool of 2 and on-full = fail, a third concurrent call is refused with
# the policy's errno, the witness sees the limit reached and never passed,
# and the probe's release call (not its exit) gives the slot back.
. "$(dirname "$0")/lib.sh"

# test_gate_refuses_then_frees PROBE [PROBE-OPTIONS...]
test_gate_refuses_then_frees() {
	local p=$1 bin
	shift
	bin=$(probe_path "$p")
	gate_target "$([ "$p" = connect ] && echo connect || echo open)"
	conf_pool 2 fail "$MATCH"

	# One process: of three calls, the third is refused.
	run e "$bin" "$@" "$TARGET" 3 0
	expect_count e 'ok fd=' 2
	expect_count e "err errno=$REFUSED" 1

	# Two processes hold a slot each; a third process is refused.
	start a "$bin" "$@" "$TARGET" 1 "@$TMP/ra" "@$TMP/la"
	start b "$bin" "$@" "$TARGET" 1 "@$TMP/rb" "@$TMP/lb"
	wait_line a 'ok|err'
	wait_line b 'ok|err'
	expect_line a 'ok fd='
	expect_line b 'ok fd='
	run c "$bin" "$@" "$TARGET" 1 0
	expect_line c "err errno=$REFUSED"
	witness_reached 2

	# a gives its slot back by its release call and stays alive: the slot
	# is free again.
	release ra
	wait_line a released
	run d "$bin" "$@" "$TARGET" 1 0
	expect_line d 'ok fd='
	release la rb lb
	finish a
	finish b
	# glibc's fcloseall() leaves the descriptors open: the watcher still
	# sees a's file after its slot went back.
	[ "$p" = fcloseall ] || witness_not_above 2
	quiet a b c d e
}

# test_gate_cloexec_keeps_slot: close_range(CLOSE_RANGE_CLOEXEC) closes
# nothing, so it must give nothing back; exit does.
test_gate_cloexec_keeps_slot() {
	local bin
	bin=$(probe_path close_range)
	gate_target open
	conf_pool 1 fail "$MATCH"
	start a "$bin" -x "$TARGET" 1 0 "@$TMP/la"
	wait_line a released
	expect_line a 'ok fd='
	run c "$bin" "$TARGET" 1 0
	expect_line c "err errno=$REFUSED"
	release la
	finish a
	run d "$bin" "$TARGET" 1 0
	expect_line d 'ok fd='
	quiet a c d
}

run_case "$@"
