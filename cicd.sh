#!/usr/bin/env bash
# cicd.sh — one global leader across three virtual clusters.
#
# A kind cluster hosts three vclusters (napoleon, stalin, cleopatra); elector
# is installed into each with Helm, with a cluster-qualified identity
# ("napoleon/<pod>") and one shared store. `check-leader` asks every pod's
# status API who leads; `failover` stops the leader's cluster and shows the
# new leader. Run `./cicd.sh help` for the commands and settings.
#
# Secrets: the GitHub token (GITHUB_TOKEN) and Redis password go into
# Kubernetes Secrets through files and pipes, never through argv or --set,
# and are never printed.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=${0##*/}
SELF="$TOP/$(basename "${BASH_SOURCE[0]}")"

KIND_CLUSTER=${KIND_CLUSTER:-elector}
CLUSTERS=${CLUSTERS:-"napoleon stalin cleopatra"}
IMAGE_REPO=${IMAGE_REPO:-elector}
IMAGE_TAG=${IMAGE_TAG:-dev}
STORE=${STORE:-gist}              # gist | redis | lease
NAMESPACE=${NAMESPACE:-elector}   # namespace inside each vcluster
RELEASE=${RELEASE:-elector}
ELECTION=${ELECTION:-global-leader}
REPLICAS=${REPLICAS:-1}
HUB_NAMESPACE=${HUB_NAMESPACE:-elector-hub}
HTTP_PORT=${HTTP_PORT:-8080}
FAILOVER_TIMEOUT=${FAILOVER_TIMEOUT:-180}
GIST_ID=${GIST_ID:-}
REDIS_URL=${REDIS_URL:-}
REDIS_IMAGE=${REDIS_IMAGE:-redis:7.2-alpine}

HOST_CONTEXT="kind-$KIND_CLUSTER"

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}

log() {
	printf '%s: %s\n' "$PROG" "$*" >&2
}

usage() {
	cat <<EOF
usage: $PROG COMMAND

commands:
  provision     create the kind cluster "$KIND_CLUSTER" and the vclusters ($CLUSTERS)
  deploy        build the image, load it into kind, helm upgrade --install into every vcluster
  check-leader  one line per pod: cluster, pod, is_leader, leader, term (from its status API)
  failover      scale the leader's cluster to 0 replicas, then show the new leader
  restore       scale every cluster back to $REPLICAS replica(s)
  destroy       delete the vclusters and the kind cluster
  help          this text

settings (environment):
  STORE=gist|redis|lease   shared store (now: $STORE)
    gist:  GIST_ID=<id> and GITHUB_TOKEN (put into Secret elector-github-token from a file)
    redis: REDIS_URL=redis://host:port/db (no password in it; REDIS_PASSWORD_FILE for one),
           or empty to run Redis in the kind cluster's namespace $HUB_NAMESPACE
    lease: a Lease in the kind (hub) cluster's namespace $HUB_NAMESPACE, reached
           through a kubeconfig Secret with a token of a least-privilege ServiceAccount
  KIND_CLUSTER=$KIND_CLUSTER CLUSTERS="$CLUSTERS" IMAGE_REPO=$IMAGE_REPO IMAGE_TAG=$IMAGE_TAG
  NAMESPACE=$NAMESPACE RELEASE=$RELEASE ELECTION=$ELECTION REPLICAS=$REPLICAS
  FAILOVER_TIMEOUT=$FAILOVER_TIMEOUT (seconds)

Needs kind, vcluster, helm, kubectl and a running Docker engine. Without
Docker, run the offline equivalent: sudo scripts/multicluster-demo.sh
EOF
}

# --- tools -----------------------------------------------------------------

install_hint() {
	case $1 in
	kind) echo "https://kind.sigs.k8s.io/docs/user/quick-start/#installation (go install sigs.k8s.io/kind@latest)" ;;
	vcluster) echo "https://www.vcluster.com/docs/get-started (curl -L -o vcluster https://github.com/loft-sh/vcluster/releases/latest/download/vcluster-linux-amd64)" ;;
	helm) echo "scripts/install-helm.sh (puts helm in .tools/bin) or https://helm.sh/docs/intro/install/" ;;
	kubectl) echo "scripts/install-helm.sh (puts kubectl in .tools/bin) or https://kubernetes.io/docs/tasks/tools/" ;;
	docker) echo "https://docs.docker.com/engine/install/debian/" ;;
	*) echo "your distribution's package manager" ;;
	esac
}

