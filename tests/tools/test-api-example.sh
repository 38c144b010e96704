#!/usr/bin/env bash
# test-api-example.sh - the C API's example program (tools/examples), run
# for real: alone, on a pool another process fills, with bad arguments,
# and under LD_PRELOAD=libthrottle.so with a config that gates the file it
# reads through the same pool, where the API's slot and the gated open's
# share the pool's limit and its holders are one process's.
# Usage: test-api-example.sh POOL-EXAMPLE LIBTHROTTLE THROTTLECTL POOL-HOLD
set -u
example=$(realpath "$1") lib=$(realpath "$2") ctl=$(realpath "$3")
hold=$(realpath "$4")
a=tapi-$$-a b=tapi-$$-b c=tapi-$$-c
tmp=$(mktemp -d)
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -f "/dev/shm/throttle.$a" "/dev/shm/throttle.$b" "/dev/shm/throttle.$c"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# Runs the example with ARGS, leaving stdout, stderr and status in
# $tmp/out, $tmp/err and $rc.
run() {
	"$example" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

expect_line() {
	grep -qx -- "$1" "$tmp/out" || fail "no line '$1' in: $(cat "$tmp/out" "$tmp/err")"
}

printf 'some bytes\nand more\n' >"$tmp/data"
size=$(wc -c <"$tmp/data")

# Alone: one slot taken, the file read, the slot given back.
run "$a" 3 "$tmp/data"
[ "$rc" = 0 ] || fail "example exited $rc: $(cat "$tmp/err")"
expect_line "holding a slot: limit 3, in use 1, waiting 0, peak 1, granted 1, timeouts 0, refused 0"
expect_line "read $size bytes of $tmp/data"
expect_line "released: limit 3, in use 0, waiting 0, peak 1, granted 1, timeouts 0, refused 0"
grep -q "^libthrottle [0-9]" "$tmp/out" || fail "no version line"
# An existing pool keeps its limit.
run "$a" 5
[ "$rc" = 0 ] || fail "second run exited $rc"
expect_line "released: limit 3, in use 0, waiting 0, peak 1, granted 2, timeouts 0, refused 0"

# Usage errors: exit 2, a message on stderr.
for args in "" "$a" "$b 0" "bad/name 1" "$a 1 x y"; do
	# shellcheck disable=SC2086
	run $args
	[ "$rc" = 2 ] || fail "'$args' exited $rc, not 2"
	[ -s "$tmp/err" ] || fail "'$args' said nothing on stderr"
done
# A file it cannot read: exit 1, and the slot given back all the same.
run "$a" 3 "$tmp/absent"
[ "$rc" = 1 ] || fail "an absent file exited $rc"
grep -q "cannot open $tmp/absent" "$tmp/err" || fail "no message: $(cat "$tmp/err")"
expect_line "released: limit 3, in use 0, waiting 0, peak 1, granted 3, timeouts 0, refused 0"

# A pool another process holds full: the example waits its 5 s and gives
# up, exit 1; once the holder is gone, killed, its slot comes back.
"$hold" "$b" 1 held >"$tmp/hold" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -qx ready "$tmp/hold" && break; sleep 0.1; done
grep -qx ready "$tmp/hold" || fail "pool-hold: $(cat "$tmp/hold")"
start=$SECONDS
run "$b" 1
[ "$rc" = 1 ] || fail "a full pool exited $rc"
grep -q "none free within 5 s" "$tmp/err" || fail "no timeout message: $(cat "$tmp/err")"
[ $((SECONDS - start)) -ge 4 ] || fail "gave up before its timeout"
kill -KILL "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null
run "$b" 1
[ "$rc" = 0 ] || fail "a dead holder's slot did not come back: $(cat "$tmp/err")"
expect_line "holding a slot: limit 1, in use 1, waiting 0, peak 1, granted 2, timeouts 1, refused 0"

# Under the shim, with a config whose pool c gates the files of $tmp/gated:
# the open takes a second slot of the pool the API took one of.
mkdir "$tmp/gated"
cp "$tmp/data" "$tmp/gated/data"
conf() {
	printf 'pool %s {\n limit = %s\n open = "%s/gated/*"\n}\n' "$c" "$1" "$tmp" >"$tmp/conf"
}
preloaded() {
	THROTTLE_CONFIG="$tmp/conf" LD_PRELOAD="$lib" "$@"
}
conf 2
preloaded "$example" "$c" 9 "$tmp/gated/data" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "preloaded example exited $rc: $(cat "$tmp/err")"
expect_line "holding a slot: limit 2, in use 1, waiting 0, peak 1, granted 1, timeouts 0, refused 0"
expect_line "reading: limit 2, in use 2, waiting 0, peak 2, granted 2, timeouts 0, refused 0"
expect_line "released: limit 2, in use 0, waiting 0, peak 2, granted 2, timeouts 0, refused 0"

# Both slots are the one process's: held while it blocks opening a fifo.
mkfifo "$tmp/gated/fifo"
THROTTLE_CONFIG="$tmp/conf" LD_PRELOAD="$lib" "$example" "$c" 9 "$tmp/gated/fifo" \
	>"$tmp/out" 2>"$tmp/err" &
pids+=($!)
ex=${pids[-1]}
for _ in $(seq 100); do
	"$ctl" status --json "$c" >"$tmp/status" 2>&1
	grep -q '"in_use":2' "$tmp/status" && break
	sleep 0.1
done
python3 - "$tmp/status" "$ex" <<'EOF' || fail "holders: $(cat "$tmp/status")"
import json, sys
pool = json.load(open(sys.argv[1]))["pools"][0]
pids = {h["pid"] for h in pool["holders"]}
targets = sorted(h["target"] for h in pool["holders"])
assert pool["in_use"] == 2 and pids == {int(sys.argv[2])}, (pids, pool)
assert targets[1] == "api" and targets[0].endswith("/gated/fifo"), targets
EOF
echo fifo-bytes >"$tmp/gated/fifo"
wait "$ex"
rc=$?
[ "$rc" = 0 ] || fail "fifo run exited $rc: $(cat "$tmp/err")"
expect_line "read 11 bytes of $tmp/gated/fifo"

# A limit of 1: the API's slot is the only one, and the gated open, which
# could only wait for it for ever, is refused at once.
conf 1
preloaded "$example" "$c" 9 "$tmp/gated/data" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] || fail "a limit of 1 exited $rc: $(cat "$tmp/out" "$tmp/err")"
grep -q "cannot open $tmp/gated/data" "$tmp/err" || fail "open not refused: $(cat "$tmp/err")"
grep -q "released: limit 1, in use 0" "$tmp/out" || fail "slot kept: $(cat "$tmp/out")"
echo "1 passed, 0 failed"
