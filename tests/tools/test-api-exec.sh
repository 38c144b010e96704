#!/usr/bin/env bash
# test-api-exec.sh - a slot taken through the C API, then exec: the handle
# is gone with the old image, so in a pool the preloaded shim's config
# gates, the shim in the new image gives the slot back (inherit.c's
# take-back of records no descriptor names); in a pool it does not gate,
# the slot stays the process's until it ends. The process is python3,
# calling the API through ctypes, then exec'ing throttlectl status.
# Usage: test-api-exec.sh LIBTHROTTLE THROTTLECTL
set -u
lib=$(realpath "$1") ctl=$(realpath "$2")
gated=tapix-$$-g other=tapix-$$-o
tmp=$(mktemp -d)

cleanup() {
	rm -f "/dev/shm/throttle.$gated" "/dev/shm/throttle.$other"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
printf 'pool %s {\n limit = 2\n open = "%s/gated/*"\n}\n' "$gated" "$tmp" >"$tmp/conf"

# Takes a slot of POOL through the API, then execs `throttlectl status
# --json POOL` in the same process, under the shim; prints the pid first.
take_and_exec() {
	THROTTLE_CONFIG="$tmp/conf" LD_PRELOAD="$lib" python3 - "$lib" "$1" "$ctl" <<'PY'
import ctypes, os, sys
api = ctypes.CDLL(sys.argv[1], use_errno=True)
api.throttle_open.restype = ctypes.c_void_p
api.throttle_open.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_int]
api.throttle_acquire.argtypes = [ctypes.c_void_p]
pool = api.throttle_open(sys.argv[2].encode(), 2, 1)
if not pool or api.throttle_acquire(pool) != 0:
    sys.exit("cannot take a slot: %s" % os.strerror(ctypes.get_errno()))
print(os.getpid(), flush=True)
os.execv(sys.argv[3], [sys.argv[3], "status", "--json", sys.argv[2]])
PY
}

# Reads the pid line and the JSON line of $tmp/out: prints in_use, then
# the pids holding.
figures() {
	python3 - "$tmp/out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
pool = json.loads(lines[1])["pools"][0]
print(lines[0], pool["in_use"], sorted({h["pid"] for h in pool["holders"]}))
PY
}

take_and_exec "$gated" >"$tmp/out" 2>"$tmp/err" || fail "gated: $(cat "$tmp/err")"
read -r pid in_use holders < <(figures) || fail "output: $(cat "$tmp/out")"
[ "$in_use" = 0 ] && [ "$holders" = "[]" ] ||
	fail "gated pool: slot of $pid not given back at exec: $(cat "$tmp/out")"

take_and_exec "$other" >"$tmp/out" 2>"$tmp/err" || fail "other: $(cat "$tmp/err")"
read -r pid in_use holders < <(figures) || fail "output: $(cat "$tmp/out")"
[ "$in_use" = 1 ] && [ "$holders" = "[$pid]" ] ||
	fail "other pool: the slot should stay $pid's: $(cat "$tmp/out")"
echo "1 passed, 0 failed"