# need TOOL...: fail with one message naming every missing tool.
need() {
	local t missing=()
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		for t in "${missing[@]}"; do
			printf '%s: missing tool "%s"; install: %s\n' "$PROG" "$t" "$(install_hint "$t")" >&2
		done
		printf '%s: no Docker here? the offline demo needs none: sudo scripts/multicluster-demo.sh\n' "$PROG" >&2
		exit 1
	fi
}

need_docker_engine() {
	docker info >/dev/null 2>&1 ||
		die "docker is installed but its engine does not answer (docker info failed): start it, or run the offline demo: sudo scripts/multicluster-demo.sh"
}

# The tree's own helm/kubectl (scripts/install-helm.sh) come first.
if [ -d "$TOP/.tools/bin" ]; then
	PATH="$TOP/.tools/bin:$PATH"
fi

hostctl() {
	kubectl --context "$HOST_CONTEXT" "$@"
}

vc_namespace() {
	printf 'vcluster-%s' "$1"
}

# in_vcluster NAME CMD...: run CMD with the vcluster's kubeconfig current.
in_vcluster() {
	local name=$1
	shift
	vcluster connect "$name" --namespace "$(vc_namespace "$name")" \
		--context "$HOST_CONTEXT" -- "$@"
}

check_cluster_name() {
	case $1 in
	'' | *[!a-z0-9-]*) die "bad cluster name \"$1\" (lower-case letters, digits, '-')" ;;
	esac
}

# --- provision / destroy -----------------------------------------------------

cmd_provision() {
	need kind vcluster kubectl docker
	need_docker_engine
	if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
		log "kind cluster $KIND_CLUSTER exists"
	else
		kind create cluster --name "$KIND_CLUSTER" --wait 120s
	fi
	local c
	for c in $CLUSTERS; do
		check_cluster_name "$c"
		if hostctl get namespace "$(vc_namespace "$c")" >/dev/null 2>&1; then
			log "vcluster $c exists"
		else
			vcluster create "$c" --namespace "$(vc_namespace "$c")" \
				--context "$HOST_CONTEXT" --connect=false
		fi
	done
	log "provisioned: kind cluster $KIND_CLUSTER with vclusters: $CLUSTERS"
}

cmd_destroy() {
	need kind vcluster kubectl
	local c
	if kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
		for c in $CLUSTERS; do
			vcluster delete "$c" --namespace "$(vc_namespace "$c")" \
				--context "$HOST_CONTEXT" || log "vcluster $c: delete failed (deleting the kind cluster anyway)"
		done
		kind delete cluster --name "$KIND_CLUSTER"
	else
		log "kind cluster $KIND_CLUSTER does not exist; nothing to destroy"
	fi
}

# --- deploy ------------------------------------------------------------------

WORK=""
cleanup_work() {
	if [ -n "$WORK" ]; then
		rm -rf "$WORK"
	fi
}
make_work() {
	umask 077
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/elector-cicd.XXXXXX")
	# Read by the _deploy-here child in each vcluster (which never deletes it).
	export ELECTOR_CICD_WORK="$WORK"
	trap cleanup_work EXIT
}

# apply_secret_from_file SECRET KEY FILE [kubectl args...]: idempotent; the
# value travels in a file and a pipe, never in argv.
apply_secret_from_file() {
	local secret=$1 key=$2 file=$3
	shift 3
	kubectl "$@" -n "$NAMESPACE" create secret generic "$secret" \
		--from-file="$key=$file" --dry-run=client -o yaml |
		kubectl "$@" -n "$NAMESPACE" apply -f - >/dev/null
}

