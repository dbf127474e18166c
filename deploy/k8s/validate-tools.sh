#!/usr/bin/env bash
# The offline validators for deploy/k8s, installed from the package registries and cached under
# $STOQ_CACHE (default ~/.cache/stoq), once:
#   - kustomize and kubeconform, built from the Go module proxy (`go install module@version`);
#   - the Kubernetes JSON schemas (strict: unknown fields are errors) from the PyPI wheel
#     kubernetes-validate, for each Kubernetes version in K8S_VERSIONS. Each of the wheel's schemas
#     has an https `$id` and points at the shared definitions as `/api/_definitions.json`, which
#     would resolve to kubernetes.io; the `$id`s are dropped and the `$ref`s made relative, so
#     kubeconform resolves them against the file itself (the sibling _definitions.json).
# Prints `name=path` lines (kustomize, kubeconform, schemas = a kubeconform -schema-location).
# Exit 3 (with the reason on stderr) when Go, Python or pip is missing, so the test can skip.
#   deploy/k8s/validate-tools.sh
set -euo pipefail
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.0}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
SCHEMAS_VERSION="${SCHEMAS_VERSION:-1.37.0}"           # kubernetes-validate on PyPI
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.37.0}"          # the oldest and newest the manifests target
cache="${STOQ_CACHE:-$HOME/.cache/stoq}"
bin="$cache/bin"
kustomize="$bin/kustomize-$KUSTOMIZE_VERSION"
kubeconform="$bin/kubeconform-$KUBECONFORM_VERSION"
schemas="$cache/kubernetes-json-schema/kubernetes-validate-$SCHEMAS_VERSION"
say() { echo "k8s-tools: $*" >&2; }

build() { # module@version -> binary path
  local module="$1" out="$2" tmp
  [ -x "$out" ] && return 0
  command -v go >/dev/null 2>&1 || { say "Go is needed to build $module (go install from the module proxy)"; exit 3; }
  say "building $module (once; cached as $out)"
  tmp="$(mktemp -d)"
  # One compile job at a time: the machine is shared.
  GOBIN="$tmp" GOFLAGS=-p=1 go install "$module"
  mkdir -p "$bin"
  # The one command the module path names (for …/kustomize/v5, `kustomize`).
  local built=("$tmp"/*)
  [ ${#built[@]} -eq 1 ] && [ -x "${built[0]}" ] || { say "go install $module left ${built[*]}"; exit 1; }
  mv "${built[0]}" "$out"
  rm -rf "$tmp"
}
build "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" "$kustomize"
build "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" "$kubeconform"

for v in $K8S_VERSIONS; do
  dir="$schemas/v$v-local-strict"
  [ -f "$dir/service-v1.json" ] && continue
  command -v python3 >/dev/null 2>&1 || { say "python3 is needed to fetch the schemas (pip download kubernetes-validate)"; exit 3; }
  python3 -m pip --version >/dev/null 2>&1 || { say "pip is needed to fetch the schemas (pip download kubernetes-validate)"; exit 3; }
  wheels="$cache/wheels"
  mkdir -p "$wheels"
  wheel="$wheels/kubernetes_validate-$SCHEMAS_VERSION-py3-none-any.whl"
  if [ ! -f "$wheel" ]; then
    say "fetching kubernetes-validate==$SCHEMAS_VERSION from PyPI (the schemas only are used)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" "kubernetes-validate==$SCHEMAS_VERSION" >&2
  fi
  say "extracting the v$v strict schemas into $dir"
  python3 - "$wheel" "v$v-local-strict" "$dir" <<'PY'
import json, os, sys, zipfile
wheel, name, out = sys.argv[1:]
prefix = f"kubernetes_validate/kubernetes-json-schema/{name}/"
tmp = out + ".tmp"
os.makedirs(tmp, exist_ok=True)
n = 0
with zipfile.ZipFile(wheel) as z:
    for entry in z.namelist():
        if not entry.startswith(prefix) or not entry.endswith(".json"):
            continue
        doc = json.loads(z.read(entry))
        doc.pop("$id", None)
        text = json.dumps(doc).replace('"/api/_definitions.json#', '"_definitions.json#')
        with open(os.path.join(tmp, entry[len(prefix):]), "w", encoding="utf-8") as f:
            f.write(text)
        n += 1
if n == 0:
    sys.exit(f"no schemas under {prefix} in {wheel}")
os.replace(tmp, out)
PY
done

echo "kustomize=$kustomize"
echo "kubeconform=$kubeconform"
echo "schemas=$schemas/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
echo "kubernetes_versions=$K8S_VERSIONS"
