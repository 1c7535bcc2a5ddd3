#!/usr/bin/env bash
# Usage: deploy/swarm/build.sh [--help]
#
# Builds the stack's images on this Docker engine (the classic builder is enough):
#   local/debian:bookworm      the base: made with debootstrap when missing (no image registry needed; needs root)
#   aisystem/dotnet-runtime    ICU, OpenSSL, CA certificates, curl and this machine's .NET runtime (once per version)
#   aisystem/master, aisystem/worker   the apps, published here with `dotnet publish -c Release`
#   aisystem/mosquitto, aisystem/postgres
# It also publishes aictl to artifacts/swarm/aictl for monitor.sh.
#
# Environment:
#   TAG                   one tag for every image; default: each image is tagged with its content id (and latest),
#                         written to artifacts/swarm/tags.env for deploy.sh, so a deploy restarts only what changed
#   REGISTRY=host:port    also tag the images as host:port/aisystem/... and push them there (for multi-node swarms)
#   DEBIAN_MIRROR=url     mirror for debootstrap (default: the first URIs: of /etc/apt/sources.list.d/debian.sources)
fixed_tag="${TAG:-}"
source "$(dirname "$0")/lib.sh"
if wants_help "$@"; then usage; exit 0; fi
[ $# -eq 0 ] || die "unexpected argument '$1' (see --help)"
need_docker
export DOCKER_BUILDKIT=0
OUT="$REPO_ROOT/artifacts/swarm"
started=$SECONDS

rm -rf "$OUT/publish" "$OUT/aictl"
mkdir -p "$OUT"

# The base image, made with debootstrap when missing (in the background, while the apps are published).
make_base() {
  command -v debootstrap >/dev/null || die "the base image local/debian:bookworm is missing and debootstrap is not installed (apt-get install debootstrap)"
  local mirror rootfs
  mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
  [ -n "$mirror" ] || die "no Debian mirror: set DEBIAN_MIRROR"
  rootfs="$(mktemp -d)"
  say "base image local/debian:bookworm (debootstrap from $mirror)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$OUT/debootstrap.log" 2>&1 ||
    { rm -rf "$rootfs"; die "debootstrap failed; see $OUT/debootstrap.log"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - local/debian:bookworm >/dev/null
  rm -rf "$rootfs"
}
base_job=""
if ! docker image inspect local/debian:bookworm >/dev/null 2>&1; then make_base & base_job=$!; fi

# docker build, quiet unless it fails (then its whole output, minus the classic builder's deprecation notice).
docker_build() {
  local log; log="$(mktemp)"
  if ! docker build "$@" >"$log" 2>&1; then
    grep -v -e '^DEPRECATED' -e '^ *BuildKit is currently disabled' -e '^ *environment-variable' "$log" >&2; rm -f "$log"
    die "docker build $* failed"
  fi
  rm -f "$log"
}

tags="$(mktemp)"
build() { # name, context, extra args...
  local name="$1" context="$2" tag; shift 2
  docker_build -t "aisystem/$name:latest" -f "$SWARM_DIR/images/$name/Dockerfile" "$@" "$context"
  tag="${fixed_tag:-$(docker image inspect --format '{{.Id}}' "aisystem/$name:latest" | cut -d: -f2 | cut -c1-12)}"
  docker tag "aisystem/$name:latest" "aisystem/$name:$tag"
  echo "$(echo "$name" | tr '[:lower:]' '[:upper:]')_TAG=$tag" >> "$tags"
  say "image $IMAGE_PREFIX/$name:$tag"
  if [ -n "$REGISTRY" ]; then
    docker tag "aisystem/$name:$tag" "$REGISTRY/aisystem/$name:$tag"
    docker push -q "$REGISTRY/aisystem/$name:$tag" >/dev/null
  fi
}
say "publishing master, worker and aictl (Release)"
for app in Master Worker; do
  lower="$(echo "$app" | tr '[:upper:]' '[:lower:]')"
  dotnet publish "$REPO_ROOT/src/$app/$app.csproj" -c Release -r linux-x64 --self-contained false -p:UseAppHost=false \
    -o "$OUT/publish/$lower" -v q -nologo >/dev/null || die "dotnet publish of $app failed"
done
dotnet publish "$REPO_ROOT/src/Ctl/Ctl.csproj" -c Release -p:UseAppHost=false -o "$OUT/aictl" -v q -nologo >/dev/null ||
  die "dotnet publish of aictl failed"

if [ -n "$base_job" ]; then wait "$base_job" || die "the base image could not be made"; fi
# Mosquitto and PostgreSQL (apt downloads) build while the runtime image is made.
build mosquitto "$SWARM_DIR/images/mosquitto" > "$OUT/mosquitto.log" 2>&1 & infra_mosquitto=$!
build postgres "$SWARM_DIR/images/postgres" > "$OUT/postgres.log" 2>&1 & infra_postgres=$!

# The runtime the apps were published against, copied from this machine's .NET install.
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime_version="$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" && $2 ~ /^10\./ { v = $2 } END { print v }')"
aspnet_version="$(dotnet --list-runtimes | awk '$1 == "Microsoft.AspNetCore.App" && $2 ~ /^10\./ { v = $2 } END { print v }')"
[ -n "$runtime_version" ] && [ -n "$aspnet_version" ] || die "no .NET 10 and ASP.NET Core 10 runtime found in $dotnet_root"
recipe="$(sha256sum "$SWARM_DIR/images/runtime/Dockerfile" | cut -c1-8)"
runtime_image="aisystem/dotnet-runtime:$runtime_version-aspnet$aspnet_version-$recipe"
if ! docker image inspect "$runtime_image" >/dev/null 2>&1; then
  say "runtime image $runtime_image"
  rm -rf "$OUT/dotnet"; mkdir -p "$OUT/dotnet/shared"
  cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$OUT/dotnet/"
  cp -a "$dotnet_root"/LICENSE.txt "$dotnet_root"/ThirdPartyNotices.txt "$OUT/dotnet/" 2>/dev/null || true
  mkdir -p "$OUT/dotnet/shared/Microsoft.NETCore.App" "$OUT/dotnet/shared/Microsoft.AspNetCore.App"
  cp -a "$dotnet_root/shared/Microsoft.NETCore.App/$runtime_version" "$OUT/dotnet/shared/Microsoft.NETCore.App/"
  cp -a "$dotnet_root/shared/Microsoft.AspNetCore.App/$aspnet_version" "$OUT/dotnet/shared/Microsoft.AspNetCore.App/"
  docker_build -t "$runtime_image" -f "$SWARM_DIR/images/runtime/Dockerfile" "$REPO_ROOT"
fi
rm -rf "$OUT/dotnet"

build master "$REPO_ROOT" --build-arg "RUNTIME_IMAGE=$runtime_image"
build worker "$REPO_ROOT" --build-arg "RUNTIME_IMAGE=$runtime_image"
for job in mosquitto postgres; do
  pid_var="infra_$job"
  wait "${!pid_var}" || { cat "$OUT/$job.log" >&2; die "the $job image failed"; }
  cat "$OUT/$job.log"; rm -f "$OUT/$job.log"
done
mv "$tags" "$TAGS_FILE"
say "images built in $((SECONDS - started)) s; deploy.sh will use $(tr '\n' ' ' < "$TAGS_FILE")"
