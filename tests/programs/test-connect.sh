# test-connect.sh - unmodified network clients, several at once, through a
# pool of 2 connections to a loopback server: the server (server.c, or for
# redis the server's own client count) never sees more than 2 at once, sees
# 2 where the clients' concurrency allows, and every client gets its answer.
# Clients that open several connections from one process (curl -Z, asyncio,
# node, redis-benchmark) complete under hold = process, where /proc
# (holders.c) shows at most 2 processes connected; under the default hold =
# descriptor, asking for more than the limit from one thread is refused at
# once with ECONNREFUSED and the shim's line, never a hang. wget -T leaves a
# wait by its own alarm and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

REQUEST='GET / HTTP/1.0\r\n\r\n'

# total_is N: the server accepted N connections in all.
total_is() {
	local t
	t=$(value server total)
	[ "$t" -eq "$1" ] || fail "server total=$t, expected $1"
}

# process_pool [SERVER_OPTION...]: a pool of 2 with hold = process, the
# server answering, and holders counting connected processes.
process_pool() {
	connect_pool 2 "$@" -- "hold = process"
	holders_start -t "$PORT"
	guard holders maxprocs 2
}

test_connect_curl_several() {
	need curl
	connect_pool 2 -H 1000
	guard server max 2
	copies 4 c curl -sS --noproxy '*' "$URL"
	all_ok $(names c 4)
	said ok $(names c 4)
	reached server max 2
	total_is 4
}

# curl -Z: three transfers at once from each of three curl processes.
test_connect_curl_parallel() {
	local i urls=()
	need curl
	process_pool -H 1000
	for i in 1 2 3; do urls+=(-o "$TMP/c%i.$i" "$URL?$i"); done
	copies 3 c curl -sS --no-progress-meter --noproxy '*' -Z --parallel-max 3 \
		--parallel-immediate "${urls[@]}"
	all_ok $(names c 3)
	reached holders maxprocs 2
	reached holders most 3
	total_is 9
	for i in $TMP/c[123].[123]; do
		[ "$(cat "$i")" = ok ] || fail "${i##*/}: '$(cat "$i")', expected ok"
	done
}

# curl -Z asking 4 connections of a pool of 2 from its one thread: 2
# transfers get theirs, 2 are refused at once and said so (curl: (7)).
test_connect_curl_parallel_refused() {
	local i urls=() ok=0
	need curl
	connect_pool 2 -H 300
	guard server max 2
	for i in 1 2 3 4; do urls+=(-o "$TMP/c.$i" "$URL?$i"); done
	start c curl -sS --no-progress-meter --noproxy '*' -Z --parallel-max 4 \
		--parallel-immediate "${urls[@]}"
	refused_fast c curl connect 2
	for i in 1 2 3 4; do
		[ "$(cat "$TMP/c.$i" 2>/dev/null)" = ok ] && ok=$((ok + 1))
	done
	[ "$ok" -eq 2 ] || fail "$ok transfers answered, expected 2"
	[ "$(grep -c '^curl: (7) ' "$TMP/c.err")" -eq 2 ] ||
		fail "expected 2 lines 'curl: (7)' on stderr"
	nothing_left connect "127.0.0.1:$PORT" 2
}

test_connect_wget_several() {
	need wget
	connect_pool 2 -H 1000
	guard server max 2
	copies 4 w wget -q -O - "$URL"
	all_ok $(names w 4)
	said ok $(names w 4)
	reached server max 2
	total_is 4
}

