#!/usr/bin/env bash
# make demo: three electors (napoleon, stalin, cleopatra) on the file store,
# no root and no server needed. Shows who leads, then SIGTERMs the leader
# (graceful handover) and kill -9s the next one (crash failover), timing both.
#
#   scripts/demo.sh [BUILD_DIR]      (default: build)
set -euo pipefail

BUILD=${1:-build}
BIN="$BUILD/bin/elector"
export ELECTOR_PLUGIN_DIR="$BUILD/lib/elector"
NAMES=(napoleon stalin cleopatra)
LEASE=2s RENEW=1500ms RETRY=500ms

if [[ ! -x "$BIN" ]]; then
	echo "demo: $BIN not found; run make first" >&2
	exit 1
fi
for tool in curl python3; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is required" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/elector-demo.XXXXXX")
declare -A PID PORT

cleanup() {
	local n
	for n in "${NAMES[@]}"; do
		if [[ -n "${PID[$n]:-}" ]] && kill -0 "${PID[$n]}" 2>/dev/null; then
			kill -TERM "${PID[$n]}" 2>/dev/null || true
		fi
	done
	for n in "${NAMES[@]}"; do
		if [[ -n "${PID[$n]:-}" ]]; then
			wait "${PID[$n]}" 2>/dev/null || true
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

now_ms() {
	local t
	t=$(date +%s%N)
	echo $((t / 1000000))
}

# status NAME -> "is_leader leader term" from GET /, or "down - -"
status() {
	local body
	if body=$(curl -s --max-time 1 "http://127.0.0.1:${PORT[$1]}/" 2>/dev/null) && [[ -n "$body" ]]; then
		python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(str(s["is_leader"]).lower(), s["leader"] or "-", s["term"])' "$body"
	else
		echo "down - -"
	fi
}

table() {
	printf '\n  %-10s %-10s %-10s %s\n' NODE IS_LEADER LEADER TERM
	local n il ld tm
	for n in "${NAMES[@]}"; do
		read -r il ld tm < <(status "$n")
		printf '  %-10s %-10s %-10s %s\n' "$n" "$il" "$ld" "$tm"
	done
	echo
}

# leader [EXCEPT] -> the name answering 200 on /leader, or nothing
leader() {
	local n
	for n in "${NAMES[@]}"; do
		[[ "$n" == "${1:-}" ]] && continue
		if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
			"http://127.0.0.1:${PORT[$n]}/leader" 2>/dev/null)" == 200 ]]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# wait_leader EXCEPT TIMEOUT_MS -> name of the new leader; polls every few ms
wait_leader() {
	local deadline=$(($(now_ms) + $2)) who
	while (($(now_ms) < deadline)); do
		if who=$(leader "$1"); then
			echo "$who"
			return 0
		fi
		sleep 0.002
	done
	return 1
}

echo "elector demo: election 'demo' on the file store $WORK/demo.json"
echo "timings: lease-duration $LEASE, renew-deadline $RENEW, retry-period $RETRY"
for n in "${NAMES[@]}"; do
	PORT[$n]=$(free_port)
	"$BIN" --election demo --id "$n" --file-path "$WORK/demo.json" \
		--lease-duration "$LEASE" --renew-deadline "$RENEW" --retry-period "$RETRY" \
		--http "127.0.0.1:${PORT[$n]}" 2>"$WORK/$n.log" &
	PID[$n]=$!
	echo "  started $n (pid ${PID[$n]}, http 127.0.0.1:${PORT[$n]})"
done

echo "no record yet: the first leader creates it after one lease-duration ($LEASE) of absence"
echo "(a store that forgot its record must not elect a second leader while the first may live)"
if ! first=$(wait_leader "" 10000); then
	echo "demo: no leader after 10s; logs in $WORK" >&2
	tail -n 5 "$WORK"/*.log >&2
	exit 1
fi
sleep 0.3 # let the followers observe it
table

echo "SIGTERM to the leader, $first (it releases the lease on the way out)..."
t0=$(now_ms)
kill -TERM "${PID[$first]}"
if ! second=$(wait_leader "$first" 10000); then
	echo "demo: no new leader after 10s" >&2
	exit 1
fi
t1=$(now_ms)
echo "  $second took over in $((t1 - t0)) ms (graceful handover)"
wait "${PID[$first]}" || true
sleep 0.3
table

echo "kill -9 to the new leader, $second (no release: the others wait for the lease to expire)..."
t0=$(now_ms)
# Off the job table first, or bash reports the SIGKILL ("Killed") itself.
disown "${PID[$second]}" 2>/dev/null || true
kill -KILL "${PID[$second]}"
if ! third=$(wait_leader "$second" 15000); then
	echo "demo: no new leader after 15s" >&2
	exit 1
fi
t1=$(now_ms)
echo "  $third took over in $((t1 - t0)) ms (crash failover; lease-duration $LEASE)"
sleep 0.3
table
echo "logs of $third:"
sed 's/^/  /' "$WORK/$third.log"
