# test-crowd.sh - more processes than a pool's tables have room for (1,024
# process entries, 1,024 places in the queue) never run unthrottled: the
# entries of processes that use nothing are freed for newcomers, and a
# caller that finds no room waits for some. The /proc witness counts.
. "$(dirname "$0")/lib.sh"

# test_crowd_many_processes N: N processes on a pool of 8, each opening a
# file, holding it 20 ms and then staying alive, idle, until the end. The
# witness must never see more than 8 open at once. Before, past 1,024 the
# tables' ENOSPC made the pool "broken" and the rest ran unthrottled (84
# holders at a limit of 8).
test_crowd_many_processes() {
	local n=$1 i done end pids=()
	mkdir "$TMP/d" "$TMP/out"
	: >"$TMP/d/f"
	conf_pool 8 wait "open = \"$TMP/d/*\""
	watch_start "$TMP/d/"
	mkfifo "$TMP/idle"
	exec 9<>"$TMP/idle" # the only writer: its close ends every idle wait
	for i in $(seq "$n"); do
		env "${SHIMENV[@]}" "$THR_BIN/steps" "open=$TMP/d/f" wait=20 \
			close stdin <"$TMP/idle" >"$TMP/out/$i.out" \
			2>"$TMP/out/$i.err" 9>&- &
		BG+=($!)
		pids+=($!)
	done
	end=$(($(now_ms) + 120000))
	while :; do
		done=$(cat "$TMP"/out/*.out | grep -c '^ok fd=')
		[ "$done" -ge "$n" ] && break
		[ "$(now_ms)" -lt "$end" ] ||
			fail "only $done of $n opened in 120 s"
		sleep 0.2
	done
	witness_reached 8
	exec 9>&-
	wait "${pids[@]}"
	grep -c 'err errno' "$TMP"/out/*.out | grep -v ':0$' &&
		fail "some opens failed"
	grep -hv "^throttle: pool '$POOL': more processes use it at once" \
		"$TMP"/out/*.err | head -3 | grep . &&
		fail "unexpected stderr"
	return 0
}

run_case "$@"
