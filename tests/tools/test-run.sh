#!/usr/bin/env bash
# test-run.sh - `throttlectl run` from outside: concurrent runs never
# exceed the limit (a witness log outside the pool counts them) and reach
# it; waiters are served in the order they came; exit statuses (the
# command's, 128+N, 124, 75, 126, 127, 2); SIGKILL of run keeps the slot
# held until the command ends; signals reach the command; a waiting run
# ended by SIGTERM leaves no place in the queue (SIGWINCH ends no wait);
# --limit; Ctrl-C in a terminal (through script(1)) stops a shell loop of
# runs.
# Usage: test-run.sh THROTTLECTL LIBTHROTTLE
set -u
ctl=$(realpath "$1") lib=$(realpath "$2")
p=trun-$$ q=trun-$$-q n=trun-$$-n f=trun-$$-f
tmp=$(mktemp -d)
pids=()

cleanup() {
	local x
	touch "$tmp/go" "$tmp/go2"
	for x in "${pids[@]}"; do kill "$x" 2>/dev/null; done
	wait 2>/dev/null
	rm -f "/dev/shm/throttle.$p" "/dev/shm/throttle.$q" "/dev/shm/throttle.$n" \
		"/dev/shm/throttle.$f"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# Prints field KEY of pool POOL's `status --json`; nothing while the pool
# does not exist yet.
field() {
	"$ctl" status --json "$1" 2>/dev/null | python3 -c \
		'import json, sys; print(json.load(sys.stdin)["pools"][0][sys.argv[1]])' "$2" 2>/dev/null
}

# Waits up to 10 s for field KEY of POOL to be VALUE.
wait_field() {
	for _ in $(seq 200); do
		[ "$(field "$1" "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	fail "$1: $2 never became $3 (it is $(field "$1" "$2"))"
}

# Waits up to 10 s for file FILE to exist.
wait_file() {
	for _ in $(seq 200); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 never appeared"
}

# A command that holds on until file FILE exists.
until_file() {
	echo "while [ ! -e '$1' ]; do sleep 0.05; done"
}

# Seconds since the epoch, with fractions.
now() {
	date +%s.%N
}

# ---- six runs, limit 2: a witness log outside the pool counts them ----
for i in 1 2 3 4 5 6; do
	"$ctl" run --limit 2 "$p" -- sh -c "echo enter >>'$tmp/log'; sleep 0.4; echo leave >>'$tmp/log'" &
	pids+=($!)
done
for x in "${pids[@]}"; do wait "$x" || fail "a run of the six failed"; done
pids=()
most=$(awk '/enter/ { n++; if (n > m) m = n } /leave/ { n-- } END { print m }' "$tmp/log")
[ "$(grep -c enter "$tmp/log")" -eq 6 ] || fail "not all six ran: $(cat "$tmp/log")"
[ "$most" -eq 2 ] || fail "at most $most ran at once, not 2: $(cat "$tmp/log")"
[ "$(field "$p" limit)" = 2 ] || fail "--limit 2 did not make a pool of 2"

# ---- first come, first served: started one by one while the pool is full ----
# A pool of 1, so that the commands' own order is the order of the grants.
"$ctl" run --limit 1 "$f" -- sh -c "$(until_file "$tmp/go")" &
pids+=($!)
wait_field "$f" in_use 1
for i in 1 2 3 4 5 6; do
	"$ctl" run "$f" -- sh -c "echo $i >>'$tmp/order'" &
	pids+=($!)
	wait_field "$f" waiting "$i"
done
touch "$tmp/go"
for x in "${pids[@]}"; do wait "$x" || fail "a queued run failed"; done
pids=()
[ "$(tr '\n' ' ' <"$tmp/order")" = "1 2 3 4 5 6 " ] || fail "served out of order: $(cat "$tmp/order")"

# ---- exit statuses; nothing of run's own on stdout ----
"$ctl" run "$p" -- sh -c 'exit 3' >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 3 ] || fail "exit 3 came back as $rc"
if [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then
	fail "run wrote: $(cat "$tmp/out" "$tmp/err")"
fi
out=$("$ctl" run "$p" -- echo hello "a b")
[ "$out" = "hello a b" ] || fail "the command's output: '$out'"
"$ctl" run "$p" -- sh -c 'kill -KILL $$'
rc=$?
[ "$rc" -eq 137 ] || fail "a command killed by SIGKILL: run exited $rc, not 137"
"$ctl" run "$p" -- nosuch-command-$$ 2>"$tmp/err"
rc=$?
[ "$rc" -eq 127 ] || fail "a missing command: exit $rc, not 127"
grep -q "nosuch-command-$$" "$tmp/err" || fail "the missing command is not named: $(cat "$tmp/err")"
printf '#!/bin/sh\n' >"$tmp/noexec"
"$ctl" run "$p" -- "$tmp/noexec" 2>/dev/null
rc=$?
[ "$rc" -eq 126 ] || fail "a command that cannot be run: exit $rc, not 126"
if [ "$(field "$p" in_use)" != 0 ] || [ "$(field "$p" dead_in_use)" != 0 ]; then
	fail "slots left held after the commands: $("$ctl" status "$p")"
fi

# ---- -t and --fail on a full pool ----
"$ctl" run "$p" -- sh -c "$(until_file "$tmp/go2")" &
pids+=($!)
"$ctl" run "$p" -- sh -c "$(until_file "$tmp/go2")" &
pids+=($!)
wait_field "$p" in_use 2
t0=$(now)
"$ctl" run -t 0.3 "$p" -- touch "$tmp/ran" 2>"$tmp/err"
rc=$? t1=$(now)
[ "$rc" -eq 124 ] || fail "-t 0.3 on a full pool: exit $rc, not 124"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.28 && b - a < 2) }' ||
	fail "-t 0.3 took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
