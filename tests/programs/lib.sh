# lib.sh - the programs suite's helpers, on top of the integration harness
# (tests/integration/lib.sh: start, finish, run, fail, skip, release,
# conf_pool, server_start, poolstat, run_case). A case runs as
#     bash test-<module>.sh test_<module>_<behaviour> plain [ARGS...]
# with THR_BIN (the integration build folder: server, poolstat, probes),
# THR_PROGS (this suite's build folder: holders, redis-clients) and THR_SHIM
# (empty for a control run, see tests/integration/control.sh).
#
# Witnesses, all outside the shim, each with a state file $TMP/WHO.state:
# server (server.c: connections at once, by the server), holders (holders.c:
# files or connections at once, and processes holding them, from /proc) and
# redis (redis-clients.c: the clients redis-server itself counts). A case
# names the limits it holds them to with "guard WHO KEY LIMIT"; every wait
# below checks the guards as it goes, so a control run fails on the witness
# as soon as the limit is broken, whatever the case would have waited for.
#
# Programs hold a file or a connection long enough to be seen by waiting
# on an event, not a clock: a server that answers after a delay, a pipe
# that the test lets flow ("$STALL", then "release go"), or a FIFO in the
# gated folder standing for a slow file (fifo_feed). Every program runs in
# a session of its own, so that the cleanup ends whatever it started.

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

: "${THR_PROGS:?THR_PROGS is not set}"

declare -a GUARDS=()
declare -A T0=()
DIR=$TMP/d              # the gated folder of the open cases
mkdir "$DIR" || exit 1

# Waits, in a program's own shell, until the test says "release go" (or
# the case is over and its folder gone).
STALL="until [ -e '$TMP/go' ] || [ ! -d '$TMP' ]; do sleep 0.01; done"

progs_cleanup() {
	local p
	for p in "${PID_OF[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	cleanup
}
trap progs_cleanup EXIT
trap 'exit 143' TERM INT

# need PROGRAM...: skips the case (77) unless every PROGRAM is installed.
need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null || skip "$p is not installed"
	done
}

# start NAME PROGRAM ARGS...: the integration harness's start, with the
# program in a session of its own (setsid execs it: the pid stays the
# program's) and its start time noted for refused_fast.
eval "$(declare -f start | sed '1s/^start/harness_start/')"
start() {
	T0[$1]=$(now_ms)
	harness_start "$1" setsid "${@:2}"
}

# copies N NAME PROGRAM ARGS...: N copies at once, NAME1..NAMEN; "%i" in an
# argument becomes the copy's number.
copies() {
	local n=$1 name=$2 i a args
	shift 2
	for i in $(seq "$n"); do
		args=()
		for a in "$@"; do args+=("${a//%i/$i}"); done
		start "$name$i" "${args[@]}"
	done
}

# names NAME N: NAME1 .. NAMEN.
names() {
	local i
	for i in $(seq "$2"); do printf '%s%d ' "$1" "$i"; done
}

# said TEXT NAME...: each NAME printed TEXT and nothing else ("%i" in TEXT:
# the NAME's place in the list, from 1).
said() {
	local n i=0 out
	for n in "${@:2}"; do
		i=$((i + 1))
		out=$(cat "$TMP/$n.out")
		[ "$out" = "${1//%i/$i}" ] ||
			fail "$n printed '$out', expected '${1//%i/$i}'"
	done
}

# value WHO KEY: a number from a witness's state file (0 before it has one).
value() {
	local v
	v=$(state_get "$TMP/$1.state" "$2" 2>/dev/null)
	echo "${v:-0}"
}

# guard WHO KEY LIMIT: from now on, WHO's KEY above LIMIT fails the case.
guard() {
	GUARDS+=("$1 $2 $3")
}

check_guards() {
	local g who key limit v
	for g in "${GUARDS[@]}"; do
		read -r who key limit <<<"$g"
		v=$(value "$who" "$key")
		[ "$v" -le "$limit" ] || fail "$who $key=$v > limit $limit"
	done
}

# reached WHO KEY N [SECONDS]: waits (default 10 s) until WHO's KEY is N,
# checking the guards; fails if it never gets there.
reached() {
	local end=$(($(now_ms) + ${4:-10} * 1000))
	while :; do
		check_guards
		[ "$(value "$1" "$2")" -ge "$3" ] && return
		[ "$(now_ms)" -lt "$end" ] ||
			fail "$1 $2=$(value "$1" "$2"): $3 never reached"
		sleep 0.01
	done
}

