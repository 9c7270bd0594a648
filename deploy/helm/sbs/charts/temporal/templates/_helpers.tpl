{{/* Names, labels and connection settings of the bundled Temporal. */}}

{{- define "temporal.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" "server"). */}}
{{- define "temporal.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "temporal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{ include "temporal.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: sbs-platform
{{- end }}

{{/* An image reference from an {repository, tag, digest} map; the digest wins. */}}
{{- define "temporal.image" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{- define "temporal.dbHost" -}}
{{- default (printf "%s-postgresql" .Release.Name) .Values.persistence.host }}
{{- end }}

{{- define "temporal.dbSecretName" -}}
{{- default (printf "%s-postgresql" .Release.Name) .Values.persistence.existingSecret }}
{{- end }}

{{- define "temporal.frontendAddress" -}}
{{- printf "%s:%v" (include "temporal.fullname" .) .Values.server.grpcPort }}
{{- end }}

{{/* The mounted database password file (never an environment variable in the Jobs). */}}
{{- define "temporal.passwordVolume" -}}
- name: db-password
  secret:
    secretName: {{ include "temporal.dbSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.persistence.existingSecretPasswordKey }}
        path: password
{{- end }}

{{/* Checkov findings every Temporal workload accepts, with the reason. */}}
{{- define "temporal.checkovSkips" -}}
checkov.io/skip1: "CKV_K8S_40=The Temporal images run as their temporal user, uid 1000"
checkov.io/skip2: "CKV_K8S_43=Pinned tags by default; set the image digests to deploy by digest"
checkov.io/skip3: "CKV_K8S_15=Tags are pinned and immutable; IfNotPresent also serves preloaded images"
{{- end }}

{{/* Job names carry a hash of their spec: Job templates are immutable, so a change needs a new Job. */}}
{{- define "temporal.jobSuffix" -}}
{{- toJson (list .Values.adminTools .Values.persistence .Values.defaultNamespace .Values.namespaceRetention .Values.numHistoryShards) | sha256sum | trunc 8 }}
{{- end }}
