#!/bin/sh
# Install the Debian packages the tests need, if they are missing: prometheus and
# promtool (integration tests backfill and query a real server) and chromium (the
# report is checked in a real headless browser), and Debian's kubectl (package
# kubernetes-client: the live Kubernetes tests hold their stand-in API server to what it
# accepts; openssl makes its test certificate). Idempotent; runs apt only when needed.
set -eu
# Where Debian's kubectl is unpacked when another package (e.g. a cloud SDK's kubectl)
# already owns /usr/bin/kubectl; tests/collectors/kube_api_server.py looks here too.
KUBECTL_DIR=/opt/debian-kubernetes-client
missing=""
kubectl_aside=""
if ! dpkg -s kubernetes-client >/dev/null 2>&1 && [ ! -x "$KUBECTL_DIR/usr/bin/kubectl" ]; then
  if [ -e /usr/bin/kubectl ]; then kubectl_aside=1; else missing="$missing kubernetes-client"; fi
fi
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
command -v promtool   >/dev/null 2>&1 || missing="$missing prometheus"
command -v chromium   >/dev/null 2>&1 || missing="$missing chromium"
command -v openssl    >/dev/null 2>&1 || missing="$missing openssl"
[ -z "$missing" ] && [ -z "$kubectl_aside" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "need root to install:$missing (run as root or install them yourself)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $(echo $missing | tr ' ' '\n' | sort -u)
fi
if [ -n "$kubectl_aside" ]; then
  # /usr/bin/kubectl belongs to another package: unpack Debian's beside it, not over it
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  (cd "$tmp" && apt-get download kubernetes-client)
  $SUDO mkdir -p "$KUBECTL_DIR"
  $SUDO dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$KUBECTL_DIR"
  rm -rf "$tmp"
fi
