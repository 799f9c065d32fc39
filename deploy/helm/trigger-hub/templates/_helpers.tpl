{{- define "trigger-hub.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trigger-hub.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "trigger-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trigger-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "trigger-hub.labels" -}}
{{ include "trigger-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "trigger-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "trigger-hub.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "trigger-hub.apiTokenSecret" -}}
{{- if .Values.auth.existingSecret -}}{{ .Values.auth.existingSecret }}{{- else -}}{{ include "trigger-hub.fullname" . }}{{- end -}}
{{- end -}}

{{- /* The chart's own Redis runs unless the hub is pointed at another one. */ -}}
{{- define "trigger-hub.redisEnabled" -}}
{{- if and .Values.redis.enabled (not .Values.redis.url) (not .Values.redis.existingSecret) (not .Values.redis.clusterNodes) -}}true{{- end -}}
{{- end -}}

{{- define "trigger-hub.redisName" -}}
{{- printf "%s-redis" (include "trigger-hub.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* Not the hub's selector labels (another name), so the hub's Service and PDB never pick the Redis pod. */ -}}
{{- define "trigger-hub.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "trigger-hub.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "trigger-hub.redisLabels" -}}
{{ include "trigger-hub.redisSelectorLabels" . }}
app.kubernetes.io/part-of: {{ include "trigger-hub.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- /* The hub makes its API token in this Secret (TH_API_TOKEN_SECRET) unless one is given. */ -}}
{{- define "trigger-hub.generateApiToken" -}}
{{- if and .Values.auth.generate (not .Values.auth.apiToken) (not .Values.auth.existingSecret) -}}true{{- end -}}
{{- end -}}

{{- define "trigger-hub.generatedApiTokenSecret" -}}
{{- printf "%s-api-token" (include "trigger-hub.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
