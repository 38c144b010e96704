#!/usr/bin/env bash
# test-metrics.sh - `throttlectl metrics` against live pools: its output
# follows the Prometheus text format (check-prometheus.py) and says what the
# test set up: slots held by pool-hold processes, a grant at once, a wait of
# a few hundred ms in the right histogram bucket and in _sum, a timeout, a
# refusal, a dead holder apart; --textfile written whole, readable, with no
# temporary file left; a missing pool and usage errors. The checker is first
# shown to reject broken expositions, so that its passing means something.
# Usage: test-metrics.sh THROTTLECTL POOL-HOLD POOL-USE CHECKER
set -u
ctl=$(realpath "$1") hold=$(realpath "$2") use=$(realpath "$3")
check=$(realpath "$4")
p=tmet-$$ w=tmet-$$-w d=tmet-$$-d
tmp=$(mktemp -d)
pids=()

. "$(dirname "$0")/ctl-testlib.sh"

cleanup() {
	stop_started
	rm -f "/dev/shm/throttle.$p" "/dev/shm/throttle.$w" "/dev/shm/throttle.$d"
	rm -rf "$tmp"
}
trap cleanup EXIT

# Waits until file $1 has a line matching regex $2.
await_line() {
	await "$1 never said $2" grep -qE "$2" "$1"
}

# ---- the checker rejects what breaks the format ----
bad() {
	printf '%b' "$2" >"$tmp/bad.prom"
	python3 "$check" "$tmp/bad.prom" >/dev/null &&
		fail "the checker let through $1"
}
ok_head='# HELP a_total x\n# TYPE a_total counter\n'
python3 "$check" /dev/null || fail "the checker rejects an empty file"
printf '%b' "${ok_head}a_total{pool=\"x\"} 1\n" >"$tmp/good.prom"
python3 "$check" "$tmp/good.prom" || fail "the checker rejects a good file"
bad "a sample before its TYPE" 'a 1\n# TYPE a gauge\n'
bad "an untyped family" '# HELP a x\na 1\n'
bad "HELP twice" '# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n'
bad "a counter without _total" '# TYPE a counter\na 1\n'
bad "a negative counter" "${ok_head}a_total -1\n"
bad "a bad label escape" "${ok_head}a_total{pool=\"\\\\q\"} 1\n"
bad "a bad label name" "${ok_head}a_total{1pool=\"x\"} 1\n"
bad "a value that is no number" "${ok_head}a_total{pool=\"x\"} one\n"
bad "no final newline" "${ok_head}a_total 1"
bad "a family in two groups" \
	'# TYPE a gauge\n# TYPE b gauge\na{p="1"} 1\nb 1\na{p="2"} 1\n'
bad "the same sample twice" "${ok_head}a_total 1\na_total 1\n"
h='# TYPE h histogram\n'
bad "buckets that shrink" "${h}"'h_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'
bad "no +Inf bucket" "${h}"'h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'
bad "+Inf not _count" "${h}"'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n'
bad "no _sum" "${h}"'h_bucket{le="+Inf"} 1\nh_count 1\n'
printf '%b' "${ok_head}a_total 1\n" >"$tmp/good.prom"
python3 "$check" "$tmp/good.prom" 'v("a_total") == 2' >/dev/null &&
	fail "the checker let a false expectation through"

# ---- pools: two of three slots held; a wait, a timeout, a refusal ----
start_hold ready "$p" 3 10.0.0.1:5432 10.0.0.2:5432
start_hold ready "$d" 2 /srv/dead
dead=${pids[-1]}
kill -KILL "$dead"
wait "$dead" 2>/dev/null

# x holds w's one slot 400 ms; y waits for it and holds it 300 ms; while
# they have it, z gives up after 100 ms and r finds it taken.
"$use" "$w" 1 5000 400 >"$tmp/x" 2>&1 &
x=$!
pids+=($x)
await_line "$tmp/x" '^granted after'
"$use" "$w" 1 5000 300 >"$tmp/y" 2>&1 &
y=$!
pids+=($y)
"$use" "$w" 1 100 0 >"$tmp/z" 2>&1 &
z=$!
pids+=($z)
"$use" "$w" 1 0 0 >"$tmp/r" 2>&1
[ $? -eq 4 ] || fail "r was not refused: $(cat "$tmp/r")"
wait "$x" || fail "x: $(cat "$tmp/x")"
wait "$y" || fail "y: $(cat "$tmp/y")"
wait "$z"
[ $? -eq 3 ] || fail "z did not time out: $(cat "$tmp/z")"
waited=$(sed -n 's/^granted after \([0-9]*\) ms$/\1/p' "$tmp/y")
[ -n "$waited" ] && [ "$waited" -ge 100 ] ||
	fail "y hardly waited: $(cat "$tmp/y")"

