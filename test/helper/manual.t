#!/usr/bin/env bash
# The manual pages and the settings described once:
#  - chatgenius-tunnel.8 and chatgenius-tunnel.env.5 render with man -l and
#    no warning (LC_ALL=C MANWIDTH=80 man --warnings);
#  - config.c's settings table (as --help prints it) is the one source:
#    chatgenius-tunnel.env.5 has every setting with its flag, default, range
#    and SIGHUP, and nothing else; .env.example has every name with its
#    default; chatgenius-tunnel.8 has every event of helper/event_list.h
#    (which the code sends), every refusal of helper/refusal_list.h with
#    its words, and every command --help lists.  A failure says what to add, and where;
#  - make install puts the pages in man8 and man5 of HELPER_MANDIR (man finds
#    them there) and the unit, with ExecStart= its own bindir, in HELPER_UNITDIR;
#  - the unit exists once (debian/ links to helper/), Type=notify, and names
#    /usr/bin/chatgenius-tunnel by its full path; its TimeoutStopSec= is
#    above TUNNEL_SHUTDOWN_TIMEOUT; the socket unit exists once too, and make
#    install puts it beside the service;
#  - the HTTP endpoint's bounds (helper/http_server.h) are the ones the
#    manual and doc/operations.md give.
#
#   prove test/helper/manual.t   (FX_HELPER=... for another build)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
. test/lib/tap.sh
HELPER=${FX_HELPER:-$TOP/helper/chatgenius-tunnel}
[ -x "$HELPER" ] || bail_out "no helper at $HELPER (make -C helper)"
TMP=$(mktemp -d /tmp/chatgenius-manual.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- rendering
for page in helper/chatgenius-tunnel.8 helper/chatgenius-tunnel.env.5; do
	out=$(LC_ALL=C MANWIDTH=80 man --warnings -l "$page" 2>&1 >"$TMP/rendered")
	is "$out" "" "$page renders with man -l and no warning"
	cmp_ok "$(wc -l <"$TMP/rendered")" -gt 50 "$page renders to a page of text"
done
text=$(LC_ALL=C MANWIDTH=80 man -l helper/chatgenius-tunnel.8 2>/dev/null)
for section in SYNOPSIS COMMANDS OPTIONS CLIENTS SIGNALS SYSTEMD EVENTS ENVIRONMENT FILES 'EXIT STATUS' 'SEE ALSO'; do
	like "$text" $'\n'"$section"$'\n' "chatgenius-tunnel(8) has $section"
done
text5=$(LC_ALL=C MANWIDTH=80 man -l helper/chatgenius-tunnel.env.5 2>/dev/null)
like "$text5" $'\n   Grammar\n' "chatgenius-tunnel.env(5) describes the grammar"

# ---------------------------------------------------------------- described once
for kind in env5 example events refusals commands; do
	out=$(perl test/tools/settings_agree.pl "$HELPER" "$TOP" "$kind" 2>&1)
	is "$out" "" "settings agree ($kind): $(case $kind in
		env5) echo "chatgenius-tunnel.env.5 and config.c's table: names, flags, defaults, ranges, SIGHUP" ;;
		example) echo ".env.example and config.c's table: names and defaults" ;;
		events) echo "chatgenius-tunnel.8's EVENTS and the event_emit calls in helper/*.c against helper/event_list.h" ;;
		refusals) echo "chatgenius-tunnel.8's CLIENTS and helper/refusal_list.h: every SQLSTATE and its words" ;;
		commands) echo "chatgenius-tunnel.8's COMMANDS and --help" ;;
		esac)"
done
help=$("$HELPER" --help)
like "$help" 'TUNNEL_MAX_WAITING .*default: 64'$'\n'' .*0: none wait.*\(0 to 1000000\)' \
	"--help: TUNNEL_MAX_WAITING takes 0 (no waiting), as the code does"
unlike "$(cat helper/.env.example)" 'at least 1' ".env.example no longer says TUNNEL_MAX_WAITING is at least 1"
like "$help" 'chatgenius-tunnel\(8\), chatgenius-tunnel.env\(5\)' "--help names the manual pages"
like "$(cat README.md)" 'chatgenius-tunnel.env\(5\)' "the README links to the manual"
like "$(cat doc/operations.md)" 'chatgenius-tunnel.env\(5\)' "doc/operations.md points to the manual for the settings"

# ---------------------------------------------------------------- make install
make -s install DESTDIR="$TMP/dest" HELPER_MANDIR=/usr/local/share/man \
	HELPER_UNITDIR=/usr/local/lib/systemd/system >"$TMP/install.log" 2>&1
ok $? "make install DESTDIR=... runs" || diag "$(tail -5 "$TMP/install.log")"
is "$(MANPATH=$TMP/dest/usr/local/share/man man -w chatgenius-tunnel 2>&1)" \
	"$TMP/dest/usr/local/share/man/man8/chatgenius-tunnel.8" "man finds chatgenius-tunnel(8) in man8"
