{{/*
Names, labels and the connection settings the API and the worker share.
*/}}

{{- define "sbs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-scoped base name; "sbs" alone when the release is already called sbs. */}}
{{- define "sbs.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sbs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sbs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sbs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sbs.labels" -}}
helm.sh/chart: {{ include "sbs.chart" . }}
{{ include "sbs.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sbs-platform
{{- end }}

{{/* Labels of one component: call with (dict "root" $ "component" "api"). */}}
{{- define "sbs.componentLabels" -}}
{{ include "sbs.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "sbs.componentSelectorLabels" -}}
{{ include "sbs.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "sbs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sbs.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: a digest wins over a tag; the tag defaults to appVersion. */}}
{{- define "sbs.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "sbs.imageTag" .) }}
{{- end }}
{{- end }}

{{/* The tag as text; Helm reads a bare number like 20261127 from YAML as a float. */}}
{{- define "sbs.imageTag" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if kindIs "float64" $tag }}
{{- $tag = int64 $tag }}
{{- end }}
{{- toString $tag }}
{{- end }}

{{/* APP_BUILD: the configured build id, else the image tag or digest. */}}
{{- define "sbs.appBuild" -}}
{{- if .Values.config.appBuild }}
{{- .Values.config.appBuild }}
{{- else if .Values.image.digest }}
{{- .Values.image.digest }}
{{- else }}
{{- include "sbs.imageTag" . }}
{{- end }}
{{- end }}

{{/* Name of a subchart's resources, mirroring the subcharts' own fullname rule. */}}
{{- define "sbs.dependencyFullname" -}}
{{- $values := index .root.Values .chart }}
{{- if $values.fullnameOverride }}
{{- $values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .root.Release.Name .chart | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* The Secret holding SBS_API_TOKEN (and inline external credentials). */}}
{{- define "sbs.secretName" -}}
{{- default (include "sbs.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* PostgreSQL connection: the bundled subchart or externalDatabase. */}}
{{- define "sbs.database.host" -}}
{{- if .Values.postgresql.enabled }}
{{- include "sbs.dependencyFullname" (dict "root" . "chart" "postgresql") }}
{{- else }}
{{- required "externalDatabase.host is required when postgresql.enabled is false" .Values.externalDatabase.host }}
{{- end }}
{{- end }}

{{- define "sbs.database.port" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.service.port }}{{ else }}{{ .Values.externalDatabase.port }}{{ end }}
{{- end }}

{{- define "sbs.database.user" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.auth.username }}{{ else }}{{ .Values.externalDatabase.user }}{{ end }}
{{- end }}

{{- define "sbs.database.name" -}}
{{- if .Values.postgresql.enabled }}{{ .Values.postgresql.auth.database }}{{ else }}{{ .Values.externalDatabase.database }}{{ end }}
{{- end }}

{{- define "sbs.database.secretName" -}}
{{- if .Values.postgresql.enabled }}
{{- default (include "sbs.dependencyFullname" (dict "root" . "chart" "postgresql")) .Values.postgresql.auth.existingSecret }}
{{- else if .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecret }}
{{- else }}
{{- include "sbs.secretName" . }}
{{- end }}
{{- end }}

{{- define "sbs.database.secretKey" -}}
{{- if .Values.postgresql.enabled }}
{{- .Values.postgresql.auth.existingSecretPasswordKey }}
{{- else if .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecretPasswordKey }}
{{- else }}
{{- "database-password" }}
{{- end }}
{{- end }}

{{- define "sbs.temporal.host" -}}
{{- if .Values.temporal.enabled }}
{{- include "sbs.dependencyFullname" (dict "root" . "chart" "temporal") }}
{{- else }}
{{- required "externalTemporal.host is required when temporal.enabled is false" .Values.externalTemporal.host }}
{{- end }}
{{- end }}

{{- define "sbs.temporal.port" -}}
{{- if .Values.temporal.enabled }}{{ .Values.temporal.server.grpcPort }}{{ else }}{{ .Values.externalTemporal.port }}{{ end }}
{{- end }}

{{- define "sbs.temporal.namespace" -}}
{{- if .Values.temporal.enabled }}{{ .Values.temporal.defaultNamespace }}{{ else }}{{ .Values.externalTemporal.namespace }}{{ end }}
{{- end }}

{{- define "sbs.nats.url" -}}
{{- if .Values.nats.enabled }}
{{- printf "nats://%s:%v" (include "sbs.dependencyFullname" (dict "root" . "chart" "nats")) .Values.nats.service.clientPort }}
{{- else }}
{{- required "externalNats.url is required when nats.enabled is false" .Values.externalNats.url }}
{{- end }}
{{- end }}

{{/*
Environment variables that carry secrets, plus REDIS_URL (it embeds the Redis password).
Kubernetes expands $(REDIS_PASSWORD) because that variable is declared first.
*/}}
{{- define "sbs.secretEnv" -}}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "sbs.database.secretName" . }}
      key: {{ include "sbs.database.secretKey" . }}
- name: SBS_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "sbs.secretName" . }}
      key: {{ .Values.secrets.apiTokenKey }}
{{- if .Values.redis.enabled }}
{{- $redisHost := include "sbs.dependencyFullname" (dict "root" . "chart" "redis") }}
{{- if .Values.redis.auth.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default $redisHost .Values.redis.auth.existingSecret }}
      key: {{ .Values.redis.auth.existingSecretPasswordKey }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:%v/%v" $redisHost .Values.redis.service.port .Values.config.redisDatabase | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s:%v/%v" $redisHost .Values.redis.service.port .Values.config.redisDatabase | quote }}
{{- end }}
{{- else }}
{{- $redisSecret := default (include "sbs.secretName" .) .Values.externalRedis.existingSecret }}
{{- with .Values.externalRedis.existingSecretPasswordKey }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $redisSecret }}
      key: {{ . }}
{{- end }}
{{- with .Values.externalRedis.sentinel.existingSecretPasswordKey }}
- name: REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $redisSecret }}
      key: {{ . }}
{{- end }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $redisSecret }}
      key: {{ .Values.externalRedis.existingSecretUrlKey }}
{{- end }}
{{- end }}

{{/* Inline checkov skips: call with a list of "CKV_ID=reason" strings. */}}
{{- define "sbs.checkovSkips" -}}
{{- range $index, $skip := . }}
checkov.io/skip{{ add1 $index }}: {{ $skip | quote }}
{{- end }}
{{- end }}

{{/* Read a value from an existing Secret so upgrades keep generated credentials. */}}
{{- define "sbs.existingSecretValue" -}}
{{- $secret := lookup "v1" "Secret" .namespace .name }}
{{- if and $secret $secret.data (hasKey $secret.data .key) }}
{{- index $secret.data .key | b64dec }}
{{- end }}
{{- end }}

{{/* Checkov findings the API and worker workloads accept, with the reason. */}}
{{- define "sbs.workloadCheckovSkips" -}}
{{- $skips := list "CKV_K8S_35=The app reads its 12-factor settings from environment variables only; the values come from secretKeyRef, never from the manifest" }}
{{- if not .Values.image.digest }}
{{- $skips = append $skips "CKV_K8S_43=Pinned tag by default; CI deploys by digest with --set image.digest" }}
{{- end }}
{{- if ne .Values.image.pullPolicy "Always" }}
{{- $skips = append $skips "CKV_K8S_15=Tags are pinned and immutable; IfNotPresent also serves preloaded images (kind, air-gapped nodes)" }}
{{- end }}
{{- include "sbs.checkovSkips" $skips }}
{{- end }}

{{/* Pod settings the API and the worker share. */}}
{{- define "sbs.podSpecCommon" -}}
serviceAccountName: {{ include "sbs.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  # The root filesystem is read-only; Python and libraries may still want a scratch /tmp.
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- include "sbs.tlsVolumes" . | nindent 2 }}
{{- end }}

{{/*
Annotations that roll pods when settings or any Secret they read changes. The subcharts'
Secrets cannot be rendered from here, so their checksum covers what decides their content:
the auth values and, on a cluster, the data of the Secret as it exists (lookup).
*/}}
{{- define "sbs.checksumAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- $sources := list }}
{{- if .Values.postgresql.enabled }}
{{- $name := include "sbs.database.secretName" . }}
{{- $sources = append $sources (dict "values" .Values.postgresql.auth "data" (dig "data" dict (lookup "v1" "Secret" .Release.Namespace $name))) }}
{{- end }}
{{- if .Values.redis.enabled }}
{{- $name := default (include "sbs.dependencyFullname" (dict "root" . "chart" "redis")) .Values.redis.auth.existingSecret }}
{{- $sources = append $sources (dict "values" .Values.redis.auth "data" (dig "data" dict (lookup "v1" "Secret" .Release.Namespace $name))) }}
{{- end }}
checksum/dependency-secrets: {{ toJson $sources | sha256sum }}
{{- end }}

{{/* The production guard of app/config.py, applied at render time: call with (dict "root" $ "token" $token). */}}
{{- define "sbs.checkApiToken" -}}
{{- if eq .root.Values.config.environment "production" }}
{{- range $token := splitList "," .token }}
{{- $token = trim $token }}
{{- if or (eq $token "dev-token") (lt (len $token) 32) }}
{{- fail "secrets.apiToken must be at least 32 characters and not dev-token (each of its comma-separated tokens): SBS_ENVIRONMENT=production refuses to start otherwise" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* auth.oidc: issuer, audience and jwksUrl go together (app/config.py refuses them apart). */}}
{{- define "sbs.checkOidc" -}}
{{- $oidc := .Values.auth.oidc }}
{{- if or $oidc.issuer $oidc.audience $oidc.jwksUrl }}
{{- if not (and $oidc.issuer $oidc.audience $oidc.jwksUrl) }}
{{- fail "auth.oidc.issuer, auth.oidc.audience and auth.oidc.jwksUrl go together: set all three or none" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Fail when a public Ingress path would route /metrics: Prefix paths match whole path
elements, so "/" and "/metrics" itself expose it.
*/}}
{{- define "sbs.checkIngressPath" -}}
{{- $path := trimSuffix "/" .path }}
{{- if or (eq $path "") (eq $path "/metrics") (hasPrefix "/metrics/" .path) }}
{{- fail (printf "ingress path %q would expose /metrics publicly; list the public API paths instead" .path) }}
{{- end }}
{{- end }}

{{/*
TLS material of the external dependencies, from Secrets mounted as files (never rendered):
dependency -> its `tls` values, for each external dependency whose tls.existingSecret is set.
Each is mounted read-only at /etc/sbs/tls/<dependency>/ as ca.crt, tls.crt and tls.key.
*/}}
{{- define "sbs.tlsSecrets" -}}
{{- $secrets := dict }}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.tls.existingSecret }}
{{- $_ := set $secrets "postgresql" .Values.externalDatabase.tls }}
{{- end }}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.tls.existingSecret }}
{{- $_ := set $secrets "redis" .Values.externalRedis.tls }}
{{- end }}
{{- if and (not .Values.nats.enabled) .Values.externalNats.tls.existingSecret }}
{{- $_ := set $secrets "nats" .Values.externalNats.tls }}
{{- end }}
{{- if and (not .Values.temporal.enabled) .Values.externalTemporal.tls.existingSecret }}
{{- $_ := set $secrets "temporal" .Values.externalTemporal.tls }}
{{- end }}
{{- toJson $secrets }}
{{- end }}

