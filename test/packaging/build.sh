#!/usr/bin/env bash
# Build the Debian packages from a clean copy of the source tree (the files
# git knows, committed or not), as a clean clone would: build-dependencies
# checked, then dpkg-buildpackage -us -uc -b.  Nothing is installed.
#
#   test/packaging/build.sh OUTDIR
#
# OUTDIR receives the .deb files, the build log (build.log) and lintian's
# report (lintian.log).  Exits non-zero when the build fails.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
src=$out/chatgenius
rm -rf "$src"
mkdir -p "$src"
# A clean clone of the working tree: what git tracks or would track.
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 -I{} sh -c '[ -e "{}" ] || [ -L "{}" ] && printf "%s\0" "{}"' |
	tar --null -T - -cf -) | tar -C "$src" -xf -
cd "$src"
# The build-dependencies of debian/control must be installed (apt-get
# build-dep ./ installs them on a fresh machine).
dpkg-checkbuilddeps
# The build runs outside the caller's PostgreSQL tree.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	exit 1
}
ls "$out"/*.deb
