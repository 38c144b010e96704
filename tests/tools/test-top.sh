#!/usr/bin/env bash
# test-top.sh - `throttlectl top` in a real pseudo-terminal (a tmux pane of
# its own server): the screen shows the pool's limit, in-use count and bar
# and waiting count, follows when holdings change, cuts lines to a narrower
# window; q ends it with the terminal's modes and screen as they were, and so
# do Ctrl-C and Ctrl-\ (dying of SIGINT, SIGQUIT); Ctrl-Z gives the terminal
# back while it is stopped; -n ends it alone. Without a terminal, one frame
# with no control sequences. Usage: test-top.sh THROTTLECTL POOL-HOLD
set -u
ctl=$(realpath "$1") hold=$(realpath "$2")
p=ttop-$$
tmp=$(mktemp -d)
sock=ttop-$$ sessions=0
pids=()

. "$(dirname "$0")/ctl-testlib.sh"

cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null
	stop_started
	rm -f "/dev/shm/throttle.$p" "/dev/shm/throttle.$p-bad"
	rm -rf "$tmp"
}
trap cleanup EXIT

# fail, as ctl-testlib.sh has it, with the screen last seen.
fail() {
	echo "FAIL: $*"
	[ -f "$tmp/screen" ] && { echo "--- the screen:"; cat "$tmp/screen"; }
	exit 1
}

command -v tmux >/dev/null || { echo "SKIP: no tmux"; exit 77; }

# Does the pane, captured into $tmp/screen, have a line matching regex $1?
screen_shows() {
	tmux -L "$sock" capture-pane -p -t "$session" >"$tmp/screen" 2>/dev/null &&
		grep -qE "$1" "$tmp/screen"
}

await_screen() {
	await "the screen never showed /$1/" screen_shows "$1"
}

await_file() {
	await "no $1" test -s "$1"
}

# Runs `throttlectl top ARGS` in a new 120x30 pane, in a session of its own
# ($session; they all stay till the end, as a server whose last session
# ends quits while the next may be connecting). The shell around top
# (which outlives a Ctrl-C) notes the terminal's modes before and after,
# and top's exit status.
start_top() {
	rm -f "$tmp/before" "$tmp/after" "$tmp/exit"
	session=top$((++sessions))
	tmux -L "$sock" -f /dev/null new-session -d -s "$session" -x 120 -y 30 \
		"trap : INT QUIT; ulimit -c 0; stty -a >'$tmp/before'; '$ctl' top $*; echo \$? >'$tmp/exit';
		 stty -a >'$tmp/after'; sleep 60" ||
		fail "tmux cannot start a session"
}

# The modes after top are those before, canonical and echoing.
check_restored() {
	await_file "$tmp/after"
	# The first line has the window's size, which a test may change.
	[ "$(sed 1d "$tmp/before")" = "$(sed 1d "$tmp/after")" ] ||
		fail "$1: modes changed: $(diff "$tmp/before" "$tmp/after")"
	grep -qw icanon "$tmp/after" && grep -qw echo "$tmp/after" ||
		fail "$1: not canonical with echo: $(cat "$tmp/after")"
}

start_hold ready "$p" 3 10.0.0.1:80 10.0.0.2:80

# ---- without a terminal: one frame, no control sequences ----
"$ctl" top -d 0.2 "$p" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "top | file: exit $rc: $(cat "$tmp/err")"
grep -q $'\033' "$tmp/out" && fail "control sequences without a terminal"
grep -qE "^throttlectl top  [0-9:]{8}  every 0.2s  1 pool  q quits$" "$tmp/out" &&
	grep -qE "^$p +3 +2 +\[#######\.\.\.\] +0 +0 +0\.0 +0\.0 +- +-$" "$tmp/out" ||
	fail "one frame: $(cat "$tmp/out")"
[ "$(wc -l <"$tmp/out")" -eq 3 ] || fail "one frame is not 3 lines"
# A pool named twice is one row, as in status and metrics.
"$ctl" top -d 0.1 "$p" "$p" >"$tmp/out" 2>"$tmp/err" ||
	fail "top POOL POOL: $(cat "$tmp/err")"
grep -q "  1 pool  " "$tmp/out" && [ "$(grep -c "^$p " "$tmp/out")" -eq 1 ] ||
	fail "a pool named twice: $(cat "$tmp/out")"

# ---- in a terminal ----
row="^$p +3 +2 +\[#######\.\.\.\] +0 +0 "
start_top -d 0.2 "$p"
await_screen "^throttlectl top  [0-9:]{8}  every 0.2s  1 pool  q quits"
await_screen "$row"
# The holdings change: one more slot, then somebody waits.
start_hold ready "$p" 3 10.0.0.3:80
start_hold waiting -w "$p" 3 10.0.0.4:80
await_screen "^$p +3 +3 +\[##########\] +1 +0 "
# A narrower window: every line cut to it.
tmux -L "$sock" resize-window -t "$session" -x 40 -y 30 ||
	fail "tmux cannot resize the window"
await_screen "^throttlectl top  [0-9:]{8}  every 0.2s  1$"
awk 'length > 40 { bad = 1 } END { exit bad }' "$tmp/screen" ||
	fail "lines longer than 40 columns"
