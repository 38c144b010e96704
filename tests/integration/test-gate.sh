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

# test_gate_creates_with_mode PROBE: a file the probe creates (asking for
# 0600) gets that mode whichever way the shim sends the call: through the
# gate (a pool's path), straight past it (no pool's), or the long way (a
# relative path, normalised first); an O_TMPFILE file too, for the probes
# that take flags. Where the open hooks take mode as a named parameter
# rather than through va_arg, this is what says they read it right.
test_gate_creates_with_mode() {
	local p=$1 bin f fd mode
	bin=$(probe_path "$p")
	mkdir -p "$TMP/d" "$TMP/e"
	conf_pool 2 fail "open = \"$TMP/d/*\""
	umask 022
	run a "$bin" -f wronly,creat "$TMP/d/new" 1 0
	run b "$bin" -f wronly,creat "$TMP/e/new" 1 0
	start_in "$TMP/d" c "$bin" -f wronly,creat rel 1 0
	finish c
	for f in a b c; do
		expect_line "$f" 'ok fd='
	done
	for f in "$TMP/d/new" "$TMP/e/new" "$TMP/d/rel"; do
		[ "$(stat -c %a "$f")" = 600 ] ||
			fail "$p: $f has mode $(stat -c %a "$f"), not 600"
	done
	quiet a b c
	case $p in creat*) return ;; esac
	start t "$bin" -f wronly,tmpfile "$TMP/e" 1 "@$TMP/rt"
	wait_line t 'ok|err'
	expect_line t 'ok fd='
	fd=$(sed -n 's/^ok fd=\([0-9]*\).*/\1/p' "$TMP/t.out" | head -n1)
	mode=$(stat -L -c %a "/proc/${PID_OF[t]}/fd/$fd")
	release rt
	finish t
	[ "$mode" = 600 ] || fail "$p: O_TMPFILE file has mode $mode, not 600"
	quiet t
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

# test_gate_release_all PROBE: one process holds the whole pool (three
# slots) and gives them all back with one release call, staying alive.
test_gate_release_all() {
	local bin
	bin=$(probe_path "$1")
	gate_target open
	conf_pool 3 fail "$MATCH"
	start a "$bin" "$TARGET" 3 "@$TMP/ra" "@$TMP/la"
	wait_line a 'ok fd=[0-9]+ ms=[0-9]+' 5
	run b "$bin" "$TARGET" 1 0
	expect_line b "err errno=$REFUSED"
	release ra
	wait_line a released
	expect_count a 'ok fd=' 3
	run c "$(probe_path open)" "$TARGET" 3 0
	expect_count c 'ok fd=' 3
	release la
	finish a
	quiet a b c
}

# test_gate_failed_call_gives_back KIND: a call that fails after taking its
# slot (no such file, connection refused) gives the slot back at once.
test_gate_failed_call_gives_back() {
	local port
	if [ "$1" = connect ]; then
		mkdir "$TMP/x"
		"$THR_BIN/server" "$TMP/x/state" >/dev/null 2>&1 &
		wait_file "$TMP/x/state"
		port=$(state_get "$TMP/x/state" port)
		kill -TERM $!
		wait $!
		server_start
		conf_pool 1 fail 'connect = "127.0.0.1:*"'
		run e "$(probe_path connect)" "127.0.0.1:$port" 3 0
		expect_count e 'err errno=ECONNREFUSED' 3
		run f "$(probe_path connect)" "127.0.0.1:$PORT" 2 0
		expect_count f 'ok fd=' 1
		expect_count f 'err errno=ECONNREFUSED' 1
	else
		gate_target open
		conf_pool 1 fail "$MATCH"
		run e "$(probe_path open)" "$TMP/d/missing" 3 0
		expect_count e 'err errno=ENOENT' 3
		run f "$(probe_path open)" "$TARGET" 2 0
		expect_count f 'ok fd=' 1
		expect_count f 'err errno=ENFILE' 1
	fi
	in_use_is 0 "every caller is gone"
	quiet e f
}

