{{/*
Names, labels and the values every template shares.
*/}}

{{/* The chart's name (app.kubernetes.io/name). */}}
{{- define "mcpgw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object's name: <release>-<chart>, or the release name alone when it already contains the chart's name. */}}
{{- define "mcpgw.fullname" -}}
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

{{/* <fullname>-<suffix>, at most 63 characters (a DNS label, as Service names must be). Call with (list $ "suffix"). */}}
{{- define "mcpgw.component" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "mcpgw.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mcpgw.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. Call with (list $ "component"). */}}
{{- define "mcpgw.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "mcpgw.chart" $root }}
app.kubernetes.io/name: {{ include "mcpgw.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
app.kubernetes.io/part-of: mcp-oauth-gateway
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of authsvc's pods. */}}
{{- define "mcpgw.authsvc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcpgw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: authsvc
{{- end -}}

{{/* Selector labels of one bridge's pods. Call with (list $ server). */}}
{{- define "mcpgw.bridge.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "mcpgw.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: mcp-bridge
mcp-oauth-gateway/server: {{ (index . 1).name }}
{{- end -}}

{{/* Object names. */}}
{{- define "mcpgw.authsvc.name" -}}{{ include "mcpgw.component" (list . "authsvc") }}{{- end -}}
{{- define "mcpgw.bridge.name" -}}{{ include "mcpgw.component" (list (index . 0) (printf "mcp-%s" (index . 1).name)) }}{{- end -}}

{{/* The Secret every secretKeyRef and urn:k8s:secret names. */}}
{{- define "mcpgw.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if .Values.secrets.create -}}
{{- include "mcpgw.component" (list . "secrets") -}}
{{- else -}}
{{- fail "secrets: set secrets.existingSecret to the name of your Secret, or secrets.create: true with the secret values" -}}
{{- end -}}
{{- end -}}

{{- define "mcpgw.baseDomain" -}}
{{- required "baseDomain is required: services live at auth.<baseDomain> and <server>.<baseDomain>" .Values.baseDomain -}}
{{- end -}}

{{/* The OAuth issuer (AUTH_ISSUER_URL and every mcpauth issuer). */}}
{{- define "mcpgw.issuer" -}}
{{- .Values.issuerURL | default (printf "https://auth.%s" (include "mcpgw.baseDomain" .)) | trimSuffix "/" -}}
{{- end -}}

{{/* authsvc's base URL inside the cluster, as Traefik's pods (in any namespace) reach it. */}}
{{- define "mcpgw.authsvc.internalURL" -}}
{{- printf "http://%s.%s.svc.%s:8000" (include "mcpgw.authsvc.name" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* An image reference. Call with (list $ imageValues). */}}
{{- define "mcpgw.image" -}}
{{- $root := index . 0 -}}
{{- $img := index . 1 -}}
{{- $repo := required "every image needs a repository" $img.repository -}}
{{- $tag := $img.tag | default $root.Values.image.tag | default $root.Chart.AppVersion -}}
{{- with $root.Values.image.registry -}}{{ trimSuffix "/" . }}/{{- end -}}{{ $repo }}:{{ $tag }}
{{- end -}}

{{/* An env entry from the Secret. Call with (list $ "ENV_NAME" "SECRET_KEY" optional). */}}
{{- define "mcpgw.secretEnv" -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "mcpgw.secretName" (index . 0) }}
      key: {{ index . 2 }}
      {{- if index . 3 }}
      optional: true
      {{- end }}
{{- end -}}

{{/* The port number of a listen address such as ":9100" or "0.0.0.0:9100". */}}
{{- define "mcpgw.listenPort" -}}
{{- regexFind "[0-9]+$" . -}}
{{- end -}}

{{/* TLS of a public IngressRoute: the certificate (resolver or Secret) and the TLSOption. */}}
{{- define "mcpgw.tls" -}}
{{- $root := . -}}
{{- if not (or .Values.traefik.tlsSecretName .Values.traefik.certResolver .Values.traefik.tlsOption.enabled) -}}
tls: {}
{{- else -}}
tls:
  {{- if .Values.traefik.tlsSecretName }}
  secretName: {{ .Values.traefik.tlsSecretName }}
  {{- else if .Values.traefik.certResolver }}
  certResolver: {{ .Values.traefik.certResolver }}
  {{- end }}
  {{- if .Values.traefik.tlsOption.enabled }}
  options:
    name: {{ include "mcpgw.component" (list $root "modern") }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/* Middlewares of a public route, before its own. */}}
{{- define "mcpgw.publicMiddlewares" -}}
{{- $names := list -}}
{{- if .Values.traefik.securityHeaders.enabled -}}
{{- $names = append $names (include "mcpgw.component" (list . "security-headers")) -}}
{{- end -}}
{{- if .Values.traefik.retryUnreachable.enabled -}}
{{- $names = append $names (include "mcpgw.component" (list . "retry-unreachable")) -}}
{{- end -}}
{{- range $i, $n := $names }}{{ if $i }}{{ "\n" }}{{ end }}- name: {{ $n }}{{ end -}}
{{- end -}}

{{/* Checks of values every template relies on: server names, Redis. */}}
{{- define "mcpgw.validate" -}}
{{- $_ := include "mcpgw.baseDomain" . -}}
{{- $_ := required "github.clientID is required (GITHUB_CLIENT_ID of the GitHub OAuth App)" .Values.github.clientID -}}
{{- $_ := required "github.allowedUsers is required (ALLOWED_GITHUB_USERS: comma-separated logins, or *)" .Values.github.allowedUsers -}}
{{- $_ := required "set redis.url (e.g. redis://my-redis-master:6379/0) or redis.sentinels and redis.masterName: this chart does not install Redis" (or .Values.redis.url (join "," .Values.redis.sentinels)) -}}
{{- if .Values.redis.sentinels -}}
{{- $_ := required "redis.masterName is required with redis.sentinels (REDIS_MASTER_NAME)" .Values.redis.masterName -}}
{{- end -}}
{{- $seen := dict -}}
{{- range .Values.mcpServers -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$" (toString .name)) -}}
{{- fail (printf "mcpServers: name %q must be a DNS label of at most 40 characters (lower-case letters, digits, -): it is the host <name>.<baseDomain> and part of object names" (toString .name)) -}}
{{- end -}}
{{- if or (hasKey $seen .name) (eq .name "auth") -}}
{{- fail (printf "mcpServers: name %q is used twice, or is auth (the issuer's host)" .name) -}}
{{- end -}}
{{- $_ := set $seen .name true -}}
{{- if not .args -}}
{{- fail (printf "mcpServers: %s needs args: [\"--\", \"<server command>\", args…]" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The NetworkPolicyPeer of Traefik's pods: its podSelector, in the namespaces of namespaceSelector (null: this namespace only). */}}
{{- define "mcpgw.traefikPeer" -}}
{{- $t := .Values.networkPolicy.traefik -}}
- podSelector:
    {{- toYaml (required "networkPolicy.traefik.podSelector is required: the labels of Traefik's pods" $t.podSelector) | nindent 4 }}
  {{- if not (kindIs "invalid" $t.namespaceSelector) }}
  namespaceSelector:
    {{- toYaml $t.namespaceSelector | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* Pod annotations: the user's, and the Secret's checksum when the chart makes it, so that a changed secret restarts the pods (as `just up` recreates containers). Call with (list $ podAnnotations). */}}
{{- define "mcpgw.podAnnotations" -}}
{{- $root := index . 0 -}}
{{- $ann := deepCopy (index . 1 | default dict) -}}
{{- if and $root.Values.secrets.create (not $root.Values.secrets.existingSecret) -}}
{{- $_ := set $ann "checksum/secret" (include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum) -}}
{{- end -}}
{{- with $ann -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/* A value as an environment string: whole numbers as integers (Helm reads numbers in values as float64, which toString would print as 7.776e+06). */}}
{{- define "mcpgw.envString" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) -}}
{{- printf "%.0f" . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}
