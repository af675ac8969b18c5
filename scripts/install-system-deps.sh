#!/bin/sh
# Install the Debian packages the tests need, if they are missing: prometheus and
# promtool (integration tests backfill and query a real server), victoria-metrics (the
# same live tests against a second engine with the same query API) and chromium (the
# report is checked in a real headless browser), and Debian's kubectl (package
# kubernetes-client: the live Kubernetes tests hold their stand-in API server to what it
# accepts; openssl makes the test certificates of the local servers), and what the fault
# lab runs (`rca lab`, tests/integration/test_lab.py): dnsmasq-base (dnsmasq without its
# system service), nginx, iptables, nftables, prometheus-node-exporter, iproute2.
# Idempotent; runs apt only when needed, and never leaves a system service of nginx,
# dnsmasq or node_exporter running (the lab starts its own, by PID).
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
command -v victoria-metrics >/dev/null 2>&1 || missing="$missing victoria-metrics"
[ -x /usr/sbin/dnsmasq ] || missing="$missing dnsmasq-base"
[ -x /usr/sbin/nginx ]   || missing="$missing nginx"
command -v iptables   >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing="$missing iptables"
command -v nft        >/dev/null 2>&1 || [ -x /usr/sbin/nft ]      || missing="$missing nftables"
command -v prometheus-node-exporter >/dev/null 2>&1 || missing="$missing prometheus-node-exporter"
command -v ip         >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing="$missing iproute2"
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
  # policy-rc.d 101: packages must not start their services (nginx, node_exporter) here
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $(echo $missing | tr ' ' '\n' | sort -u)
  [ -n "$own_policy" ] && $SUDO rm -f "$policy"
  # where an init system started them anyway, stop them: the lab runs its own by PID
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for unit in nginx prometheus-node-exporter; do
      $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
fi
if [ -n "$kubectl_aside" ]; then
  # /usr/bin/kubectl belongs to another package: unpack Debian's beside it, not over it
  tmp=$(mktemp -d) && chmod 755 "$tmp"
  (cd "$tmp" && apt-get download kubernetes-client)
  $SUDO mkdir -p "$KUBECTL_DIR"
  $SUDO dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$KUBECTL_DIR"
  rm -rf "$tmp"
fi