# slot_stays NAME RELEASE LINGER: probe NAME, still alive, keeps its one
# slot of a pool of 1 (a second caller is refused, the watcher never sees
# two files) until its release call (RELEASE) and exit (LINGER).
slot_stays() {
	run c "$(probe_path open)" "$TARGET" 1 0
	expect_line c "err errno=$REFUSED"
	release "$2" "$3"
	finish "$1"
	run d "$(probe_path open)" "$TARGET" 1 0
	expect_line d 'ok fd='
	witness_not_above 1
}

# test_gate_freopen_again PROBE: a stream reopened onto the file it has
# open takes its own slot over, rather than waiting for (or, on-full =
# fail, being refused) the slot it holds itself. glibc has both files
# open for the instant of the call (it opens the new one, then dup3s it
# over the old): the witness counts from after it.
test_gate_freopen_again() {
	gate_target open
	conf_pool 1 fail "$MATCH"
	start a "$(probe_path "$1")" -e again "$TARGET" 1 "@$TMP/ra" "@$TMP/la"
	wait_line a 'ok|err'
	expect_line a 'ok fd='
	watch_restart "$TMP/d/"
	slot_stays a ra la
	quiet a c d
}

# test_gate_fcloseall_keeps_dup: a dup of a stream's descriptor is not the
# stream's: fcloseall() leaves it its slot, which goes when it does (exit).
test_gate_fcloseall_keeps_dup() {
	gate_target open
	conf_pool 1 fail "$MATCH"
	start a "$(probe_path fcloseall)" -e dup "$TARGET" 1 0 "@$TMP/la"
	wait_line a released
	expect_line a 'ok fd='
	slot_stays a ra la
	quiet a c d
}

# test_gate_failed_close_range_keeps_slot: a close_range the kernel refuses
# (EINVAL) closes nothing, so it gives nothing back.
test_gate_failed_close_range_keeps_slot() {
	gate_target open
	conf_pool 1 fail "$MATCH"
	start a "$(probe_path close_range)" -e badflags "$TARGET" 1 0 "@$TMP/la"
	wait_line a released
	expect_line a 'relerr errno=EINVAL'
	slot_stays a ra la
	quiet c d
}

# test_gate_connect_on_file_keeps_slot: connect() on a gated file fails
# with ENOTSOCK and leaves the file its slot. The pool gates connect too
# (elsewhere), so that the connect goes through the gate.
test_gate_connect_on_file_keeps_slot() {
	gate_target open
	conf_pool 1 fail "$MATCH" 'connect = "10.255.255.1:1"'
	start a "$(probe_path open)" -e connect "$TARGET" 1 "@$TMP/ra" \
		"@$TMP/la"
	wait_line a 'ok|err'
	expect_line a 'ok fd='
	expect_count a connerr 0
	slot_stays a ra la
	quiet a c d
}

# test_gate_dir closedir|opendir: in a pool with folders = yes, a
# directory under the pool's glob, opened with open() and wrapped by
# fdopendir() (closedir), or by opendir(), whose open is libc's own, holds
# its slot until closedir() (libc's own close) gives it back; the probe
# lives on after.
test_gate_dir() {
	local bin
	bin=$(probe_path "$1")
	gate_target open
	mkdir "$TMP/d/sub"
	conf_pool 1 fail "$MATCH" 'folders = yes'
	start a "$bin" "$TMP/d/sub" 1 "@$TMP/ra" "@$TMP/la"
	wait_line a 'ok|err'
	expect_line a 'ok fd='
	run b "$bin" "$TMP/d/sub" 1 0
	expect_line b "err errno=$REFUSED"
	release ra
	wait_line a released
	run c "$bin" "$TMP/d/sub" 1 0
	expect_line c 'ok fd='
	release la
	finish a
	witness_not_above 1
	quiet a b c
}

run_case "$@"
