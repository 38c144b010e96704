#!/usr/bin/env bash
# test-throttlectl.sh - `throttlectl status` against live pools held by
# pool-hold processes: the table, the JSON (checked with python3), named,
# missing and unreadable pools, and usage errors; holders killed or left
# zombies shown as dead, not live, before anything reclaims them; reclaim
# and remove; then, end to end, a slot held by a program run through
# throttle with the real shim.
# Usage: test-throttlectl.sh THROTTLECTL POOL-HOLD THROTTLE
set -u
ctl=$(realpath "$1") hold=$(realpath "$2") throttle=$(realpath "$3")
a=tctl-$$ b=tctl-$$-b d=tctl-$$-d e=tctl-$$-e g=tctl-$$-g
tmp=$(mktemp -d)
pids=()

. "$(dirname "$0")/ctl-testlib.sh"

cleanup() {
	stop_started
	rm -f "/dev/shm/throttle.$a" "/dev/shm/throttle.$b" "/dev/shm/throttle.$d" \
		"/dev/shm/throttle.$e" "/dev/shm/throttle.$g"
	rm -rf "$tmp"
}
trap cleanup EXIT

# Starts pool-hold ready ARGS and kills it with SIGKILL once it holds its
# slot: the pool keeps a dead holder. Sets $killed to its pid.
hold_and_kill() {
	start_hold ready "$@"
	killed=${pids[-1]}
	kill -KILL "$killed"
	wait "$killed" 2>/dev/null
}

# Pool a: limit 3, two slots held by one process, one target full of bytes
# that need escaping. Pool b: limit 1, held, and one process waiting.
weird=$'we"ird\\\n\x01/\xc3\xa9\xc2\x9b\xff'
start_hold ready "$a" 3 127.0.0.1:8000 "$weird"
pid_a=${pids[-1]}
start_hold ready "$b" 1 /srv/data/x
pid_b=${pids[-1]}
start_hold waiting -w "$b" 1 /srv/data/y
pid_w=${pids[-1]}
for _ in $(seq 100); do
	run status --json "$b"
	grep -q '"waiting":1' "$tmp/out" && break
	sleep 0.1
done
grep -q '"waiting":1' "$tmp/out" || fail "the waiter never showed: $(cat "$tmp/out")"

# ---- the table, for the named pools ----
run status "$b" "$a"
[ "$rc" -eq 0 ] || fail "status a b: exit $rc: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "status a b wrote to stderr: $(cat "$tmp/err")"
python3 - "$tmp/out" "$a" "$b" "$pid_a" "$pid_b" "$pid_w" <<'EOF' || fail "table: $(cat "$tmp/out")"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
a, b, pid_a, pid_b, pid_w = sys.argv[2:]
lines = text.split("\n")
assert lines[-1] == "", "no final newline"
lines = lines[:-1]
cols = "NAME LIMIT FROM IN_USE WAITING PEAK GRANTED TIMEOUTS REFUSED OVER RECLAIMED".split()
assert lines[0].split() == cols, lines[0]
# Every number column of every row ends where its header ends
# (right-aligned); FROM starts where its header starts.
heads = list(re.finditer(r"\S+", lines[0]))
rows = [l for l in lines[1:] if not l.startswith("  ")]
for r in rows:
    assert r[heads[2].start() - 2:heads[2].start()] == "  ", r
    assert r[heads[2].start()] != " ", r
    nums = list(re.finditer(r"\S+", r[heads[3].start() - 1:]))
    assert [m.end() + heads[3].start() - 1 for m in nums] == [h.end() for h in heads[3:]], r
    assert r[:heads[1].end()].split()[1:] and r[heads[1].end() - 1] != " ", r
