#!/usr/bin/env bash
# test-set-limit.sh - `throttlectl set-limit` against live processes: growing
# lets a waiting pool-hold in at once; shrinking takes nothing back and
# grants nothing until in_use drains below the limit; programs started
# through throttle with the real shim and the same config leave the
# operator's limit alone, an edited config's limit replaces it; status says
# where the limit came from; bad N, missing pools, usage, exit codes.
# Usage: test-set-limit.sh THROTTLECTL POOL-HOLD THROTTLE
set -u
ctl=$(realpath "$1") hold=$(realpath "$2") throttle=$(realpath "$3")
p=tsl-$$
tmp=$(mktemp -d)
pids=()
unset LD_PRELOAD THROTTLE_CONFIG THROTTLE_SERVICE

cleanup() {
	stop_started
	rm -f "/dev/shm/throttle.$p"
	rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname "$0")/ctl-testlib.sh"

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# Waits up to SECS for file LOG to have the line WORD.
await_line() {
	local log=$1 word=$2 secs=$3 end
	end=$(($(now_ms) + secs * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		grep -qx "$word" "$log" && return 0
		sleep 0.02
	done
	return 1
}

# Prints field KEY of the pool from status --json (Python repr).
field() {
	"$ctl" status --json "$p" | python3 -c \
		'import json,sys; print(repr(json.load(sys.stdin)["pools"][0][sys.argv[1]]))' "$1"
}

# Checks limit, limit_source and config_limit.
expect_limit() {
	local got
	got="$(field limit) $(field limit_source) $(field config_limit)"
	[ "$got" = "$1" ] || fail "$2: limit, source, config limit are '$got', want '$1'"
}

await_waiting() {
	for _ in $(seq 200); do
		[ "$(field waiting)" = "$1" ] && return 0
		sleep 0.05
	done
	fail "waiting never became $1: $("$ctl" status "$p")"
}

conf() {
	printf 'pool "%s" {\n    limit = %d\n    open = "%s/data/*"\n}\n' \
		"$p" "$1" "$tmp" >"$tmp/p.conf"
}

# Runs CMD... through throttle with the config: a process that starts and
# loads it. It must succeed and take a slot of the pool (granted grows).
through_shim() {
	local before
	before=$(field granted)
	timeout 20 "$throttle" -c "$tmp/p.conf" -- "$@" >"$tmp/shim.out" 2>&1 ||
		fail "throttle $*: $(cat "$tmp/shim.out")"
	[ "$(field granted)" -gt "$before" ] ||
		fail "throttle $* did not use the pool: $("$ctl" status "$p")"
}

mkdir "$tmp/data" && echo data >"$tmp/data/f"

# ---- a pool the config made: limit 1, held by a program under the shim ----
conf 1
"$throttle" -c "$tmp/p.conf" -- sh -c 'exec 3<"$1"; echo held; exec sleep 60' \
	sh "$tmp/data/f" >"$tmp/a.out" 2>&1 &
pids+=($!)
pid_a=$!
await_line "$tmp/a.out" held 10 || fail "the throttled holder never ran: $(cat "$tmp/a.out")"
expect_limit "1 'config' 1" "made by the config"

# ---- a waiter, shown with its command name and target ----
start_hold waiting -w "$p" 1 /srv/w1
pid_w1=${pids[-1]} log_w1=$log
await_waiting 1
run status "$p"
grep -Eq "^  pid +$pid_w1  pool-hold  fd +[0-9]+  wait +[0-9.a-z]+  /srv/w1$" "$tmp/out" ||
	fail "the waiter's line: $(cat "$tmp/out")"
grep -Eq "^  pid +$pid_a  sleep +fd +3  held " "$tmp/out" ||
	fail "the holder's line: $(cat "$tmp/out")"

# ---- growing: the waiter is let in at once ----
t0=$(now_ms)
run set-limit "$p" 3
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "$p: limit 3 (was 1)" ] && [ ! -s "$tmp/err" ] ||
	fail "set-limit 3: exit $rc: $(cat "$tmp/out" "$tmp/err")"
await_line "$log_w1" ready 2 || fail "the waiter was never let in"
took=$(($(now_ms) - t0))
[ "$took" -lt 500 ] || fail "the waiter was let in after $took ms, not at once"
expect_limit "3 'set-limit' 1" "after set-limit"
run status "$p"
grep -Eq "^$p +3  set-limit \(config 1\)  +2 +0 " "$tmp/out" ||
	fail "the table does not say set-limit: $(cat "$tmp/out")"

# ---- processes loading the same config leave the operator's limit ----
through_shim cat "$tmp/data/f"
expect_limit "3 'set-limit' 1" "after cat under the shim"
through_shim python3 -c 'open(__import__("sys").argv[1]).read()' "$tmp/data/f"
expect_limit "3 'set-limit' 1" "after python3 under the shim"

# ---- shrinking: nothing taken back, no grant until in_use drains below ----
run set-limit "$p" 1
[ "$rc" -eq 0 ] && grep -q "^$p: limit 1 (was 3); 2 in use, none taken back" "$tmp/out" ||
	fail "set-limit 1: exit $rc: $(cat "$tmp/out" "$tmp/err")"
[ "$(field in_use)" = 2 ] || fail "shrinking took a slot back: $("$ctl" status "$p")"
start_hold waiting -w "$p" 1 /srv/w2
log_w2=$log
await_waiting 1
kill "$pid_w1"    # in_use 2 -> 1: still not below the limit
! await_line "$log_w2" ready 1 || fail "granted at in_use 1 of limit 1"
[ "$(field in_use)" = 1 ] || fail "the killed holder's slot: $("$ctl" status "$p")"
kill "$pid_a"     # in_use 1 -> 0: now the waiter gets in
await_line "$log_w2" ready 10 || fail "the waiter never got in after the pool drained"
expect_limit "1 'set-limit' 1" "after the drain"

# ---- an edited config's limit replaces the operator's ----
conf 2
through_shim cat "$tmp/data/f"
expect_limit "2 'config' 2" "after the config changed"
run status "$p"
grep -Eq "^$p +2  config +1 " "$tmp/out" || fail "the table does not say config: $(cat "$tmp/out")"

# ---- errors: bad N, missing pool, usage; nothing changes ----
for n in 0 1025 abc "" -- 3x 99999999999; do
	run set-limit "$p" "$n"
	[ "$rc" -eq 2 ] || fail "set-limit '$n': exit $rc, want 2"
	[ "$n" = -- ] || grep -q "^throttlectl: limit '$n' is not a whole number within 1-1024; usage: throttlectl set-limit POOL N$" "$tmp/err" ||
		fail "set-limit '$n': $(cat "$tmp/err")"
done
run set-limit "$p" 1024
[ "$rc" -eq 0 ] || fail "set-limit 1024: exit $rc: $(cat "$tmp/err")"
run set-limit "$p" 2
expect_limit "2 'set-limit' 2" "after the errors"
run set-limit "nosuch-$$" 2
[ "$rc" -eq 1 ] && grep -q "^throttlectl: no pool 'nosuch-$$'" "$tmp/err" ||
	fail "missing pool: exit $rc: $(cat "$tmp/err")"
[ ! -e "/dev/shm/throttle.nosuch-$$" ] || fail "set-limit created a pool"
run set-limit "bad/name" 2
[ "$rc" -eq 1 ] && grep -q "bad/name" "$tmp/err" || fail "bad name: exit $rc"
run set-limit
[ "$rc" -eq 2 ] && grep -q "POOL and N are both needed" "$tmp/err" || fail "no operands: exit $rc"
run set-limit "$p"
[ "$rc" -eq 2 ] && grep -q "POOL and N are both needed" "$tmp/err" || fail "no N: exit $rc"
run set-limit "$p" 2 3
[ "$rc" -eq 2 ] && grep -q "too many arguments" "$tmp/err" || fail "extra operand: exit $rc"
run set-limit --bogus "$p" 2
[ "$rc" -eq 2 ] && grep -q "unknown option '--bogus'" "$tmp/err" || fail "bad option: exit $rc"
run set-limit --help
[ "$rc" -eq 0 ] && grep -q "^usage: throttlectl set-limit POOL N" "$tmp/out" &&
	grep -q "until the config's own 'limit'" "$tmp/out" || fail "--help: exit $rc"
run --help
grep -q "^  set-limit POOL N$" "$tmp/out" || fail "throttlectl --help lacks set-limit"

# ---- a pool the caller cannot write: exit 1, the reason named ----
as=()
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null &&
		as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
else
	chmod 400 "/dev/shm/throttle.$p"
fi
if [ "$(id -u)" -eq 0 ] && [ ${#as[@]} -eq 0 ]; then
	echo "SKIP unwritable pool: running as root without setpriv"
else
	"${as[@]}" "$ctl" set-limit "$p" 5 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 1 ] && grep -q "$p.*Permission denied" "$tmp/err" ||
		fail "unwritable pool: exit $rc: $(cat "$tmp/err")"
	chmod 600 "/dev/shm/throttle.$p"
	expect_limit "2 'set-limit' 2" "after the refused set-limit"
fi
echo "PASS"
