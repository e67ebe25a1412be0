#!/usr/bin/env bash
# multicluster-demo.sh — the kind + vcluster demo, offline (no Docker).
#
# Each "cluster" (napoleon, stalin, cleopatra) is a network namespace with one
# elector daemon; a hub namespace holds the shared store (redis-server, with a
# password read from a file). All addresses are inside the namespaces this
# script creates (10.250.0.0/24 on a bridge in the hub; loopback in each
# cluster), so nothing leaves the machine. The story: one leader across the
# clusters; the leader's cluster is cut off the network (its veth goes down);
# it steps down within renew_deadline and another cluster leads after
# lease_duration; the cut is healed; everything is removed on exit.
#
#   sudo scripts/multicluster-demo.sh            # the whole story
#   sudo scripts/multicluster-demo.sh up|status|leader|cut C|heal C|down
#
# Settings (environment): MC_BUILD (build dir, default build), MC_PREFIX
# (namespace prefix, default elmc-), MC_LEASE/MC_RENEW/MC_RETRY (3s/2s/500ms),
# MC_CLUSTERS, MC_ELECTION, MC_REDIS_AUTH (1: password from a file).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=${0##*/}

BUILD=${MC_BUILD:-$TOP/build}
case $BUILD in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
PREFIX=${MC_PREFIX:-elmc-}
CLUSTERS=${MC_CLUSTERS:-"napoleon stalin cleopatra"}
ELECTION=${MC_ELECTION:-global-leader}
LEASE=${MC_LEASE:-3s}
RENEW=${MC_RENEW:-2s}
RETRY=${MC_RETRY:-500ms}
REDIS_AUTH=${MC_REDIS_AUTH:-1}
STATE=${MC_STATE:-/tmp/elector-mc-${PREFIX%-}}
HUB="${PREFIX}hub"
HUB_IP=10.250.0.1
REDIS_PORT=6379
HTTP_PORT=8080

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}

say() {
	printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*"
}

check_name() {
	case $1 in
	'' | *[!a-z0-9-]*) die "bad name \"$1\" (lower-case letters, digits, '-')" ;;
	esac
}

preflight() {
	[ "$(id -u)" -eq 0 ] || die "needs root (it creates network namespaces with ip netns); run: sudo $0 $*"
	local t
	for t in ip redis-server redis-cli curl; do
		command -v "$t" >/dev/null 2>&1 || die "missing tool \"$t\" (Debian: apt-get install iproute2 redis-server curl)"
	done
	[ -x "$BUILD/bin/elector" ] || die "$BUILD/bin/elector missing: run make (or set MC_BUILD)"
	[ -f "$BUILD/lib/elector/redis.so" ] || die "$BUILD/lib/elector/redis.so missing: the redis backend is not built"
	check_name "${PREFIX%-}"
	local c
	for c in $CLUSTERS; do check_name "$c"; done
}

ns_of() {
	printf '%s%s' "$PREFIX" "$1"
}

# stop_pid FILE NAME: TERM the process recorded in FILE if it is still the
# program we started (NAME in its command line), wait, then KILL.
stop_pid() {
	local file=$1 name=$2 pid i
	[ -f "$file" ] || return 0
	pid=$(cat "$file")
	rm -f "$file"
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		[ "$i" -lt 100 ] && sleep 0.1
	done
	printf '%s: pid %s (%s) ignored SIGTERM for 10s; killing it\n' "$PROG" "$pid" "$name" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
	local c
	for c in $CLUSTERS; do
		stop_pid "$STATE/$c.pid" elector
	done
	stop_pid "$STATE/redis.pid" redis-server
	for c in $CLUSTERS hub; do
		if ip netns list | awk '{print $1}' | grep -qx "$(ns_of "$c")"; then
			ip netns delete "$(ns_of "$c")"
		fi
	done
	# Logs are kept when MC_KEEP_LOGS is set (the tests read them).
	if [ -z "${MC_KEEP_LOGS:-}" ]; then
		rm -rf "$STATE"
	fi
}

netns_up() {
	local i=10 c ns
	ip netns add "$HUB"
	ip -n "$HUB" link set lo up
	ip -n "$HUB" link add br0 type bridge
	ip -n "$HUB" link set br0 type bridge forward_delay 0 2>/dev/null || true
	ip -n "$HUB" addr add "$HUB_IP/24" dev br0
	ip -n "$HUB" link set br0 up
	for c in $CLUSTERS; do
		i=$((i + 1))
		ns=$(ns_of "$c")
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# Created directly inside the namespaces: nothing touches the host's.
		ip -n "$HUB" link add "v-$c" type veth peer name eth0 netns "$ns"
		ip -n "$HUB" link set "v-$c" master br0
		ip -n "$HUB" link set "v-$c" up
		ip -n "$ns" addr add "10.250.0.$i/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
}

redis_up() {
	local conf="$STATE/redis.conf" i
	{
		printf 'bind %s\nport %s\nsave ""\nappendonly no\n' "$HUB_IP" "$REDIS_PORT"
		printf 'dir %s\nlogfile %s\nprotected-mode no\n' "$STATE" "$STATE/redis.log"
		if [ "$REDIS_AUTH" = 1 ]; then
			printf 'requirepass %s\n' "$(cat "$STATE/redis-password")"
		fi
	} >"$conf"
	ip netns exec "$HUB" redis-server "$conf" >/dev/null 2>&1 &
	echo "$!" >"$STATE/redis.pid"
	for i in $(seq 1 100); do
		if ip netns exec "$HUB" redis-cli -h "$HUB_IP" -p "$REDIS_PORT" ping 2>&1 |
			grep -qE 'PONG|NOAUTH'; then
			return 0
		fi
		[ "$i" -lt 100 ] && sleep 0.1
	done
	die "redis-server in $HUB did not answer within 10s (see $STATE/redis.log)"
}

