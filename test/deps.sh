#!/usr/bin/env bash
# Install the Debian 12 packages that building and testing chatgenius needs,
# but only those missing: a machine that has them all is left untouched.
# Sourced or run by test/demo.sh and test/run-tests.sh, as root.
set -euo pipefail

CHATGENIUS_PACKAGES=(
	make gcc libc6-dev pkg-config perl procps iproute2 openssl
	postgresql-15 postgresql-server-dev-15 postgresql-client-15
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl postgresql-15-cron
	libssh2-1-dev libpq-dev openssh-server openssh-client
	valgrind strace
	clang libclang-rt-14-dev
	dpkg-dev debhelper fakeroot lintian postgresql-server-dev-all util-linux
)

missing=()
for pkg in "${CHATGENIUS_PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]})); then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages: ${missing[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	# The postgresql package would create and start a system cluster on
	# port 5432; the tests never use it, so keep it from being created.
	mkdir -p /etc/postgresql-common
	if [ ! -e /etc/postgresql-common/createcluster.conf ] ||
		! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
		echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
	fi
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
	echo "deps: done" >&2
fi
