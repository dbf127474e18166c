#!/usr/bin/env bash
# Makes `docker compose` (Compose v2) available when the docker CLI lacks it: builds the plugin from
# its module source fetched through the Go module proxy, once, into a cache dir. (`go install
# …@version` refuses: compose's go.mod has exclude directives; building inside the module works.)
#   docker/compose-plugin.sh        (needs Go >= 1.21; its toolchain directive fetches a newer Go if needed)
set -euo pipefail
version="${COMPOSE_VERSION:-v5.6.0}"
cache="${STOQ_CACHE:-$HOME/.cache/stoq}"
plugin="$cache/bin/docker-compose-$version"
if docker compose version >/dev/null 2>&1; then
  echo "compose-plugin: $(docker compose version)"
  exit 0
fi
if [ ! -x "$plugin" ]; then
  command -v go >/dev/null 2>&1 || { echo "compose-plugin: Go is needed to build docker compose $version" >&2; exit 1; }
  echo "compose-plugin: building github.com/docker/compose/v5@$version from the Go module proxy (a few minutes)"
  src="$(cd / && go mod download -json "github.com/docker/compose/v5@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { echo "compose-plugin: go mod download gave no source dir" >&2; exit 1; }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -R "$src/." "$work/" && chmod -R u+w "$work"
  mkdir -p "$cache/bin"
  (cd "$work" && GOFLAGS=-mod=mod go build -o "$plugin.tmp" ./cmd) && mv "$plugin.tmp" "$plugin"
fi
mkdir -p "$HOME/.docker/cli-plugins"
ln -sfn "$plugin" "$HOME/.docker/cli-plugins/docker-compose"
echo "compose-plugin: $(docker compose version)"