# Store-specific preparation in the hub; sets STORE_VALUES (helm --set list)
# and fills $WORK with the secret files each vcluster receives.
prepare_store() {
	STORE_VALUES=()
	case $STORE in
	gist)
		[ -n "$GIST_ID" ] || die "STORE=gist needs GIST_ID (an existing gist you own); or use STORE=redis / STORE=lease"
		[ -n "${GITHUB_TOKEN:-}" ] || die "STORE=gist needs GITHUB_TOKEN in the environment (a token with the gist scope); it is stored in Secret elector-github-token, never passed with --set"
		printf '%s' "$GITHUB_TOKEN" >"$WORK/token"
		STORE_VALUES=(--set backend=gist --set-string "gist.id=$GIST_ID"
			--set gist.tokenSecret.name=elector-github-token --set gist.tokenSecret.key=token
			--set timing.leaseDuration=60s --set timing.renewDeadline=40s --set timing.retryPeriod=15s)
		;;
	redis)
		if [ -z "$REDIS_URL" ]; then
			deploy_hub_redis
		elif [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
			cp "$REDIS_PASSWORD_FILE" "$WORK/password"
		fi
		case $REDIS_URL in
		*://*:*@*) die "REDIS_URL must not contain a password; put it in a file and set REDIS_PASSWORD_FILE" ;;
		esac
		STORE_VALUES=(--set backend=redis --set-string "redis.url=$REDIS_URL"
			--set timing.leaseDuration=10s --set timing.renewDeadline=7s --set timing.retryPeriod=2s)
		if [ -f "$WORK/password" ]; then
			STORE_VALUES+=(--set redis.passwordSecret.name=elector-redis --set redis.passwordSecret.key=password)
		fi
		;;
	lease)
		prepare_hub_lease
		STORE_VALUES=(--set backend=lease --set "electionNamespace=$HUB_NAMESPACE"
			--set lease.kubeconfigSecret.name=elector-hub-kubeconfig --set lease.kubeconfigSecret.key=kubeconfig
			--set timing.leaseDuration=10s --set timing.renewDeadline=7s --set timing.retryPeriod=2s)
		;;
	*) die "unknown STORE \"$STORE\" (gist, redis or lease)" ;;
	esac
}

# Redis in the kind cluster; its ClusterIP is reachable from every vcluster's
# pods (they run on the kind nodes). The password lives in a Secret-mounted
# config file, not in redis-server's argv.
deploy_hub_redis() {
	hostctl create namespace "$HUB_NAMESPACE" --dry-run=client -o yaml | hostctl apply -f - >/dev/null
	if hostctl -n "$HUB_NAMESPACE" get secret elector-redis >/dev/null 2>&1; then
		hostctl -n "$HUB_NAMESPACE" get secret elector-redis -o jsonpath='{.data.password}' |
			base64 -d >"$WORK/password"
	else
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/password"
	fi
	{
		printf 'requirepass %s\n' "$(cat "$WORK/password")"
		printf 'save ""\nappendonly no\nprotected-mode no\n'
	} >"$WORK/redis.conf"
	hostctl -n "$HUB_NAMESPACE" create secret generic elector-redis \
		--from-file=password="$WORK/password" --from-file=redis.conf="$WORK/redis.conf" \
		--dry-run=client -o yaml | hostctl apply -f - >/dev/null
	hostctl -n "$HUB_NAMESPACE" apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
  labels: {app: elector-redis}
spec:
  replicas: 1
  selector:
    matchLabels: {app: elector-redis}
  template:
    metadata:
      labels: {app: elector-redis}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 999, fsGroup: 999}
      containers:
        - name: redis
          image: $REDIS_IMAGE
          args: ["/etc/redis/redis.conf"]
          ports: [{containerPort: 6379}]
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
          volumeMounts: [{name: conf, mountPath: /etc/redis, readOnly: true}]
      volumes:
        - name: conf
          secret: {secretName: elector-redis, defaultMode: 0440}
---
apiVersion: v1
kind: Service
metadata:
  name: redis
spec:
  selector: {app: elector-redis}
  ports: [{port: 6379, targetPort: 6379}]
EOF
	hostctl -n "$HUB_NAMESPACE" rollout status deploy/redis --timeout=180s
	local ip
	ip=$(hostctl -n "$HUB_NAMESPACE" get svc redis -o jsonpath='{.spec.clusterIP}')
	[ -n "$ip" ] || die "hub redis service has no ClusterIP"
	REDIS_URL="redis://$ip:6379/0"
	log "shared store: Redis at $REDIS_URL (kind cluster, namespace $HUB_NAMESPACE)"
}