# all_in WHO KEY LIMIT COPIES: waits until every copy is in: the witness
# has seen LIMIT and, with the shim, the other copies wait in the pool
# (the pool's own count, used here only to know when). Without the shim
# nothing holds a copy back, so the witness sees more than LIMIT and the
# guards fail the case.
all_in() {
	local end=$(($(now_ms) + 20000)) w
	while :; do
		check_guards
		if [ -n "$THR_SHIM" ] && [ "$(value "$1" "$2")" -ge "$3" ]; then
			w=$(poolstat waiting)
			[ "${w:-0}" -ge "$(($4 - $3))" ] && return
		fi
		[ "$(now_ms)" -lt "$end" ] ||
			fail "$1 $2=$(value "$1" "$2"), pool waiting=$(poolstat waiting): not every copy in after 20s"
		sleep 0.01
	done
}

# let_go_at WHO KEY LIMIT COPIES: all_in, then "release go".
let_go_at() {
	all_in "$@"
	release go
}

# done_by NAME [SECONDS]: waits (default 30 s) for NAME to exit, checking
# the guards; sets STATUS. The bounds here are for a machine under load:
# a case that passes takes a second or two.
done_by() {
	local pid=${PID_OF[$1]} end=$(($(now_ms) + ${2:-30} * 1000))
	while kill -0 "$pid" 2>/dev/null &&
		! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
		check_guards
		[ "$(now_ms)" -lt "$end" ] ||
			fail "$1 (pid $pid) still running after ${2:-30}s"
		sleep 0.01
	done
	wait "$pid"
	STATUS=$?
	check_guards
}

# all_ok NAME...: each exits 0 with nothing on stderr.
all_ok() {
	local n
	for n in "$@"; do
		done_by "$n"
		[ "$STATUS" -eq 0 ] || fail "$n exited $STATUS"
		[ ! -s "$TMP/$n.err" ] || fail "$n: stderr: $(cat "$TMP/$n.err")"
	done
}

# err_line NAME REGEX [SECONDS]: waits (default 20 s) for a line matching
# REGEX on NAME's stderr, checking the guards.
err_line() {
	local end=$(($(now_ms) + ${3:-20} * 1000))
	until grep -Eq "$2" "$TMP/$1.err"; do
		check_guards
		[ "$(now_ms)" -lt "$end" ] ||
			fail "$1: no '$2' on stderr after ${3:-20}s"
		sleep 0.01
	done
	check_guards
}

# refusal PROGRAM CALL LIMIT: the shim's line for a wait that could never
# end, as a regex.
refusal() {
	echo "^throttle: pool '$POOL': $1 \\(pid [0-9]+\\) holds [0-9]+ of $3 slots and waits for another; failing $2\\(\\) - set hold = process"
}

# refused_fast NAME PROGRAM CALL LIMIT: NAME failed within 2 s of its start,
# saying on stderr, in the shim's one line, that PROGRAM held LIMIT of LIMIT
# slots and waited for another, so CALL was failed.
refused_fast() {
	local ms
	done_by "$1" 10
	ms=$(($(now_ms) - T0[$1]))
	[ "$STATUS" -ne 0 ] || fail "$1 exited 0: nothing was refused"
	[ "$ms" -le 2000 ] || fail "$1 took ${ms} ms to fail, expected <= 2000"
	grep -Eq "$(refusal "$2" "$3" "$4")" "$TMP/$1.err" ||
		fail "$1: no refusal line for $2 $3() on stderr"
}

# refused_at_once NAME PROGRAM CALL LIMIT: as refused_fast, for a program
# that goes on after the refusal: the line comes within 2 s of its start.
refused_at_once() {
	local ms
	err_line "$1" "$(refusal "$2" "$3" "$4")"
	ms=$(($(now_ms) - T0[$1]))
	[ "$ms" -le 2000 ] || fail "$1 took ${ms} ms to be refused, expected <= 2000"
}

