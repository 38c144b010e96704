#!/bin/bash
# test-early.sh SHIM EARLY_LIB POOLSTAT - open() from another library's
# constructor, preloaded before and after the shim: it works, it is gated
# (limit 1, the second open refused), and the program runs normally
# afterwards. And a close() from another library's thread while the shim
# is still loading gives the slot back.
set -u
shim=$1 early=$2 poolstat=$3
dir=$(mktemp -d)
pool=early-$$
trap 'kill "${img:-}" 2>/dev/null; rm -rf "$dir"
      rm -f /dev/shm/throttle.$pool /dev/shm/throttle.$pool-a /dev/shm/throttle.$pool-b' EXIT
touch "$dir/f"
printf 'pool %s {\n limit = 1\n on-full = fail\n open = {"%s/*"}\n}\n' \
	"$pool" "$dir" > "$dir/c.conf"
pass=0 failed=0
for order in "$shim $early" "$early $shim"; do
	out=$(EARLY_PATH="$dir/f" THROTTLE_CONFIG="$dir/c.conf" LD_PRELOAD="$order" \
		cat "$dir/f" 2>&1; echo "rc=$?")
	want="early: first ok, second Too many open files in system"
	if [[ $out == *"$want"* && $out == *"rc=0"* ]]; then
		pass=$((pass + 1))
	else
		echo "LD_PRELOAD='$order': got: $out"
		failed=$((failed + 1))
	fi
done

in_use() {
	"$poolstat" "$1" 2>/dev/null | sed -n 's/.*in_use=\([0-9]*\).*/\1/p'
}

in_use_is() {
	[ "$(in_use "$1")" = "$2" ]
}

# wait_for COMMAND...: up to 5 s.
wait_for() {
	local i
	for i in $(seq 500); do
		"$@" && return 0
		sleep 0.01
	done
	return 1
}

# The close: bash holds a (pool -a) on 3 and b (pool -b) on 4, then execs
# sleep with the early library, whose thread closes 3 after 300 ms. The
# shim in sleep takes back a's record, then waits for b's lock, which
# poolstat keeps for 1.5 s: the close comes in between.
close_during_load() {
	touch "$dir/a" "$dir/b"
	printf 'pool %s-%s {\n limit = 1\n on-full = fail\n open = {"%s/%s"}\n}\n' \
		"$pool" a "$dir" a "$pool" b "$dir" b >"$dir/two.conf"
	mkfifo "$dir/go"
	# It waits on a FIFO: children forked to poll would co-hold the slots.
	THROTTLE_CONFIG="$dir/two.conf" LD_PRELOAD="$shim" bash -c '
exec 3<"$1" 4<"$2"
read -r _ <"$3"
EARLY_CLOSE_FD=3 EARLY_CLOSE_MS=300 LD_PRELOAD="$4 $5" exec sleep 10' \
		bash "$dir/a" "$dir/b" "$dir/go" "$shim" "$early" &
	img=$!
	wait_for in_use_is "$pool-b" 1 || { echo "b never held"; return 1; }
	"$poolstat" --lock "$pool-b" 1500 >"$dir/lock.out" &
	local lk=$!
	wait_for grep -q locked "$dir/lock.out" || { echo "b never locked"; return 1; }
	echo go >"$dir/go"
	wait "$lk"
	wait_for in_use_is "$pool-a" 0 || {
		echo "a: in_use=$(in_use "$pool-a") after its only copy closed"
		return 1
	}
	[ "$(in_use "$pool-b")" = 1 ] || { echo "b: in_use=$(in_use "$pool-b")"; return 1; }
	[ "$(readlink "/proc/$img/fd/4")" = "$dir/b" ] || { echo "sleep lost b"; return 1; }
}
if close_during_load; then
	pass=$((pass + 1))
else
	failed=$((failed + 1))
fi
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
