# test-config.sh - what a program sees of its config: a broken one gives
# exactly one line "throttle: <file>:<line>: <reason>" on stderr, nothing on
# stdout, and the program runs unthrottled (or, with on-error = closed, its
# gated calls fail with EACCES); a missing THROTTLE_CONFIG file is reported;
# no config at all is silent. Also the other ways to find a config:
# THROTTLE_SERVICE, the program's name, include.
. "$(dirname "$0")/lib.sh"

setup_dir() {
	mkdir -p "$TMP/d"
	: >"$TMP/d/f"
}

# broken_pool LINE...: $CONF holds a pool that would refuse the second open
# of $TMP/d/f, with LINE... after its fourth line.
broken_pool() {
	local l
	{
		echo "pool $POOL {"
		echo "  limit = 1"
		echo "  on-full = fail"
		echo "  open = \"$TMP/d/*\""
		for l in "$@"; do echo "$l"; done
		echo "}"
	} >"$CONF"
}

# unthrottled_with MESSAGE: three opens that a good config would limit to
# one all succeed, and stderr is exactly MESSAGE (one line; "" for none).
unthrottled_with() {
	run a "$(probe_path open)" "$TMP/d/f" 3 0
	expect_count a 'ok fd=' 3
	if [ -z "$1" ]; then
		[ ! -s "$TMP/a.err" ] || fail "expected no message, got: $(cat "$TMP/a.err")"
	else
		[ "$(wc -l <"$TMP/a.err")" -eq 1 ] && [ "$(cat "$TMP/a.err")" = "$1" ] ||
			fail "stderr: expected exactly '$1', got: '$(cat "$TMP/a.err")'"
	fi
	[ "$STATUS" -eq 0 ] || fail "the program exited $STATUS"
	rm -f "$TMP/a.err"
	quiet a
}

# throttled: the config is in force: the second of two opens is refused.
throttled() {
	run t "$@" "$TMP/d/f" 2 0
	expect_count t 'ok fd=' 1
	expect_count t 'err errno=ENFILE' 1
	quiet t
}

test_config_syntax() {
	setup_dir
	broken_pool '  timeout 5s'
	unthrottled_with "throttle: $CONF:5: missing equal sign after option 'timeout'"
}

test_config_unknown_key() {
	setup_dir
	broken_pool '  frobnicate = 1'
	unthrottled_with "throttle: $CONF:5: unknown option 'frobnicate'"
}

test_config_bad_open_pattern() {
	setup_dir
	broken_pool '  open += "srv/*"'
	unthrottled_with "throttle: $CONF:5: bad open pattern: relative glob 'srv/*' in 'srv/*'"
}

test_config_bad_connect_pattern() {
	setup_dir
	broken_pool '  connect = "127.0.0.1:99999"'
	unthrottled_with "throttle: $CONF:5: bad connect pattern: bad port '99999' in '127.0.0.1:99999'"
}

test_config_limit_zero() {
	setup_dir
	conf_pool 0 fail "open = \"$TMP/d/*\""
	unthrottled_with "throttle: $CONF:2: bad limit '0' (expected a whole number from 1 to 1024)"
}

test_config_duplicate_pool() {
	setup_dir
	{
		echo "pool $POOL {"
		echo "  limit = 1"
		echo "  on-full = fail"
		echo "  open = \"$TMP/d/*\""
		echo "}"
		echo "pool $POOL {"
		echo "  limit = 2"
		echo "  open = \"$TMP/e/*\""
		echo "}"
	} >"$CONF"
	unthrottled_with "throttle: $CONF:6: duplicate pool '$POOL' (first defined at $CONF:1)"
}

test_config_missing_file() {
	setup_dir
	CONF=$TMP/nope.conf
	SHIMENV=(LD_PRELOAD="$THR_SHIM" THROTTLE_CONFIG="$CONF")
	unthrottled_with "throttle: $CONF: No such file or directory"
}

test_config_bad_include() {
	setup_dir
	mkdir "$TMP/inc"
	broken_pool
	echo "include \"$TMP/inc/*.conf\"" >>"$CONF"
	printf 'pool %s.x {\n  frobnicate = 1\n}\n' "$POOL" >"$TMP/inc/x.conf"
	unthrottled_with "throttle: $TMP/inc/x.conf:2: unknown option 'frobnicate'"
}

# test_config_closed_open [ON-ERROR-LINE]: the line may be written in any
# way libconfuse reads it (quotes of either kind, a comment after).
test_config_closed_open() {
	setup_dir
	{
		echo "${1:-on-error = closed}"
		echo "pool $POOL {"
		echo "  limit = 0"
		echo "  open = \"$TMP/d/*\""
		echo "}"
	} >"$CONF"
	run a "$(probe_path open)" "$TMP/d/f" 2 0
	expect_count a 'err errno=EACCES' 2
	[ "$(cat "$TMP/a.err")" = "throttle: $CONF:3: bad limit '0' (expected a whole number from 1 to 1024)" ] ||
		fail "stderr: '$(cat "$TMP/a.err")'"
}

