# test-prochold.sh - hold = process: a process takes one slot of the pool
# however many of its descriptors match ("at most 2 processes working in
# the folder"), keeps it while it has any, and shares it with the fork
# children that inherit one; the /proc witness counts processes (-p).
# Then folders: opens of folders take no slot unless the pool says
# folders = yes, and O_PATH opens never do.
. "$(dirname "$0")/lib.sh"

# files N: N files in $TMP/d, and steps' open= arguments for them.
files() {
	local i
	mkdir -p "$TMP/d"
	OPENS=()
	for i in $(seq "$1"); do
		: >"$TMP/d/f$i"
		OPENS+=("open=$TMP/d/f$i")
	done
}

# expect_wait_lines NAME...: each has made its three opens.
expect_wait_lines() {
	local n
	for n in "$@"; do
		local end=$(($(now_ms) + 5000))
		until [ "$(grep -c '^ok fd=' "$TMP/$n.out" 2>/dev/null)" -ge 3 ]; do
			[ "$(now_ms)" -lt "$end" ] || fail "$n: not 3 opens after 5s"
			sleep 0.005
		done
	done
}

# test_prochold_one_slot_per_process: three processes each open three
# files of a pool of 2 and keep them: two work at once, each on one slot;
# the third waits for one of them to close all of its files, then runs.
test_prochold_one_slot_per_process() {
	files 3
	conf_pool 2 wait "open = \"$TMP/d/*\"" 'hold = process'
	watch_start -p "$TMP/d/"
	start a "$THR_BIN/steps" "${OPENS[@]}" "wait=@$TMP/go_a" close close close
	start b "$THR_BIN/steps" "${OPENS[@]}" "wait=@$TMP/go_b" close close close
	expect_wait_lines a b
	start c "$THR_BIN/steps" "${OPENS[@]}" "wait=@$TMP/go_c" close close \
		close
	wait_waiting 1
	witness_reached 2
	release go_a
	finish a
	expect_wait_lines c
	release go_b go_c
	finish b
	finish c
	witness_not_above 2
	quiet a b c
}

# test_prochold_fork_child_shares: bash holds the only slot through a
# descriptor, and the subshell it forks, which inherits it, opens two more
# files under that slot at once (no wait: it would have waited for its
# own parent, which waits for it). Another process is refused meanwhile.
test_prochold_fork_child_shares() {
	files 3
	conf_pool 1 fail "open = \"$TMP/d/*\"" 'hold = process'
	watch_start -p "$TMP/d/"
	start a bash -c 'exec 3<"$1"; ( exec 4<"$2" 5<"$3"; echo child-opened;
		until [ -e "$4" ]; do sleep 0.01; done ); echo parent-done' \
		_ "$TMP/d/f1" "$TMP/d/f2" "$TMP/d/f3" "$TMP/go"
	wait_line a child-opened
	run b "$THR_BIN/steps" "open=$TMP/d/f1"
	expect_line b 'err errno=ENFILE'
	release go
	finish a
	expect_line a parent-done
	run c "$THR_BIN/steps" "open=$TMP/d/f1" close
	expect_line c 'ok fd='
	witness_not_above 1
	[ ! -s "$TMP/a.err" ] || fail "a: stderr: $(cat "$TMP/a.err")"
	quiet b c
}

# test_prochold_threads_share: threads of one process share its one slot:
# four threads opening and closing at once never wait for each other.
test_prochold_threads_share() {
	mkdir -p "$TMP/d"
	conf_pool 1 wait "open = \"$TMP/d/*\"" 'hold = process'
	watch_start -p "$TMP/d/"
	run a "$(probe_path threads)" "$TMP/d" 4 50 1000
	expect_line a 'threads max=[2-4] takes=200 errors=0'
	witness_not_above 1
	quiet a
}

# test_prochold_exec_keeps: bash opens a file of the pool and execs steps,
# which opens another: the new image found the process's slot and opens
# under it; another process is refused until steps is done.
test_prochold_exec_keeps() {
	files 2
	conf_pool 1 fail "open = \"$TMP/d/*\"" 'hold = process'
	watch_start -p "$TMP/d/"
	start a bash -c 'exec 3<"$1"; exec "$2" "open=$3" "wait=@$4" close' \
		_ "$TMP/d/f1" "$THR_BIN/steps" "$TMP/d/f2" "$TMP/go"
	wait_line a 'ok fd='
	run b "$THR_BIN/steps" "open=$TMP/d/f2"
	expect_line b 'err errno=ENFILE'
	release go
	finish a
	witness_not_above 1
	quiet a b
}

# test_prochold_folders: with the pool's one slot held, a folder under its
# glob still opens (opendir, O_DIRECTORY) unless folders = yes, and an
# O_PATH open always does.
test_prochold_folders() {
	mkdir -p "$TMP/d/sub"
	: >"$TMP/d/f"
	conf_pool 1 fail "open = \"$TMP/d/**\""
	start a "$THR_BIN/steps" "open=$TMP/d/f" "wait=@$TMP/go"
	wait_line a 'ok fd='
	folder_opens b 'ok fd='
	conf_pool 1 fail "open = \"$TMP/d/**\"" 'folders = yes'
	folder_opens g 'err errno=ENFILE'
	release go
	finish a
	quiet a b-dir b-odir b-path g-dir g-odir g-path
}

# folder_opens NAME LINE: opendir and an O_DIRECTORY open of a folder of
# the full pool get LINE; an O_PATH open of its file opens all the same.
folder_opens() {
	run "$1-dir" "$(probe_path opendir)" "$TMP/d/sub" 1 0
	expect_line "$1-dir" "$2"
	run "$1-odir" "$(probe_path open)" -f directory "$TMP/d/sub" 1 0
	expect_line "$1-odir" "$2"
	run "$1-path" "$(probe_path open)" -f path "$TMP/d/f" 1 0
	expect_line "$1-path" 'ok fd='
}

run_case "$@"
