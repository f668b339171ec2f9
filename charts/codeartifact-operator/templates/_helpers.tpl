{{/* Names and labels shared by every template. */}}

{{- define "cao.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cao.serviceAccountName" -}}
{{- default (include "cao.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "cao.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cao.labels" -}}
{{ include "cao.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The rules the operator needs on its own resources, Secrets and Events, in the watched scope. */}}
{{- define "cao.watchRules" -}}
# Watch PypiRepositories and add or remove the cleanup finalizer (a JSON patch on metadata).
- apiGroups: ["codeartifact-operator.dev"]
  resources: ["pypirepositories"]
  verbs: ["get", "list", "watch", "patch"]
# Report status (Ready/Synced conditions, ARNs, endpoint, token expiry).
- apiGroups: ["codeartifact-operator.dev"]
  resources: ["pypirepositories/status"]
  verbs: ["get", "patch"]
# Set blockOwnerDeletion on the owned Secret where OwnerReferencesPermissionEnforcement is on (OpenShift).
- apiGroups: ["codeartifact-operator.dev"]
  resources: ["pypirepositories/finalizers"]
  verbs: ["update"]
# Read and write the credentials Secrets (server-side apply). No delete: they go by garbage collection.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Publish Events on PypiRepositories (creation, adoption, failures, deletion steps).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
