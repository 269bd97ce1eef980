{{/* Chart name. */}}
{{- define "gitops-bot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, unless the release name already contains the chart name. */}}
{{- define "gitops-bot.fullname" -}}
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

{{- define "gitops-bot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitops-bot.labels" -}}
helm.sh/chart: {{ include "gitops-bot.chart" . }}
{{ include "gitops-bot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gitops-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitops-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gitops-bot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gitops-bot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gitops-bot.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Environment shared by the bot, worker and migration containers. */}}
{{- define "gitops-bot.env" -}}
- name: GITOPS_BOT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | quote }}
      key: {{ .Values.database.urlKey | quote }}
{{- $secret := .Values.credentials.existingSecret }}
{{- range $setting, $key := .Values.credentials.keys }}
- name: GITOPS_BOT_{{ $setting | snakecase | upper }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret | quote }}
      key: {{ $key | quote }}
      optional: true
{{- end }}
- name: GITOPS_BOT_DATA_DIR
  value: /var/lib/gitops-bot
- name: GITOPS_BOT_KUBERNETES_IN_CLUSTER
  value: {{ include "gitops-bot.inCluster" . | quote }}
- name: GITOPS_BOT_TERRAFORM_EXECUTOR
  value: {{ .Values.terraform.executor | quote }}
{{- if include "gitops-bot.terraformJobs" . }}
{{ include "gitops-bot.terraformJobsEnv" . }}
{{- end }}
{{- with .Values.terraform.sandbox.hide }}
- name: GITOPS_BOT_TERRAFORM_SANDBOX_HIDE
  value: {{ join "," . | quote }}
{{- end }}
{{ include "gitops-bot.consoleEnv" . }}
{{- range $name, $value := .Values.config }}
{{- if ne (toString $value) "" }}
- name: GITOPS_BOT_{{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Whether the bot talks to the Kubernetes API ("true" or "false"): for the readiness gate's
Deployments, or to run Terraform as Jobs. Its pods then mount their ServiceAccount token. */}}
{{- define "gitops-bot.inCluster" -}}
{{- or (include "gitops-bot.terraformJobs" .) (and .Values.rbac.create (gt (len .Values.rbac.watchNamespaces) 0)) | toString }}
{{- end }}

{{/* Whether terraform commands run as Kubernetes Jobs ("true" or ""). */}}
{{- define "gitops-bot.terraformJobs" -}}
{{- if eq .Values.terraform.executor "kubernetes" }}true{{ end }}
{{- end }}

{{/* Namespace of the Terraform Jobs: terraform.jobs.namespace, else the release's. */}}
{{- define "gitops-bot.terraformJobsNamespace" -}}
{{- .Values.terraform.jobs.namespace | default .Release.Namespace }}
{{- end }}

{{/* ServiceAccount of the Terraform pods; empty: the namespace's default. */}}
{{- define "gitops-bot.terraformJobsServiceAccountName" -}}
{{- $account := .Values.terraform.jobs.serviceAccount }}
{{- if $account.create }}
{{- $account.name | default (printf "%s-terraform" (include "gitops-bot.fullname" .) | trunc 63 | trimSuffix "-") }}
{{- else }}
{{- $account.name }}
{{- end }}
{{- end }}

{{/* The GITOPS_BOT_TERRAFORM_JOB_* settings. Quantities are passed as strings (cpu: 1 is "1"):
the bot reads resources as strings. An unset Secret or ServiceAccount is left out, not empty. */}}
{{- define "gitops-bot.terraformJobsEnv" -}}
{{- $jobs := .Values.terraform.jobs }}
{{- $resources := dict }}
{{- range $kind, $values := $jobs.resources }}
{{- $quantities := dict }}
{{- range $name, $quantity := $values }}
{{- $_ := set $quantities $name (toString $quantity) }}
{{- end }}
{{- $_ := set $resources $kind $quantities }}
{{- end }}
{{- $base := printf "http://%s.%s.svc:%v" (include "gitops-bot.fullname" .) .Release.Namespace .Values.service.port }}
- name: GITOPS_BOT_TERRAFORM_JOB_NAMESPACE
  value: {{ include "gitops-bot.terraformJobsNamespace" . | quote }}
- name: GITOPS_BOT_TERRAFORM_JOB_IMAGE
  value: {{ $jobs.image | default (include "gitops-bot.image" .) | quote }}
{{- with include "gitops-bot.terraformJobsServiceAccountName" . }}
- name: GITOPS_BOT_TERRAFORM_JOB_SERVICE_ACCOUNT
  value: {{ . | quote }}
{{- end }}
{{- with $jobs.envSecret }}
- name: GITOPS_BOT_TERRAFORM_JOB_ENV_SECRET
  value: {{ . | quote }}
{{- end }}
- name: GITOPS_BOT_TERRAFORM_JOB_ENV_SECRETS
  value: {{ $jobs.envSecrets | toJson | quote }}
- name: GITOPS_BOT_TERRAFORM_JOB_RESOURCES
  value: {{ $resources | toJson | quote }}
- name: GITOPS_BOT_TERRAFORM_JOB_NODE_SELECTOR
  value: {{ $jobs.nodeSelector | toJson | quote }}
- name: GITOPS_BOT_TERRAFORM_JOB_TOLERATIONS
  value: {{ $jobs.tolerations | toJson | quote }}
- name: GITOPS_BOT_TERRAFORM_JOB_KEEP_SECONDS
  value: {{ $jobs.keepSeconds | int | toString | quote }}
- name: GITOPS_BOT_TERRAFORM_JOB_CALLBACK_URL
  value: {{ $jobs.callbackUrl | default $base | quote }}
{{- end }}

{{/* Writable volumes for a read-only root filesystem. */}}
{{- define "gitops-bot.volumeMounts" -}}
- name: data
  mountPath: /var/lib/gitops-bot
- name: tmp
  mountPath: /tmp
- name: home
  mountPath: /home/gitops-bot
{{- end }}

{{- define "gitops-bot.volumes" -}}
- name: data
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "gitops-bot.fullname" . }}-data
{{- else }}
  emptyDir:
    sizeLimit: {{ .Values.persistence.emptyDirSizeLimit }}
{{- end }}
- name: tmp
  emptyDir: {}