# wget -T 1 against a full pool: its own alarm (SIGALRM, then siglongjmp
# out of the wait) ends the connect after a second; it says so and sleeps
# before a retry, alive. A slot let go then goes at once to a new client:
# the wget left no place in the queue behind to be handed it.
test_connect_wget_timeout() {
	local probe ms
	need wget curl
	connect_pool 2 -H 300
	guard server max 2
	probe=$THR_BIN/probe-connect
	start h1 "$probe" "127.0.0.1:$PORT" 1 "@$TMP/h1"
	start h2 "$probe" "127.0.0.1:$PORT" 1 "@$TMP/h2"
	wait_line h1 'ok fd='
	wait_line h2 'ok fd='
	start w wget -T 1 -t 2 --waitretry=0 --wait=30 -O "$TMP/w.body" "$URL"
	err_line w '^Connecting to .*\.\.\. failed: Connection timed out\.$'
	err_line w '^Retrying\.$'
	ms=$(($(now_ms) - T0[w]))
	[ "$ms" -ge 900 ] || fail "wget gave up after ${ms} ms, before its 1 s"
	kill -0 "${PID_OF[w]}" 2>/dev/null || fail "wget is gone: $(cat "$TMP/w.err")"
	in_use_is 2 "while wget sleeps"
	release h1
	finish h1
	start c curl -sS --noproxy '*' "$URL"
	done_by c 15
	[ "$STATUS" -eq 0 ] || fail "curl exited $STATUS"
	said ok c
	total_is 3
	kill -TERM "${PID_OF[w]}"
	release h2
	finish h2
	reached server max 2
}

test_connect_python_connect() {
	need python3
	connect_pool 2 -H 1000
	guard server max 2
	copies 4 p python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
data = b""
while not data.endswith(b"ok\n"):
    data += s.recv(4096)
s.close()
print("ok")' "$PORT"
	all_ok $(names p 4)
	said ok $(names p 4)
	reached server max 2
	total_is 4
}

test_connect_python_urllib() {
	need python3
	connect_pool 2 -H 1000
	guard server max 2
	copies 4 p python3 -c '
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' "$URL"
	all_ok $(names p 4)
	said ok $(names p 4)
	reached server max 2
	total_is 4
}

# The asyncio client: connections at once from one event loop, each asking
# for the page; prints how many were answered and refused, and exits 1 if
# any was refused.
ASYNCIO='
import asyncio, sys
async def get(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET / HTTP/1.0\r\n\r\n")
    data = await r.readuntil(b"ok\n")
    w.close()
    await w.wait_closed()
    return data
async def main(port, n):
    got = await asyncio.gather(*(get(port) for _ in range(n)),
                               return_exceptions=True)
    ok = sum(1 for g in got if isinstance(g, bytes))
    refused = sum(1 for g in got if isinstance(g, ConnectionRefusedError))
    print("ok %d refused %d" % (ok, refused))
    sys.exit(0 if ok == n else 1)
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))'

test_connect_python_asyncio() {
	need python3
	process_pool -H 1000
	copies 3 p python3 -c "$ASYNCIO" "$PORT" 3
	all_ok $(names p 3)
	said 'ok 3 refused 0' $(names p 3)
	reached holders maxprocs 2
	reached holders most 3
	total_is 9
}

test_connect_python_asyncio_refused() {
	need python3
	connect_pool 2 -H 300
	guard server max 2
	start p python3 -c "$ASYNCIO" "$PORT" 3
	refused_fast p python3 connect 2
	said 'ok 2 refused 1' p
	nothing_left connect "127.0.0.1:$PORT" 2
}

test_connect_perl_connect() {
	need perl
	connect_pool 2 -H 1000
	guard server max 2
	copies 4 p perl -MIO::Socket::INET -e '
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "$!";
print $s "GET / HTTP/1.0\r\n\r\n";
my $last;
while (my $l = <$s>) { $last = $l; last if $l eq "ok\n"; }
close $s;
print $last;' "$PORT"
	all_ok $(names p 4)
	said ok $(names p 4)
	reached server max 2
	total_is 4
}

