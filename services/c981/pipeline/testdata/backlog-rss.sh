#!/usr/bin/env bash
# Bounded-memory check of the all-in-one pipeline (issue #9): starts
# `c981 run` (embedded JetStream, ClickHouse at CLICKHOUSE_ADDR), drives its
# syslog TCP listener with `c981 loadgen` faster than the pipeline drains
# (RATE=0: as fast as possible) for DURATION, samples the process's RSS from
# /proc every second while the backlog builds and while it drains, takes a
# heap profile (and the pipeline's JetStream backlog) in the middle, and
# prints the peak RSS (VmHWM). It exits non-zero when the peak exceeds
# LIMIT_MIB (when set).
#
# usage: CLICKHOUSE_ADDR=127.0.0.1:19000 services/c981/pipeline/testdata/backlog-rss.sh
#
# Environment (all optional):
#   RATE=0            loadgen records/s (0 = as fast as possible)
#   DURATION=60s      how long loadgen sends
#   DRAIN=30          seconds sampled after loadgen stopped
#   LIMIT_MIB=        fail when the peak RSS exceeds this many MiB
#   HEAP_AT=40        seconds after the start of the load to take the heap profile
#   OUT=dir           keep the samples, profile and logs here (default: a temp dir, removed)
#   C981=bin          the binary (default: built from services/c981)
#   EXTRA_YAML=file   appended to the generated c981 config (e.g. memory_limit: 2GiB)
#   PREFILL=N         before the run, store N loadgen records in C981_RAW (with
#                     `c981 loadgen-ingest` on the run's JetStream directory), so
#                     the pipeline starts behind by N events whatever the CPU
#                     share of this machine lets ingest accept during the run
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd) # services/c981
cd "$here/../.." # the repository root: the default config's paths
RATE=${RATE:-0}
DURATION=${DURATION:-60s}
DRAIN=${DRAIN:-30}
HEAP_AT=${HEAP_AT:-40}
: "${CLICKHOUSE_ADDR:?set CLICKHOUSE_ADDR to a ClickHouse native host:port}"
ch_host=${CLICKHOUSE_ADDR%:*}
ch_port=${CLICKHOUSE_ADDR##*:}
run="rss$(date +%s)"
db="c981_rss_$run"
keep=1
if [ -z "${OUT:-}" ]; then
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/c981-rss.XXXXXX")
	keep=0
fi
mkdir -p "$OUT"
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	clickhouse-client --host "$ch_host" --port "$ch_port" --query "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$OUT/data"
	[ "$keep" = 1 ] || rm -rf "$OUT"
}
trap cleanup EXIT
if [ -z "${C981:-}" ]; then
	(cd "$here" && go build -o "$OUT/c981" .)
	C981=$OUT/c981
fi
cat >"$OUT/config.yaml" <<YAML
data_dir: $OUT/data
metrics_addr: 127.0.0.1:0
log:
  level: warn
nats:
  listen: 127.0.0.1:-1
clickhouse:
  addrs: [$CLICKHOUSE_ADDR]
  database: $db
  create_database: true
console:
  addr: 127.0.0.1:0
YAML
[ -n "${EXTRA_YAML:-}" ] && cat "$EXTRA_YAML" >>"$OUT/config.yaml"
if [ "${PREFILL:-0}" -gt 0 ]; then
	mkdir -p "$OUT/data/nats"
	lport=$((24000 + $$ % 2000))
	"$C981" loadgen-ingest --tcp "127.0.0.1:$lport" --store-dir "$OUT/data/nats" >"$OUT/prefill.out" 2>&1 &
	lpid=$!
	for _ in $(seq 1 100); do grep -q '^nats ' "$OUT/prefill.out" 2>/dev/null && break; sleep 0.1; done
	"$C981" loadgen --addr "127.0.0.1:$lport" --proto tcp --format mix --rate 0 --count "$PREFILL" \
		--run "${run}pre" --quiet >&2
	# Until loadgen-ingest reports every record published (a line a second).
	for _ in $(seq 1 600); do
		awk -v n="$PREFILL" '/^published / && $2 >= n {found = 1} END {exit !found}' "$OUT/prefill.out" && break
		sleep 0.1
	done
	kill -TERM "$lpid"
	wait "$lpid" || true
	echo "backlog-rss: prefilled C981_RAW with $PREFILL records" >&2