- name: home
  emptyDir: {}
{{- end }}

{{/* Whether terraform commands run in the bubblewrap sandbox ("true" or ""). */}}
{{- define "gitops-bot.sandboxed" -}}
{{- if eq .Values.terraform.executor "sandbox" }}true{{ end }}
{{- end }}

{{/* The appArmorProfile field exists from Kubernetes 1.30; before it, the annotation says the same. */}}
{{- define "gitops-bot.appArmorField" -}}
{{- if semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version }}true{{ end }}
{{- end }}

{{/* Security context of the containers that run Terraform (bot and worker): the chart's, plus
what bubblewrap needs to make its namespaces and mounts when the executor is the sandbox
(deploy/README.md, "Terraform sandbox"). The migration init container keeps the plain one. */}}
{{- define "gitops-bot.terraformSecurityContext" -}}
{{- $context := deepCopy .Values.securityContext }}
{{- if include "gitops-bot.sandboxed" . }}
{{- $sandbox := .Values.terraform.sandbox }}
{{- $_ := set $context "seccompProfile" (deepCopy $sandbox.seccompProfile) }}
{{- if include "gitops-bot.appArmorField" . }}
{{- $_ := set $context "appArmorProfile" (deepCopy $sandbox.appArmorProfile) }}
{{- end }}
{{- if eq $sandbox.procMount "Unmasked" }}
{{- $_ := set $context "procMount" "Unmasked" }}
{{- end }}
{{- end }}
{{- toYaml $context }}
{{- end }}

{{/* Pod annotations: (list $ container-name user-annotations). Before Kubernetes 1.30 the
sandbox's AppArmor profile is the container's annotation. */}}
{{- define "gitops-bot.podAnnotations" -}}
{{- $root := index . 0 }}
{{- $annotations := deepCopy (index . 2 | default dict) }}
{{- if and (include "gitops-bot.sandboxed" $root) (not (include "gitops-bot.appArmorField" $root)) }}
{{- $profile := $root.Values.terraform.sandbox.appArmorProfile }}
{{- $value := dict "RuntimeDefault" "runtime/default" "Unconfined" "unconfined" }}
{{- $_ := set $value "Localhost" (printf "localhost/%s" ($profile.localhostProfile | default "")) }}
{{- $key := printf "container.apparmor.security.beta.kubernetes.io/%s" (index . 1) }}
{{- $_ := set $annotations $key (get $value $profile.type) }}
{{- end }}
{{- with $annotations }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/* hostUsers: false (a user namespace per pod) when the sandbox asks for it. */}}
{{- define "gitops-bot.hostUsers" -}}
{{- if and (include "gitops-bot.sandboxed" .) .Values.terraform.sandbox.userNamespace }}hostUsers: false{{ end }}
{{- end }}

{{/* Who may look at the console (its credentials are in credentials.keys). With the console on
the Ingress, links and the GitHub sign-in's callback use the Ingress host unless config.PUBLIC_URL
names another address. */}}
{{- define "gitops-bot.consoleEnv" -}}
- name: GITOPS_BOT_CONSOLE_AUTH
  value: {{ .Values.console.auth | quote }}
- name: GITOPS_BOT_CONSOLE_LOGIN
  value: {{ .Values.console.login | quote }}
{{- with .Values.console.githubOAuthClientId }}
- name: GITOPS_BOT_GITHUB_OAUTH_CLIENT_ID
  value: {{ . | quote }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.console (not .Values.config.PUBLIC_URL) }}
- name: GITOPS_BOT_PUBLIC_URL
  value: {{ printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host | quote }}
{{- end }}
{{- end }}

{{/* The console's paths on the Ingress (ingress.console): its pages, sign-in, static files and
JSON twins. `/` is Exact: a Prefix `/` would route everything, /metrics included. */}}
{{- define "gitops-bot.consolePaths" -}}
["/login", "/logout", "/console/static", "/locks", "/runs", "/analyses", "/deployments", "/updates", "/events", "/actions", "/api", "/openapi.json"]
{{- end }}