is "$(MANPATH=$TMP/dest/usr/local/share/man man -w 5 chatgenius-tunnel.env 2>&1)" \
	"$TMP/dest/usr/local/share/man/man5/chatgenius-tunnel.env.5" "man finds chatgenius-tunnel.env(5) in man5"
unit=$TMP/dest/usr/local/lib/systemd/system/chatgenius-tunnel.service
# The documents, where the unit's Documentation= looks (HELPER_DOCDIR).
docdir=$(find "$TMP/dest" -type d -path '*/share/doc/chatgenius-tunnel' | head -n 1)
[ -n "$docdir" ]
ok $? "make install makes the documents' folder .../share/doc/chatgenius-tunnel"
for d in README.md NEWS.md doc/*.md; do
	cmp -s "$d" "$docdir/$d"
	ok $? "make install installs $d there"
done
for uri in $(sed -n 's/^Documentation=//p' "$unit" | tr ' ' '\n' | grep '^file:///usr/share/doc/chatgenius-tunnel/'); do
	[ -f "$docdir/${uri#file:///usr/share/doc/chatgenius-tunnel/}" ]
	ok $? "the unit's Documentation=$uri is installed"
done
is "$(grep '^ExecStart=' "$unit" 2>&1)" "ExecStart=$(pg_config --bindir)/chatgenius-tunnel run --env-file /etc/chatgenius-tunnel/env" \
	"make install's unit runs the installed program by its full path"
cmp -s helper/chatgenius-tunnel.socket "$TMP/dest/usr/local/lib/systemd/system/chatgenius-tunnel.socket"
ok $? "make install puts chatgenius-tunnel.socket beside the service"

# ---------------------------------------------------------------- one unit
is "$(readlink debian/chatgenius-tunnel.service)" "../helper/chatgenius-tunnel.service" \
	"debian/chatgenius-tunnel.service is a link to helper/'s, the one unit file"
src=helper/chatgenius-tunnel.service
is "$(grep '^Type=' "$src")" "Type=notify" "the unit is Type=notify"
is "$(grep '^ExecStart=' "$src")" "ExecStart=/usr/bin/chatgenius-tunnel run --env-file /etc/chatgenius-tunnel/env" \
	"the unit names /usr/bin/chatgenius-tunnel by its full path"
like "$(grep '^WatchdogSec=' "$src")" '^WatchdogSec=[0-9]+s$' "the unit sets WatchdogSec="
like "$(grep '^Documentation=' "$src" | tr '\n' ' ')" 'man:chatgenius-tunnel\(8\)' "the unit's Documentation= names the manual"
is "$(readlink debian/chatgenius-tunnel.socket)" "../helper/chatgenius-tunnel.socket" \
	"debian/chatgenius-tunnel.socket is a link to helper/'s, the one socket unit"
# The drain at SIGTERM must end before systemd's SIGKILL.
stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$src")
drain_ms=$(printf '%s\n' "$help" | sed -n 's/^  TUNNEL_SHUTDOWN_TIMEOUT .*default: \([0-9]*\)$/\1/p')
cmp_ok "$((stop_s * 1000))" -gt "${drain_ms:-999999999}" \
	"the unit's TimeoutStopSec= (${stop_s}s) is above TUNNEL_SHUTDOWN_TIMEOUT's default (${drain_ms} ms)"
sock=helper/chatgenius-tunnel.socket
like "$(grep '^ListenStream=' "$sock" | tr '\n' ' ')" \
	"ListenStream=127\\.0\\.0\\.1:5432 ListenStream=/run/chatgenius-tunnel/\\.s\\.PGSQL\\.5432" \
	"the socket unit passes POSTGRES_PORT's default on loopback and its Unix socket, named as PostgreSQL's"
# (systemd-analyze verify runs on the installed unit in deploy.t: it wants
# the program and the manual pages in place.)

# ---------------------------------------------------------------- the HTTP endpoint's bounds
# helper/http_server.h is the source; the manual and operations.md quote it.
http_define()
{
	sed -n "s/^#define $1[[:space:]]*\([0-9]*\).*/\1/p" helper/http_server.h
}
n=$(http_define HTTP_MAX_CONNECTIONS)
kib=$(($(http_define HTTP_REQUEST_MAX) / 1024))
secs=$(($(http_define HTTP_IO_MS) / 1000))
[ -n "$n" ] && [ "$kib" -gt 0 ] && [ "$secs" -gt 0 ] || bail_out "setup error: the bounds in helper/http_server.h are not found"
bounds="at most $n HTTP clients at once, $kib KiB of request and $secs s each"
for f in helper/chatgenius-tunnel.env.5 doc/operations.md; do
	tr '\n' ' ' <"$f" | grep -qiF "$bounds"
	ok $? "$f quotes helper/http_server.h's bounds: \"$bounds\""
done
tr '\n' ' ' <doc/operations.md | grep -qF "all $n places"
ok $? "doc/operations.md counts the endpoint's places as helper/http_server.h does ($n)"

done_testing