{{/* Where a dependency's TLS file is mounted, or "" when its Secret lacks that key: call with
(dict "root" $ "dependency" "temporal" "key" "caKey" "file" "ca.crt"). */}}
{{- define "sbs.tlsFile" -}}
{{- $tls := index (include "sbs.tlsSecrets" .root | fromJson) .dependency | default dict }}
{{- if index $tls .key }}
{{- printf "/etc/sbs/tls/%s/%s" .dependency .file }}
{{- end }}
{{- end }}

{{/* The TLS file variables of one dependency: call with (dict "root" $ "dependency" "nats"
"prefix" "NATS_TLS_" "names" (list "CA_FILE" "CERT_FILE" "KEY_FILE")). */}}
{{- define "sbs.tlsFileVariables" -}}
{{- $files := list (list "caKey" "ca.crt") (list "certKey" "tls.crt") (list "keyKey" "tls.key") }}
{{- range $index, $name := .names }}
{{- $file := index $files $index }}
{{ $.prefix }}{{ $name }}: {{ include "sbs.tlsFile" (dict "root" $.root "dependency" $.dependency "key" (index $file 0) "file" (index $file 1)) | quote }}
{{- end }}
{{- end }}

{{/* Volumes of the TLS Secrets (pod spec). */}}
{{- define "sbs.tlsVolumes" -}}
{{- range $dependency, $tls := include "sbs.tlsSecrets" . | fromJson }}
- name: tls-{{ $dependency }}
  secret:
    secretName: {{ $tls.existingSecret }}
    # Readable by the pod's fsGroup only.
    defaultMode: 288
    items:
      {{- range $key, $file := dict "caKey" "ca.crt" "certKey" "tls.crt" "keyKey" "tls.key" }}
      {{- with index $tls $key }}
      - key: {{ . }}
        path: {{ $file }}
      {{- end }}
      {{- end }}
{{- end }}
{{- end }}

