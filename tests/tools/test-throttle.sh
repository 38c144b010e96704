#!/usr/bin/env bash
# test-throttle.sh - the throttle wrapper, with a stand-in library: where it
# finds the library (never the current folder), LD_PRELOAD, THROTTLE_*,
# warnings for programs the library cannot load into or cannot see (Go,
# io_uring), and exit statuses.
# Usage: test-throttle.sh THROTTLE THROTTLE-TESTCONF FAKE-SHIM BUILDDIR LIBDIR
#                         CONFDIR LIBDIR-FROM-BIN
#                         [STATIC-PROGRAM [GO-DYNAMIC [GO-STATIC]]]
# THROTTLE-TESTCONF is the wrapper built to read -s files from CONFDIR.
# LIBDIR-FROM-BIN is the libdir relative to the bindir ("" if none). The
# programs print "hello"; the GO ones carry a section of Go's linker. An empty
# argument is a program this toolchain could not build.
set -u
throttle=$(realpath "$1") testconf=$(realpath "$2") fake=$(realpath "$3")
builddir=$(realpath "$4") libdir=$5 confdir=$6 from_bin=$7
static=${8:+$(realpath "$8")}
go_dynamic=${9:+$(realpath "$9")} go_static=${10:+$(realpath "${10}")}
# In the build folder, not /tmp, which may be mounted nosuid.
tmp=$(mktemp -d "$builddir/test-throttle.XXXXXX")
svc=svc-$$
trap 'rm -rf "$tmp" "$confdir/$svc.conf"' EXIT
unset LD_PRELOAD THROTTLE_CONFIG THROTTLE_SERVICE THROTTLE_QUIET
# In a sanitizer build the wrapper itself must tolerate an LD_PRELOAD.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

fail() {
	echo "FAIL: $*"
	exit 1
}

# Runs ARGS, leaving stdout, stderr and status in $out, $err and $rc.
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