grep -qE "^$p +3 +3 +\[###" "$tmp/screen" || fail "the row is gone"
# q, without Enter: top ends, the shell's screen and modes are back.
tmux -L "$sock" send-keys -t "$session" q
await_file "$tmp/exit"
[ "$(cat "$tmp/exit")" = 0 ] || fail "q: exit $(cat "$tmp/exit")"
check_restored q
tmux -L "$sock" capture-pane -p -t "$session" >"$tmp/screen"
grep -q "throttlectl top" "$tmp/screen" && fail "q left top's screen up"

# ---- Ctrl-C: the terminal restored, and top dies of SIGINT ----
start_top "$p"
await_screen "^$p +3 +3 "
tmux -L "$sock" send-keys -t "$session" C-c
await_file "$tmp/exit"
[ "$(cat "$tmp/exit")" = 130 ] || fail "Ctrl-C: exit $(cat "$tmp/exit")"
check_restored Ctrl-C

# ---- Ctrl-\: likewise, top dies of SIGQUIT (no core: ulimit -c 0) ----
start_top "$p"
await_screen "^$p +3 +3 "
tmux -L "$sock" send-keys -t "$session" 'C-\'
await_file "$tmp/exit"
[ "$(cat "$tmp/exit")" = 131 ] || fail "Ctrl-\: exit $(cat "$tmp/exit")"
check_restored 'Ctrl-\'

# ---- Ctrl-Z: the terminal given back while stopped, taken again by fg ----
# Under an interactive dash, which has job control (a stop in an orphaned
# process group, such as a pane's own, is discarded) and, unlike bash,
# leaves the terminal's modes alone: what they are while top is stopped is
# what top left.
rm -f "$tmp/before" "$tmp/after" "$tmp/exit"
session=top$((++sessions))
tmux -L "$sock" -f /dev/null new-session -d -s "$session" -x 120 -y 30 \
	"env -u ENV PS1='$ ' dash -i" || fail "tmux cannot start dash"
tmux -L "$sock" send-keys -t "$session" "stty -a >'$tmp/before'; '$ctl' top -d 0.2 $p" Enter
await_screen "^$p +3 +3 "
tty=$(tmux -L "$sock" display-message -p -t "$session" '#{pane_tty}')
shell=$(tmux -L "$sock" display-message -p -t "$session" '#{pane_pid}')
top=$(ps -o pid= --ppid "$shell" | tr -d ' ')
[ -n "$top" ] || fail "no top under the pane's shell $shell"
stty -a -F "$tty" | grep -qw -- -icanon || fail "top's terminal is canonical"
tmux -L "$sock" send-keys -t "$session" C-z
is_stopped() { [ "$(ps -o stat= -p "$top" | cut -c1)" = T ]; }
await "Ctrl-Z did not stop top" is_stopped
stty -a -F "$tty" | grep -qw icanon && stty -a -F "$tty" | grep -qw echo ||
	fail "stopped top left the terminal raw: $(stty -a -F "$tty")"
screen_shows "throttlectl top" && fail "stopped top left its screen up"
tmux -L "$sock" send-keys -t "$session" fg Enter
await_screen "^$p +3 +3 "
await "top did not take the terminal again" \
	sh -c "stty -a -F '$tty' | grep -qw -- -icanon"
tmux -L "$sock" send-keys -t "$session" q
tmux -L "$sock" send-keys -t "$session" "echo \$? >'$tmp/exit'; stty -a >'$tmp/after'" Enter
await_file "$tmp/exit"
[ "$(cat "$tmp/exit")" = 0 ] || fail "q after Ctrl-Z: exit $(cat "$tmp/exit")"
check_restored "Ctrl-Z"

# ---- every pool: a damaged one is said once, before the screen is taken
# (not every frame, over it) ----
head -c 100 /dev/zero >"/dev/shm/throttle.$p-bad"
start_top -d 0.1
await_screen "^throttlectl top  "
sleep 0.5
screen_shows "^throttlectl top  " && ! grep -q "throttlectl: " "$tmp/screen" ||
	fail "a message on top's screen"
tmux -L "$sock" send-keys -t "$session" q
await_file "$tmp/exit"
[ "$(cat "$tmp/exit")" = 0 ] || fail "all pools, q: exit $(cat "$tmp/exit")"
tmux -L "$sock" capture-pane -p -S - -t "$session" >"$tmp/screen"
[ "$(grep -c "'$p-bad'" "$tmp/screen")" = 1 ] ||
	fail "the damaged pool was not said once"
rm -f "/dev/shm/throttle.$p-bad"

# ---- -n: so many frames, then the end, by itself ----
start=$(date +%s%N)
start_top -n 3 -d 0.2 "$p"
await_file "$tmp/exit"
[ "$(cat "$tmp/exit")" = 0 ] || fail "-n 3: exit $(cat "$tmp/exit")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 400 ] || fail "-n 3 -d 0.2 ended after $ms ms"
check_restored "-n"

# ---- usage ----
for bad in "-d 0" "-d x" "-d 0.01" "-n 0" "-n -1" "--bogus"; do
	"$ctl" top $bad "$p" >/dev/null 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "^throttlectl: .*usage: throttlectl top" "$tmp/err" ||
		fail "top $bad: exit $rc: $(cat "$tmp/err")"
done
"$ctl" top "nope-$$" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q "^throttlectl: no pool 'nope-$$'" "$tmp/err" &&
	[ ! -s "$tmp/out" ] || fail "a missing pool: exit $rc: $(cat "$tmp/err")"

echo "test-top: all passed"
