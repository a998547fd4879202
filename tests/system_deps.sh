#!/usr/bin/env bash
# Installs the real tools the tests use, from Debian's packages, when they are missing.
# Run as root (CI and the dev machines are root); elsewhere it says what to install.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v sadf >/dev/null || need+=(sysstat)
command -v sos >/dev/null || command -v sosreport >/dev/null || need+=(sosreport)
command -v dash >/dev/null || need+=(dash)
command -v busybox >/dev/null || need+=(busybox)
locale -a 2>/dev/null | grep -qi '^de_DE.utf8$' || need+=(locales-all)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v openssl >/dev/null || need+=(openssl)
command -v setpriv >/dev/null || need+=(util-linux)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "tests need these Debian packages: ${need[*]} (run as root or install them)" >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt-get (unattended-upgrades, a second checkout's `make test`) may hold apt's locks: wait
# for it instead of failing. DPkg::Lock::Timeout covers dpkg's lock (apt >= 1.9.11); `update` does
# not wait for the package lists' lock, so it is retried for as long.
LOCK_WAIT=600
APT=(apt-get -o DPkg::Lock::Timeout=$LOCK_WAIT)
deadline=$((SECONDS + LOCK_WAIT))
until err=$("${APT[@]}" update -qq 2>&1 >/dev/null); do
  if ! grep -q 'Could not get lock' <<<"$err" || [ $SECONDS -ge $deadline ]; then
    echo "$err" >&2
    exit 1
  fi
  [ -n "${waiting-}" ] || echo "waiting up to ${LOCK_WAIT} s for another apt-get to finish" >&2
  waiting=1
  sleep 5
done
[ -z "$err" ] || echo "$err" >&2
"${APT[@]}" install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
