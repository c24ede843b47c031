#!/usr/bin/env bash
# The Debian packages, built as from a clean clone (test/packaging/build.sh)
# and checked without touching the system: lintian reports no error; the
# contents are where Debian and the unit expect them; both packages are
# unpacked (dpkg-deb -x) over a private copy of PostgreSQL 15's tree, a
# throwaway cluster from that tree creates the extension through the
# packaged helper's setup, and the packaged helper runs the tunnel.
# A real dpkg -i / purge is test/packaging/install.sh (it writes into the
# system's PostgreSQL tree, so it is run on its own).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/app_lib.sh"
fx_init packages

# has_line TEXT ERE DESCRIPTION: one line of TEXT matches ERE.
has_line()
{
	printf '%s\n' "$1" | grep -qE -- "$2"
	ok $? "$3"
}

PKG=$FX_DIR/pkg
t0=$SECONDS
bash "$TOP/test/packaging/build.sh" "$PKG" >"$FX_DIR/build.out" 2>&1
ok $? "dpkg-buildpackage -us -uc -b builds from a clean copy of the tree" ||
	bail_out "build failed: $(tail -20 "$FX_DIR/build.out")"
diag "build took $((SECONDS - t0)) s"
EXT_DEB=$(ls "$PKG"/postgresql-15-chatgenius_*_*.deb)
HELPER_DEB=$(ls "$PKG"/chatgenius-tunnel_*_*.deb)

