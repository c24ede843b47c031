#!/usr/bin/env bash
# The extension's vocabularies, each said once and every copy held to it:
#  - health()'s checks: src/health_checks.h is the list.  health() returns
#    exactly those names, in that order, and doc/extension.md's health-checks
#    block has one row for each, in that order.  (verify prints health() as it
#    is: test/helper/setup_verify.t holds its output to the same list;
#    chatgenius-tunnel(8) names no check.)
#  - the chatgenius.* settings: src/module.c's table, as pg_settings shows it
#    (a check's settings say which check in extra_desc).  The health-checks
#    block lists under each check exactly the settings that check reads, and
#    the settings block every other one, each with its default as SHOW prints
#    it; every chatgenius.NAME in README.md, NEWS.md, doc/*.md and the manual
#    pages is a setting or an object of the extension.
# A failure names what to add or remove, and where.  Needs root and an
# installed extension (make install).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/health_checks.sh
. "$top/test/lib/health_checks.sh"

fx_init vocabulary
fx_pg_start
db=$FX_APP_DB
fx_psql -d "$db" -c 'CREATE EXTENSION chatgenius' >/dev/null

q()
{
	timeout 30 psql -qXAtd "$db" -F $'\t' -c "$1"
}

# block FILE MARKER: the table rows between <!-- MARKER ... --> and
# <!-- /MARKER -->, header and rule left out.
block()
{
	awk -v m="$2" '
		index($0, "<!-- " m ":") == 1 || index($0, "<!-- " m " ") == 1 { f = 1; next }
		index($0, "<!-- /" m " ") == 1 { f = 0 }
		f && /^\|/ { n++; if (n > 2) print }' "$1"
}

# settings_of_rows: from table rows on stdin whose first column is
# `name` and whose columns hold `chatgenius.SETTING` (DEFAULT...), one line
# "NAME SETTING DEFAULT" per setting ("NAME -" for a row without one).
# $1 is the column the settings are in, $2 the column of the default when
# it has one of its own.
settings_of_rows()
{
	perl -ne '
		chomp;
		my @c = split /\s*\|\s*/;
		shift @c;	# the empty cell before the first |
		my ($name) = $c[0] =~ /^`([^`]+)`/;
		if ($ENV{DEFCOL}) {
			my ($d) = $c[$ENV{DEFCOL} - 1] =~ /^`?([^`]*)`?$/;
			print "$name $d\n";
			next;
		}
		my @s = $c[$ENV{SETCOL} - 1] =~ /`chatgenius\.(\w+)` \(([^):]+)/g;
		print "$name -\n" unless @s;
		while (my ($s, $d) = splice @s, 0, 2) { print "$name chatgenius.$s $d\n" }
	'
}

# ---------------------------------------------------------------- checks
checks_src=$(health_check_names | paste -sd ' ')
cmp_ok "$(health_check_names | wc -l)" -ge 14 "src/health_checks.h lists the checks ($(health_check_names | wc -l))"
is "$(q "SELECT string_agg(check_name, ' ' ORDER BY n) FROM (SELECT check_name, min(n) AS n
	FROM (SELECT check_name, row_number() OVER () AS n FROM chatgenius.health()) r GROUP BY check_name) g")" \
	"$checks_src" "health() returns every check of src/health_checks.h, in its order, and no other name"

CHECKS_BLOCK=$(block "$top/doc/extension.md" health-checks)
[ -n "$CHECKS_BLOCK" ] || bail_out "doc/extension.md has no health-checks block (<!-- health-checks: ... --> ... <!-- /health-checks -->)"
is "$(printf '%s\n' "$CHECKS_BLOCK" | SETCOL=3 settings_of_rows | cut -d' ' -f1 | uniq | paste -sd ' ')" \
	"$checks_src" "doc/extension.md's health() checks table: a row per check of src/health_checks.h, in its order"

