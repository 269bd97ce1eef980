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
  value: {{ and .Values.rbac.create (gt (len .Values.rbac.watchNamespaces) 0) | quote }}
- name: GITOPS_BOT_TERRAFORM_EXECUTOR
  value: {{ .Values.terraform.executor | quote }}
{{- with .Values.terraform.sandbox.hide }}
- name: GITOPS_BOT_TERRAFORM_SANDBOX_HIDE
  value: {{ join "," . | quote }}
{{- end }}
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
