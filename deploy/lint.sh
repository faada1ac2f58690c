#!/usr/bin/env bash
# Static checks of the container files, no daemon or cluster needed; any finding, a warning included, fails.
# Needs requirements-dev.txt's tools on PATH:  python3 -m venv .venv-lint && .venv-lint/bin/pip install -r
# requirements-dev.txt && PATH=$PWD/.venv-lint/bin:$PATH bash deploy/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "hadolint: Dockerfile"
hadolint --failure-threshold style --disable-ignore-pragma Dockerfile

echo "compose-spec: compose.yaml"
check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if command -v kubectl >/dev/null 2>&1; then
    echo "kubernetes-validate --strict: kubectl kustomize deploy/kubernetes/base and overlays/production"
    kubectl kustomize deploy/kubernetes/base > "$tmp/base.yaml"
    kubectl kustomize deploy/kubernetes/overlays/production > "$tmp/production.yaml"
    manifests=("$tmp/base.yaml" "$tmp/production.yaml")
else
    echo "kubernetes-validate --strict: kubectl not found, the plain manifests (without the kustomize patch)"
    manifests=()
    for f in deploy/kubernetes/base/*.yaml; do
        [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
    done
fi
# 1.31: the oldest release with every field used (podFailurePolicy GA); 1.37: the newest the tool knows.
out="$(kubernetes-validate --strict --quiet -k 1.31.0 -k 1.37.0 "${manifests[@]}")" || { echo "$out"; exit 1; }
# kubernetes-validate exits 0 on a warning (e.g. a kind it has no schema for): any output fails here.
if [ -n "$out" ]; then echo "$out"; exit 1; fi
count="$(grep -c '^kind: CronJob' "${manifests[@]}" | awk -F: '{ s += $NF } END { print s }')"
if [ "$count" -lt 1 ]; then echo "no CronJob validated"; exit 1; fi
echo "ok: ${count} CronJobs and the rest valid"