# Sorted by name, a then its holders, then b then its holder and waiter.
assert [r.split()[0] for r in rows] == [a, b], rows
assert lines[1].split()[1:7] == ["3", "created", "2", "0", "2", "2"], lines[1]
held = lines[2:4]
assert all(re.fullmatch(r"  pid +%s  pool-hold  fd +\d+  held +\S+  .+" % pid_a, h) for h in held), held
targets = sorted(h.split("  ")[-1] for h in held)
assert targets == ["127.0.0.1:8000", 'we"ird\\\\\\x0a\\x01/\u00e9\\xc2\\x9b\\xff'], targets
assert lines[4].split()[0] == b and lines[4].split()[1:6] == ["1", "created", "1", "1", "1"], lines[4]
assert re.fullmatch(r"  pid +%s  pool-hold  fd +\d+  held +\S+  /srv/data/x" % pid_b, lines[5]), lines[5]
assert re.fullmatch(r"  pid +%s  pool-hold  fd +\d+  wait +\S+  /srv/data/y" % pid_w, lines[6]), lines[6]
# The fields of holder and waiter lines line up across the table.
rec = r"  pid +\d+()  \S+ +()fd +\S+()  (?:held|wait) +\S+()  .*"
spans = [re.fullmatch(rec, l) for l in lines[2:4] + lines[5:7]]
spans = [[m.start(i) for i in range(1, 5)] for m in spans]
assert all(f == spans[0] for f in spans), spans
assert len(lines) == 7, lines
EOF

# ---- every pool, as a table: both appear, exit 0 ----
run status
[ "$rc" -eq 0 ] || fail "status: exit $rc: $(cat "$tmp/err")"
grep -q "^$a " "$tmp/out" && grep -q "^$b " "$tmp/out" ||
	fail "status does not list $a and $b: $(cat "$tmp/out")"

# ---- JSON: valid, exact keys, values ----
run status --json
[ "$rc" -eq 0 ] || fail "status --json: exit $rc: $(cat "$tmp/err")"
python3 -m json.tool "$tmp/out" >/dev/null || fail "invalid JSON: $(cat "$tmp/out")"
python3 - "$tmp/out" "$a" "$b" "$pid_a" "$pid_b" "$weird" "$pid_w" <<'EOF' || fail "JSON: $(cat "$tmp/out")"
import json, sys
raw = open(sys.argv[1], "rb").read()
a, b, pid_a, pid_b = sys.argv[2:6]
weird, pid_w = sys.argv[6], int(sys.argv[7])
assert raw.endswith(b"}\n") and raw.count(b"\n") == 1, "not one line"
doc = json.loads(raw)
assert list(doc) == ["pools"]
names = [p["name"] for p in doc["pools"]]
assert names == sorted(names, key=lambda n: n.encode()), names
pools = {p["name"]: p for p in doc["pools"]}
keys = ["name", "limit", "limit_source", "config_limit", "in_use", "waiting",
        "dead_in_use", "dead_waiting", "peak", "granted", "timeouts", "refused",
        "over", "reclaimed", "holders", "waiters"]
for p in doc["pools"]:
    assert list(p) == keys, list(p)
    for h in p["holders"]:
        assert list(h) == ["pid", "comm", "fd", "target", "held_ms", "process"], list(h)
    for w in p["waiters"]:
        assert list(w) == ["pid", "comm", "fd", "target", "waited_ms", "process"], list(w)
pa, pb = pools[a], pools[b]
assert (pa["limit"], pa["in_use"], pa["waiting"], pa["peak"], pa["granted"]) == (3, 2, 0, 2, 2), pa
assert (pb["limit"], pb["in_use"], pb["waiting"], pb["granted"]) == (1, 1, 1, 1), pb
for p in (pa, pb):
    assert p["timeouts"] == p["refused"] == p["over"] == p["reclaimed"] == 0, p
    assert p["dead_in_use"] == p["dead_waiting"] == 0, p
    assert all(r["process"] == "alive" for r in p["holders"] + p["waiters"]), p
