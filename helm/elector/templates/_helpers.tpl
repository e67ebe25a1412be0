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
{{- if or (include "elector.inClusterLease" .) .Values.labelPod -}}true{{- end -}}
{{- end -}}

{{/* Where the secret files are mounted (read-only, mode 0440). */}}
{{- define "elector.secretDir" -}}/var/run/secrets/elector{{- end -}}

{{/* Checks that the schema cannot express, with messages that say what to set. */}}
{{- define "elector.validate" -}}
{{- if and (eq .Values.backend "redis") (not .Values.redis.url) -}}
{{- fail "backend=redis needs redis.url (e.g. redis://redis.example:6379/0); the password goes in redis.passwordSecret" -}}
{{- end -}}
{{- if eq .Values.backend "gist" -}}
{{- if not .Values.gist.id -}}
{{- fail "backend=gist needs gist.id" -}}
{{- end -}}
{{- if not .Values.gist.tokenSecret.name -}}
{{- fail "backend=gist needs gist.tokenSecret.name: an existing Secret holding the GitHub token (kubectl create secret generic NAME --from-file=token=FILE)" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.mode "sidecar") (not .Values.app.container.name) -}}
{{- fail "mode=sidecar needs app.container (a container spec with at least name and image)" -}}
{{- end -}}
{{- if and (eq .Values.mode "sidecar") .Values.run.command -}}
{{- fail "run.command is for mode=standalone; in sidecar mode your app.container asks elector's status API" -}}
{{- end -}}
{{- if and (eq .Values.backend "file") (not .Values.file.persistentVolumeClaim) (gt (int .Values.replicaCount) 1) -}}
{{- fail "backend=file with more than one replica needs file.persistentVolumeClaim (a shared ReadWriteMany volume); an emptyDir is private to each pod" -}}
{{- end -}}
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
- {{ .Values.timing.leaseDuration | default "15s" | quote }}
- --renew-deadline
- {{ .Values.timing.renewDeadline | default "10s" | quote }}
- --retry-period
- {{ .Values.timing.retryPeriod | default (ternary "8s" "2s" (eq .Values.backend "gist")) | quote }}
- --http
- {{ printf "0.0.0.0:%d" (int .Values.http.port) | quote }}
- --log-format
- {{ .Values.logFormat | quote }}
{{- if .Values.verbosity }}
- -v
- {{ .Values.verbosity | quote }}
{{- end }}
{{- if .Values.labelPod }}
- --label-pod
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