{{/* Mounts of the TLS Secrets (API and worker containers). */}}
{{- define "sbs.tlsVolumeMounts" -}}
{{- range $dependency, $tls := include "sbs.tlsSecrets" . | fromJson }}
- name: tls-{{ $dependency }}
  mountPath: /etc/sbs/tls/{{ $dependency }}
  readOnly: true
{{- end }}
{{- end }}

{{/* The worker versions the chart runs, current first: a list of dicts with buildId, image,
replicas. The current one is the chart's image (build id worker.buildId, else APP_BUILD);
worker.previousVersions keep older builds running until Temporal reports them drained. */}}
{{- define "sbs.workerVersions" -}}
{{- $versions := list (dict "buildId" (.Values.worker.buildId | default (include "sbs.appBuild" .)) "image" (include "sbs.image" .) "replicas" .Values.worker.replicaCount "current" true) }}
{{- range .Values.worker.previousVersions }}
{{- $versions = append $versions (dict "buildId" .buildId "image" .image "replicas" (.replicaCount | default $.Values.worker.replicaCount) "current" false) }}
{{- end }}
{{- toJson $versions }}
{{- end }}

{{/* A worker version's resource suffix and label value: a short hash of its build id (a build
id may be a digest, which no name or label can hold). */}}
{{- define "sbs.workerVersionKey" -}}
{{- . | toString | sha256sum | trunc 10 }}
{{- end }}
