{{/* Names, labels and the values several templates derive. */}}

{{- define "dagy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name; every object is named <fullname> or <fullname>-<component>. */}}
{{- define "dagy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object; `component` (api, services, worker, migrate, ...) when given. */}}
{{- define "dagy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{ include "dagy.selectorLabels" . }}
{{- end }}

{{- define "dagy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dagy.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{- define "dagy.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "dagy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dagy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with secret-key, worker-token (and metrics-token, redis-url): the chart's or the user's. */}}
{{- define "dagy.secretName" -}}
{{- default (include "dagy.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "dagy.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecret }}
{{- else }}
{{- $_ := include "dagy.databaseUrl" . }}
{{- include "dagy.fullname" . }}
{{- end }}
{{- end }}

{{- define "dagy.databaseUrl" -}}
{{- required "database.url (postgresql+psycopg://USER:PASSWORD@HOST:5432/DB) or database.existingSecret is required: the chart runs no database" .Values.database.url }}
{{- end }}

{{- define "dagy.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}
{{- .Values.database.existingSecretKey }}
{{- else }}
{{- "database-url" }}
{{- end }}
{{- end }}

{{/* The API's address inside the cluster, for the workers and the run pods. */}}
{{- define "dagy.apiUrl" -}}
{{- printf "http://%s-api.%s.svc:%v" (include "dagy.fullname" .) .Release.Namespace .Values.api.service.port }}
{{- end }}

{{- define "dagy.runNamespace" -}}
{{- default .Release.Namespace .Values.kubernetesExecutor.namespace }}
{{- end }}

{{- define "dagy.runServiceAccountName" -}}
{{- if .Values.kubernetesExecutor.runServiceAccount.create }}
{{- default (printf "%s-run" (include "dagy.fullname" .)) .Values.kubernetesExecutor.runServiceAccount.name }}
{{- else }}
{{- .Values.kubernetesExecutor.runServiceAccount.name }}
{{- end }}
{{- end }}

{{/* Whether GET /metrics needs the Secret's metrics-token. */}}
{{- define "dagy.metricsToken" -}}
{{- if or .Values.secrets.metricsToken .Values.metrics.serviceMonitor.useToken }}true{{ end }}
{{- end }}

{{/* The secret settings every API, services and migrations container reads. */}}
{{- define "dagy.secretEnv" -}}
- name: DAGY_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "dagy.databaseSecretName" . }}
      key: {{ include "dagy.databaseSecretKey" . }}
- name: DAGY_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "dagy.secretName" . }}
      key: secret-key
- name: DAGY_WORKER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "dagy.secretName" . }}
      key: worker-token
- name: DAGY_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "dagy.secretName" . }}
      key: metrics-token
      optional: true
- name: DAGY_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "dagy.secretName" . }}
      key: redis-url
      optional: true
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* DAGY_HOME and /tmp of the API and services pods (the root file system is read-only). */}}
{{- define "dagy.homeVolumes" -}}
- name: home
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-home" (include "dagy.fullname" .)) .Values.persistence.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir: {}
{{- end }}

{{- define "dagy.homeMounts" -}}
- name: home
  mountPath: /var/lib/dagy
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Pod annotations that roll the pods when their settings change. */}}
{{- define "dagy.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secrets: {{ toJson (list .Values.database .Values.secrets) | sha256sum }}
{{- end }}
