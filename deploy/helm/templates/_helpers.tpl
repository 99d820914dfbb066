{{/* Names, labels and the operator's RBAC rules, shared by the templates. */}}

{{- define "smo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name alone when it already contains the chart name. */}}
{{- define "smo.fullname" -}}
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

{{- define "smo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "smo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "smo.labels" -}}
helm.sh/chart: {{ include "smo.chart" . }}
{{ include "smo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: secrets-manager-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "smo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "smo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "smo.subjects" -}}
- kind: ServiceAccount
  name: {{ include "smo.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

{{- define "smo.leaderElectionId" -}}
{{- default (include "smo.fullname" .) .Values.leaderElection.id -}}
{{- end -}}

{{- define "smo.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret the operator creates in its own namespace for the keyed hash of synced data. */}}
{{- define "smo.hashKeySecret" -}}secrets-manager-operator-hash-key{{- end -}}

{{/*
Rules for what values.schema.json cannot say (combinations of values), with messages that tell
the user what to change. Called by the Deployment template, so `helm install` and
`helm template` both stop here.
*/}}
{{- define "smo.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicas > 1 needs leaderElection.enabled=true: without it every replica would reconcile the same resources" -}}
{{- end -}}
{{- if .Values.defaultStore.enabled -}}
{{- $s := .Values.defaultStore -}}
{{- if eq (empty $s.url) (empty $s.instanceId) -}}
{{- fail "defaultStore.enabled needs exactly one of defaultStore.url or defaultStore.instanceId (with defaultStore.region)" -}}
{{- end -}}
{{- if ne (empty $s.instanceId) (empty $s.region) -}}
{{- fail "defaultStore.region is required with defaultStore.instanceId and only allowed with it" -}}
{{- end -}}
{{- if and (hasKey $s "private") (empty $s.instanceId) -}}
{{- fail "defaultStore.private is only allowed with defaultStore.instanceId (with url, put the private host in the URL)" -}}
{{- end -}}
{{- if and (not (empty $s.caBundle)) (not (empty $s.caSecretRef)) -}}
{{- fail "set at most one of defaultStore.caBundle or defaultStore.caSecretRef" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
{{- fail "serviceMonitor.enabled needs the Prometheus Operator CRDs (monitoring.coreos.com/v1 ServiceMonitor) in the cluster; install them first or set serviceMonitor.enabled=false" -}}
{{- end -}}
{{- end -}}

{{/*
What the operator needs in every namespace it watches. Rendered into one ClusterRole when it
watches all namespaces, or into a Role per namespace listed in watchNamespaces, so both modes
grant the same verbs.
- Its kinds: read and watch; patch for finalizers (metadata of the main resource); status through
  the status subresource only; finalizers/update because the Secrets it writes carry owner
  references with blockOwnerDeletion (OwnerReferencesPermissionEnforcement).
- Secrets: read (store API keys, existing targets), list/watch (its own, by label), create and
  patch (server-side apply creates through patch, which the API server authorizes as create),
  delete (deletionPolicy Delete). No update.
- Events: create, and patch to count repeats.
- Workloads: patch only, to stamp a restart annotation on the pod template.
*/}}
{{- define "smo.namespacedRules" -}}
- apiGroups: ["secrets-manager.dev"]
  resources: ["externalsecrets", "iamcredentialleases", "secretstores"]
  verbs: ["get", "list", "watch", "patch"]
# ClusterExternalSecrets create their ExternalSecrets here, and delete them when the namespace
# stops being selected.
- apiGroups: ["secrets-manager.dev"]
  resources: ["externalsecrets"]
  verbs: ["create", "delete"]
- apiGroups: ["secrets-manager.dev"]
  resources: ["externalsecrets/status", "iamcredentialleases/status", "secretstores/status"]
  verbs: ["patch"]
- apiGroups: ["secrets-manager.dev"]
  resources: ["externalsecrets/finalizers", "iamcredentialleases/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["patch"]
{{- end -}}

{{/*
Cluster-scoped reads every mode needs: ClusterSecretStores, ClusterExternalSecrets and Namespaces
(store conditions, namespace selectors). ClusterExternalSecrets/finalizers: the owner reference
with blockOwnerDeletion on each ExternalSecret they create needs it where the API server enforces
owner reference permissions; the operator puts no finalizer on them.
*/}}
{{- define "smo.clusterRules" -}}
- apiGroups: ["secrets-manager.dev"]
  resources: ["clustersecretstores", "clusterexternalsecrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["secrets-manager.dev"]
  resources: ["clustersecretstores/status", "clusterexternalsecrets/status"]
  verbs: ["patch"]
- apiGroups: ["secrets-manager.dev"]
  resources: ["clusterexternalsecrets/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end -}}
