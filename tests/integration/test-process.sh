# test-process.sh - slots across process boundaries: a fork child co-holds
# (whoever closes first frees nothing), a vfork child that execs or exits,
# descriptors that survive exec keep their slot (also when only a dup'd copy
# survives), O_CLOEXEC ones give it back.
# Pool of 1, on-full = fail; a second probe tells whether the slot is held.
. "$(dirname "$0")/lib.sh"

setup_one() {
	gate_target open
	conf_pool 1 fail "$MATCH"
}

# is_held: a fresh probe is refused now.
is_held() {
	run "c$1" "$(probe_path open)" "$TARGET" 1 0
	expect_line "c$1" "err errno=$REFUSED"
}

# is_free: a fresh probe gets the slot now.
is_free() {
	run "d$1" "$(probe_path open)" "$TARGET" 1 0
	expect_line "d$1" 'ok fd='
}

# test_process_fork_parent_first [-e _Fork|clone]
test_process_fork_parent_first() {
	setup_one
	start a "$(probe_path fork)" "$@" "$TARGET" 1 "@$TMP/ra" "@$TMP/la"
	wait_line a parent-released
	expect_line a 'ok fd='
	is_held 1
	release ra
	wait_line a child-released
	is_free 1
	release la
	finish a
	quiet a
	witness_not_above 1
}

# The child lets go first (-x: it exits at once): the parent's slot stays
# held until the parent closes.
child_exits_first() {
	setup_one
	start a "$(probe_path "$1")" -x "${@:2}" "$TARGET" 1 "@$TMP/ra" \
		"@$TMP/la"
	wait_line a child-exited
	expect_line a 'ok fd='
	is_held 1
	release ra
	wait_line a parent-released
	is_free 1
	release la
	finish a
	quiet a
}

# test_process_fork_child_first [-e _Fork]
test_process_fork_child_first() {
	child_exits_first fork "$@"
}

# test_process_fork_killed_child: a co-holder killed with -9 takes nothing
# with it while the parent still holds the descriptor.
test_process_fork_killed_child() {
	local child
	setup_one
	start a "$(probe_path fork)" -e both "$TARGET" 1 "@$TMP/never" "@$TMP/la"
	wait_line a 'forked child='
	child=$(state_get "$TMP/a.out" child)
	kill -KILL "$child"
	sleep 0.3
	is_held 1
	is_held 2
	release la
	wait_line a parent-released
	is_free 1
	finish a
	quiet a
}

test_process_vfork_exec() {
	setup_one
	start a "$(probe_path vfork)" "$TARGET" 1 "@$TMP/ra" "@$TMP/la"
	wait_line a parent-released
	wait_line a 'held fd=|lost fd='
	expect_line a 'held fd='
	child_keeps_slot
}

test_process_vfork_exit() {
	child_exits_first vfork
}

# A clone() child in a pid namespace of its own, under our /proc, cannot
# say who it is: it co-holds what it inherits all the same (the parent
# records it under the pid our /proc knows), so the parent closing first
# frees nothing; its own close of its copy cannot let go, so the slot comes
# back when it exits. Needs root.
test_process_clone_newpid() {
	setup_one
	start a "$(probe_path fork)" -e clone-newpid "$TARGET" 1 "@$TMP/ra" \
		"@$TMP/la"
	wait_line a 'parent-released|fork-failed'
	grep -q '^fork-failed errno=EPERM' "$TMP/a.out" &&
		skip "clone(CLONE_NEWPID) is not permitted here"
	expect_line a 'ok fd='
	is_held 1
	release ra
	wait_line a child-released
	is_held 2
	release la
	finish a
	is_free 1
	quiet a
	witness_not_above 1
}

# A program in a pid namespace of its own under our /proc cannot say who it
# is: it says so once per pool and runs on unthrottled (on-error = open),
# holding nothing. Needs root and unshare(1).
test_process_pidns_without_proc() {
	command -v unshare >/dev/null || skip "no unshare"
	unshare -p --fork true 2>/dev/null || skip "unshare -p not permitted"
	setup_one
	run a unshare -p --fork "$(probe_path open)" "$TARGET" 2 0
	expect_count a 'ok fd=' 2
	grep -q "pool '$POOL': this process's /proc shows another process" \
		"$TMP/a.err" || fail "a: no message: $(cat "$TMP/a.err")"
	[ "$(grep -c "^throttle:" "$TMP/a.err")" = 1 ] ||
		fail "a: more than one message: $(cat "$TMP/a.err")"
	is_free 1
}