# nc sends the request from a file and stops at the first packet back.
test_connect_nc() {
	local i
	need nc
	connect_pool 2 -H 1000
	guard server max 2
	printf "$REQUEST" >"$TMP/request"
	for i in 1 2 3 4; do
		start "n$i" sh -c 'exec nc -W 1 127.0.0.1 "$1" <"$2"' sh "$PORT" \
			"$TMP/request"
	done
	all_ok $(names n 4)
	for i in 1 2 3 4; do
		grep -q '^HTTP/1.0 200 OK' "$TMP/n$i.out" && grep -qx ok "$TMP/n$i.out" ||
			fail "n$i: no answer: $(cat "$TMP/n$i.out")"
	done
	reached server max 2
	total_is 4
}

# The node client: net.connect and http.get, each asking for the page,
# either one after another (each closed before the next) or all at once;
# prints how many were answered and refused, and exits 1 if any was refused.
NODE='
const net = require("net"), http = require("http");
const [port, how, n] = [+process.argv[1], process.argv[2], +process.argv[3]];
const viaNet = () => new Promise((ok, bad) => {
  let data = "";
  const s = net.connect(port, "127.0.0.1", () => s.write("GET / HTTP/1.0\r\n\r\n"));
  s.on("data", d => { data += d; if (data.endsWith("ok\n")) s.destroy(); });
  s.on("error", bad);
  s.on("close", () => data.endsWith("ok\n") ? ok() : bad(new Error("no answer")));
});
const viaHttp = () => new Promise((ok, bad) => {
  const req = http.get({ host: "127.0.0.1", port, agent: false }, res => {
    let body = "";
    res.on("data", d => body += d);
    res.on("end", () => body === "ok\n" ? null : bad(new Error(body)));
    res.socket.on("close", ok);
  });
  req.on("error", bad);
});
const each = [];
for (let i = 0; i < n; i++) each.push(viaNet, viaHttp);
(async () => {
  let got;
  if (how === "seq") {
    got = [];
    for (const f of each) got.push(await f().then(() => "ok", e => e));
  } else {
    got = await Promise.all(each.map(f => f().then(() => "ok", e => e)));
  }
  const ok = got.filter(g => g === "ok").length;
  const refused = got.filter(g => g.code === "ECONNREFUSED").length;
  console.log(`ok ${ok} refused ${refused}`);
  process.exitCode = ok === got.length ? 0 : 1;
})();'

# Each node process connects four times in a row: libuv closes each socket
# with syscall(SYS_close), which must give its slot back.
test_connect_node_sequential() {
	need node
	connect_pool 2 -H 200
	guard server max 2
	copies 3 n node -e "$NODE" "$PORT" seq 2
	all_ok $(names n 3)
	said 'ok 4 refused 0' $(names n 3)
	reached server max 2
	total_is 12
}

test_connect_node_parallel() {
	need node
	process_pool -H 1000
	copies 3 n node -e "$NODE" "$PORT" par 3
	all_ok $(names n 3)
	said 'ok 6 refused 0' $(names n 3)
	reached holders maxprocs 2
	reached holders most 6
	total_is 18
}

test_connect_node_parallel_refused() {
	need node
	connect_pool 2 -H 300
	guard server max 2
	start n node -e "$NODE" "$PORT" par 2
	refused_fast n node connect 2
	said 'ok 2 refused 2' n
	nothing_left connect "127.0.0.1:$PORT" 2
}

# redis_start [-n]: a real redis-server, without the shim, on a free port
# of its own (RPORT), saving nothing; redis-clients asks the server how
# many clients it has (not with -n: its connection would be counted by
# holders -t).
redis_start() {
	local try
	need redis-server redis-cli
	for try in 1 2 3 4 5; do
		RPORT=$((20000 + RANDOM % 30000))
		redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
			--appendonly no --dir "$TMP" --logfile "$TMP/redis.log" \
			--unixsocket "$TMP/redis.sock" --unixsocketperm 700 &
		BG+=($!)
		until grep -q 'Ready to accept' "$TMP/redis.log" 2>/dev/null ||
			! kill -0 "${BG[-1]}" 2>/dev/null; do
			sleep 0.01
		done
		kill -0 "${BG[-1]}" 2>/dev/null && break
		rm -f "$TMP/redis.log"
	done
	grep -q 'Ready to accept' "$TMP/redis.log" ||
		fail "redis-server did not start: $(cat "$TMP/redis.log")"
	[ "${1:-}" = -n ] && return
	"$THR_PROGS/redis-clients" "$RPORT" "$TMP/redis.state" \
		>"$TMP/redis-clients.log" 2>&1 &
	BG+=($!)
	wait_file "$TMP/redis.state"
}

