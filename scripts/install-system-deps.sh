#!/bin/sh
# Install the Debian packages the tests need, if they are missing: prometheus and
# promtool (integration tests backfill and query a real server), victoria-metrics (the
# same live tests against a second engine with the same query API), openssl (TLS
# certificates for the local servers of the live-source tests) and chromium (the
# report is checked in a real headless browser). Idempotent; runs apt only when needed.
set -eu
missing=""
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
command -v promtool   >/dev/null 2>&1 || missing="$missing prometheus"
command -v chromium   >/dev/null 2>&1 || missing="$missing chromium"
command -v openssl    >/dev/null 2>&1 || missing="$missing openssl"
command -v victoria-metrics >/dev/null 2>&1 || missing="$missing victoria-metrics"
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "need root to install:$missing (run as root or install them yourself)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $(echo $missing | tr ' ' '\n' | sort -u)
