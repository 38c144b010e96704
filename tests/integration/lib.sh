# lib.sh - helpers shared by the integration cases (test-<module>.sh), sourced
# by each. A case runs as: bash test-<module>.sh test_<module>_<behaviour>
# VARIANT [ARGS...], with THR_BIN (the probes' build folder) and THR_SHIM (the
# shim's path; empty runs everything without it, see control.sh) in the
# environment. Only the programs under test get LD_PRELOAD; bash, the server
# and the watcher never run under the shim. Exit 0 pass, 1 fail (a "FAIL:"
# line on stderr, then every output file), 77 skip.
#
# Every case gets a private folder ($TMP), a pool name of its own ($POOL) and
# a config path ($CONF), so cases run in parallel. Programs are started with
# "start NAME PROGRAM ARGS..." (stdout to $TMP/NAME.out, stderr to
# $TMP/NAME.err) or run to the end with "run"; a probe told to hold "@$TMP/x"
# holds until "release x".

set -u -o pipefail
export LC_ALL=C

: "${THR_BIN:?THR_BIN is not set}"
THR_SHIM=${THR_SHIM-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/thr-it.XXXXXX") || exit 1
POOL="it$$.$RANDOM"
CONF=$TMP/t.conf
VARIANT=plain
WITNESS=                # server or watch, once started
SHIMENV=(LD_PRELOAD="$THR_SHIM" THROTTLE_CONFIG="$CONF")
declare -A PID_OF=()
BG=()
RELEASES=()
STATUS=0
PORT=

cleanup() {
	local p f
	# Let every holder (and their children) go, then stop what is left.
	for f in "${RELEASES[@]}"; do : >"$f" 2>/dev/null; done
	sleep 0.05
	for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.05
	for p in "${BG[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
	rm -f "/dev/shm/throttle.$POOL" /dev/shm/throttle."$POOL".*
}
trap cleanup EXIT

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# fail MESSAGE: reports and stops the case, with every output for context.
fail() {
	local f
	echo "FAIL: $*" >&2
	for f in "$CONF" "$TMP"/*.out "$TMP"/*.err "$TMP"/*.state "$TMP"/*.log; do
		[ -s "$f" ] || continue
		echo "--- ${f##*/}" >&2
		cat "$f" >&2
	done
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# probe_path CALL: the probe binary for $VARIANT.
probe_path() {
	if [ "$VARIANT" = plain ]; then
		echo "$THR_BIN/probe-$1"
	else
		echo "$THR_BIN/probe-$1-$VARIANT"
	fi
}

# start NAME PROGRAM ARGS...: runs PROGRAM under the shim in the background.
# env(1) execs the program, so PID_OF[NAME] is the program's own pid.
start() {
	local name=$1 a
	shift
	for a in "$@"; do
		case $a in @"$TMP"/*) RELEASES+=("${a#@}") ;; esac
	done
	env -u THROTTLE_CONFIG -u THROTTLE_SERVICE -u THROTTLE_QUIET \
		"${SHIMENV[@]}" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	PID_OF[$name]=$!
	BG+=($!)
}

# start_in DIR NAME PROGRAM ARGS...: start, with DIR as working folder.
start_in() {
	local dir=$1
	shift
	start "$1" env -C "$dir" "${@:2}"
}

# finish NAME [SECONDS]: waits for NAME to exit (default 10 s); sets STATUS.
finish() {
	local name=$1 t=${2:-10} pid=${PID_OF[$1]} end
	end=$(($(now_ms) + t * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && break
		[ "$(now_ms)" -lt "$end" ] ||
			fail "$name (pid $pid) still running after ${t}s"
		sleep 0.005
	done
	wait "$pid"
	STATUS=$?
}

# run NAME PROGRAM ARGS...: start and finish.
run() {
	start "$@"
	finish "$1"
}

# release NAME...: lets probes holding "@$TMP/NAME" go on.
release() {
	local n
	for n in "$@"; do : >"$TMP/$n"; done
}

# wait_line NAME REGEX [SECONDS]: waits until NAME prints a line starting
# with REGEX (extended), default 5 s.
wait_line() {
	local name=$1 re=$2 t=${3:-5} end
	end=$(($(now_ms) + t * 1000))
	until grep -Eq "^($re)" "$TMP/$name.out" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] ||
			fail "$name: no line matching '$re' after ${t}s"
		sleep 0.005
	done
}

# expect_line NAME REGEX: NAME has printed a line starting with REGEX.
expect_line() {
	grep -Eq "^($2)" "$TMP/$1.out" ||
		fail "$1: expected a line '$2', got: $(tr '\n' ';' <"$TMP/$1.out")"
}

# expect_count NAME REGEX N: NAME printed exactly N lines starting with REGEX.
expect_count() {
	local n
	n=$(grep -Ec "^($2)" "$TMP/$1.out")
	[ "$n" -eq "$3" ] ||
		fail "$1: expected $3 lines '$2', got $n: $(tr '\n' ';' <"$TMP/$1.out")"
}

# ms_of NAME REGEX: the ms= value of the first line starting with REGEX.
ms_of() {
	grep -E "^($2)" "$TMP/$1.out" | head -n1 | sed -n 's/.* ms=\([0-9]*\).*/\1/p'
}

# expect_ms NAME REGEX MIN MAX: that line's ms= is within [MIN, MAX).
expect_ms() {
	local ms
	ms=$(ms_of "$1" "$2")
	[ -n "$ms" ] || fail "$1: no line '$2' with ms="
	[ "$ms" -ge "$3" ] && [ "$ms" -lt "$4" ] ||
		fail "$1: '$2' took ${ms} ms, expected $3 <= ms < $4"
}

# The lines a probe may print; anything else on stdout came from elsewhere.
PROBE_LINES='ok fd=[0-9]+ ms=[0-9]+( inprogress)?|err errno=[A-Z0-9]+( ms=[0-9]+)?'
PROBE_LINES+='|released|done|close2 fd=[0-9]+ (ok|errno=[A-Z0-9]+)'
PROBE_LINES+='|(rel|copy)err( fd=[0-9]+)? errno=[A-Z0-9]+|connected fd=[0-9]+'
PROBE_LINES+='|connerr fd=[0-9]+ errno=[A-Z0-9]+|parent-released'
PROBE_LINES+='|child-released|child-exited|(held|lost) fd=-?[0-9]+|exec'
PROBE_LINES+='|forked child=[0-9]+|spawned( child=[0-9]+)?|clone-tls exit=[0-9]+'
PROBE_LINES+='|exec-failed errno=[A-Z0-9]+|holder-failed status=[0-9]+|signal'
PROBE_LINES+='|threads max=[0-9]+ takes=[0-9]+ errors=[0-9]+'

# quiet NAME...: the shim wrote nothing: stderr empty, stdout only probe
# lines, and no "relerr" or "copyerr" (a release call or a copy that
# failed).
quiet() {
	local n bad
	for n in "$@"; do
		[ -s "$TMP/$n.err" ] &&
			fail "$n: unexpected stderr: $(cat "$TMP/$n.err")"
		bad=$(grep -Evx "$PROBE_LINES" "$TMP/$n.out" | head -n3)
		[ -z "$bad" ] || fail "$n: unexpected stdout lines: $bad"
		grep -q '^relerr' "$TMP/$n.out" &&
			fail "$n: a release call failed: $(grep '^relerr' "$TMP/$n.out")"
		grep -q '^copyerr' "$TMP/$n.out" &&
			fail "$n: a copy failed: $(grep '^copyerr' "$TMP/$n.out")"
	done
	return 0
}

# conf_pool LIMIT ON-FULL LINE...: writes $CONF with one pool $POOL.
conf_pool() {
	local limit=$1 full=$2 l
	shift 2
	{
		echo "pool $POOL {"
		echo "  limit = $limit"
		echo "  on-full = $full"
		for l in "$@"; do echo "  $l"; done
		echo "}"
	} >"$CONF"
}

# state_get FILE KEY: a number from a witness state file.
state_get() {
	sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$1"
}

wait_file() {
	local end=$(($(now_ms) + 5000))
	until [ -s "$1" ]; do
		[ "$(now_ms)" -lt "$end" ] || fail "no $1 after 5s"
		sleep 0.005
	done
}

# server_start [OPTIONS]: the loopback witness (server.c); sets PORT.
server_start() {
	"$THR_BIN/server" "$@" "$TMP/server.state" >"$TMP/server.log" 2>&1 &
	BG+=($!)
	PID_OF[server]=$!
	wait_file "$TMP/server.state"
	PORT=$(state_get "$TMP/server.state" port)
	WITNESS=server
}

# watch_start [-p] PREFIX: the /proc witness (watch.c) for files under
# PREFIX (with -p, for processes that have any open there).
watch_start() {
	"$THR_BIN/watch" "$@" "$TMP/watch.state" >"$TMP/watch.log" 2>&1 &
	BG+=($!)
	PID_OF[watch]=$!
	wait_file "$TMP/watch.state"
	WITNESS=watch
}

# watch_restart PREFIX: a fresh /proc witness, whose max counts only what
# happens from now on.
watch_restart() {
	kill "${PID_OF[watch]}" 2>/dev/null
	wait "${PID_OF[watch]}" 2>/dev/null
	rm -f "$TMP/watch.state"
	watch_start "$1"
}

# witness_max: the most connections or files the witness saw open at once.
witness_max() {
	state_get "$TMP/$WITNESS.state" max
}

witness_label() {
	[ "$WITNESS" = server ] && echo server || echo witness
}

# witness_not_above LIMIT
witness_not_above() {
	local m
	m=$(witness_max)
	[ "$m" -le "$1" ] || fail "$(witness_label) max=$m > limit $1"
}

# witness_reached LIMIT: the witness saw exactly LIMIT at once (waiting up
# to 2 s for it to notice), never more.
witness_reached() {
	local end=$(($(now_ms) + 2000)) m
	m=$(witness_max)
	while [ "$m" -lt "$1" ] && [ "$(now_ms)" -lt "$end" ]; do
		sleep 0.01
		m=$(witness_max)
	done
	witness_not_above "$1"
	[ "$m" -eq "$1" ] || fail "$(witness_label) max=$m: limit $1 never reached"
}

# poolstat KEY: one counter of $POOL as the engine has it ("" if none).
poolstat() {
	"$THR_BIN/poolstat" "$POOL" 2>/dev/null | state_get /dev/stdin "$1"
}

# in_use_is N WHEN: with the shim, $POOL counts N slots in use, or the test
# fails saying WHEN.
in_use_is() {
	[ -z "$THR_SHIM" ] || [ "$(poolstat in_use)" = "$1" ] ||
		fail "$2: pool in_use=$(poolstat in_use), expected $1"
}

# wait_waiting N: waits (up to 3 s) until N callers queue on $POOL. Without
# the shim there is no pool: then it just waits 300 ms.
wait_waiting() {
	local end=$(($(now_ms) + 3000)) w
	if [ -z "$THR_SHIM" ]; then
		sleep 0.3
		return
	fi
	while :; do
		w=$(poolstat waiting)
		[ "${w:-0}" -ge "$1" ] && return
		[ "$(now_ms)" -lt "$end" ] ||
			fail "pool $POOL: $1 waiter(s) expected, poolstat says '${w}'"
		sleep 0.01
	done
}

# gate_target KIND: sets TARGET, REFUSED (the errno of a refused call) and
# MATCH (the pool's match line) for an open or connect case, with its
# witness started.
gate_target() {
	if [ "$1" = connect ]; then
		server_start
		TARGET=127.0.0.1:$PORT
		REFUSED=ECONNREFUSED
		TIMEDOUT=ETIMEDOUT
		MATCH="connect = \"127.0.0.1:$PORT\""
	else
		mkdir -p "$TMP/d"
		: >"$TMP/d/f"
		TARGET=$TMP/d/f
		REFUSED=ENFILE
		TIMEDOUT=ENFILE
		MATCH="open = \"$TMP/d/*\""
		watch_start "$TMP/d/"
	fi
}

# run_case FUNCTION VARIANT ARGS...: the entry point at the end of each
# test-<module>.sh.
run_case() {
	local fn=$1
	[ $# -ge 2 ] || { echo "usage: $0 CASE VARIANT [ARGS...]" >&2; exit 2; }
	VARIANT=$2
	shift 2
	declare -F "$fn" >/dev/null || { echo "no case $fn" >&2; exit 2; }
	"$fn" "$@"
	echo "PASS: $fn $VARIANT $*"
}