expect() { # STATUS WHAT
	[ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1; stderr: $err"
}

# A build-tree layout of our own: bin/throttle, shim/libthrottle.so.
mkdir -p "$tmp/tree/bin" "$tmp/tree/shim" "$tmp/cwd"
cp "$testconf" "$tmp/tree/bin/throttle"
cp "$fake" "$tmp/tree/shim/libthrottle.so"
cp "$fake" "$tmp/keep.so"
T=$tmp/tree/bin/throttle
lib=$(realpath "$tmp/tree/shim/libthrottle.so")
keep=$tmp/keep.so
printf 'pool t {\n    limit = 1\n    connect = "127.0.0.1:1"\n}\n' >"$tmp/cwd/t.conf"
cd "$tmp/cwd" || fail "cd"
show='echo "${LD_PRELOAD-unset}|${THROTTLE_CONFIG-unset}|${THROTTLE_SERVICE-unset}|${THROTTLE_QUIET-unset}"'

# ---- LD_PRELOAD: prepended, kept, never doubled; the library really loads ----
run env LD_PRELOAD="$keep" FAKE_SHIM_MARK=x "$T" -c t.conf -- sh -c "$show"
expect 0 "prepend"
[ "$out" = "$lib:$keep|$tmp/cwd/t.conf|unset|unset" ] || fail "prepend: $out"
[ "$(grep -c '^fake-shim loaded: x$' "$tmp/err")" -ge 1 ] || fail "not loaded: $err"
run env -u LD_PRELOAD "$T" -c t.conf sh -c "$show"
[ "$out" = "$lib|$tmp/cwd/t.conf|unset|unset" ] || fail "no LD_PRELOAD before: $out"
run env LD_PRELOAD= "$T" -c t.conf sh -c "$show"
[ "$out" = "$lib|$tmp/cwd/t.conf|unset|unset" ] || fail "empty LD_PRELOAD before: $out"
run env LD_PRELOAD="$keep $lib" "$T" -c t.conf sh -c "$show"
[ "$out" = "$keep $lib|$tmp/cwd/t.conf|unset|unset" ] || fail "already there: $out"
run env LD_PRELOAD="$tmp/tree/bin/../shim/libthrottle.so:$keep" "$T" -c t.conf sh -c "$show"
[ "$out" = "$tmp/tree/bin/../shim/libthrottle.so:$keep|$tmp/cwd/t.conf|unset|unset" ] ||
	fail "already there by another path: $out"

# ---- THROTTLE_CONFIG absolute; -s; -q ----
run env THROTTLE_SERVICE=old "$T" -c ./t.conf -- sh -c "$show"
[ "$out" = "$lib|$tmp/cwd/t.conf|unset|unset" ] || fail "-c ./t.conf: $out"
run "$T" -c ../cwd/t.conf -- sh -c "$show"
[ "$out" = "$lib|$tmp/cwd/../cwd/t.conf|unset|unset" ] || fail "-c ../cwd/t.conf: $out"
run "$T" -c "$tmp/cwd/t.conf" -- sh -c "$show"
[ "$out" = "$lib|$tmp/cwd/t.conf|unset|unset" ] || fail "-c absolute: $out"
mkdir -p "$confdir"
cp t.conf "$confdir/$svc.conf"
run env THROTTLE_CONFIG=/elsewhere.conf "$T" -s "$svc" -- sh -c "$show"
expect 0 "-s"
[ "$out" = "$lib|unset|$svc|unset" ] || fail "-s $svc: $out"
run "$T" -q -s "$svc" sh -c "$show"
[ "$out" = "$lib|unset|$svc|1" ] || fail "-q: $out"
run "$T" sh -c "$show"
[ "$out" = "$lib|unset|unset|unset" ] || fail "no -c or -s: $out"

# ---- the program's own arguments and status pass through ----
run "$T" -c t.conf -- sh -c 'echo "$#:$1:$2"; exit 7' zero -q "two words"
expect 7 "exit status"
[ "$out" = "2:-q:two words" ] || fail "arguments: $out"

# ---- errors ----
run "$T" -c missing.conf true
expect 2 "missing config"
[[ "$err" == *"missing.conf"*"No such file"* ]] || fail "missing config: $err"
printf 'pool t {\n    limit = 1\n    frobnicate = 2\n}\n' >bad.conf
run "$T" -c bad.conf true
expect 2 "broken config"
[[ "$err" == "throttle: $tmp/cwd/bad.conf:3:"* ]] || fail "broken config: $err"
run "$T" -c . true
expect 2 "config is a folder"
run "$T" -c t.conf -- no-such-program-$$
expect 127 "missing program"
[[ "$err" == *"no-such-program-$$: command not found"* ]] || fail "missing program: $err"
run "$T" -c t.conf -- ./no-such-file
expect 127 "missing path"
chmod 644 t.conf
run "$T" -c t.conf -- ./t.conf
expect 126 "not executable"
run "$T"
expect 2 "no program"
[[ "$err" == *"usage: throttle [-c FILE | -s SERVICE] [-q] [--] PROGRAM"* ]] || fail "usage: $err"
run "$T" -c t.conf -s "$svc" true
expect 2 "-c and -s"
run "$T" -x true
expect 2 "unknown option"
[[ "$err" == "throttle: unknown option '-x'; usage: throttle "* ]] || fail "unknown option: $err"
run "$T" -c
expect 2 "-c without a file"
[[ "$err" == "throttle: option '-c' needs an argument; usage: throttle "* ]] ||
	fail "-c without a file: $err"
run "$T" --help
expect 0 "--help"
[[ "$out" == *"take slots from the pools"* && "$out" != *permit* ]] || fail "--help: $out"
[[ "$out" == *$'\n      --version         show the version\n'* ]] || fail "--help: $out"
run "$T" --version
expect 0 "--version"
[[ "$out" == "throttle "[0-9]* ]] || fail "--version: $out"
for bad in ../etc/passwd .hidden ""; do
	run "$T" -s "$bad" true
	expect 2 "bad service name '$bad'"
	[[ "$err" == *"bad service name '$bad'"*"usage:"* ]] || fail "bad service name: $err"
done
run "$T" -s "nosuch-$$" true
expect 2 "missing service"
[ "$err" = "throttle: config file $confdir/nosuch-$$.conf: No such file or directory" ] ||
	fail "missing service: $err"
cp bad.conf "$confdir/$svc.conf"
run "$T" -s "$svc" true
expect 2 "broken service config"
[[ "$err" == "throttle: $confdir/$svc.conf:3:"* ]] || fail "broken service config: $err"

# ---- never from the current folder ----
# A copy with no ../shim beside it, run from a folder holding libthrottle.so
# (and ./shim/ and ../shim/ too): it must use the installed library or fail.
mkdir -p "$tmp/alone/bin" "$tmp/bait/shim" "$tmp/bait/in/shim"
cp "$throttle" "$tmp/alone/bin/throttle"
for d in "$tmp/bait" "$tmp/bait/shim" "$tmp/bait/in" "$tmp/bait/in/shim"; do
	cp "$fake" "$d/libthrottle.so"
done
cd "$tmp/bait/in" || fail "cd"
run env PATH="$tmp/alone/bin:$PATH" throttle -c "$tmp/cwd/t.conf" -- sh -c "$show"
if [ -f "$libdir/libthrottle.so" ]; then
	expect 0 "installed library"
	[[ "$out" == "$(realpath "$libdir/libthrottle.so")|"* ]] || fail "installed library: $out"
else
	expect 1 "no library"
	[ -z "$out" ] || fail "ran without the library: $out"
	[ "$err" = "throttle: cannot find libthrottle.so in $tmp/alone/bin/../shim or $tmp/alone/bin/.. (build tree)${from_bin:+, $tmp/alone/bin/$from_bin} or in $libdir" ] ||
		fail "no library: $err"
fi
cd "$tmp/cwd" || fail "cd"
# A relocated or DESTDIR install, PREFIX/bin/throttle: its own
# PREFIX/<libdir>/libthrottle.so comes before the configured libdir.
if [ -n "$from_bin" ]; then
	mkdir -p "$tmp/prefix/bin" "$tmp/prefix/bin/$from_bin"
	cp "$throttle" "$tmp/prefix/bin/throttle"
	cp "$fake" "$tmp/prefix/bin/$from_bin/libthrottle.so"
	cd "$tmp/bait/in" || fail "cd"
	run "$tmp/prefix/bin/throttle" sh -c "$show"
	expect 0 "relocated install"
	[ "$out" = "$(realpath "$tmp/prefix/bin/$from_bin/libthrottle.so")|unset|unset|unset" ] ||
		fail "relocated install: $out"
	cd "$tmp/cwd" || fail "cd"
else
	echo "SKIP relocated install: the libdir is not inside the prefix"
fi
# The library beside the build folder's tools/, where meson puts a library
# defined in the top-level meson.build; ../shim/ comes first.
mkdir -p "$tmp/top/tools"
cp "$testconf" "$tmp/top/tools/throttle"
cp "$fake" "$tmp/top/libthrottle.so"
run "$tmp/top/tools/throttle" sh -c "$show"
[ "$out" = "$(realpath "$tmp/top/libthrottle.so")|unset|unset|unset" ] || fail "top-level library: $out"
cp "$fake" "$tmp/tree/libthrottle.so"
run "$T" sh -c "$show"
[ "$out" = "$lib|unset|unset|unset" ] || fail "../shim first: $out"
# Through a symlink, the binary's real folder counts.
mkdir -p "$tmp/link"
ln -s "$tmp/tree/bin/throttle" "$tmp/link/throttle"
run "$tmp/link/throttle" sh -c "$show"
[ "$out" = "$lib|unset|unset|unset" ] || fail "symlinked throttle: $out"
cd "$tmp/cwd" || fail "cd"

# ---- the real build tree: build/tools/throttle finds the real library ----
real_lib=$(dirname "$throttle")/../shim/libthrottle.so
[ -f "$real_lib" ] || real_lib=$(dirname "$throttle")/../libthrottle.so
run "$throttle" sh -c "$show"
if [ -f "$real_lib" ]; then
	expect 0 "build tree"
	[ "$out" = "$(realpath "$real_lib")|unset|unset|unset" ] || fail "build tree: $out"
elif [ ! -f "$libdir/libthrottle.so" ]; then
	expect 1 "build tree without the shim"
fi

# ---- warnings: static, set-ID, capabilities ----
if [ -z "$static" ]; then
	# No static toolchain: find a static program (no PT_INTERP) to use.
	for c in /sbin/ldconfig /usr/sbin/ldconfig /bin/busybox /usr/bin/busybox; do
		[ -f "$c" ] || continue
		if python3 - "$c" <<'EOF'; then static=$c; break; fi
import struct, sys
with open(sys.argv[1], "rb") as f:
    h = f.read(64)
    if h[:4] != b"\x7fELF": sys.exit(1)
    e = "<" if h[5] == 1 else ">"
    if h[4] == 2: off, sz, n = struct.unpack(e + "Q", h[32:40])[0], *struct.unpack(e + "HH", h[54:58])
    else: off, sz, n = struct.unpack(e + "I", h[28:32])[0], *struct.unpack(e + "HH", h[42:46])
    for i in range(n):
        f.seek(off + i * sz)
        if struct.unpack(e + "I", f.read(4))[0] == 3: sys.exit(1)
EOF
	done
fi
if [ -n "$static" ]; then
	run "$T" -c t.conf -- "$static" --version
	[ "$(grep -c . "$tmp/err")" -eq 1 ] &&
		[ "$err" = "throttle: warning: $static is statically linked: libthrottle cannot load into it, so it will run unthrottled" ] ||
		fail "static warning: $err"
	[ -n "$out" ] || fail "the static program did not run"
	run "$T" -q -c t.conf -- "$static" --version
	[ -z "$err" ] || fail "-q static: $err"
else
	echo "SKIP static warning: no static program to test with"
fi
run "$T" -c t.conf -- sh -c 'exit 0'
[ -z "$err" ] || fail "warning for a dynamic program: $err"

# ---- warnings: Go, whose system calls are its own, dynamic or static ----
# One line each, even for a static one; the program runs all the same, and a
# dynamic one loads the library (which sees none of Go's calls).
[ -n "$go_dynamic$go_static" ] || fail "no Go-marked program given"
for go in "$go_dynamic" "$go_static"; do
	[ -n "$go" ] || { echo "SKIP Go warning: no static Go-marked program"; continue; }
	loaded=
	[[ "$go" == *dynamic* ]] && loaded="fake-shim loaded: go"
	run env FAKE_SHIM_MARK=go "$T" -c t.conf -- "$go"
	expect 0 "Go program runs"
	[ "$out" = hello ] || fail "the Go-marked program did not run: $out"
	[ "$err" = "throttle: warning: $go is a Go program: Go makes its system calls itself, not through libc, so it will run unthrottled${loaded:+$'\n'$loaded}" ] ||
		fail "Go warning: $err"
	run env FAKE_SHIM_MARK=go "$T" -q -c t.conf -- "$go"
	[ "$err" = "$loaded" ] || fail "-q Go: $err"
	[ "$out" = hello ] || fail "-q: the Go-marked program did not run: $out"
done

# ---- warnings: UV_USE_IO_URING, which turns on libuv's (node's) io_uring ----
# libuv reads it with atoi(): any non-zero number is on for some version
# (positive since libuv 1.50), anything else off. The variable reaches the
# program as it was.
uring="throttle: warning: /bin/sh runs with UV_USE_IO_URING on: libuv (node) may then open files through io_uring, not libc, so those opens will run unthrottled"
for v in 1 2 -1 " 1" +1 1x 007; do
	run env UV_USE_IO_URING="$v" "$T" -c t.conf -- /bin/sh -c 'echo "[$UV_USE_IO_URING]"; exit 3'
	expect 3 "UV_USE_IO_URING='$v'"
	[ "$err" = "$uring" ] || fail "UV_USE_IO_URING='$v' warning: $err"
	[ "$out" = "[$v]" ] || fail "UV_USE_IO_URING='$v' not passed on: $out"
	run env UV_USE_IO_URING="$v" "$T" -q -c t.conf -- /bin/sh -c 'echo "[$UV_USE_IO_URING]"'
	[ -z "$err" ] && [ "$out" = "[$v]" ] || fail "-q UV_USE_IO_URING='$v': $out; $err"
done
for v in 0 "" -0 00 true yes on 0x1 " "; do
	run env UV_USE_IO_URING="$v" "$T" -c t.conf -- /bin/sh -c 'echo "[$UV_USE_IO_URING]"'
	[ -z "$err" ] && [ "$out" = "[$v]" ] || fail "UV_USE_IO_URING='$v': $out; $err"
done
run env -u UV_USE_IO_URING "$T" -c t.conf -- /bin/sh -c 'echo "[${UV_USE_IO_URING-unset}]"'
[ -z "$err" ] && [ "$out" = "[unset]" ] || fail "UV_USE_IO_URING unset: $out; $err"

nosuid=$(python3 -c 'import os,sys; print(int(bool(os.statvfs(sys.argv[1]).f_flag & os.ST_NOSUID)))' "$tmp")
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP set-ID and capability warnings: need root to make such files"
elif [ "$nosuid" -ne 0 ]; then
	echo "SKIP set-ID and capability warnings: $tmp is mounted nosuid"
else
	cp /bin/true "$tmp/suid" && chown 65534 "$tmp/suid" && chmod 4755 "$tmp/suid"
	run "$T" -c t.conf -- "$tmp/suid"
	expect 0 "setuid program runs"
	[ "$err" = "throttle: warning: $tmp/suid is set-user-ID: the loader ignores LD_PRELOAD for it, so it will run unthrottled" ] ||
		fail "setuid warning: $err"
	# -q silences the warning; the warning was right: nothing loaded.
	run env FAKE_SHIM_MARK=suid "$T" -q -c t.conf -- "$tmp/suid"
	[ -z "$err" ] || fail "-q setuid: $err"
	# Set-user-ID to ourselves changes nothing: the library loads.
	cp /bin/true "$tmp/suid-self" && chmod 4755 "$tmp/suid-self"
	run env FAKE_SHIM_MARK=self "$T" -c t.conf -- "$tmp/suid-self"
	[ "$err" = "fake-shim loaded: self" ] || fail "setuid to ourselves: $err"
	cp /bin/true "$tmp/sgid" && chgrp 65534 "$tmp/sgid" && chmod 2755 "$tmp/sgid"
	run "$T" -c t.conf -- "$tmp/sgid"
	[[ "$err" == *"$tmp/sgid is set-group-ID"* ]] || fail "setgid warning: $err"
	# S_ISGID without group execute is a locking mark, not set-group-ID.
	chmod 2745 "$tmp/sgid"
	run "$T" -c t.conf -- "$tmp/sgid"
	[ -z "$err" ] || fail "setgid without g+x: $err"
	if command -v setcap >/dev/null && cp /bin/true "$tmp/cap" &&
		setcap cap_net_raw+ep "$tmp/cap" 2>/dev/null; then
		# root gains nothing from capabilities, so the library loads;
		# anyone else is warned.
		run "$T" -c t.conf -- "$tmp/cap"
		[ -z "$err" ] || fail "capabilities, as root: $err"
		if command -v setpriv >/dev/null; then
			chmod 755 "$tmp"
			run setpriv --reuid=65534 --regid=65534 --clear-groups -- \
				"$T" -c t.conf -- "$tmp/cap"
			expect 0 "capabilities, as nobody"
			[ "$err" = "throttle: warning: $tmp/cap has file capabilities: the loader ignores LD_PRELOAD for it, so it will run unthrottled" ] ||
				fail "capability warning: $err"
			# Execute-only (no read for us): the set-ID bit and
			# the capabilities are still seen.
			chmod 711 "$tmp/cap"
			cp /bin/true "$tmp/suid-xonly" && chmod 4711 "$tmp/suid-xonly"
			run setpriv --reuid=65534 --regid=65534 --clear-groups -- \
				"$T" -c t.conf -- "$tmp/suid-xonly"
			expect 0 "execute-only setuid program, as nobody"
			[ "$err" = "throttle: warning: $tmp/suid-xonly is set-user-ID: the loader ignores LD_PRELOAD for it, so it will run unthrottled" ] ||
				fail "execute-only setuid warning: $err"
			run setpriv --reuid=65534 --regid=65534 --clear-groups -- \
				"$T" -c t.conf -- "$tmp/cap"
			[ "$err" = "throttle: warning: $tmp/cap has file capabilities: the loader ignores LD_PRELOAD for it, so it will run unthrottled" ] ||
				fail "execute-only capability warning: $err"
			# An execute-only Go program cannot be read, so it is
			# not checked; it runs.
			cp "$go_dynamic" "$tmp/go-xonly" && chmod 711 "$tmp/go-xonly"
			run setpriv --reuid=65534 --regid=65534 --clear-groups -- \
				"$T" -c t.conf -- "$tmp/go-xonly"
			expect 0 "execute-only Go program, as nobody"
			[ -z "$err" ] && [ "$out" = hello ] ||
				fail "execute-only Go program: $out; $err"
		else
			echo "SKIP capability warning: no setpriv to run as another user"
		fi
	else
		echo "SKIP capability warning: setcap is missing or not permitted here"
	fi
	# Found through PATH, like execvp finds it.
	run env PATH="$tmp:$PATH" "$T" -c t.conf -- suid
	[[ "$err" == *"$tmp/suid is set-user-ID"* ]] || fail "setuid through PATH: $err"
fi
echo "PASS"