# The C1 control as \u009b, the byte outside UTF-8 as U+FFFD.
shown = weird.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
assert sorted(h["target"] for h in pa["holders"]) == sorted(["127.0.0.1:8000", shown]), pa
assert b"\\u009b" in raw and b"\xc2\x9b" not in raw, raw
assert all(h["pid"] == int(pid_a) and h["fd"] > 2 and h["held_ms"] >= 0 for h in pa["holders"]), pa
assert len({h["fd"] for h in pa["holders"]}) == 2, pa
assert [(h["pid"], h["target"]) for h in pb["holders"]] == [(int(pid_b), "/srv/data/x")], pb
assert [(w["pid"], w["comm"], w["target"]) for w in pb["waiters"]] == [(pid_w, "pool-hold", "/srv/data/y")], pb
assert all(h["comm"] == "pool-hold" for h in pa["holders"] + pb["holders"]), (pa, pb)
for p in (pa, pb):
    assert (p["limit_source"], p["config_limit"]) == ("created", None), p
assert pa["waiters"] == [], pa
EOF

# ---- dead holders: killed (and reaped), or a zombie, are not live ----
# Pool d, limit 3, full: one live holder, one killed with SIGKILL, one a
# child that took its slot and exited while its parent does not reap it.
# Nobody acquires, so nothing reclaims them: status must see them dead.
start_hold ready "$d" 3 /srv/d/live
pid_l=${pids[-1]}
hold_and_kill "$d" 3 /srv/d/killed
pid_k=$killed
start_hold zombie -z "$d" 3 /srv/d/zombie
pid_z=$(sed -n 's/^kid //p' "$tmp/hold.$((${#pids[@]} - 1))")
[ -n "$pid_z" ] && grep -q ') Z ' "/proc/$pid_z/stat" ||
	fail "no zombie holder: $(cat "/proc/$pid_z/stat" 2>&1)"
run status --json "$d"
[ "$rc" -eq 0 ] || fail "dead holders: exit $rc: $(cat "$tmp/err")"
python3 - "$tmp/out" "$pid_l" "$pid_k" "$pid_z" <<'EOF' || fail "dead holders, JSON: $(cat "$tmp/out")"
import json, sys
[p] = json.load(open(sys.argv[1]))["pools"]
pid_l, pid_k, pid_z = map(int, sys.argv[2:])
assert (p["limit"], p["in_use"], p["dead_in_use"], p["reclaimed"]) == (3, 1, 2, 0), p
got = {h["pid"]: (h["process"], h["target"]) for h in p["holders"]}
assert got == {pid_l: ("alive", "/srv/d/live"), pid_k: ("dead", "/srv/d/killed"),
               pid_z: ("dead", "/srv/d/zombie")}, got
EOF
run status "$d"
[ "$rc" -eq 0 ] || fail "dead holders, table: exit $rc: $(cat "$tmp/err")"
python3 - "$tmp/out" "$d" "$pid_l" "$pid_k" "$pid_z" <<'EOF' || fail "dead holders, table: $(cat "$tmp/out")"
import re, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
d, pid_l, pid_k, pid_z = sys.argv[2:]
assert lines[1].split()[:5] == [d, "3", "created", "1", "0"], lines[1]
assert lines[2] == "  dead: 2 slots held; not in IN_USE, freed by the next reclaim", lines[2]
want = {pid_l: "alive", pid_k: "dead", pid_z: "dead"}
for l in lines[3:]:
    m = re.fullmatch(r"  pid +(\d+)  (pool-hold|-) +fd +\d+  held +\S+  (alive|dead) +/srv/d/\w+", l)
    assert m and want.pop(m.group(1)) == m.group(3), l
    assert (m.group(2) == "pool-hold") == (m.group(3) == "alive"), l
assert not want and len(lines) == 6, lines
EOF
# The next acquire finds the pool full and takes both back, as the line said.
start_hold ready "$d" 3 /srv/d/new
run status --json "$d"
python3 -c 'import json,sys; [p]=json.load(open(sys.argv[1]))["pools"]; assert (p["in_use"], p["dead_in_use"], p["reclaimed"]) == (2, 0, 2), p' \
	"$tmp/out" || fail "after the reclaim: $(cat "$tmp/out")"

# ---- reclaim: a killed holder's slot back now, and said; once ----
start_hold ready "$g" 2 /srv/g/live
pid_gl=${pids[-1]}
hold_and_kill "$g" 2 /srv/g/killed
pid_gk=$killed
run reclaim "$g"
[ "$rc" -eq 0 ] || fail "reclaim: exit $rc: $(cat "$tmp/err")"
grep -Eqx "$g: pid $pid_gk fd -?[0-9]+ /srv/g/killed" "$tmp/out" &&
	grep -qx "$g: 1 slot back" "$tmp/out" && [ "$(wc -l <"$tmp/out")" -eq 2 ] ||
	fail "reclaim output: $(cat "$tmp/out")"
