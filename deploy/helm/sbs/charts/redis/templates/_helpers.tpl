{{/* Names and labels of the bundled Redis. */}}

{{- define "redis.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "redis.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: cache
{{- end }}

{{- define "redis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "redis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sbs-platform
{{- end }}

{{- define "redis.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}
{{- end }}

{{- define "redis.secretName" -}}
{{- default (include "redis.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/* A probe command; REDISCLI_AUTH keeps the password out of redis-cli's arguments. */}}
{{- define "redis.pingCommand" -}}
{{- if .Values.auth.enabled -}}
REDISCLI_AUTH="$(cat /etc/redis-secret/password)" redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG
{{- else -}}
redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG
{{- end -}}
{{- end }}

{{/* A Kubernetes memory quantity (Mi, Gi, M, G or bytes) in MiB, rounded down. */}}
{{- define "redis.memoryMiB" -}}
{{- $quantity := toString . }}
{{- if hasSuffix "Gi" $quantity }}{{ mul (trimSuffix "Gi" $quantity | int) 1024 }}
{{- else if hasSuffix "Mi" $quantity }}{{ trimSuffix "Mi" $quantity | int }}
{{- else if hasSuffix "G" $quantity }}{{ div (mul (trimSuffix "G" $quantity | int) 1000000000) 1048576 }}
{{- else if hasSuffix "M" $quantity }}{{ div (mul (trimSuffix "M" $quantity | int) 1000000) 1048576 }}
{{- else }}{{ div ($quantity | int64) 1048576 }}
{{- end }}
{{- end }}
