# test-paths.sh - which calls a pool covers: open() globs on the absolute,
# normalised path (relative paths joined to the working folder, openat()
# relative to its directory), '*' within a folder and '**' across folders;
# connect() patterns by address, network, port, port range, IPv6 and Unix
# socket path. Pools of 1 with on-full = fail: a refusal proves a match.
. "$(dirname "$0")/lib.sh"

setup_dir() {
	mkdir -p "$TMP/d/sub" "$TMP/e"
	: >"$TMP/d/f"
	: >"$TMP/e/f"
}

# hold NAME PROGRAM ARGS...: NAME takes a slot and keeps it until the end.
hold() {
	local name=$1
	shift
	start "$name" "$@" 1 "@$TMP/r$name"
	wait_line "$name" 'ok|err'
	expect_line "$name" 'ok fd='
}

refused() { # NAME ERRNO PROGRAM ARGS...
	local name=$1 e=$2
	shift 2
	run "$name" "$@" 1 0
	expect_line "$name" "err errno=$e"
}

allowed() { # NAME COUNT PROGRAM ARGS...
	local name=$1 n=$2
	shift 2
	run "$name" "$@" "$n" 0
	expect_count "$name" 'ok fd=' "$n"
}

test_paths_relative_cwd() {
	setup_dir
	conf_pool 1 fail "open = \"$TMP/d/*\""
	start_in "$TMP/d" a "$(probe_path open)" f 1 "@$TMP/ra"
	wait_line a 'ok|err'
	expect_line a 'ok fd='
	refused b ENFILE "$(probe_path open)" "$TMP/d/f"
	release ra
	finish a
	hold c "$(probe_path open)" "$TMP/d/f"
	start_in "$TMP/d/sub" e "$(probe_path open)" ../f 1 0
	finish e
	expect_line e 'err errno=ENFILE'
	quiet a b c e
}

test_paths_normalised() {
	setup_dir
	conf_pool 1 fail "open = \"$TMP/d/*\""
	hold a "$(probe_path open)" "$TMP/d/sub/../f"
	refused b ENFILE "$(probe_path open)" "$TMP/d/./f"
	refused c ENFILE "$(probe_path open)" "$TMP/d//f"
	refused e ENFILE "$(probe_path open)" "$TMP/e/../d/f"
	quiet a b c e
}

test_paths_openat_dirfd() {
	setup_dir
	conf_pool 2 fail "open = \"$TMP/d/*\""
	hold a "$(probe_path openat)" -d "$TMP/d" f
	hold b "$(probe_path openat)" -d "$TMP" d/f
	refused c ENFILE "$(probe_path openat)" -d "$TMP/d/sub" ../f
	refused e ENFILE "$(probe_path openat64)" -d "$TMP/d" f
	allowed g 3 "$(probe_path openat)" -d "$TMP/e" f
	quiet a b c e g
}

test_paths_globstar() {
	setup_dir
	mkdir -p "$TMP/d/x/y" "$TMP/s/x"
	: >"$TMP/d/x/y/z"
	: >"$TMP/s/x/f"
	{
		echo "pool $POOL.a {"
		echo "  limit = 1"
		echo "  on-full = fail"
		echo "  open = \"$TMP/d/**\""
		echo "}"
		echo "pool $POOL.b {"
		echo "  limit = 1"
		echo "  on-full = fail"
		echo "  open = \"$TMP/s/*\""
		echo "}"
	} >"$CONF"
	hold a "$(probe_path open)" "$TMP/d/x/y/z"
	refused b ENFILE "$(probe_path open)" "$TMP/d/f"
	# '*' does not cross folders: s/x/f is in no pool.
	allowed c 3 "$(probe_path open)" "$TMP/s/x/f"
	quiet a b c
}

test_paths_unmatched_free() {
	setup_dir
	conf_pool 1 fail "open = \"$TMP/d/*\""
	hold a "$(probe_path open)" "$TMP/d/f"
	allowed b 3 "$(probe_path open)" "$TMP/e/f"
	allowed c 3 "$(probe_path open)" "$TMP/d"
	quiet a b c
}

# connect_case PATTERN TARGET: a pool of 1 on PATTERN covers TARGET, and
# the holder's record says TARGET, written as the probe was given it.
connect_case() {
	conf_pool 1 fail "connect = \"$1\""
	hold a "$(probe_path connect)" "$2"
	"$THR_BIN/poolstat" "$POOL" |
		awk -v t="target=$2" '$1 == "holder" && $NF == t { ok = 1 } END { exit !ok }' ||
		fail "no holder record for $2: $("$THR_BIN/poolstat" "$POOL")"
	refused b ECONNREFUSED "$(probe_path connect)" "$2"
	witness_not_above 1
	quiet a b
}

test_match_any_address() {
	server_start
	connect_case "*:$PORT" "127.0.0.1:$PORT"
}

test_match_cidr() {
	server_start
	connect_case "127.0.0.0/8:*" "127.0.0.1:$PORT"
}

test_match_port_range() {
	server_start
	connect_case "127.0.0.1:$((PORT - 1))-$((PORT + 1))" "127.0.0.1:$PORT"
}

test_match_ipv6() {
	server_start -6
	connect_case "[::1]:*" "[::1]:$PORT"
}

test_match_unix() {
	mkdir "$TMP/s"
	server_start -u "$TMP/s/sock"
	connect_case "unix:$TMP/s/*" "unix:$TMP/s/sock"
}

test_match_other_port_free() {
	local port1 other
	server_start
	port1=$PORT
	mkdir "$TMP/2"
	"$THR_BIN/server" "$TMP/2/server.state" >/dev/null 2>&1 &
	BG+=($!)
	wait_file "$TMP/2/server.state"
	other=$(state_get "$TMP/2/server.state" port)
	conf_pool 1 fail "connect = \"127.0.0.1:$port1\""
	hold a "$(probe_path connect)" "127.0.0.1:$port1"
	allowed b 3 "$(probe_path connect)" "127.0.0.1:$other"
	refused c ECONNREFUSED "$(probe_path connect)" "127.0.0.1:$port1"
	quiet a b c
}

run_case "$@"