grep -q "$p" "$tmp/err" || fail "-t: the message does not name the pool: $(cat "$tmp/err")"
t0=$(now)
"$ctl" run --fail "$p" -- touch "$tmp/ran" 2>/dev/null
rc=$? t1=$(now)
[ "$rc" -eq 75 ] || fail "--fail on a full pool: exit $rc, not 75"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1) }' || fail "--fail waited"
"$ctl" run -t 0 "$p" -- touch "$tmp/ran" 2>/dev/null
rc=$?
[ "$rc" -eq 124 ] || fail "-t 0 on a full pool: exit $rc, not 124"
[ ! -e "$tmp/ran" ] || fail "a refused run ran its command"
if [ "$(field "$p" waiting)" != 0 ] || [ "$(field "$p" dead_waiting)" != 0 ]; then
	fail "refused runs left places in the queue"
fi

# ---- SIGTERM to a waiting run: 143, no command, no place left ----
"$ctl" run "$p" -- touch "$tmp/ran" &
waiter=$!
pids+=("$waiter")
wait_field "$p" waiting 1
kill -WINCH "$waiter"
sleep 0.3
if ! kill -0 "$waiter" 2>/dev/null || [ "$(field "$p" waiting)" != 1 ]; then
	fail "SIGWINCH ended a run's wait"
fi
kill -TERM "$waiter"
wait "$waiter"
rc=$?
[ "$rc" -eq 143 ] || fail "SIGTERM to a waiting run: exit $rc, not 143"
if [ "$(field "$p" waiting)" != 0 ] || [ "$(field "$p" dead_waiting)" != 0 ]; then
	fail "a waiting run ended by SIGTERM left a place: $("$ctl" status --json "$p")"
fi
touch "$tmp/go2"
for x in "${pids[@]}"; do wait "$x" 2>/dev/null; done
pids=()
[ ! -e "$tmp/ran" ] || fail "a run ended while waiting ran its command"

# ---- signals sent to run reach the command; run exits with its status ----
"$ctl" run "$q" -- sh -c "trap 'echo term >\"$tmp/term\"; exit 7' TERM; trap 'echo usr1 >>\"$tmp/usr1\"' USR1; touch '$tmp/up'; while :; do sleep 0.05; done" &
runner=$!
pids+=("$runner")
wait_file "$tmp/up"
kill -USR1 "$runner"
wait_file "$tmp/usr1"
kill -TERM "$runner"
wait "$runner"
rc=$?
[ "$rc" -eq 7 ] || fail "SIGTERM to run: exit $rc, not the command's 7"
[ "$(cat "$tmp/term" 2>/dev/null)" = term ] || fail "SIGTERM never reached the command"
[ "$(wc -l <"$tmp/usr1")" -eq 1 ] || fail "SIGUSR1 reached the command $(wc -l <"$tmp/usr1") times"

