#!/usr/bin/env bash
# Deploy one SBS image to the test Kubernetes cluster with the Helm chart (the CI job
# deploy-test runs it with the digest the image job pushed and signed): verify the cosign
# signature of that digest, `helm upgrade --install --wait`, then `helm test`.
set -euo pipefail

usage() {
  cat >&2 <<'USAGE'
Usage: scripts/deploy_test.sh IMAGE_REF

IMAGE_REF is the image to deploy, pinned by digest (a tag alone is refused):
  registry/repository@sha256:<64 hex digits>
  registry/repository:tag@sha256:<64 hex digits>

Required environment:
  COSIGN_CERTIFICATE_IDENTITY  who must have signed the digest (keyless), e.g.
      https://github.com/OWNER/REPO/.github/workflows/ci.yml@refs/heads/main

Optional environment:
  COSIGN_CERTIFICATE_OIDC_ISSUER  issuer of that identity (default: GitHub Actions,
                                  https://token.actions.githubusercontent.com)
  NAMESPACE     target namespace                    (default: sbs-test)
  RELEASE       Helm release name                   (default: sbs)
  HELM_TIMEOUT  how long Helm waits for the rollout (default: 10m)
  VALUES_FILE   extra values file for the test cluster (ingress, pull secrets, ...)
  CHART_DIR     chart to install, from the repository root (default: deploy/helm/sbs)
  KUBECONFIG    cluster credentials, as for any Helm call
USAGE
}

fail() {
  echo "deploy_test.sh: $*" >&2
  exit 2
}

if [[ $# -eq 1 && ($1 == "-h" || $1 == "--help") ]]; then
  usage
  exit 0
fi
if [[ $# -ne 1 || -z $1 ]]; then
  usage
  exit 2
fi

image_ref=$1
repository=""
tag=""
digest=""

# The digest comes after '@'; the tag after the last ':' of the final path
# component (a ':' before a '/' is a registry port, not a tag).
name=${image_ref%%@*}
if [[ $image_ref == *@* ]]; then
  digest=${image_ref#*@}
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] ||
    fail "invalid digest '$digest' in '$image_ref' (expected sha256:<64 hex digits>)"
fi
if [[ ${name##*/} == *:* ]]; then
  tag=${name##*:}
  repository=${name%:*}
  [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || fail "invalid tag '$tag' in '$image_ref'"
else
  repository=$name
fi
[[ $repository =~ ^[a-z0-9]([a-z0-9._/-]|:[0-9]+/)*$ ]] ||
  fail "invalid repository '$repository' in '$image_ref' (lowercase registry/path expected)"
[[ -n $digest ]] ||
  fail "image reference '$image_ref' has no digest; pin one (@sha256:...): only a digest is signed"
identity=${COSIGN_CERTIFICATE_IDENTITY:-}
issuer=${COSIGN_CERTIFICATE_OIDC_ISSUER:-https://token.actions.githubusercontent.com}
[[ -n $identity ]] || fail "COSIGN_CERTIFICATE_IDENTITY is not set: whose signature proves this image?"

namespace=${NAMESPACE:-sbs-test}
release=${RELEASE:-sbs}
timeout=${HELM_TIMEOUT:-10m}
values_file=${VALUES_FILE:-}
if [[ -n $values_file ]]; then
  [[ -f $values_file ]] || fail "VALUES_FILE '$values_file' does not exist"
  # Resolve it before moving to the repository root.
  values_file="$(cd "$(dirname "$values_file")" && pwd)/$(basename "$values_file")"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
chart_dir=${CHART_DIR:-deploy/helm/sbs}
[[ -f $chart_dir/Chart.yaml ]] || fail "no Helm chart at '$chart_dir'"
for program in helm cosign; do
  command -v "$program" >/dev/null 2>&1 || {
    echo "deploy_test.sh: $program is not on PATH" >&2
    exit 127
  }
done

helm_args=(
  upgrade --install "$release" "$chart_dir"
  --namespace "$namespace" --create-namespace
  --wait --timeout "$timeout"
  --set-string "image.repository=$repository"
)
# Helm 4 renamed --atomic to --rollback-on-failure (the old name is deprecated).
if [[ $(helm version --template '{{.Version}}' 2>/dev/null || true) == v3.* ]]; then
  helm_args+=(--atomic)
else
  helm_args+=(--rollback-on-failure)
fi
[[ -z $tag ]] || helm_args+=(--set-string "image.tag=$tag")
[[ -z $digest ]] || helm_args+=(--set-string "image.digest=$digest")
[[ -z $values_file ]] || helm_args+=(--values "$values_file")

echo "Verifying the signature of ${repository}@${digest} (signed by $identity) ..."
cosign verify --certificate-identity "$identity" --certificate-oidc-issuer "$issuer" \
  "${repository}@${digest}" >/dev/null ||
  fail "no valid signature by '$identity' on ${repository}@${digest}; not deploying"

echo "Deploying ${repository}${tag:+:$tag}@${digest} as release '$release' to namespace '$namespace'"
helm dependency build "$chart_dir"
helm "${helm_args[@]}"
echo "Running the release's tests (helm test) ..."
helm test "$release" --namespace "$namespace" --timeout "$timeout" --logs