# nothing_left CALL TARGET LIMIT: once the programs have ended, a probe
# (probe-open or probe-connect) takes all LIMIT slots on TARGET, each
# within a second: a slot kept for a refused or ended program, or a place
# it left in the queue, would make it wait. (Slots of a process that ended
# without closing come back at the next acquire that finds the pool full.)
nothing_left() {
	local args=() ms
	[ "$1" = open ] && args=(-f rdwr,creat)
	run free "$THR_BIN/probe-$1" "${args[@]}" "$2" "$3" 0
	expect_count free 'ok fd=' "$3"
	for ms in $(sed -n 's/^ok fd=[0-9]* ms=\([0-9]*\).*/\1/p' "$TMP/free.out"); do
		[ "$ms" -lt 1000 ] || fail "free: a slot took ${ms} ms to get"
	done
}

# holders_start -f PREFIX [-D] | -t PORT: the /proc witness, once it has
# made its first sweep.
holders_start() {
	local end=$(($(now_ms) + 20000))
	"$THR_PROGS/holders" "$@" "$TMP/holders.state" >"$TMP/holders.log" 2>&1 &
	BG+=($!)
	until [ -s "$TMP/holders.state" ]; do
		[ "$(now_ms)" -lt "$end" ] || fail "holders: no first sweep in 20s"
		sleep 0.01
	done
}

# open_pool LIMIT [LINE...]: $POOL gates every file under $DIR, watched by
# holders from now on (so files are made before); extra LINEs (hold =
# process, folders = yes) go into the pool, and the witness counts folders
# as the pool does.
open_pool() {
	local limit=$1 folders=
	shift
	conf_pool "$limit" wait "open = \"$DIR/**\"" "$@"
	[[ " $* " == *" folders = yes "* ]] && folders=-D
	holders_start -f "$DIR/" $folders
}

# connect_pool LIMIT [SERVER_OPTION...] [-- LINE...]: $POOL gates
# connections to a server.c witness started with the options.
connect_pool() {
	local limit=$1 opts=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	server_start "${opts[@]}"
	URL=http://127.0.0.1:$PORT/
	conf_pool "$limit" wait "connect = \"127.0.0.1:$PORT\"" "$@"
}

# fifo_feed FIFO DATA: makes FIFO (in the gated folder) a slow file: a
# feeder without the shim opens it by another name, outside the folder (a
# hard link, so the witness does not count it), and writes DATA into it
# once the test says "release go".
fifo_feed() {
	local outside
	mkdir -p "$TMP/fifo"
	outside=$TMP/fifo/$(echo "$1" | md5sum | cut -c1-12)
	mkfifo "$outside" && ln "$outside" "$1" || fail "no FIFO $1"
	(
		exec 3>"$outside"
		eval "$STALL"
		cat "$2" >&3 2>/dev/null
	) 2>/dev/null &
	BG+=($!)
}

# stalled_output NAME: a FIFO, $TMP/NAME.pipe, for a program's output,
# read by a reader without the shim that reads nothing until "release go":
# a program that writes more than a pipe holds stops there, its files
# open. What it wrote ends up in $TMP/NAME.data.
stalled_output() {
	mkfifo "$TMP/$1.pipe" || fail "no FIFO $TMP/$1.pipe"
	(
		exec 3<"$TMP/$1.pipe"
		eval "$STALL"
		cat <&3 >"$TMP/$1.data"
	) &
	BG+=($!)
}

# stalled_input NAME FIRST REST: a FIFO, $TMP/NAME.pipe, for a program's
# input: a writer without the shim writes the file FIRST into it, and the
# file REST after "release go".
stalled_input() {
	mkfifo "$TMP/$1.pipe" || fail "no FIFO $TMP/$1.pipe"
	(
		exec 3>"$TMP/$1.pipe"
		cat "$2" >&3
		eval "$STALL"
		cat "$3" >&3
	) 2>/dev/null &
	BG+=($!)
}

# same_tree A B: folders A and B hold the same names and contents.
same_tree() {
	diff -r "$1" "$2" >"$TMP/diff.log" 2>&1 ||
		fail "$2 differs from $1: $(head -n5 "$TMP/diff.log")"
}

# tree ROOT: a five-level tree of small files under ROOT, and one of 1 MiB
# (more than a pipe holds) at the bottom.
tree() {
	local p=$1 l f
	for l in 1 2 3 4 5; do
		p=$p/l$l
		mkdir -p "$p"
		for f in a b c; do echo "$p $f" >"$p/$f"; done
	done
	head -c 1048576 /dev/urandom >"$p/big"
}