# A Lease in the kind cluster; each vcluster gets a kubeconfig with the token
# of a ServiceAccount that may only create leases and get/update/watch this one.
prepare_hub_lease() {
	hostctl create namespace "$HUB_NAMESPACE" --dry-run=client -o yaml | hostctl apply -f - >/dev/null
	hostctl -n "$HUB_NAMESPACE" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata:
  name: elector
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: elector-lease
rules:
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [create]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    resourceNames: [$ELECTION]
    verbs: [get, update, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: elector-lease
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: elector-lease}
subjects:
  - {kind: ServiceAccount, name: elector, namespace: $HUB_NAMESPACE}
EOF
	local ip ca token
	ip=$(docker inspect -f '{{(index .NetworkSettings.Networks "kind").IPAddress}}' \
		"$KIND_CLUSTER-control-plane") || die "cannot find the IP of $KIND_CLUSTER-control-plane on docker network kind"
	ca=$(hostctl -n "$HUB_NAMESPACE" get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}' | base64 -w0)
	token=$(hostctl -n "$HUB_NAMESPACE" create token elector --duration=24h)
	cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: hub
    cluster:
      server: https://$ip:6443
      certificate-authority-data: $ca
users:
  - name: elector
    user:
      token: $token
contexts:
  - name: hub
    context: {cluster: hub, user: elector, namespace: $HUB_NAMESPACE}
current-context: hub
EOF
	log "shared store: Lease $HUB_NAMESPACE/$ELECTION in kind cluster $KIND_CLUSTER (https://$ip:6443)"
}

cmd_deploy() {
	need kind vcluster helm kubectl docker
	need_docker_engine
	make_work
	local image="$IMAGE_REPO:$IMAGE_TAG" c
	docker build -t "$image" "$TOP"
	kind load docker-image "$image" --name "$KIND_CLUSTER"
	prepare_store
	for c in $CLUSTERS; do
		check_cluster_name "$c"
		log "deploying into vcluster $c"
		in_vcluster "$c" "$SELF" _deploy-here "$c" "${STORE_VALUES[@]}"
	done
	log "deployed; now: ./$PROG check-leader"
}

# Runs inside one vcluster's context (see in_vcluster).
cmd_deploy_here() {
	local cluster=$1 work=${ELECTOR_CICD_WORK:-}
	shift
	if [ -z "$work" ] || [ ! -d "$work" ]; then
		die "_deploy-here is run by '$PROG deploy'"
	fi
	kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	if [ -f "$work/token" ]; then
		apply_secret_from_file elector-github-token token "$work/token"
	fi
	if [ -f "$work/password" ]; then
		apply_secret_from_file elector-redis password "$work/password"
	fi
	if [ -f "$work/kubeconfig" ]; then
		apply_secret_from_file elector-hub-kubeconfig kubeconfig "$work/kubeconfig"
	fi
	helm upgrade --install "$RELEASE" "$TOP/helm/elector" --namespace "$NAMESPACE" \
		--set-string "clusterName=$cluster" --set-string "election=$ELECTION" \
		--set "replicaCount=$REPLICAS" --set-string "image.repository=$IMAGE_REPO" \
		--set-string "image.tag=$IMAGE_TAG" --set image.pullPolicy=IfNotPresent \
		--set "http.port=$HTTP_PORT" "$@" --wait --timeout 5m
}

# --- check-leader / failover -------------------------------------------------

