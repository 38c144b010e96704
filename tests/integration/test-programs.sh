# test-programs.sh - real, unmodified programs under the shim: five at once
# through a pool of two, watched from outside; the witness must see exactly
# two at a time (never more, and the limit reached), and every program must
# succeed. connect(): python3 socket and urllib, curl, perl IO::Socket::INET;
# open(): bash redirections, python3 open(), perl open.
. "$(dirname "$0")/lib.sh"

N=5

python() {
	[ -n "${THR_PYTHON:-}" ] && [ -x "$THR_PYTHON" ] || skip "no python3"
	echo "$THR_PYTHON"
}

need() {
	command -v "$1" >/dev/null || skip "no $1"
	command -v "$1"
}

# all_of PROGRAM ARGS...: N copies at once, each with its number appended
# as the last argument; all must exit 0 without a word on stderr.
all_of() {
	local i
	for i in $(seq $N); do
		start "p$i" "$@" "$i"
	done
	for i in $(seq $N); do
		finish "p$i" 15
		[ "$STATUS" -eq 0 ] || fail "p$i exited $STATUS"
		[ ! -s "$TMP/p$i.err" ] || fail "p$i stderr: $(cat "$TMP/p$i.err")"
	done
}

connect_pool() {
	server_start "$@"
	conf_pool 2 wait "connect = \"127.0.0.1:$PORT\""
}

open_pool() {
	mkdir "$TMP/d"
	conf_pool 2 wait "open = \"$TMP/d/*\""
	watch_start "$TMP/d/"
}

connected_all() {
	witness_reached 2
	[ "$(state_get "$TMP/server.state" total)" -eq $N ] ||
		fail "server total=$(state_get "$TMP/server.state" total), expected $N"
}

test_programs_python_connect() {
	local py
	py=$(python) || exit
	connect_pool
	all_of "$py" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(0.3)
s.close()' "$PORT"
	connected_all
}

test_programs_python_urllib() {
	local py
	py=$(python) || exit
	connect_pool -H 300
	all_of "$py" -c '
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1]).read()
assert body == b"ok\n", body' "$PORT"
	connected_all
}

test_programs_curl() {
	local curl
	curl=$(need curl) || exit
	connect_pool -H 300
	all_of "$curl" -sS -o /dev/null --noproxy '*' "http://127.0.0.1:$PORT/?"
	connected_all
}

test_programs_perl_connect() {
	local perl
	perl=$(need perl) || exit
	connect_pool
	all_of "$perl" -MIO::Socket::INET -e '
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "$!";
select(undef, undef, undef, 0.3);
close $s;' "$PORT"
	connected_all
}

test_programs_bash_redirect() {
	local bash
	bash=$(need bash) || exit
	open_pool
	all_of "$bash" -c 'exec 3>"$1/f$2"; sleep 0.3; exec 3>&-' bash "$TMP/d"
	witness_reached 2
}

test_programs_python_open() {
	local py
	py=$(python) || exit
	open_pool
	all_of "$py" -c '
import sys, time
f = open("%s/f%s" % (sys.argv[1], sys.argv[2]), "w")
time.sleep(0.3)
f.close()' "$TMP/d"
	witness_reached 2
}

test_programs_perl_open() {
	local perl
	perl=$(need perl) || exit
	open_pool
	all_of "$perl" -e '
open(my $fh, ">", "$ARGV[0]/f$ARGV[1]") or die "$!";
select(undef, undef, undef, 0.3);
close $fh;' "$TMP/d"
	witness_reached 2
}

run_case "$@"