run status --json "$g"
python3 -c 'import json,sys; [p]=json.load(open(sys.argv[1]))["pools"]; assert (p["in_use"], p["dead_in_use"], p["reclaimed"]) == (1, 0, 1), p' \
	"$tmp/out" || fail "after reclaim: $(cat "$tmp/out")"
run reclaim "$g"
[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] || fail "reclaim again: exit $rc, $(cat "$tmp/out")"
run reclaim "nosuch-$$"
[ "$rc" -eq 1 ] && grep -q "nosuch-$$" "$tmp/err" || fail "reclaim missing: exit $rc"

# ---- remove: refused while a live process holds a slot, unless --force ----
run remove "$g"
[ "$rc" -eq 1 ] && grep -q "pool '$g' is in use, not removed (--force removes it): held by pid $pid_gl" "$tmp/err" ||
	fail "remove in use: exit $rc: $(cat "$tmp/err")"
[ -e "/dev/shm/throttle.$g" ] || fail "remove in use removed the segment"
run remove --force "$g"
[ "$rc" -eq 0 ] && [ ! -e "/dev/shm/throttle.$g" ] || fail "remove --force: exit $rc: $(cat "$tmp/err")"
run remove "$g"
[ "$rc" -eq 1 ] && grep -q "no pool '$g'" "$tmp/err" || fail "remove gone: exit $rc: $(cat "$tmp/err")"
run remove
[ "$rc" -eq 2 ] && grep -q "no pool named" "$tmp/err" || fail "remove nothing: exit $rc: $(cat "$tmp/err")"
run remove --nosuch "$g"
[ "$rc" -eq 2 ] || fail "remove --nosuch: exit $rc"
run remove --help
[ "$rc" -eq 0 ] && grep -q -- "--force" "$tmp/out" || fail "remove --help: exit $rc"
run reclaim --help
[ "$rc" -eq 0 ] && grep -q "slots back" "$tmp/out" || fail "reclaim --help: exit $rc"
# A pool nobody holds goes without --force.
hold_and_kill "$g" 1 /srv/g/brief
run remove "$g"
[ "$rc" -eq 0 ] && [ ! -e "/dev/shm/throttle.$g" ] || fail "remove of a dead holder's pool: exit $rc: $(cat "$tmp/err")"

# ---- a missing pool named: an error line, exit 1, the others still shown ----
run status --json "$a" "nosuch-$$"
[ "$rc" -eq 1 ] || fail "missing pool: exit $rc, want 1"
grep -q "nosuch-$$" "$tmp/err" || fail "missing pool not named: $(cat "$tmp/err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [p["name"] for p in d["pools"]] == [sys.argv[2]]' \
	"$tmp/out" "$a" || fail "missing pool: $(cat "$tmp/out")"

# ---- nothing to show ----
run status --json "nosuch-$$"
[ "$rc" -eq 1 ] && [ "$(cat "$tmp/out")" = '{"pools":[]}' ] ||
	fail "nothing as JSON: exit $rc, $(cat "$tmp/out")"
run status "nosuch-$$"
[ "$rc" -eq 1 ] && [ "$(cat "$tmp/out")" = "NAME  LIMIT  FROM  IN_USE  WAITING  PEAK  GRANTED  TIMEOUTS  REFUSED  OVER  RECLAIMED" ] ||
	fail "nothing as a table: exit $rc, $(cat "$tmp/out")"
run status "bad/name"
[ "$rc" -eq 1 ] && grep -q "bad/name" "$tmp/err" || fail "bad name: exit $rc, $(cat "$tmp/err")"

# ---- an unreadable pool: skipped silently in a scan, an error when named ----
# Root reads everything, so root checks as nobody; others make it mode 000.
as=()
if [ "$(id -u)" -eq 0 ]; then
	if command -v setpriv >/dev/null; then
		as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	fi
