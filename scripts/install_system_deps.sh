#!/usr/bin/env bash
# The system packages the tests need, from Debian's archive: chromium and its driver (the seller's
# page in a real browser), PostgreSQL (the shared sent-ledger) and nginx (a TLS endpoint in front
# of the dev server), and npm (axe-core for the page's accessibility checks, `npm ci` in tests/axe).
# `make test` runs this first; it does nothing when everything is there.
set -euo pipefail

PACKAGES=(chromium chromium-driver postgresql nginx)
need=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# npm may come with another Node.js package than Debian's: only the command matters.
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps.sh: missing ${need[*]} and no apt-get here: install them with your" \
        "system's package manager (the tests need chromium, chromedriver, PostgreSQL and nginx)" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_system_deps.sh: run as root (or install sudo) to install: ${need[*]}" >&2
        exit 1
    fi
fi

echo "installing ${need[*]} (Debian packages, once)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# policy-rc.d: install the PostgreSQL and nginx binaries without starting system services; the
# tests start their own servers on free ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
