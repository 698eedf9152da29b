#!/usr/bin/env bash
# apt-install.sh PKG...: install Debian packages the tests, the demo and the
# bench need, without letting them start their own services. Packages such
# as conntrackd, bird2, keepalived, haproxy and nginx start a daemon in the
# host's root network namespace when installed on a machine with an init
# system (conntrackd would join a sync multicast group on the LAN, bird
# would open BGP sessions): hapair's targets install them only to run them
# in their own namespaces, so a temporary policy-rc.d (invoke-rc.d's hook,
# exit 101 = "action forbidden") refuses every start during the install. An
# existing policy-rc.d is left as it is.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: apt-install.sh PKG..." >&2; exit 2; }
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: $* (no apt-get; install them by hand)" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from hapair test/apt-install.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
echo "installing: $*"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