elector_up() {
	local c=$1 ns args
	ns=$(ns_of "$c")
	args=(--election "$ELECTION" --id "$c/replica-0" --backend redis
		--redis-url "redis://$HUB_IP:$REDIS_PORT/0"
		--lease-duration "$LEASE" --renew-deadline "$RENEW" --retry-period "$RETRY"
		--http "127.0.0.1:$HTTP_PORT")
	if [ "$REDIS_AUTH" = 1 ]; then
		args+=(--backend-opt "password-file=$STATE/redis-password")
	fi
	ELECTOR_PLUGIN_DIR="$BUILD/lib/elector" ip netns exec "$ns" \
		"$BUILD/bin/elector" "${args[@]}" >"$STATE/$c.log" 2>&1 &
	echo "$!" >"$STATE/$c.pid"
}

cmd_up() {
	preflight "$@"
	if ip netns list | awk '{print $1}' | grep -qx "$HUB"; then
		die "namespace $HUB exists: a demo with prefix $PREFIX is running (stop it: $0 down)"
	fi
	mkdir -p "$STATE"
	chmod 0700 "$STATE"
	(umask 077 && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/redis-password")
	netns_up
	redis_up
	local c
	for c in $CLUSTERS; do
		elector_up "$c"
	done
	say "hub $HUB: redis-server on $HUB_IP:$REDIS_PORT; clusters: $CLUSTERS (lease $LEASE, renew $RENEW, retry $RETRY)"
}

# json_field JSON KEY: a top-level scalar of elector's flat status object.
json_field() {
	local v
	v=$(printf '%s' "$1" | sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\(\"[^\"]*\"\|[^,}]*\).*/\1/p")
	v=${v#\"}
	printf '%s' "${v%\"}"
}

status_of() {
	ip netns exec "$(ns_of "$1")" curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT/" 2>/dev/null || true
}

cmd_status() {
	local c st
	printf '%-10s %-9s %-22s %s\n' CLUSTER IS_LEADER LEADER TERM
	for c in $CLUSTERS; do
		st=$(status_of "$c")
		if [ -z "$st" ]; then
			printf '%-10s %-9s %-22s %s\n' "$c" "?" "(no answer)" "?"
		else
			printf '%-10s %-9s %-22s %s\n' "$c" "$(json_field "$st" is_leader)" \
				"$(json_field "$st" leader)" "$(json_field "$st" term)"
		fi
	done
}

# The clusters whose daemon says it leads, one per line.
cmd_leader() {
	local c
	for c in $CLUSTERS; do
		if [ "$(json_field "$(status_of "$c")" is_leader)" = true ]; then
			printf '%s\n' "$c"
		fi
	done
}

cmd_cut() {
	check_name "${1:-}"
	ip -n "$HUB" link set "v-$1" down
}

cmd_heal() {
	check_name "${1:-}"
	ip -n "$HUB" link set "v-$1" up
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	printf '%s' "${t:0:-3}"
}

# wait_for DEADLINE_S CMD...: run CMD every 0.1s until it succeeds.
wait_for() {
	local limit=$1 start
	shift
	start=$(now_ms)
	while [ $(($(now_ms) - start)) -lt $((limit * 1000)) ]; do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

one_leader() {
	[ "$(cmd_leader | wc -l)" -eq 1 ]
}

leads() {
	[ "$(json_field "$(status_of "$1")" is_leader)" = true ]
}

not_leads() {
	! leads "$1"
}

other_leads() {
	local c
	for c in $(cmd_leader); do
		[ "$c" != "$1" ] && return 0
	done
	return 1
}

cmd_run() {
	trap cmd_down EXIT
	trap 'exit 130' INT TERM
	cmd_up "$@"
	wait_for 20 one_leader || die "no single leader within 20s; logs in $STATE (set MC_KEEP_LOGS=1 to keep them)"
	cmd_status
	local old t0 t1 t2
	old=$(cmd_leader)
	say "leader: $old; cutting cluster $old off the network (hub-side veth down)"
	t0=$(now_ms)
	cmd_cut "$old"
	wait_for 15 not_leads "$old" || die "$old still claims leadership 15s after the cut"
	t1=$(now_ms)
	say "$old stepped down locally after $((t1 - t0)) ms (renew_deadline $RENEW)"
	wait_for 20 other_leads "$old" || die "no other cluster took over within 20s"
	t2=$(now_ms)
	say "$(cmd_leader) leads after $((t2 - t0)) ms (lease_duration $LEASE)"
	cmd_status
	say "healing $old"
	cmd_heal "$old"
	sleep 2
	cmd_status
	say "done; cleaning up"
}

main() {
	local cmd=${1:-run}
	[ "$#" -gt 0 ] && shift
	case $cmd in
	run) cmd_run "$@" ;;
	up) cmd_up "$@" ;;
	status) cmd_status ;;
	leader) cmd_leader ;;
	cut) cmd_cut "$@" ;;
	heal) cmd_heal "$@" ;;
	down) cmd_down ;;
	help | -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' ;;
	*) die "unknown command \"$cmd\" (run, up, status, leader, cut C, heal C, down)" ;;
	esac
}

main "$@"