fi
pport=$((26000 + $$ % 2000))
"$C981" run --config "$OUT/config.yaml" --syslog-tcp 127.0.0.1:0 --syslog-udp 127.0.0.1:0 \
	--pprof "127.0.0.1:$pport" >"$OUT/run.out" 2>"$OUT/run.err" &
pid=$!
addr=""
for _ in $(seq 1 600); do
	addr=$(awk '$1 == "syslog" && $2 == "tcp" {print $3; exit}' "$OUT/run.out")
	[ -n "$addr" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$OUT/run.err" >&2; echo "backlog-rss: c981 run exited" >&2; exit 1; }
	sleep 0.1
done
[ -n "$addr" ] || { echo "backlog-rss: no TCP listener" >&2; exit 1; }
nats=$(awk '$1 == "nats" {print $2; exit}' "$OUT/run.out")
echo "backlog-rss: pid $pid, syslog tcp $addr, pprof 127.0.0.1:$pport, out $OUT" >&2

# RSS sampler: seconds since start, VmRSS MiB, Go heap in use (from the
# process's own metrics is not needed: RSS is what the issue bounds).
(
	t=0
	while kill -0 "$pid" 2>/dev/null; do
		echo "$t $(awk '/^VmRSS:/ {printf "%d", $2 / 1024}' "/proc/$pid/status" 2>/dev/null)"
		sleep 1
		t=$((t + 1))
	done
) >"$OUT/rss.txt" &
sampler=$!
(
	sleep "$HEAP_AT"
	curl -sf -o "$OUT/heap.pprof" "http://127.0.0.1:$pport/debug/pprof/heap" || true
	curl -sf -o "$OUT/goroutine.txt" "http://127.0.0.1:$pport/debug/pprof/goroutine?debug=1" || true
	awk '/^VmRSS:|^VmHWM:/' "/proc/$pid/status" >"$OUT/status-at-heap.txt" 2>/dev/null || true
) &
heaper=$!

"$C981" loadgen --addr "$addr" --proto tcp --format mix --rate "$RATE" --duration "$DURATION" \
	--run "$run" --quiet >"$OUT/loadgen.out" 2>&1 || true
cat "$OUT/loadgen.out" >&2
wait "$heaper" || true
sleep "$DRAIN"
hwm=$(awk '/^VmHWM:/ {printf "%d", $2 / 1024}' "/proc/$pid/status")
cpu=$(awk -v tk="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / tk}' "/proc/$pid/stat")
rss=$(awk '/^VmRSS:/ {printf "%d", $2 / 1024}' "/proc/$pid/status")
stored=$(clickhouse-client --host "$ch_host" --port "$ch_port" --database "$db" --query "SELECT count() FROM events" 2>/dev/null || echo "?")
kill "$sampler" 2>/dev/null || true
echo "backlog-rss: peak RSS (VmHWM) $hwm MiB, RSS now $rss MiB, events stored so far $stored, c981 CPU $cpu s ($(awk -v c="$cpu" -v n="$stored" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else printf "?" }') µs per stored event), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "backlog-rss: RSS samples (s MiB): $(awk '{printf "%s:%s ", $1, $2}' "$OUT/rss.txt")" >&2
[ -f "$OUT/heap.pprof" ] && go tool pprof -sample_index=inuse_space -top -nodecount=25 "$OUT/heap.pprof" 2>/dev/null | head -35 >&2 || true
echo "peak_rss_mib $hwm"
if [ -n "${LIMIT_MIB:-}" ] && [ "$hwm" -gt "$LIMIT_MIB" ]; then
	echo "backlog-rss: peak RSS $hwm MiB exceeds LIMIT_MIB=$LIMIT_MIB" >&2
	exit 1
fi
