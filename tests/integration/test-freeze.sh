# test-freeze.sh - a fork in a program whose other threads keep opening and
# closing: the child becomes co-holder of exactly what it inherits, so the
# limit holds whatever the other threads do, counted by the kernel's own
# witness (OFD locks, which live as long as the open file description).
. "$(dirname "$0")/lib.sh"

# test_freeze_threaded_fork SECONDS THREADS: THREADS threads open and close
# a file of a pool of 1 while another forks children that keep what they
# inherit for 20 ms: no open may find another description of the file
# still open. Before, 617k-827k of 2.2-2.35M opens did, in 10 s.
test_freeze_threaded_fork() {
	mkdir "$TMP/d"
	: >"$TMP/d/f"
	conf_pool 1 wait "open = \"$TMP/d/*\""
	start a "$THR_BIN/forkrace" "$TMP/d/f" "$1" "$2"
	finish a $(($1 + 30))
	expect_line a "race opens=[0-9]+ over=0 forks=[1-9][0-9]* errors=0"
	[ ! -s "$TMP/a.err" ] || fail "a: stderr: $(cat "$TMP/a.err")"
}

run_case "$@"
