{{/* The elector container: the pod's main container (standalone), a
     container next to the app (sidecar on Kubernetes < 1.29), or a native
     sidecar (an init container with restartPolicy Always). */}}
{{- define "elector.container" -}}
{{- $secretDir := include "elector.secretDir" . -}}
{{- $native := include "elector.nativeSidecar" . -}}
- name: elector
  image: {{ include "elector.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if $native }}
  restartPolicy: Always
  {{- end }}
  args:
    {{- include "elector.args" . | trim | nindent 4 }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    {{- if .Values.k8sEvents.enabled }}
    - name: POD_UID
      valueFrom:
        fieldRef:
          fieldPath: metadata.uid
    {{- end }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: http
      containerPort: {{ .Values.http.port }}
      protocol: TCP
  {{- if $native }}
  # The app starts only once elector answers.
  startupProbe:
    httpGet:
      path: /healthz
      port: http
    periodSeconds: 1
    failureThreshold: 30
  {{- end }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: http
    {{- toYaml .Values.probes.liveness | nindent 4 }}
  # Every healthy replica is Ready; the leader is reached through
  # leaderService (label elector.io/role=leader), not through readiness.
  readinessProbe:
    httpGet:
      path: /healthz
      port: http
    {{- toYaml .Values.probes.readiness | nindent 4 }}
  {{- if and (eq .Values.mode "sidecar") (not $native) }}
  {{- $port := include "elector.appPortNumber" . }}
  {{- $wait := .Values.sidecar.legacyStopWaitSeconds | default (max 0 (sub (int .Values.terminationGracePeriodSeconds) 5)) }}
  # Kubernetes < 1.29 sends SIGTERM to every container at once; this hook
  # holds elector's SIGTERM (and so the release) until the app stopped
  # listening on {{ $port | default "its port" }}, at most {{ $wait }} s.
  lifecycle:
    preStop:
      exec:
        command:
          - /bin/bash
          - -c
          {{- if $port }}
          - {{ printf "for i in $(seq %d); do (exec 3<>/dev/tcp/127.0.0.1/%v) 2>/dev/null || exit 0; sleep 1; done" (int $wait) $port | quote }}
          {{- else }}
          - {{ printf "sleep %d" (int $wait) | quote }}
          {{- end }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: state
      mountPath: /var/lib/elector
    {{- if eq .Values.backend "file" }}
    - name: file-store
      mountPath: {{ dir .Values.file.path }}
    {{- end }}
    {{- if and (eq .Values.backend "gist") .Values.gist.tokenSecret.name }}
    - name: gist-token
      mountPath: {{ $secretDir }}/gist
      readOnly: true
    {{- end }}
    {{- if and (eq .Values.backend "redis") .Values.redis.passwordSecret.name }}
    - name: redis-password
      mountPath: {{ $secretDir }}/redis
      readOnly: true
    {{- end }}
    {{- if eq .Values.backend "etcd" }}
    {{- if .Values.etcd.passwordSecret.name }}
    - name: etcd-password
      mountPath: {{ $secretDir }}/etcd
      readOnly: true
    {{- end }}
    {{- if .Values.etcd.tls.caSecret.name }}
    - name: etcd-ca
      mountPath: {{ $secretDir }}/etcd-ca
      readOnly: true
    {{- end }}
    {{- if .Values.etcd.tls.clientSecret.name }}
    - name: etcd-client
      mountPath: {{ $secretDir }}/etcd-client
      readOnly: true
    {{- end }}
    {{- end }}
    {{- if and (eq .Values.backend "lease") .Values.lease.kubeconfigSecret.name }}
    - name: hub-kubeconfig
      mountPath: {{ $secretDir }}/hub
      readOnly: true
    {{- end }}
{{- end -}}
