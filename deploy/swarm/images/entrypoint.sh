#!/bin/sh
# Starts a .NET app of AiSystem in a container. Akka.NET needs an address the other nodes can reach: unless the
# stack sets Akka__Hostname (the master uses its service name), this container's own address on the stack network.
set -eu
app="$1"; shift
if [ -z "${Akka__Hostname:-}" ] || [ "${Akka__Hostname}" = "auto" ]; then
  Akka__Hostname="$(hostname -i | awk '{print $1}')"
  export Akka__Hostname
fi
exec dotnet "/app/$app" "$@"