# A clone() child given a TLS of the caller's own making (nothing mapped
# below it) runs only the caller's function: the shim, whose thread-locals
# would be read from that TLS, stays out, so the child exits as it means to.
test_process_clone_own_tls() {
	setup_one
	run a "$(probe_path fork)" -e clone-tls "$TARGET" 1 0 0
	grep -q '^clone-tls skip' "$TMP/a.out" && skip "not x86-64"
	expect_line a 'clone-tls exit=42'
	is_free 1
	quiet a
}

# exec_keeps PROBE OPTIONS...: PROBE opens the target and execs ./holder,
# which keeps the slot until it closes what survived the exec.
exec_keeps() {
	setup_one
	start a "$(probe_path "$1")" "${@:2}" "$TARGET" 1 "@$TMP/ra" "@$TMP/la"
	wait_line a 'held fd=|lost fd=|exec-failed'
	expect_line a 'held fd='
	is_held 1
	release ra
	wait_line a released
	is_free 1
	release la
	finish a
	[ "$STATUS" -eq 0 ] || fail "holder exited $STATUS"
	quiet a
}

# test_process_exec_keeps_slot EXEC-FUNCTION
test_process_exec_keeps_slot() {
	exec_keeps exec -e "$1"
}

# ioctl(FIONCLEX)/ioctl(FIOCLEX) change close-on-exec as fcntl(F_SETFD)
# does: the records follow to the copy an exec keeps.
# test_process_exec_ioctl_keeps fionclex|fioclex OPEN-FLAGS
test_process_exec_ioctl_keeps() {
	exec_keeps ioctl -e "$1" -f "$2"
}

test_process_exec_cloexec_frees() {
	setup_one
	start a "$(probe_path exec)" -f rdonly,cloexec "$TARGET" 1 "@$TMP/ra" \
		"@$TMP/la"
	wait_line a 'held fd=|lost fd=|exec-failed'
	expect_line a 'lost fd='
	is_free 1
	release ra la
	finish a
	quiet a
}

# child_keeps_slot: the parent of probe a has let go; its child, holder.c,
# keeps the slot until told to release (ra), then lingers (la).
child_keeps_slot() {
	is_held 1
	witness_not_above 1
	release ra
	wait_line a released
	is_free 1
	release la
	finish a
	quiet a
}

# posix_spawn (what Rust's Command and Java start programs with) makes no
# fork: the child co-holds all the same, so the parent closing first frees
# nothing. test_process_spawn_parent_first spawn|spawnp
test_process_spawn_parent_first() {
	setup_one
	start a "$(probe_path posix_spawn)" -e "$1" "$TARGET" 1 "@$TMP/ra" \
		"@$TMP/la"
	wait_line a parent-released
	wait_line a 'held fd=|lost fd='
	expect_line a 'held fd='
	child_keeps_slot
}

# A close-on-exec descriptor never reaches the spawned child: once the
# parent closes it, the slot is free.
test_process_spawn_cloexec_frees() {
	setup_one
	start a "$(probe_path posix_spawn)" -f rdonly,cloexec "$TARGET" 1 \
		"@$TMP/ra" "@$TMP/la"
	wait_line a parent-released
	wait_line a 'lost fd='
	is_free 1
	release ra la
	finish a
	quiet a
}

# glibc's popen() starts its child with a clone of its own, which no hook
# sees: the child co-holds before popen returns all the same, so the parent
# closing at once, long before the shim starts in the child, frees nothing.
test_process_popen_parent_first() {
	setup_one
	start a "$(probe_path popen)" "$TARGET" 1 "@$TMP/ra" "@$TMP/la"
	wait_line a parent-released
	wait_line a 'held fd=|lost fd='
	expect_line a 'held fd='
	child_keeps_slot
}

# system() waits for its child, so only another thread can close the
# parent's copy meanwhile. Nothing is hooked around it: the child joins the
# slots of what it shares with its parent when the shim starts in it.
test_process_system_child_joins() {
	setup_one
	start a "$(probe_path popen)" -e system -d "@$TMP/go" "$TARGET" 1 \
		"@$TMP/ra" "@$TMP/la"
	wait_line a 'held fd=|lost fd='
	expect_line a 'held fd='
	release go
	wait_line a parent-released
	child_keeps_slot
}

