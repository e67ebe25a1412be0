{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "elector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-chart unless the release name already contains it. */}}
{{- define "elector.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable for the life of a release (a Deployment's
     selector is immutable), and a subset of every pod's labels. */}}
{{- define "elector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "elector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "elector.labels" -}}
{{ include "elector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: leader-election
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "elector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "elector.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The election (and Lease) name. */}}
{{- define "elector.election" -}}
{{- default (include "elector.fullname" .) .Values.election -}}
{{- end -}}

{{- define "elector.electionNamespace" -}}
{{- default .Release.Namespace .Values.electionNamespace -}}
{{- end -}}

{{/* "true" when the lease lives in this cluster (the chart's Role applies). */}}
{{- define "elector.inClusterLease" -}}
{{- if and (eq .Values.backend "lease") (not .Values.lease.kubeconfigSecret.name) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the pod needs its service account token. */}}
{{- define "elector.needsToken" -}}
{{- if or (include "elector.inClusterLease" .) (include "elector.labelPod" .) .Values.k8sEvents.enabled -}}true{{- end -}}
{{- end -}}

{{/* Where the secret files are mounted (read-only, mode 0440). */}}
{{- define "elector.secretDir" -}}/var/run/secrets/elector{{- end -}}

{{/* A Go duration ("15s", "500ms", "1m30s") in whole milliseconds, the way
     the daemon reads it (fractions below a millisecond are dropped). */}}
{{- define "elector.durationMs" -}}
{{- $total := 0.0 -}}
{{- $unitMs := dict "ns" 0.000001 "us" 0.001 "µs" 0.001 "ms" 1.0 "s" 1000.0 "m" 60000.0 "h" 3600000.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" . -1 -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" . | float64 -}}
{{- $unit := regexReplaceAll "^[0-9]+(\\.[0-9]+)?" . "" -}}
{{- $total = addf $total (mulf $num (get $unitMs $unit)) -}}
{{- end -}}
{{- $total | int64 -}}
{{- end -}}

{{/* The effective timings (values or the backend's defaults). */}}
{{- define "elector.leaseDuration" -}}{{ .Values.timing.leaseDuration | default "15s" }}{{- end -}}
{{- define "elector.renewDeadline" -}}{{ .Values.timing.renewDeadline | default "10s" }}{{- end -}}
{{- define "elector.retryPeriod" -}}
{{- .Values.timing.retryPeriod | default (ternary "8s" "2s" (eq .Values.backend "gist")) -}}
{{- end -}}

{{/* The image, or a failure that says how to get one: elector publishes no
     image, so there is no default repository to pull from. */}}
{{- define "elector.image" -}}
{{- if not .Values.image.repository -}}
{{- fail "image.repository is required: elector publishes no image. Build and push your own (make image IMAGE=REGISTRY/elector:TAG && docker push REGISTRY/elector:TAG, see README \"Container image\"), then --set image.repository=REGISTRY/elector --set image.tag=TAG" -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* "true" when pods carry elector.io/role (asked for, or needed by the
     leader Service). */}}
{{- define "elector.labelPod" -}}
{{- if or .Values.labelPod .Values.leaderService.enabled -}}true{{- end -}}
{{- end -}}

{{/* "true" when elector runs as a native sidecar: an init container with
     restartPolicy Always (KEP-753), on by default from Kubernetes 1.29. */}}
{{- define "elector.nativeSidecar" -}}
{{- if eq .Values.mode "sidecar" -}}
{{- $n := toString .Values.sidecar.native -}}
{{- if or (eq $n "true") (and (eq $n "auto") (semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version)) -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* The app container's first port (name, else number), or "". */}}
{{- define "elector.appPort" -}}
{{- with .Values.app.container.ports -}}
{{- $p := first . -}}
{{- $p.name | default $p.containerPort -}}
{{- end -}}
{{- end -}}

{{/* The app container's first port number, or "". */}}
{{- define "elector.appPortNumber" -}}
{{- with .Values.app.container.ports -}}{{- (first .).containerPort -}}{{- end -}}
{{- end -}}

{{/* Where the leader Service sends traffic: the app in sidecar mode,
     elector's status port otherwise, unless leaderService.targetPort says. */}}
{{- define "elector.leaderTargetPort" -}}
{{- if .Values.leaderService.targetPort -}}
{{- .Values.leaderService.targetPort -}}
{{- else if eq .Values.mode "sidecar" -}}
{{- include "elector.appPort" . -}}
{{- else -}}
http
{{- end -}}
{{- end -}}

{{/* Timing rules, with the daemon's own wording (core/elector.c,
     core/cli.c), so an impossible combination fails at `helm install`
     instead of crash-looping. */}}
{{- define "elector.validateTiming" -}}
{{- $ld := include "elector.leaseDuration" . -}}
{{- $rd := include "elector.renewDeadline" . -}}
{{- $rp := include "elector.retryPeriod" . -}}
{{- $ldm := include "elector.durationMs" $ld | int64 -}}
{{- $rdm := include "elector.durationMs" $rd | int64 -}}
{{- $rpm := include "elector.durationMs" $rp | int64 -}}
{{- $set := printf "timing.leaseDuration=%s, timing.renewDeadline=%s, timing.retryPeriod=%s" $ld $rd $rp -}}
{{- if or (le $ldm 0) (le $rdm 0) (le $rpm 0) -}}
{{- fail (printf "timing: lease duration, renew deadline and retry period must all be greater than zero (%s)" $set) -}}
{{- end -}}
{{- if gt $ldm 86400000 -}}
{{- fail (printf "timing: lease duration must be at most 24h (%s)" $set) -}}
{{- end -}}
{{- if le $ldm $rdm -}}
{{- fail (printf "timing: lease duration (%dms) must be greater than renew deadline (%dms) (%s)" $ldm $rdm $set) -}}
{{- end -}}
{{- if le (mul $rdm 5) (mul $rpm 6) -}}
{{- fail (printf "timing: renew deadline (%dms) must be greater than 1.2 x retry period (%dms) (%s)" $rdm $rpm $set) -}}
{{- end -}}
{{- if and (eq .Values.backend "lease") .Values.lease.requestTimeout -}}
{{- $rqm := include "elector.durationMs" .Values.lease.requestTimeout | int64 -}}
{{- if ge $rqm $rdm -}}
{{- fail (printf "timing: request timeout (%dms) must be below renew deadline (%dms) (lease.requestTimeout=%s, timing.renewDeadline=%s)" $rqm $rdm .Values.lease.requestTimeout $rd) -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.backend "gist") (lt $rpm 8000) (not (has (toString (get .Values.backendOptions "allow-fast-renew")) (list "true" "1"))) -}}
{{- fail (printf "timing: gist: retry period %dms would make the leader push about %d commits per hour, above GitHub's limit of ~500 content-creating requests per hour: use timing.retryPeriod=8s or more, or backendOptions.allow-fast-renew=true" $rpm (div 3600000 $rpm)) -}}
{{- end -}}
{{- if and .Values.run.command .Values.run.killGrace -}}
{{- $kgm := include "elector.durationMs" .Values.run.killGrace | int64 -}}
{{- if ge $kgm (sub $ldm $rdm) -}}
{{- fail (printf "run.killGrace %s must be below lease-duration - renew-deadline (%s - %s), so the command is dead before another node may take over; lower run.killGrace or widen the gap" .Values.run.killGrace $ld $rd) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Checks that the schema cannot express (or can only express with
     messages like `(root): Must validate "then" as "if" was valid`): each
     says which rule failed and what to set. */}}
{{- define "elector.validate" -}}
{{- $ignored := include "elector.image" . -}}
{{- if eq .Values.readiness "leader" -}}
{{- fail "readiness=leader is no longer supported: it keeps every follower unready, so `helm install --wait` never finishes, rolling updates stall and a drain hangs on the leader. Keep readiness=healthz and set leaderService.enabled=true: the leader's pod carries elector.io/role=leader and that Service selects it" -}}
{{- end -}}
{{- if eq .Values.backend "redis" -}}
{{- if not .Values.redis.url -}}
{{- fail "backend=redis needs redis.url (e.g. redis://redis.example:6379/0); the password goes in redis.passwordSecret" -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.backend "gist" -}}
{{- if not .Values.gist.id -}}
{{- fail "backend=gist needs gist.id (the hex id in the gist's URL)" -}}
{{- end -}}
{{- if not .Values.gist.tokenSecret.name -}}
{{- fail "backend=gist needs gist.tokenSecret.name: an existing Secret holding the GitHub token (kubectl create secret generic NAME --from-file=token=FILE)" -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.backend "etcd" -}}
{{- if not .Values.etcd.endpoints -}}
{{- fail "backend=etcd needs etcd.endpoints (a list of http(s)://host:port, e.g. [https://etcd-0.etcd:2379]); the password and TLS files come from etcd.passwordSecret and etcd.tls" -}}
{{- end -}}
{{- if and .Values.etcd.user (not .Values.etcd.passwordSecret.name) -}}
{{- fail "etcd.user needs etcd.passwordSecret.name: an existing Secret holding the password (kubectl create secret generic NAME --from-file=password=FILE)" -}}
{{- end -}}
{{- if and .Values.etcd.passwordSecret.name (not .Values.etcd.user) -}}
{{- fail "etcd.passwordSecret needs etcd.user (the etcd user the password belongs to)" -}}
{{- end -}}
{{- if .Values.etcd.tls.clientSecret.name -}}
{{- range .Values.etcd.endpoints -}}
{{- if not (hasPrefix "https://" .) -}}
{{- fail (printf "etcd.tls.clientSecret needs https:// endpoints: %s would never present the client certificate" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.mode "sidecar" -}}
{{- if not (and .Values.app.container.name .Values.app.container.image) -}}
{{- fail "mode=sidecar needs app.container: your container spec, with at least name and image (and its ports, which the leader Service targets)" -}}
{{- end -}}
{{- if .Values.run.command -}}
{{- fail "run.command is for mode=standalone; in sidecar mode your app.container asks elector's status API" -}}
{{- end -}}
{{- if and .Values.leaderService.enabled (not (include "elector.leaderTargetPort" .)) -}}
{{- fail "leaderService in mode=sidecar targets your app: give app.container.ports, or leaderService.targetPort" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.backend "file") (not .Values.file.persistentVolumeClaim) (gt (int .Values.replicaCount) 1) -}}
{{- fail "backend=file with more than one replica needs file.persistentVolumeClaim (a shared ReadWriteMany volume); an emptyDir is private to each pod" -}}
{{- end -}}
{{- if .Values.podDisruptionBudget.enabled -}}
{{- $min := .Values.podDisruptionBudget.minAvailable -}}
{{- if and (not (kindIs "string" $min)) (not (kindIs "invalid" $min)) (ge (int $min) (int .Values.replicaCount)) -}}
{{- fail (printf "podDisruptionBudget.minAvailable=%d with replicaCount=%d lets no pod be evicted: every node drain would hang. Use podDisruptionBudget.maxUnavailable=1 (the default) or more replicas" (int $min) (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- include "elector.validateTiming" . -}}
{{- end -}}

{{/* The daemon's arguments (DESIGN section 6). No secret is ever an argument:
     secrets are files mounted from existing Secrets. */}}
{{- define "elector.args" -}}
{{- $secretDir := include "elector.secretDir" . -}}
{{- if .Values.run.command }}
- run
{{- end }}
- --election
- {{ include "elector.election" . | quote }}
- --namespace
- {{ include "elector.electionNamespace" . | quote }}
- --backend
- {{ .Values.backend | quote }}
{{- if .Values.clusterName }}
- --id
- {{ printf "%s/$(POD_NAME)" .Values.clusterName | quote }}
{{- end }}
- --lease-duration
- {{ include "elector.leaseDuration" . | quote }}
- --renew-deadline
- {{ include "elector.renewDeadline" . | quote }}
- --retry-period
- {{ include "elector.retryPeriod" . | quote }}
- --http
- {{ printf "0.0.0.0:%d" (int .Values.http.port) | quote }}
- --log-format
- {{ .Values.logFormat | quote }}
{{- if .Values.verbosity }}
- -v
- {{ .Values.verbosity | quote }}
{{- end }}
{{- if include "elector.labelPod" . }}
- --label-pod
{{- end }}
{{- if .Values.k8sEvents.enabled }}
- --k8s-events
{{- end }}
{{- if eq .Values.backend "lease" }}
{{- if .Values.lease.kubeconfigSecret.name }}
- --kubeconfig
- {{ printf "%s/hub/kubeconfig" $secretDir | quote }}
{{- end }}
{{- if .Values.lease.context }}
- --backend-opt
- {{ printf "context=%s" .Values.lease.context | quote }}
{{- end }}
{{- if .Values.lease.requestTimeout }}
- --backend-opt
- {{ printf "request-timeout=%s" .Values.lease.requestTimeout | quote }}
{{- end }}
{{- else if eq .Values.backend "redis" }}
- --redis-url
- {{ .Values.redis.url | quote }}
{{- if .Values.redis.username }}
- --backend-opt
- {{ printf "username=%s" .Values.redis.username | quote }}
{{- end }}
{{- if .Values.redis.passwordSecret.name }}
- --backend-opt
- {{ printf "password-file=%s/redis/password" $secretDir | quote }}
{{- end }}
{{- else if eq .Values.backend "gist" }}
- --gist-id
- {{ .Values.gist.id | quote }}
- --gist-token-file
- {{ printf "%s/gist/token" $secretDir | quote }}
- --backend-opt
- "state-dir=/var/lib/elector/gist"
{{- if .Values.gist.file }}
- --backend-opt
- {{ printf "file=%s" .Values.gist.file | quote }}
{{- end }}
{{- if .Values.gist.apiUrl }}
- --backend-opt
- {{ printf "api-url=%s" .Values.gist.apiUrl | quote }}
{{- end }}
{{- if .Values.gist.gitUrl }}
- --backend-opt
- {{ printf "git-url=%s" .Values.gist.gitUrl | quote }}
{{- end }}
{{- else if eq .Values.backend "etcd" }}
- --backend-opt
- {{ printf "endpoints=%s" (join "," .Values.etcd.endpoints) | quote }}
{{- if .Values.etcd.prefix }}
- --backend-opt
- {{ printf "prefix=%s" .Values.etcd.prefix | quote }}
{{- end }}
{{- if .Values.etcd.user }}
- --backend-opt
- {{ printf "user=%s" .Values.etcd.user | quote }}
{{- end }}
{{- if .Values.etcd.passwordSecret.name }}
- --backend-opt
- {{ printf "password-file=%s/etcd/password" $secretDir | quote }}
{{- end }}
{{- if .Values.etcd.tls.caSecret.name }}
- --backend-opt
- {{ printf "ca-file=%s/etcd-ca/ca.crt" $secretDir | quote }}
{{- end }}
{{- if .Values.etcd.tls.clientSecret.name }}
- --backend-opt
- {{ printf "cert-file=%s/etcd-client/tls.crt" $secretDir | quote }}
- --backend-opt
- {{ printf "key-file=%s/etcd-client/tls.key" $secretDir | quote }}
{{- end }}
{{- else if eq .Values.backend "file" }}
- --file-path
- {{ .Values.file.path | quote }}
{{- end }}
{{- range $k, $v := .Values.backendOptions }}
- --backend-opt
- {{ printf "%s=%v" $k $v | quote }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- if .Values.run.command }}
{{- if .Values.run.killGrace }}
- --kill-grace
- {{ .Values.run.killGrace | quote }}
{{- end }}
- "--"
{{- range .Values.run.command }}
- {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}