lintian "$PKG"/*.changes >"$FX_DIR/lintian.log" 2>&1
is "$(grep -c '^E:' "$FX_DIR/lintian.log")" 0 "lintian reports no error"
diag "lintian: $(grep -c '^W:' "$FX_DIR/lintian.log") warning(s): $(grep '^W:' "$FX_DIR/lintian.log" | cut -d' ' -f2- | tr '\n' ';')"
is "$(grep -E '^[EW]: .*(manual-page|manpage)' "$FX_DIR/lintian.log")" "" "lintian reports nothing about the manual pages"

# ---------------------------------------------------------------- contents

contents()
{
	dpkg-deb -c "$1" | awk '{print $1, $2, $6}'
}
EXT_C=$(contents "$EXT_DEB")
HELPER_C=$(contents "$HELPER_DEB")
for f in usr/lib/postgresql/15/lib/chatgenius.so usr/share/postgresql/15/extension/chatgenius.control; do
	has_line "$EXT_C" " \\./$f\$" "postgresql-15-chatgenius ships /$f"
done
NEWEST=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$TOP/chatgenius.control")
for f in "$TOP"/sql/chatgenius--*.sql; do
	has_line "$EXT_C" " \\./usr/share/postgresql/15/extension/$(basename "$f")\$" \
		"postgresql-15-chatgenius ships $(basename "$f")"
done
has_line "$EXT_C" " \\./usr/share/postgresql/15/extension/chatgenius-postgres-exporter\\.yaml\$" \
	"postgresql-15-chatgenius ships the queries file for prometheus-postgres-exporter"
unlike "$EXT_C" "chatgenius-tunnel" "the extension package does not carry the helper"
has_line "$HELPER_C" "^-rwxr-xr-x root/root \\./usr/bin/chatgenius-tunnel\$" "chatgenius-tunnel ships /usr/bin/chatgenius-tunnel"
has_line "$HELPER_C" " \\./lib/systemd/system/chatgenius-tunnel.service\$" "and the unit (dh_installsystemd)"
has_line "$HELPER_C" " \\./lib/systemd/system/chatgenius-tunnel.socket\$" "and the socket unit"
has_line "$HELPER_C" " \\./usr/share/doc/chatgenius-tunnel/README.md\$" "and README.md uncompressed"
for d in NEWS.md "$TOP"/doc/*.md; do
	d=${d#"$TOP"/}
	has_line "$HELPER_C" " \\./usr/share/doc/chatgenius-tunnel/$d\$" "and $d uncompressed, where the README links it"
	has_line "$EXT_C" " \\./usr/share/doc/postgresql-15-chatgenius/$d\$" "postgresql-15-chatgenius ships $d too"
done
has_line "$HELPER_C" " \\./usr/share/doc/chatgenius-tunnel/examples/.env.example\$" "and .env.example"
has_line "$HELPER_C" "^drwx.* \\./etc/chatgenius-tunnel/\$" "and /etc/chatgenius-tunnel/"
has_line "$HELPER_C" " \\./usr/share/man/man8/chatgenius-tunnel\\.8\\.gz\$" "and chatgenius-tunnel(8)"
has_line "$HELPER_C" " \\./usr/share/man/man5/chatgenius-tunnel\\.env\\.5\\.gz\$" "and chatgenius-tunnel.env(5)"

mkdir -p "$FX_DIR/ctl"
dpkg-deb -e "$HELPER_DEB" "$FX_DIR/ctl"
POSTINST=$(cat "$FX_DIR/ctl/postinst")
like "$POSTINST" "adduser --quiet --system --group" "postinst makes the system user with adduser --system"
like "$POSTINST" "chmod 0700 /etc/chatgenius-tunnel" "postinst makes /etc/chatgenius-tunnel 0700"
unlike "$POSTINST" "deb-systemd-invoke start" "the service is not started before it is configured"
UNIT=$(dpkg-deb --fsys-tarfile "$HELPER_DEB" | tar -xOf - ./lib/systemd/system/chatgenius-tunnel.service)
DOC=$(printf '%s\n' "$UNIT" | sed -n 's/^Documentation=//p')
like "$DOC" "file:///usr/share/doc/chatgenius-tunnel/README.md" "the unit's Documentation= names the installed README"
like "$DOC" "file:///usr/share/doc/chatgenius-tunnel/doc/operations.md" "and the operators' document"
for uri in $(printf '%s\n' "$DOC" | tr ' ' '\n' | grep '^file://'); do
	has_line "$HELPER_C" " \\.${uri#file://}\$" "the package ships the unit's Documentation=$uri"
done
like "$(printf '%s\n' "$UNIT" | grep '^ExecStart=')" "^ExecStart=/usr/bin/chatgenius-tunnel run --env-file /etc/chatgenius-tunnel/env\$" \
	"the unit runs /usr/bin/chatgenius-tunnel by its full path, with the env file"
like "$(printf '%s\n' "$UNIT" | grep '^Type=')" "^Type=notify\$" "the unit is Type=notify"
is "$UNIT" "$(cat "$TOP/helper/chatgenius-tunnel.service")" "the packaged unit is helper/chatgenius-tunnel.service"
like "$(dpkg-deb -f "$EXT_DEB" Depends)" "postgresql-15" "the extension package depends on postgresql-15"

# ---------------------------------------------------------------- from the packages, unpacked

ROOT=$FX_DIR/root
mkdir -p "$ROOT/usr/lib/postgresql" "$ROOT/usr/share/postgresql"
cp -a /usr/lib/postgresql/15 "$ROOT/usr/lib/postgresql/"
cp -a /usr/share/postgresql/15 "$ROOT/usr/share/postgresql/"
rm -f "$ROOT"/usr/lib/postgresql/15/lib/chatgenius.so "$ROOT"/usr/share/postgresql/15/extension/chatgenius*
dpkg-deb -x "$EXT_DEB" "$ROOT"
dpkg-deb -x "$HELPER_DEB" "$ROOT"
chmod 755 "$ROOT"
FX_PGBIN=$ROOT/usr/lib/postgresql/15/bin
FX_HELPER=$ROOT/usr/bin/chatgenius-tunnel
fx_pg_start
fx_sshd_start

like "$("$FX_HELPER" --version)" "^chatgenius-tunnel $NEWEST " "the packaged helper runs (--version $NEWEST)"

fx_env_file "$FX_DIR/setup.env" POSTGRES_USER=postgres "POSTGRES_PASSWORD=$FX_SUPER_PASSWORD"
(cd "$FX_DIR" && timeout 120 "$FX_HELPER" setup --env-file "$FX_DIR/setup.env") >"$FX_DIR/setup.out" 2>&1
is "$?" 0 "the packaged helper's setup creates the packaged extension through the tunnel"
app_install_extension # the documented grants for the app role (the extension exists: setup made it)
is "$(psql -qXAt -d "$FX_APP_DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")" "$NEWEST" \
	"the extension is at $NEWEST"
is "$(psql -qXAt -d "$FX_APP_DB" -c "SELECT chatgenius.health_summary() IN ('ok', 'warn', 'critical')")" t \
	"its C library (from the package) answers health_summary()"

fx_env_file "$FX_DIR/run.env" TUNNEL_NAME=packaged
fx_give_tunnel "$FX_DIR/run.env"	# setup's step for the service's role (its env file names postgres)
(cd "$FX_DIR" && exec "$FX_HELPER" run --env-file "$FX_DIR/run.env") >"$FX_DIR/run.log" 2>&1 &
RUN_PID=$!
FX_PIDS+=("$RUN_PID")
connected()
{
	[ "$(psql -qXAt -d "$FX_APP_DB" -c "SELECT state FROM chatgenius.tunnel_status WHERE tunnel_name = 'packaged' AND last_heartbeat IS NOT NULL")" = connected ]
}
fx_wait_for 30 "packaged tunnel connected" connected
ok $? "the packaged helper brings the tunnel up and writes its heartbeat"
is "$(fx_app_psql -At -c 'SELECT 1')" 1 "a client goes through the packaged tunnel"
kill -TERM "$RUN_PID"
fx_wait_exit "$RUN_PID" 20
is "$FX_RC" 0 "the packaged helper stops cleanly on SIGTERM"

done_testing