# sleeping: pid waits in clock_nanosleep, so its constructors (the shim's
# taking back of its records after exec) have run.
sleeping() {
	local i
	for i in $(seq 500); do
		case $(cat "/proc/$1/syscall" 2>/dev/null) in 230\ *) return 0 ;; esac
		sleep 0.01
	done
	fail "pid $1 never slept"
}

# kept_by PID FD: process PID (program a, or a child program a waits for),
# now sleep(1), has only descriptor FD on the target and holds the slot
# until it dies.
kept_by() {
	local pid=$1
	sleeping "$pid"
	[ "$(readlink "/proc/$pid/fd/$2")" = "$TARGET" ] ||
		fail "sleep has no fd $2 on $TARGET"
	is_held 1
	witness_not_above 1
	kill -KILL "$pid"
	finish a
	is_free 1
}

# kept_after_exec FD: kept_by for program a itself, after its exec.
kept_after_exec() {
	kept_by "${PID_OF[a]}" "$1"
}

# bash's "exec 4<file" opens the file on 3, dup2s it to 4 and closes 3: the
# program bash then execs has only 4, and keeps the slot while it is open.
test_process_exec_moved_descriptor() {
	setup_one
	start a bash -c 'exec 4<"$1"; exec sleep 30' bash "$TARGET"
	kept_after_exec 4
}

# python_exec_keeps FD SCRIPT: Python opens the target as fd (with
# O_CLOEXEC, as Python does), runs SCRIPT, then execs sleep, which has only
# descriptor FD on it and keeps the slot.
python_exec_keeps() {
	[ -x "${THR_PYTHON:-}" ] || skip "no python3"
	setup_one
	start a "$THR_PYTHON" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)'"$2"'
os.execv("/bin/sleep", ["sleep", "30"])' "$TARGET"
	kept_after_exec "$1"
}

# os.dup2 makes an inheritable copy, which is all that the exec'd program
# keeps of the file: the slot stays with it.
test_process_exec_dup_survives() {
	python_exec_keeps 5 '
os.dup2(fd, 5)'
}

# test_process_spawn_file_action [TO [OTHERS]]: a posix_spawn file action
# may put a close-on-exec descriptor on another number in the child: Python
# opens with O_CLOEXEC and the action dup2s it to the child's descriptor TO
# (0, stdin), above OTHERS inherited descriptors (none; with 600, the copy
# is past what a list of 512 would hold). The parent closes its copy at
# once: the child, and only the child, holds the file now, and the slot
# with it.
test_process_spawn_file_action() {
	[ -x "${THR_PYTHON:-}" ] || skip "no python3"
	local to=${1:-0}
	setup_one
	start a "$THR_PYTHON" -c '
import os, sys
for _ in range(int(sys.argv[3])):
    os.set_inheritable(os.open("/dev/null", os.O_RDONLY), True)
fd = os.open(sys.argv[1], os.O_RDONLY)
pid = os.posix_spawn("/bin/sleep", ["sleep", "30"], os.environ,
                     file_actions=[(os.POSIX_SPAWN_DUP2, fd, int(sys.argv[2]))])
os.close(fd)
print("child", pid, flush=True)
os.waitpid(pid, 0)' "$TARGET" "$to" "${2:-0}"
	wait_line a 'child [0-9]+'
	local child
	child=$(sed -n 's/^child //p' "$TMP/a.out")
	BG+=("$child")
	kept_by "$child" "$to"
}

# many_py: a Python script for the many-records cases (THR_PYTHON).
# "exec FILE N READY": opens FILE N times, inheritable, and execs itself as
# "close FDS READY", which says "kept", waits for READY, closes every copy
# and says "closed". "system FILE N READY": opens FILE N times, runs a shell
# through system() that touches READY and sleeps, then, once READY shows,
# closes its own copies and says "closed".
many_py() {
	[ -x "${THR_PYTHON:-}" ] || skip "no python3"
	cat >"$TMP/many.py" <<'EOF2'
import os, sys, threading, time
def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.005)
def opens(path, n):
    fds = [os.open(path, os.O_RDONLY) for _ in range(n)]
    for fd in fds:
        os.set_inheritable(fd, True)
    return fds
what = sys.argv[1]
if what == "exec":
    fds = opens(sys.argv[2], int(sys.argv[3]))
    os.execv(sys.executable, [sys.executable, __file__, "close",
                              ",".join(map(str, fds)), sys.argv[4]])