# redis_admin ARGS...: the test's own command to the server, through its
# unix socket, which no pool gates and the TCP witness does not count.
redis_admin() {
	redis-cli -s "$TMP/redis.sock" "$@"
}

# redis-cli, five at once, each adding one to a counter and then waiting
# in BLPOP on a list until the test pushes five items, once every copy is
# in; the counter ends at 5, the list empty.
test_connect_redis_cli() {
	redis_start
	conf_pool 2 wait "connect = \"127.0.0.1:$RPORT\""
	guard redis max 2
	printf 'INCR c\nBLPOP q 0\n' >"$TMP/commands"
	copies 5 r sh -c 'exec redis-cli -p "$1" <"$2"' sh "$RPORT" \
		"$TMP/commands"
	all_in redis max 2 5
	redis_admin RPUSH q 1 2 3 4 5 >/dev/null
	all_ok $(names r 5)
	redis_is "GET c" 5
	redis_is "LLEN q" 0
}

# redis_is COMMAND VALUE: the server, asked without the shim, answers VALUE.
redis_is() {
	local v
	v=$(redis_admin $1)
	[ "$v" = "$2" ] || fail "redis: $1 is '$v', expected $2"
}

# redis-benchmark's clients each wait in BLPOP on a list, request after
# request, until the test has pushed as many items as they make requests,
# once every copy is in.
BENCH=(-q BLPOP q 0)

# bench_said NAME...: each NAME printed its result.
bench_said() {
	local n
	for n in "$@"; do
		grep -Eq 'BLPOP q 0: ([0-9.]+|inf) requests per second' "$TMP/$n.out" ||
			fail "$n: no result: $(tr '\r' '\n' <"$TMP/$n.out" | tail -n1)"
	done
}

# redis-benchmark, three at once, each with one client making two
# requests (its first connection, which reads the server's config, closed
# before).
test_connect_redis_benchmark() {
	need redis-benchmark
	redis_start
	conf_pool 2 wait "connect = \"127.0.0.1:$RPORT\""
	guard redis max 2
	copies 3 b redis-benchmark -p "$RPORT" -c 1 -n 2 "${BENCH[@]}"
	all_in redis max 2 3
	redis_admin RPUSH q $(seq 6) >/dev/null
	all_ok $(names b 3)
	bench_said $(names b 3)
	redis_is "LLEN q" 0
}

# Three clients each: under hold = process at most 2 benchmarks at once,
# counted from /proc (the server cannot tell whose its clients are).
test_connect_redis_benchmark_process() {
	need redis-benchmark
	redis_start -n
	conf_pool 2 wait "connect = \"127.0.0.1:$RPORT\"" "hold = process"
	holders_start -t "$RPORT"
	guard holders maxprocs 2
	copies 3 b redis-benchmark -p "$RPORT" -c 3 -n 6 "${BENCH[@]}"
	all_in holders maxprocs 2 3
	reached holders most 3
	redis_admin RPUSH q $(seq 18) >/dev/null
	all_ok $(names b 3)
	bench_said $(names b 3)
	redis_is "LLEN q" 0
}

# Three clients of a pool of 2 from one event loop: the third is refused.
test_connect_redis_benchmark_refused() {
	need redis-benchmark
	redis_start
	conf_pool 2 wait "connect = \"127.0.0.1:$RPORT\""
	guard redis max 2
	start b redis-benchmark -p "$RPORT" -c 3 -n 6 -q BLPOP none 0.3
	refused_fast b redis-benchmark connect 2
	nothing_left connect "127.0.0.1:$RPORT" 2
}

run_case "$@"