# json_field JSON KEY: the value of a top-level scalar field of elector's flat
# status object (strings without their quotes); empty when absent.
json_field() {
	local v
	v=$(printf '%s' "$1" | sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\(\"[^\"]*\"\|[^,}]*\).*/\1/p")
	v=${v#\"}
	printf '%s' "${v%\"}"
}

# pod_status POD: GET / of the pod's status API through the API server's pod
# proxy, else through a short-lived port-forward.
pod_status() {
	local pod=$1 out pf port
	if out=$(kubectl get --raw "/api/v1/namespaces/$NAMESPACE/pods/$pod:$HTTP_PORT/proxy/" 2>/dev/null); then
		printf '%s' "$out"
		return 0
	fi
	command -v curl >/dev/null 2>&1 || return 1
	pf=$(mktemp "${TMPDIR:-/tmp}/elector-pf.XXXXXX")
	kubectl -n "$NAMESPACE" port-forward "pod/$pod" ":$HTTP_PORT" >"$pf" 2>&1 &
	local pid=$!
	port=""
	for _ in $(seq 1 50); do
		port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$pf" | head -n 1)
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	out=""
	if [ -n "$port" ]; then
		out=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/" 2>&1) || out=""
	fi
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	if [ -z "$port" ]; then
		sed 's/^/    /' "$pf" >&2
	fi
	rm -f "$pf"
	[ -n "$out" ] || return 1
	printf '%s' "$out"
}

# Runs inside one vcluster's context: one line per pod.
cmd_status_here() {
	local cluster=$1 pods pod st
	pods=$(kubectl -n "$NAMESPACE" get pods \
		-l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/name=elector" \
		--field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
	if [ -z "$pods" ]; then
		printf '%-10s %-34s %-9s %-34s %s\n' "$cluster" "(no running pods)" "-" "-" "-"
		return 0
	fi
	for pod in $pods; do
		if st=$(pod_status "$pod"); then
			printf '%-10s %-34s %-9s %-34s %s\n' "$cluster" "$pod" \
				"$(json_field "$st" is_leader)" "$(json_field "$st" leader)" "$(json_field "$st" term)"
		else
			printf '%-10s %-34s %-9s %-34s %s\n' "$cluster" "$pod" "?" "(status API unreachable)" "?"
			log "$cluster/$pod: no answer from its status API on port $HTTP_PORT"
		fi
	done
}

status_table() {
	local c
	printf '%-10s %-34s %-9s %-34s %s\n' CLUSTER POD IS_LEADER LEADER TERM
	for c in $CLUSTERS; do
		check_cluster_name "$c"
		in_vcluster "$c" "$SELF" _status-here "$c" ||
			printf '%-10s %-34s %-9s %-34s %s\n' "$c" "(vcluster unreachable)" "?" "?" "?"
	done
}

cmd_check_leader() {
	need vcluster kubectl
	status_table
}

cmd_failover() {
	need vcluster kubectl
	local table leader_cluster old_leader start now new
	table=$(status_table)
	printf '%s\n' "$table"
	leader_cluster=$(printf '%s\n' "$table" | awk '$3 == "true" { print $1; exit }')
	old_leader=$(printf '%s\n' "$table" | awk '$3 == "true" { print $4; exit }')
	[ -n "$leader_cluster" ] || die "no pod reports is_leader=true; nothing to fail over (run check-leader)"
	log "leader $old_leader is in cluster $leader_cluster: scaling its deployment to 0"
	in_vcluster "$leader_cluster" kubectl -n "$NAMESPACE" scale "deployment/$RELEASE" --replicas=0
	start=$(date +%s)
	while :; do
		now=$(date +%s)
		[ $((now - start)) -le "$FAILOVER_TIMEOUT" ] ||
			die "no new leader within ${FAILOVER_TIMEOUT}s (check the pods' logs: kubectl logs deploy/$RELEASE -n $NAMESPACE)"
		table=$(status_table)
		new=$(printf '%s\n' "$table" | awk -v old="$leader_cluster" '$3 == "true" && $1 != old { print $4; exit }')
		if [ -n "$new" ]; then
			printf '%s\n' "$table"
			log "new leader $new after $((now - start))s (restore the old cluster with: ./$PROG restore)"
			return 0
		fi
		sleep 2
	done
}

cmd_restore() {
	need vcluster kubectl
	local c
	for c in $CLUSTERS; do
		check_cluster_name "$c"
		in_vcluster "$c" kubectl -n "$NAMESPACE" scale "deployment/$RELEASE" --replicas="$REPLICAS"
	done
}

main() {
	local cmd=${1:-help}
	[ "$#" -gt 0 ] && shift
	case $cmd in
	provision) cmd_provision ;;
	deploy) cmd_deploy ;;
	check-leader) cmd_check_leader ;;
	failover) cmd_failover ;;
	restore) cmd_restore ;;
	destroy) cmd_destroy ;;
	help | -h | --help) usage ;;
	_deploy-here) cmd_deploy_here "$@" ;;
	_status-here) cmd_status_here "$@" ;;
	*)
		usage >&2
		die "unknown command \"$cmd\""
		;;
	esac
}

main "$@"
