#!/usr/bin/env bash
# Builds the base image offline from Debian's packages, for hosts that cannot pull from an image
# registry: debootstrap (minbase bookworm) + `docker import`. The root filesystem is cached as a
# tarball, so later runs (or a wiped engine) only import it again.
#   docker/base-image.sh [IMAGE]         (default stoq-base:bookworm; needs root and debootstrap)
# Then: BASE_IMAGE=stoq-base:bookworm docker compose -f docker/compose.yaml up -d --build --wait
set -euo pipefail
image="${1:-stoq-base:bookworm}"
cache="${STOQ_CACHE:-$HOME/.cache/stoq}"
tarball="$cache/stoq-base-bookworm-rootfs.tar"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base-image: $image is present"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  echo "base-image: debootstrap --variant=minbase bookworm (a few minutes)"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log"; exit 1; }
  # Nothing of the build host's apt state in the image.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
docker import "$tarball" "$image" >/dev/null
echo "base-image: imported $image from $tarball"
