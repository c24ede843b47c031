#!/usr/bin/env bash
# Install the Debian packages for real, use them, purge them:
#   dpkg -i postgresql-15-chatgenius and chatgenius-tunnel (built from a clean
#   copy of the tree), check the system user and /etc/chatgenius-tunnel
#   (0700), create the extension from the installed package in a throwaway
#   cluster through the installed helper's setup, run /usr/bin/chatgenius-tunnel
#   as the system user, then dpkg --purge both and check that nothing is left.
#
#   bash test/packaging/install.sh
#
# It writes into the system's /usr/lib/postgresql/15 and /usr/share/postgresql/15
# (and /usr/bin, /etc, the user database): run it on its own, not beside other
# test runs.  Files of the same names that were there before (a make install
# into the system tree) are put back afterwards; the system user is removed
# again when this script made it.  TAP output.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
FX_PGBIN=/usr/lib/postgresql/15/bin
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/app_lib.sh"
fx_init pkg-install

for p in postgresql-15-chatgenius chatgenius-tunnel; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		bail_out "$p is installed already: this script installs and purges it"
	fi
done

PKG=$FX_DIR/pkg
bash "$TOP/test/packaging/build.sh" "$PKG" >"$FX_DIR/build.out" 2>&1 ||
	bail_out "build failed: $(tail -20 "$FX_DIR/build.out")"
EXT_DEB=$(ls "$PKG"/postgresql-15-chatgenius_*_*.deb)
HELPER_DEB=$(ls "$PKG"/chatgenius-tunnel_*_*.deb)

# Files the packages will own that exist now (unowned): keep them.
BACKUP=$FX_DIR/backup
mkdir -p "$BACKUP"
mapfile -t OWNED < <(for d in "$EXT_DEB" "$HELPER_DEB"; do dpkg-deb -c "$d"; done |
	awk '$1 !~ /^d/ {print substr($6, 2)}')
[ "${#OWNED[@]}" -gt 10 ] || bail_out "cannot list the packages' files"
for f in "${OWNED[@]}"; do
	[ -e "$f" ] && cp -a --parents "$f" "$BACKUP/"
done
USER_BEFORE=no
getent passwd chatgenius-tunnel >/dev/null && USER_BEFORE=yes

restore()
{
	# files only: the folders above them keep their own modes
	local f
	while IFS= read -r -d '' f; do
		f=${f#./}
		mkdir -p "$(dirname "/$f")"
		cp -p "$BACKUP/$f" "/$f" || diag "could not put back /$f"
	done < <(cd "$BACKUP" && find . -type f -print0)
	if [ "$USER_BEFORE" = no ] && getent passwd chatgenius-tunnel >/dev/null; then
		deluser --quiet --system chatgenius-tunnel >/dev/null 2>&1
		getent group chatgenius-tunnel >/dev/null && delgroup --quiet --system chatgenius-tunnel >/dev/null 2>&1
	fi
}

DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock dpkg -i "$EXT_DEB" "$HELPER_DEB" >"$FX_DIR/dpkg-i.log" 2>&1
ok $? "dpkg -i installs both packages" || diag "$(tail -10 "$FX_DIR/dpkg-i.log")"
ok "$(getent passwd chatgenius-tunnel >/dev/null && echo 0 || echo 1)" "postinst made the system user chatgenius-tunnel"
is "$(stat -c '%a %U' /etc/chatgenius-tunnel)" "700 chatgenius-tunnel" "/etc/chatgenius-tunnel is 0700, owned by the service user"
ok "$([ -f /lib/systemd/system/chatgenius-tunnel.service ] && echo 0 || echo 1)" "the unit is installed"
for uri in $(sed -n 's/^Documentation=//p' /lib/systemd/system/chatgenius-tunnel.service | tr ' ' '\n' | grep '^file://'); do
	ok "$([ -f "${uri#file://}" ] && echo 0 || echo 1)" "the unit's Documentation=$uri is installed"
done
NEWEST=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$TOP/chatgenius.control")
like "$(/usr/bin/chatgenius-tunnel --version)" "^chatgenius-tunnel $NEWEST " "/usr/bin/chatgenius-tunnel runs"

fx_pg_start
fx_sshd_start
fx_env_file "$FX_DIR/setup.env" POSTGRES_USER=postgres "POSTGRES_PASSWORD=$FX_SUPER_PASSWORD"
(cd "$FX_DIR" && timeout 120 /usr/bin/chatgenius-tunnel setup --env-file "$FX_DIR/setup.env") >"$FX_DIR/setup.out" 2>&1
is "$?" 0 "the installed helper's setup creates the installed extension" || diag "$(tail -5 "$FX_DIR/setup.out")"
app_install_extension
is "$(psql -qXAt -d "$FX_APP_DB" -c "SELECT chatgenius.health_summary() IN ('ok', 'warn', 'critical')")" t \
	"the installed library answers health_summary()"

# the helper as the system user, with its files owned by it
SVC=$FX_DIR/svc
install -d -m 0700 -o chatgenius-tunnel -g chatgenius-tunnel "$SVC"
install -m 0600 -o chatgenius-tunnel "$FX_SSH_KEY" "$SVC/id_ed25519"
install -m 0600 -o chatgenius-tunnel "$FX_KNOWN_HOSTS" "$SVC/known_hosts"
fx_env_file "$SVC/env" TUNNEL_NAME=installed "SSH_KEY_PATH=$SVC/id_ed25519" "SSH_KNOWN_HOSTS=$SVC/known_hosts" \
	"TUNNEL_STATE_DIR=$SVC/state"
chown chatgenius-tunnel "$SVC/env"
(cd "$SVC" && exec setpriv --reuid=chatgenius-tunnel --regid=chatgenius-tunnel --clear-groups \
	/usr/bin/chatgenius-tunnel run --env-file "$SVC/env") \
	>"$FX_DIR/run.log" 2>&1 &
RUN_PID=$!
FX_PIDS+=("$RUN_PID")
connected()
{
	[ "$(psql -qXAt -d "$FX_APP_DB" -c "SELECT state FROM chatgenius.tunnel_status WHERE tunnel_name = 'installed' AND last_heartbeat IS NOT NULL")" = connected ]
}
fx_wait_for 30 "installed tunnel connected" connected
ok $? "/usr/bin/chatgenius-tunnel runs the tunnel as the system user" || diag "$(tail -5 "$FX_DIR/run.log")"
kill -TERM "$RUN_PID"
fx_wait_exit "$RUN_PID" 20
is "$FX_RC" 0 "and stops cleanly"
fx_pg_stop

DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock dpkg --purge chatgenius-tunnel postgresql-15-chatgenius >"$FX_DIR/dpkg-p.log" 2>&1
ok $? "dpkg --purge removes both packages" || diag "$(tail -10 "$FX_DIR/dpkg-p.log")"
left=()
for f in "${OWNED[@]}" /etc/chatgenius-tunnel; do
	[ -e "$f" ] && left+=("$f")
done
is "${left[*]}" "" "nothing of the packages is left"
restore
kept=$(cd "$BACKUP" && find . -type f | sed 's|^\.||' | sort)
put_back=$(for f in $kept; do [ -e "$f" ] && printf '%s\n' "$f"; done)
is "$put_back" "$kept" "files of the same names that were there before are back"
done_testing
