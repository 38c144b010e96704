# test-stale.sh - a descriptor closed behind the shim's back costs at most a
# late release: never a hang of its own process, and never a new socket on
# the old number taken for the old connection. Each case runs with the
# close made as libuv (node) makes it, syscall(SYS_close), which the shim
# hooks, and as Go makes it, a raw system call nothing sees.
. "$(dirname "$0")/lib.sh"

# second_server NAME: another loopback server, not the witness; sets
# SECOND to its port. (Not from $(...): its BG+= would stay in a subshell,
# and the cleanup would leave the server running.)
second_server() {
	mkdir "$TMP/$1"
	"$THR_BIN/server" "$TMP/$1/server.state" >/dev/null 2>&1 &
	BG+=($!)
	wait_file "$TMP/$1/server.state"
	SECOND=$(state_get "$TMP/$1/server.state" port)
}

# test_stale_reopen HOW: with a pool of one, a program opens a file, closes
# it HOW and opens it again: the second open gets the slot at once. Before,
# the closed number kept the slot and the second open waited for it for
# ever (node reading three files in a row, on a pool of 1).
test_stale_reopen() {
	gate_target open
	conf_pool 1 wait "$MATCH"
	run a "$THR_BIN/steps" "open=$TARGET" "$1" "open=$TARGET" "$1" \
		"open=$TARGET" close
	expect_count a 'ok fd=[0-9]+ ms=[0-9]{1,3}' 3
	witness_not_above 1
	quiet a
}

# test_stale_socket_reused HOW: a program connects to A (pool a), closes
# the socket HOW, and connects a new socket, which gets the same number, to
# B, whose pool's one slot another process holds: the connect is refused
# (on-full = fail). Before, the number's entry made it "a connect already
# in progress", let through ungated: B's server saw 2 at a limit of 1.
test_stale_socket_reused() {
	local a
	server_start
	second_server a
	a=$SECOND
	{
		echo "pool $POOL.a {"
		echo "  limit = 1"
		echo "  connect = \"127.0.0.1:$a\""
		echo "}"
		echo "pool $POOL.b {"
		echo "  limit = 1"
		echo "  on-full = fail"
		echo "  connect = \"127.0.0.1:$PORT\""
		echo "}"
	} >"$CONF"
	start holder "$(probe_path connect)" "127.0.0.1:$PORT" 1 "@$TMP/h"
	wait_line holder 'ok fd='
	run b "$THR_BIN/steps" "connect=127.0.0.1:$a" "$1" \
		"connect=127.0.0.1:$PORT" close
	expect_count b 'ok fd=' 1
	expect_line b 'err errno=ECONNREFUSED'
	release h
	finish holder
	witness_not_above 1
	quiet holder b
}

run_case "$@"