# ---- the exposition ----
run metrics "$w" "$p" "$d"
[ "$rc" -eq 0 ] || fail "metrics: exit $rc: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "metrics wrote to stderr: $(cat "$tmp/err")"
cp "$tmp/out" "$tmp/metrics.prom"
lo=$(awk "BEGIN { print ($waited - 30) / 1000 }")
hi=$(awk "BEGIN { print ($waited + 30) / 1000 }")
H=throttle_pool_wait_seconds
python3 "$check" "$tmp/metrics.prom" \
	"v('throttle_pool_limit', pool='$p') == 3" \
	"v('throttle_pool_in_use', pool='$p') == 2" \
	"v('throttle_pool_waiting', pool='$p') == 0" \
	"v('throttle_pool_peak', pool='$p') == 2" \
	"v('throttle_pool_granted_total', pool='$p') == 2" \
	"v('throttle_pool_in_use', pool='$d') == 0" \
	"v('throttle_pool_dead_in_use', pool='$d') == 1" \
	"v('throttle_pool_limit', pool='$w') == 1" \
	"v('throttle_pool_in_use', pool='$w') == 0" \
	"v('throttle_pool_granted_total', pool='$w') == 2" \
	"v('throttle_pool_timeouts_total', pool='$w') == 1" \
	"v('throttle_pool_refused_total', pool='$w') == 1" \
	"v('throttle_pool_over_total', pool='$w') == 0" \
	"v('${H}_count', pool='$w') == 2" \
	"v('${H}_bucket', pool='$w', le='+Inf') == 2" \
	"cum('$H', 0.000001, pool='$w') == 1" \
	"cum('$H', $lo, pool='$w') == 1" \
	"cum('$H', 2 * $hi, pool='$w') == 2" \
	"$lo <= v('${H}_sum', pool='$w') <= $hi" \
	"v('${H}_sum', pool='$p') == 0" ||
	fail "metrics (y waited $waited ms): $(cat "$tmp/metrics.prom")"
# prometheus_client's own parser, in the Debian python3 that tools/test gives
# it (python3-prometheus-client): the same figures, read its way.
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	/usr/bin/python3 - "$tmp/metrics.prom" "$w" <<'PY' || fail "prometheus_client reads it otherwise: $(cat "$tmp/metrics.prom")"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def value(family, kind, sample, pool, **labels):
    f = fams[family]
    assert f.type == kind, (family, f.type)
    return [s.value for s in f.samples if s.name == sample and
            s.labels == dict(pool=pool, **labels)][0]
w = sys.argv[2]
assert value("throttle_pool_limit", "gauge", "throttle_pool_limit", w) == 1
assert value("throttle_pool_granted", "counter", "throttle_pool_granted_total", w) == 2
H = "throttle_pool_wait_seconds"
assert value(H, "histogram", H + "_count", w) == 2
assert value(H, "histogram", H + "_bucket", w, le="+Inf") == 2
PY
fi
# Families in the order documented, one group each, samples in pool order.
grep -m1 -n "^throttle_pool_limit{pool=\"$d\"} 2$" "$tmp/out" >/dev/null ||
	fail "no limit for $d"
[ "$(grep '^throttle_pool_limit{' "$tmp/out" | cut -d'"' -f2 | tr '\n' ' ')" \
	= "$p $d $w " ] || fail "pools not sorted by name"

# ---- --textfile ----
mkdir "$tmp/tf"
run metrics --textfile "$tmp/tf" "$w" "$p" "$d"
[ "$rc" -eq 0 ] || fail "--textfile: exit $rc: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "--textfile wrote to stdout: $(cat "$tmp/out")"
cmp -s "$tmp/tf/throttle.prom" "$tmp/metrics.prom" ||
	fail "throttle.prom differs: $(diff "$tmp/metrics.prom" "$tmp/tf/throttle.prom")"
[ "$(stat -c %a "$tmp/tf/throttle.prom")" = 644 ] ||
	fail "throttle.prom is mode $(stat -c %a "$tmp/tf/throttle.prom")"
[ "$(ls -A "$tmp/tf")" = throttle.prom ] ||
	fail "left behind in the folder: $(ls -A "$tmp/tf")"
# Again, over the old file: replaced, still whole.
echo "stale" >"$tmp/tf/throttle.prom"
run metrics --textfile "$tmp/tf" "$p"
[ "$rc" -eq 0 ] && python3 "$check" "$tmp/tf/throttle.prom" \
	"v('throttle_pool_in_use', pool='$p') == 2" ||
	fail "--textfile over an old file: $(cat "$tmp/tf/throttle.prom")"
run metrics --textfile "$tmp/no/such" "$p"
[ "$rc" -eq 1 ] && grep -q "^throttlectl: cannot create a file in $tmp/no/such" \
	"$tmp/err" || fail "--textfile into no folder: exit $rc: $(cat "$tmp/err")"

# ---- a missing pool: said, the others written, exit 1 ----
run metrics --textfile "$tmp/tf" "$p" "nope-$$"
[ "$rc" -eq 1 ] || fail "missing pool: exit $rc"
grep -q "^throttlectl: no pool 'nope-$$'" "$tmp/err" ||
	fail "missing pool not named: $(cat "$tmp/err")"
python3 "$check" "$tmp/tf/throttle.prom" "v('throttle_pool_limit', pool='$p') == 3" ||
	fail "the pool there was not written"
run metrics "nope-$$"
[ "$rc" -eq 1 ] && ! grep -q '^throttle_' "$tmp/out" ||
	fail "metrics of a missing pool: exit $rc"

# ---- usage ----
run metrics --textfile
[ "$rc" -eq 2 ] && grep -q '^throttlectl: .*usage: throttlectl metrics' "$tmp/err" ||
	fail "--textfile without a folder: exit $rc: $(cat "$tmp/err")"
run metrics --bogus
[ "$rc" -eq 2 ] || fail "--bogus: exit $rc"
run metrics --help
[ "$rc" -eq 0 ] && grep -q '^usage: throttlectl metrics \[--textfile DIR\]' "$tmp/out" ||
	fail "--help: exit $rc: $(cat "$tmp/out")"

echo "test-metrics: all passed"
