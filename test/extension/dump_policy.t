#!/usr/bin/env bash
# The dump policy is said once: doc/extension.md's dump-policy block names
# every table and sequence of the extension, whether pg_dump carries its
# rows, and why.  Held to pg_extension.extconfig and extcondition of a
# fresh install and of one updated from 1.0: "yes" is marked with
# pg_extension_config_dump and no condition, "no (marked `WHERE false`)"
# marked with that condition, "no" not marked; and the block has a row,
# with a reason, for each of the extension's tables and sequences and for
# nothing else.  A failure names the object and what to change.  Needs
# root and an installed extension.
set -uo pipefail
export LC_ALL=C	# sort and join alike

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"

doc=$top/doc/extension.md

# The block, as "object policy" lines (policy: yes, no, or the condition),
# and "object -" for a row without a reason.
documented=$(awk '
	index($0, "<!-- dump-policy:") == 1 { f = 1; next }
	index($0, "<!-- /dump-policy ") == 1 { f = 0 }
	f && /^\|/ { n++; if (n > 2) print }' "$doc" | perl -ne '
	chomp;
	my (undef, $objects, $dumped, $why) = split /\s*\|\s*/;
	my $policy = $dumped =~ /^yes\b/ ? "yes" : $dumped =~ /^no \(marked `([^`]+)`\)/ ? $1 : $dumped =~ /^no\b/ ? "no" : "?$dumped";
	$policy = "-" unless defined $why && $why =~ /\w/;
	(my $policy_word = $policy) =~ s/ /_/g;
	print "$_ $policy_word\n" for $objects =~ /`([a-z_0-9]+)`/g;' | sort)
[ -n "$documented" ] || bail_out "$doc has no dump-policy block (<!-- dump-policy: ... --> ... <!-- /dump-policy -->)"

fx_init dumppolicy
fx_pg_start

# catalog DB: the extension's tables and sequences, each with its policy
# as the catalog says it.
catalog()
{
	psql -qXAt -F ' ' -d "$1" -c "
		SELECT c.relname, CASE WHEN x.oid IS NULL THEN 'no'
			WHEN x.cond = '' THEN 'yes' ELSE replace(x.cond, ' ', '_') END
		FROM pg_extension e
		JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
			AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass
		JOIN pg_class c ON c.oid = d.objid AND c.relkind IN ('r', 'p', 'S')
		LEFT JOIN unnest(e.extconfig, e.extcondition) AS x(oid, cond) ON x.oid = c.oid
		WHERE e.extname = 'chatgenius'" | sort
}

for how in fresh "updated from 1.0"; do
	db=dp_${how%% *}
	fx_psql -qc "CREATE DATABASE $db" >/dev/null
	if [ "$how" = fresh ]; then
		fx_psql -d "$db" -qc 'SET client_min_messages = warning' -c 'CREATE EXTENSION chatgenius' >/dev/null
	else
		fx_psql -d "$db" -qc 'SET client_min_messages = warning' -c "CREATE EXTENSION chatgenius VERSION '1.0'" \
			-c 'ALTER EXTENSION chatgenius UPDATE' >/dev/null
	fi
	ok $? "$how: the extension is installed"
	got=$(catalog "$db")
	[ -n "$got" ] || bail_out "$how: no table of the extension found in the catalog"
	is "$(join -a1 -a2 -e '(none)' -o 0,1.2,2.2 <(echo "$got") <(echo "$documented") |
		awk '$2 != $3 { if ($3 == "-") $3 = "nothing (a row without a reason)"
			printf "%s: the catalog says %s, doc/extension.md says %s\n", $1, $2, $3 }')" "" \
		"$how: every table and sequence has the dump policy doc/extension.md gives it, with a reason"
done

done_testing