elif what == "close":
    print("kept", flush=True)
    wait_for(sys.argv[3])
    for fd in map(int, sys.argv[2].split(",")):
        os.close(fd)
    print("closed", flush=True)
    time.sleep(30)
elif what == "system":
    fds = opens(sys.argv[2], int(sys.argv[3]))
    threading.Thread(target=os.system, daemon=True,
                     args=("touch %s; exec sleep 30" % sys.argv[4],)).start()
    wait_for(sys.argv[4])
    for fd in fds:
        os.close(fd)
    print("closed", flush=True)
    time.sleep(30)
EOF2
}

# An exec'd image takes back every record its process had, however many:
# 300 copies kept across exec hold 300 slots, and closing them all in the
# new image gives every one back (there was a list of 256).
test_process_exec_many_records() {
	many_py
	gate_target open
	conf_pool 400 fail "$MATCH"
	start a "$THR_PYTHON" "$TMP/many.py" exec "$TARGET" 300 "$TMP/ra"
	wait_line a kept 10
	in_use_is 300 "after the exec"
	release ra
	wait_line a closed 10
	in_use_is 0 "the exec'd image closed every copy"
	PROBE_LINES='kept|closed' quiet a
}

# A system() child joins every record of its parent, however many: the
# parent closing its 300 copies frees none of the child's (there was a list
# of 256).
test_process_system_joins_many() {
	many_py
	gate_target open
	conf_pool 400 fail "$MATCH"
	start a "$THR_PYTHON" "$TMP/many.py" system "$TARGET" 300 "$TMP/ready"
	wait_line a closed 10
	in_use_is 300 "the parent closed, the system() child holds every copy"
	PROBE_LINES=closed quiet a
}

# Python's os.set_inheritable is ioctl(FIONCLEX): here on a close-on-exec
# copy (os.dup) of the close-on-exec original. Only the copy outlives exec,
# and the slot stays with it.
test_process_exec_set_inheritable() {
	python_exec_keeps 4 '
os.set_inheritable(os.dup(fd), True)'
}

# perl_exec_keeps FD SCRIPT: Perl runs SCRIPT with the target as $ARGV[0],
# then execs sleep, which has only descriptor FD on it and keeps the slot.
perl_exec_keeps() {
	command -v perl >/dev/null || skip "no perl"
	setup_one
	start a perl -e "$2"'
exec("sleep", "30") or die "exec: $!";' "$TARGET"
	kept_after_exec "$1"
}

# A record names one descriptor of its file, the latest copy made without
# close-on-exec; a program may change its mind with fcntl(F_SETFD). Here the
# plain copy (4) is marked close-on-exec and the original (3) cleared: 3 is
# what outlives exec, and the slot stays with it.
test_process_exec_setfd_survives() {
	perl_exec_keeps 3 '
use Fcntl;
use POSIX ();
open(my $f, "<", $ARGV[0]) or die "open: $!";
my $copy = POSIX::dup(fileno($f)) // die "dup: $!";
open(my $g, "<&=", $copy) or die "fdopen: $!";
fcntl($g, F_SETFD, FD_CLOEXEC) or die "fcntl: $!";
fcntl($f, F_SETFD, 0) or die "fcntl: $!";'
}

# When the descriptor a record names is closed, the record moves to a copy
# an exec keeps: here 3 (close-on-exec, as Perl opens) and 4 remain after 5
# is closed, and only 4 outlives exec.
test_process_exec_close_named() {
	perl_exec_keeps 4 '
use POSIX ();
open(my $f, "<", $ARGV[0]) or die "open: $!";
POSIX::dup(fileno($f)) == 4 or die "dup: $!";
POSIX::dup(fileno($f)) == 5 or die "dup: $!";
POSIX::close(5) or die "close: $!";'
}

# A fork child that closes its copy at once can do so before the parent's
# co-hold lands; the record made too late must be taken back, or the slot
# stays held for as long as the child lives. It is a race: many fresh
# rounds, with the other CPU kept busy to widen it.
test_process_fork_child_closes_at_once() {
	setup_one
	sh -c 'while :; do :; done' &
	local busy=$! i held=0
	BG+=("$busy")
	for i in $(seq 300); do
		run r "$(probe_path fork)" -e race "$TARGET" 1 0 0
		grep -q '^race held=0 rounds=1' "$TMP/r.out" || held=$((held + 1))
	done
	kill "$busy"
	[ "$held" -eq 0 ] || fail "$held of 300 rounds found the slot held"
	is_free 1
}

run_case "$@"
