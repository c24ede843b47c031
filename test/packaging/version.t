#!/usr/bin/env bash
# The packages' version follows the software's: debian/changelog's newest
# entry is chatgenius.control's default_version, which the helper compiles
# in (--version) and the extension installs.  debian/rules refuses to build
# otherwise; this catches it without a build.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
cd "$TOP" || exit 1

NEWEST=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" chatgenius.control)
[ -n "$NEWEST" ] || bail_out "no default_version in chatgenius.control"
is "$(dpkg-parsechangelog -S Version)" "$NEWEST" \
	"debian/changelog's newest entry is default_version $NEWEST (add one with dch -v $NEWEST)"
ok "$([ -f "sql/chatgenius--$NEWEST.sql" ] || ls sql/chatgenius--*--"$NEWEST".sql >/dev/null 2>&1; echo $?)" \
	"an install or update script reaches $NEWEST"
HELPER=helper/chatgenius-tunnel
if [ -x "$HELPER" ]; then
	like "$("$HELPER" --version)" "^chatgenius-tunnel $NEWEST( |\$)" "the helper says $NEWEST"
fi
grep -q 'dpkg-parsechangelog -S Version' debian/rules
ok $? "debian/rules compares the two before it builds"
done_testing
