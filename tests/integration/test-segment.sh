# test-segment.sh - a full /dev/shm never kills the program: the segment's
# pages are reserved when it is made (tmpfs gives them on first touch
# otherwise, and a touch it cannot serve is SIGBUS), so a pool that cannot
# be made is given up with one message, and one made earlier stays usable
# however full /dev/shm gets. Runs in a private mount namespace with a
# small tmpfs on /dev/shm; needs root and unshare(1).
. "$(dirname "$0")/lib.sh"

# in_small_shm KB SCRIPT ARG0 ARGS...: runs SCRIPT (bash, with $0 ARG0)
# with a tmpfs of KB kilobytes on /dev/shm, seen only by it and its
# children.
in_small_shm() {
	local kb=$1
	shift
	unshare -m bash -c "mount -t tmpfs -o size=${kb}k tmpfs /dev/shm && $1" \
		"${@:2}"
}

need_unshare() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	in_small_shm 64 true 2>/dev/null || skip "no private mount namespace"
}

# test_segment_full_at_create: /dev/shm has room for no segment: the
# program runs unthrottled (on-error = open), says so once, and is not
# killed. Before, the segment was made sparse and the first touch of a
# page past the room killed the program with SIGBUS (status 135).
test_segment_full_at_create() {
	need_unshare
	mkdir "$TMP/d"
	: >"$TMP/d/f"
	conf_pool 1 wait "open = \"$TMP/d/*\""
	in_small_shm 128 '"$@" >"$0.out" 2>"$0.err"; echo $? >"$0.rc"' \
		"$TMP/a" env "${SHIMENV[@]}" "$THR_BIN/steps" "open=$TMP/d/f" \
		"open=$TMP/d/f" close close
	[ "$(cat "$TMP/a.rc")" = 0 ] || fail "exit status $(cat "$TMP/a.rc")"
	expect_count a 'ok fd=' 2
	[ "$(wc -l <"$TMP/a.err")" -eq 1 ] &&
		grep -q "^throttle: pool '$POOL': .*No space left on device" \
			"$TMP/a.err" || fail "stderr: $(cat "$TMP/a.err")"
}

# test_segment_full_later: a pool made while /dev/shm had room is used by
# 20 newcomers after /dev/shm filled up: none is killed, and the limit
# holds (each takes the slot in turn). Before, the newcomers' first
# touches of pages nobody had touched yet were SIGBUS.
test_segment_full_later() {
	need_unshare
	mkdir "$TMP/d"
	: >"$TMP/d/f"
	conf_pool 1 wait "open = \"$TMP/d/*\""
	in_small_shm 1024 '
		"$1" "${@:3}" "open=$2" close >/dev/null 2>&1 || exit 3
		dd if=/dev/zero of=/dev/shm/fill bs=4k 2>/dev/null
		pids=()
		for i in $(seq 20); do
			"$1" "${@:3}" "open=$2" wait=5 close >"$0.$i.out" \
				2>"$0.$i.err" &
			pids+=($!)
		done
		rc=0
		for p in "${pids[@]}"; do wait "$p" || rc=$?; done
		echo $rc >"$0.rc"' "$TMP/n" env "$TMP/d/f" "${SHIMENV[@]}" \
		"$THR_BIN/steps"
	[ "$(cat "$TMP/n.rc" 2>/dev/null)" = 0 ] ||
		fail "a newcomer ended with status $(cat "$TMP/n.rc" 2>/dev/null)"
	[ "$(cat "$TMP"/n.*.out | grep -c '^ok fd=')" -eq 20 ] ||
		fail "not 20 opens: $(cat "$TMP"/n.*.out | tr '\n' ';')"
	[ -z "$(cat "$TMP"/n.*.err)" ] || fail "stderr: $(cat "$TMP"/n.*.err)"
}

run_case "$@"