# ---- SIGKILL of run: the command keeps the slot until it ends ----
# Run again with the command under the shim, whose config gates the same
# pool: its start-up must keep the slot the command holds for itself.
# kill_run_while_command_runs [ENV...]
kill_run_while_command_runs() {
	rm -f "$tmp/go" "$tmp/up" "$tmp/second"
	env "$@" "$ctl" run "$q" -- sh -c "touch '$tmp/up'; $(until_file "$tmp/go")" &
	runner=$!
	pids+=("$runner")
	wait_file "$tmp/up"
	kill -KILL "$runner"
	wait "$runner" 2>/dev/null
	"$ctl" run "$q" -- touch "$tmp/second" &
	pids+=($!)
	wait_field "$q" waiting 1
	sleep 0.5
	[ ! -e "$tmp/second" ] || fail "$*: a second run got the slot of a killed run whose command still runs"
	[ "$(field "$q" in_use)" = 1 ] || fail "$*: the killed run's slot is not held: $("$ctl" status "$q")"
	touch "$tmp/go"
	wait_file "$tmp/second"
	wait_field "$q" in_use 0
}
kill_run_while_command_runs
mkdir -p "$tmp/gated"
printf 'pool %s {\n limit = 1\n open = "%s/gated/*"\n}\n' "$q" "$tmp" >"$tmp/q.conf"
kill_run_while_command_runs LD_PRELOAD="$lib" THROTTLE_CONFIG="$tmp/q.conf"

# ---- --limit makes a new pool; it never changes an existing one ----
"$ctl" run --limit 3 "$n" true || fail "run --limit 3 on a new pool failed"
[ "$(field "$n" limit)" = 3 ] || fail "--limit 3 made a pool of $(field "$n" limit)"
"$ctl" run "$n" --limit 5 true || fail "run --limit 5 on an existing pool failed"
[ "$(field "$n" limit)" = 3 ] || fail "--limit changed an existing pool's limit"

# ---- usage errors: 2, with a line on stderr ----
for args in "" "$n" "--limit 0 $n true" "--limit x $n true" "-t -1 $n true" \
	"-t abc $n true" "--fail -t 1 $n true" "--nosuch $n true" "$n -t"; do
	# shellcheck disable=SC2086
	"$ctl" run $args >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "run $args: exit $rc, not 2"
	grep -q '^throttlectl: .*usage: throttlectl run' "$tmp/err" ||
		fail "run $args: $(cat "$tmp/err")"
	[ ! -s "$tmp/out" ] || fail "run $args wrote to stdout"
done
# ---- Ctrl-C in a terminal: a shell loop of runs stops, as for the command ----
# The command dies of the terminal's SIGINT; run must die of it too, not
# just exit 130, or the shell takes it as handled and goes on looping.
if command -v script >/dev/null; then
	# A background job (this test's caller's, say) begins with SIGINT
	# ignored, which a shell cannot undo: python sets it back to default.
	dfl_int='import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])'
	rm -f "$tmp/up"
	cat >"$tmp/loop.sh" <<-EOF
	for i in 1 2; do
		'$ctl' run '$n' -- sh -c "touch '$tmp/up'; sleep 2"
		echo \$i >>'$tmp/loop'
	done
	EOF
	{ wait_file "$tmp/up"; sleep 0.2; printf '\003'; sleep 0.5; } |
		script -qec "python3 -c '$dfl_int' bash '$tmp/loop.sh'" /dev/null >/dev/null
	[ -e "$tmp/up" ] || fail "the loop of runs in a terminal never ran"
	[ ! -e "$tmp/loop" ] || fail "Ctrl-C did not stop a shell loop of runs: it went on after $(tr '\n' ' ' <"$tmp/loop")"
else
	echo "skipped the terminal check: no script(1)"
fi

"$ctl" run 'no/such' true 2>/dev/null
rc=$?
[ "$rc" -eq 125 ] || fail "a bad pool name: exit $rc, not 125"
"$ctl" run --help | grep -q 'Exit status' || fail "run --help"
echo "ok"