# ---------------------------------------------------------------- settings
# NAME CHECK DEFAULT for every chatgenius.* setting the library defines (CHECK
# "-" for one no check reads), the default as SHOW prints it.
q "SELECT name, COALESCE(substring(extra_desc FROM '^Read by the health\(\) check ([a-z_]+)\.$'), '-'),
		current_setting(name), setting = boot_val
	 FROM pg_settings WHERE name LIKE 'chatgenius.%' ORDER BY name" >"$FX_DIR/settings"
cmp_ok "$(wc -l <"$FX_DIR/settings")" -ge 30 "pg_settings shows the library's settings ($(wc -l <"$FX_DIR/settings"))"
is "$(awk -F'\t' '$4 != "t" { print $1 }' "$FX_DIR/settings")" "" \
	"every setting is at its default in the fixture's cluster (SHOW prints the default)"
unknown=$(awk -F'\t' '$2 != "-" { print $2 }' "$FX_DIR/settings" | sort -u | grep -vxF -f <(health_check_names))
is "$unknown" "" "every check a setting's extra_desc names is in src/health_checks.h"

want=$(awk -F'\t' '$2 != "-" { print $2, $1, $3 }' "$FX_DIR/settings" | sort)
got=$(printf '%s\n' "$CHECKS_BLOCK" | SETCOL=3 settings_of_rows | grep -v ' -$' | sort)
is "$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed -n 's/^</add to doc\/extension.md'"'"'s health() checks table:/p; s/^>/remove from doc\/extension.md'"'"'s health() checks table:/p')" "" \
	"each check's row lists the settings that check reads (pg_settings), with their defaults"

SETTINGS_BLOCK=$(block "$top/doc/extension.md" settings)
[ -n "$SETTINGS_BLOCK" ] || bail_out "doc/extension.md has no settings block (<!-- settings: ... --> ... <!-- /settings -->)"
want=$(awk -F'\t' '$2 == "-" { print $1, $3 }' "$FX_DIR/settings" | sort)
got=$(printf '%s\n' "$SETTINGS_BLOCK" | DEFCOL=2 settings_of_rows | sort)
is "$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed -n 's/^</add to doc\/extension.md'"'"'s settings table:/p; s/^>/remove from doc\/extension.md'"'"'s settings table:/p')" "" \
	"doc/extension.md's settings table lists every setting no check reads, with its default"

# ---------------------------------------------------------------- every mention
# chatgenius.NAME in the documents and the manual pages: a setting, or a
# relation, function or type of the extension's schema.
q "SELECT 'chatgenius.' || relname FROM pg_class WHERE relnamespace = 'chatgenius'::regnamespace
   UNION SELECT 'chatgenius.' || proname FROM pg_proc WHERE pronamespace = 'chatgenius'::regnamespace
   UNION SELECT 'chatgenius.' || typname FROM pg_type WHERE typnamespace = 'chatgenius'::regnamespace
   UNION SELECT name FROM pg_settings WHERE name LIKE 'chatgenius.%'" | sort -u >"$FX_DIR/known"
echo chatgenius.control >>"$FX_DIR/known"
docs=("$top/README.md" "$top/NEWS.md" "$top"/doc/*.md "$top/helper/chatgenius-tunnel.8" "$top/helper/chatgenius-tunnel.env.5")
unknown=$(for f in "${docs[@]}"; do
	grep -o 'chatgenius\.[a-z_][a-z0-9_]*' "$f" | sort -u | grep -vxF -f "$FX_DIR/known" |
		sed "s|^|${f#"$top"/}: |"
done)
is "$unknown" "" "every chatgenius.NAME in README.md, NEWS.md, doc/*.md and the manual pages is a setting or an object of the extension"
mentioned=$(grep -ho 'chatgenius\.[a-z_][a-z0-9_]*' "${docs[@]}" | sort -u)
undocumented=$(cut -f1 "$FX_DIR/settings" | grep -vxF -f <(printf '%s\n' "$mentioned"))
is "$undocumented" "" "every setting is named in the documents"

done_testing