else
	chmod 000 "/dev/shm/throttle.$a"
fi
if [ "$(id -u)" -eq 0 ] && [ ${#as[@]} -eq 0 ]; then
	echo "SKIP unreadable pool: running as root without setpriv"
else
	"${as[@]}" "$ctl" status >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "scan with an unreadable pool: exit $rc: $(cat "$tmp/err")"
	! grep -q "^$a " "$tmp/out" || fail "unreadable pool listed: $(cat "$tmp/out")"
	! grep -q "$a" "$tmp/err" || fail "unreadable pool reported in a scan: $(cat "$tmp/err")"
	"${as[@]}" "$ctl" status "$a" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 1 ] || fail "named unreadable pool: exit $rc, want 1"
	grep -q "$a.*Permission denied" "$tmp/err" || fail "named unreadable pool: $(cat "$tmp/err")"
fi
chmod 600 "/dev/shm/throttle.$a"

# ---- usage ----
run
[ "$rc" -eq 2 ] && grep -q "usage:" "$tmp/err" || fail "no verb: exit $rc"
run frobnicate
[ "$rc" -eq 2 ] && grep -q "unknown verb 'frobnicate'" "$tmp/err" || fail "bad verb: exit $rc"
run status --bogus
[ "$rc" -eq 2 ] && grep -q "unknown option '--bogus'.*usage: throttlectl status" "$tmp/err" ||
	fail "bad option: exit $rc: $(cat "$tmp/err")"
run --help
[ "$rc" -eq 0 ] && grep -q "^  status \[--json\] \[POOL...\]" "$tmp/out" || fail "--help: exit $rc"
grep -q "^      --version  show the version$" "$tmp/out" || fail "--help: $(cat "$tmp/out")"
run --version
[ "$rc" -eq 0 ] && grep -q "^throttlectl [0-9]" "$tmp/out" || fail "--version: exit $rc"
run status -x
[ "$rc" -eq 2 ] && grep -q "^throttlectl: unknown option '-x'; usage: throttlectl status" "$tmp/err" ||
	fail "bad short option: exit $rc: $(cat "$tmp/err")"
run status --help
[ "$rc" -eq 0 ] && grep -q "^usage: throttlectl status" "$tmp/out" &&
	grep -q '"dead_in_use"' "$tmp/out" && grep -q '"limit_source"' "$tmp/out" &&
	grep -q '"comm"' "$tmp/out" || fail "status --help: exit $rc: $(cat "$tmp/out")"
# ---- end to end: throttle, the shim, throttlectl ----
# sh opens a file a pool covers and execs sleep, which keeps the descriptor
# and so the slot.
mkdir "$tmp/data" && : >"$tmp/data/f"
printf 'pool "%s" {\n    limit = 2\n    open = "%s/data/*"\n}\n' "$e" "$tmp" >"$tmp/e.conf"
"$throttle" -c "$tmp/e.conf" -- sh -c 'exec 3<"$1"; echo held; exec sleep 60' \
	sh "$tmp/data/f" >"$tmp/e.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	grep -qx held "$tmp/e.out" && break
	sleep 0.1
done
grep -qx held "$tmp/e.out" || fail "the throttled program never ran: $(cat "$tmp/e.out")"
run status --json "$e"
[ "$rc" -eq 0 ] || fail "end to end: exit $rc: $(cat "$tmp/err")"
python3 - "$tmp/out" "$e" "${pids[-1]}" "$tmp/data/f" <<'EOF' || fail "end to end: $(cat "$tmp/out")"
import json, sys
doc = json.load(open(sys.argv[1]))
[p] = doc["pools"]
assert (p["name"], p["limit"], p["in_use"], p["granted"]) == (sys.argv[2], 2, 1, 1), p
assert (p["limit_source"], p["config_limit"]) == ("config", 2), p
[h] = p["holders"]
assert (h["pid"], h["comm"], h["fd"], h["target"]) == (int(sys.argv[3]), "sleep", 3, sys.argv[4]), h
EOF
echo "PASS"
