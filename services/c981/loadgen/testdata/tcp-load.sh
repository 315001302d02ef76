#!/bin/sh
# Two-process TCP load measurement of ingest (issue #3): process 1 is
# `c981 loadgen-ingest` (the ingest stage on an embedded JetStream),
# process 2 is `c981 loadgen`, which sends COUNT sequence-numbered records
# over one TCP connection as fast as possible and then verifies on C981_RAW
# that every sequence number was stored exactly once (--verify-raw). It
# prints the wall-clock rate until the last record was stored and the CPU
# seconds of each process, and exits non-zero on any loss or duplicate.
#
# usage: tcp-load.sh [COUNT] [extra loadgen-ingest flags...]
#   C981=path/to/c981 (default: built from services/c981 into a temp dir)
#   PROFILE=file.pprof writes a CPU profile of the ingest process
#   e.g.  sh services/c981/loadgen/testdata/tcp-load.sh 3000000 --publish-workers 4
set -eu
count=${1:-2000000}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")/../.." && pwd) # services/c981
tmp=$(mktemp -d)
ingest_pid=
trap 'if [ -n "$ingest_pid" ]; then kill "$ingest_pid" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
if [ -z "${C981:-}" ]; then
	(cd "$here" && go build -o "$tmp/c981" .)
	C981=$tmp/c981
fi
port=$((20000 + $$ % 20000))
prof=""
[ -n "${PROFILE:-}" ] && prof="--cpuprofile $PROFILE"
# shellcheck disable=SC2086
"$C981" loadgen-ingest --tcp "127.0.0.1:$port" --nats-port -1 --store-dir "$tmp/js" $prof "$@" >"$tmp/ingest.out" 2>"$tmp/ingest.err" &
ingest_pid=$!
i=0
until grep -q '^nats ' "$tmp/ingest.out" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$ingest_pid" 2>/dev/null; then
		cat "$tmp/ingest.err" >&2
		exit 1
	fi
	sleep 0.1
done
nats=$(sed -n 's/^nats //p' "$tmp/ingest.out")
run="tcp-load-$(date +%s)"
echo "ingest pid $ingest_pid on 127.0.0.1:$port, JetStream $nats; sending $count records (run $run)"
status=0
"$C981" loadgen --addr "127.0.0.1:$port" --proto tcp --format mix --rate 0 --count "$count" --run "$run" --quiet --verify-raw "$nats" || status=$?
kill -TERM "$ingest_pid"
wait "$ingest_pid" || status=$?
# The ingest process's CPU when the last record was published (before the
# verifier read the stream), then its totals.
awk -v n="$count" '/^published / && $2 >= n { print "ingest process (ingest + nats-server) when all " n " were published: " $0; exit }' "$tmp/ingest.out"
grep '^loadgen-ingest:' "$tmp/ingest.out"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
