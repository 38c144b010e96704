# test-threads.sh - many threads of one process opening and closing files of
# one pool at once, through open/close, fopen/fclose and dup: descriptor
# numbers are reused all the time. Never above the limit (the probe's own
# count and the /proc witness), the limit reached, and no slot leaked.
. "$(dirname "$0")/lib.sh"

test_threads_share_pool() {
	local line max takes errors
	mkdir "$TMP/d"
	conf_pool 3 wait 'timeout = "5s"' "open = \"$TMP/d/*\""
	watch_start "$TMP/d/"
	start t "$(probe_path threads)" "$TMP/d" 8 60 500 "@$TMP/lt"
	wait_line t threads 20
	line=$(grep '^threads' "$TMP/t.out")
	max=$(state_get /dev/stdin max <<<"$line")
	takes=$(state_get /dev/stdin takes <<<"$line")
	errors=$(state_get /dev/stdin errors <<<"$line")
	[ "$errors" -eq 0 ] || fail "threads: $errors takes failed"
	[ "$takes" -eq 480 ] || fail "threads: $takes takes of 480"
	[ "$max" -le 3 ] || fail "threads: in-process max=$max > limit 3"
	[ "$max" -eq 3 ] || fail "threads: in-process max=$max: limit 3 never reached"
	witness_not_above 3

	# Still alive after all that: nothing may be left held.
	in_use_is 0 "threads, after all closed"
	run c "$(probe_path open)" -f wronly,creat "$TMP/d/c" 3 0
	expect_count c 'ok fd=' 3
	[ "$(ms_of c 'ok fd=')" -lt 1000 ] || fail "c waited for a leaked slot"
	release lt
	finish t
	quiet t c
}

run_case "$@"