test_config_closed_connect() {
	server_start
	{
		echo "on-error = closed"
		echo "pool $POOL {"
		echo "  limit = 1"
		echo "  connect = \"127.0.0.1:$PORT\""
		echo "  frobnicate = 1"
		echo "}"
	} >"$CONF"
	run a "$(probe_path connect)" "127.0.0.1:$PORT" 2 0
	expect_count a 'err errno=EACCES' 2
	[ "$(cat "$TMP/a.err")" = "throttle: $CONF:5: unknown option 'frobnicate'" ] ||
		fail "stderr: '$(cat "$TMP/a.err")'"
	[ "$(state_get "$TMP/server.state" total)" -eq 0 ] ||
		fail "on-error = closed, yet the server saw a connection"
}

test_config_inert() {
	setup_dir
	SHIMENV=(LD_PRELOAD="$THR_SHIM")
	unthrottled_with ""
}

test_config_empty_config_var() {
	setup_dir
	SHIMENV=(LD_PRELOAD="$THR_SHIM" THROTTLE_CONFIG=)
	unthrottled_with ""
}

test_config_service_missing() {
	local svc=it-missing-$$
	setup_dir
	[ -e "/etc/throttle/$svc.conf" ] && skip "/etc/throttle/$svc.conf exists"
	SHIMENV=(LD_PRELOAD="$THR_SHIM" THROTTLE_SERVICE="$svc")
	unthrottled_with "throttle: /etc/throttle/$svc.conf: No such file or directory"
}

# etc_conf NAME: writes /etc/throttle/NAME.conf from $CONF (root only);
# at exit it is removed, and the folder too when nothing else is left in it.
etc_conf() {
	local i
	[ -w /etc ] || skip "cannot write /etc/throttle"
	ETC_FILE=/etc/throttle/$1.conf
	trap 'rm -f "$ETC_FILE"; rmdir /etc/throttle 2>/dev/null; cleanup' EXIT
	# A parallel case may remove the empty folder between mkdir and cp.
	for i in 1 2 3; do
		mkdir -p /etc/throttle && cp "$CONF" "$ETC_FILE" 2>/dev/null && return
	done
	fail "cannot write $ETC_FILE"
}

test_config_service_file() {
	local svc=it-svc-$$
	setup_dir
	conf_pool 1 fail "open = \"$TMP/d/*\""
	etc_conf "$svc"
	SHIMENV=(LD_PRELOAD="$THR_SHIM" THROTTLE_SERVICE="$svc")
	throttled "$(probe_path open)"
}

test_config_progname_file() {
	local prog=it-prog-$$
	setup_dir
	conf_pool 1 fail "open = \"$TMP/d/*\""
	etc_conf "$prog"
	cp "$(probe_path open)" "$TMP/$prog"
	SHIMENV=(LD_PRELOAD="$THR_SHIM")
	throttled "$TMP/$prog"
}

test_config_include() {
	setup_dir
	mkdir "$TMP/pools.d"
	conf_pool 1 fail "open = \"$TMP/d/*\""
	mv "$CONF" "$TMP/pools.d/a.conf"
	echo 'include "pools.d/*.conf"' >"$CONF"
	throttled "$(probe_path open)"
}

# test_config_not_regular KIND: a config that is a FIFO (no writer), a
# device that never ends, or a sparse file of a terabyte is refused at
# once, with one line, and never read: start-up does not hang.
# (Not in $CONF, which fail() would print.)
test_config_not_regular() {
	local conf=$1
	setup_dir
	case $1 in
	fifo) conf=$TMP/fifo.conf; mkfifo "$conf" ;;
	sparse) conf=$TMP/huge.conf; truncate -s 1T "$conf" ;;
	esac
	SHIMENV=(LD_PRELOAD="$THR_SHIM" THROTTLE_CONFIG="$conf")
	if [ "$1" = sparse ]; then
		unthrottled_with "throttle: $conf: File too large (more than 1048576 bytes)"
	else
		unthrottled_with "throttle: $conf: not a regular file"
	fi
}

# THROTTLE_CONFIG=/dev/fd/0: the program's stdin is its own, untouched
# (and what it holds asks for nothing, though it says on-error = closed).
test_config_stdin() {
	printf 'on-error = closed\n' |
		timeout 10 env LD_PRELOAD="$THR_SHIM" THROTTLE_CONFIG=/dev/fd/0 \
		cat >"$TMP/a.out" 2>"$TMP/a.err"
	STATUS=$?
	[ "$STATUS" -eq 0 ] || fail "cat exited $STATUS"
	[ "$(cat "$TMP/a.out")" = "on-error = closed" ] ||
		fail "stdin was consumed: cat printed '$(cat "$TMP/a.out")'"
	[ "$(cat "$TMP/a.err")" = "throttle: /dev/fd/0: not a regular file" ] ||
		fail "stderr: '$(cat "$TMP/a.err")'"
}

# test_config_var_too_long VAR: a THROTTLE_CONFIG or THROTTLE_SERVICE too
# long to use is reported, not silently ignored.
test_config_var_too_long() {
	local long
	setup_dir
	long=$(printf 'x%.0s' $(seq 5000))
	SHIMENV=(LD_PRELOAD="$THR_SHIM" "$1=$long")
	if [ "$1" = THROTTLE_CONFIG ]; then
		unthrottled_with "throttle: THROTTLE_CONFIG is 5000 bytes long, longer than a path may be (4095)"
	else
		unthrottled_with "throttle: THROTTLE_SERVICE is 5000 bytes long: its file's path would be longer than a path may be (4095)"
	fi
}

run_case "$@"
