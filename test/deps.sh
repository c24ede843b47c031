#!/usr/bin/env bash
# Install the Debian 12 packages that building and testing chatgenius needs,
# but only those missing: a machine that has them all is left untouched.
# Sourced or run by test/demo.sh and test/run-tests.sh, as root.
#
# The list is debian/control's Build-Depends (what building the packages
# needs, read from the file itself, so that the two cannot drift apart),
# build-essential (which dpkg-buildpackage takes for granted), and the
# test-only packages below.  A build dependency goes into debian/control;
# a package only the tests run is one line here.
set -euo pipefail

# node-postgres, for test/helper/refusal.t (what the app reads from an
# ErrorResponse): Debian's node-pg, which brings Debian's nodejs; where a
# nodejs from elsewhere is installed that node-pg cannot go with, npm's pg.
# First, before anything below may end the script early.
if ! NODE_PATH=/usr/share/nodejs:$(npm root -g 2>/dev/null || true) node -e 'require("pg")' 2>/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: node-postgres missing; run as root or install node-pg" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if ! command -v node >/dev/null || apt-get install -s -qq node-pg >/dev/null 2>&1; then
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends node-pg >/dev/null
	else
		npm install -g --no-audit --no-fund pg >/dev/null
	fi
	echo "deps: node-postgres installed" >&2
fi

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

TEST_PACKAGES=(
	build-essential:native # dpkg-checkbuilddeps's implicit build dependency
	git                    # test/packaging/build.sh copies the tree git knows
	pkg-config perl procps iproute2 openssl util-linux adduser
	postgresql-15 postgresql-client-15
	postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl
	postgresql-15-cron
	openssh-server openssh-client
	valgrind strace
	clang libclang-rt-14-dev # test/helper/asan.t, tsan.t, test/fuzz/
	dpkg-dev fakeroot lintian # test/packaging/
	patroni etcd-server haproxy curl # test/helper/ha_*.t (Patroni failover)
	prometheus prometheus-postgres-exporter # test/extension/exporter.t, test/helper/http_endpoint.t (promtool, the exporter)
	systemd # test/helper/socket_activation.t (systemd-socket-activate), deploy.t (systemd-analyze)
)

# build_depends CONTROL: the source paragraph's Build-Depends (and -Arch,
# -Indep) as one comma-separated relation list, folded lines joined.
build_depends()
{
	awk '
		/^$/ { exit }
		/^[^ \t#]/ { f = ($1 ~ /^Build-Depends(-Arch|-Indep)?:$/) }
		f { sub(/^Build-Depends(-Arch|-Indep)?:/, ""); printf "%s ", $0 }' "$1" |
		tr -s ' \t' ' ' | sed 's/^ *//; s/[ ,]*$//'
}

relations="$(build_depends "$top/debian/control")"
[ -n "$relations" ] || {
	echo "deps: no Build-Depends in debian/control" >&2
	exit 1
}
for pkg in "${TEST_PACKAGES[@]}"; do
	relations+=", $pkg"
done

# dpkg-checkbuilddeps (dpkg-dev) judges versions, alternatives and virtual
# packages (debhelper-compat) as the package build will; without it, dpkg-dev
# itself is missing.
if command -v dpkg-checkbuilddeps >/dev/null &&
	unmet=$(dpkg-checkbuilddeps -d "$relations" /dev/null 2>&1); then
	exit 0
fi
unmet=${unmet:-$relations (no dpkg-dev yet to tell which are there)}
unmet=${unmet#*Unmet build dependencies: }

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: $unmet; run as root or install them" >&2
	exit 1
fi
echo "deps: installing $unmet" >&2
export DEBIAN_FRONTEND=noninteractive
# The postgresql package would create and start a system cluster on
# port 5432; the tests never use it, so keep it from being created.
mkdir -p /etc/postgresql-common
if [ ! -e /etc/postgresql-common/createcluster.conf ] ||
	! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
	echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
fi
apt-get update -qq
# apt-get satisfy takes the relations as written (versions, :native,
# virtual packages), as apt-get build-dep would.
apt-get satisfy -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold "$relations" >/dev/null
echo "deps: done" >&2
