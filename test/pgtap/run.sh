#!/usr/bin/env bash
# Runs every pgTAP suite in test/pgtap/ with pg_prove against a throwaway
# cluster, four times: on a fresh install of the newest version, and on
# databases at 1.0, 1.1 and 1.2 with data, then updated.  Exits non-zero if any run fails.
#
#   make NO_HELPER=1 install && bash test/pgtap/run.sh
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$TOP/test/lib/fixture.sh"

fx_init pgtap
fx_pg_start

# make_db NAME FROM_VERSION: a database with pgtap and chatgenius at the
# newest version, installed fresh (FROM_VERSION empty) or installed at
# FROM_VERSION, filled with data, and updated.
make_db()
{
	local db=$1 from=$2
	fx_psql -d postgres -c "CREATE DATABASE $db" || return 1
	fx_psql -d "$db" -c 'CREATE EXTENSION pgtap' || return 1
	if [ -z "$from" ]; then
		fx_psql -d "$db" -c 'CREATE EXTENSION chatgenius' || return 1
		return 0
	fi
	# data-1.0.sql names channels.topic: 1.2 is reached after it is loaded.
	fx_psql -d "$db" -c "CREATE EXTENSION chatgenius VERSION '${from/1.2/1.1}'" || return 1
	fx_psql -d "$db" -f "$TOP/test/upgrade/data-1.0.sql" >/dev/null || return 1
	if [ "$from" != 1.0 ]; then
		fx_psql -d "$db" -f "$TOP/test/upgrade/data-1.1.sql" >/dev/null || return 1
	fi
	if [ "$from" = 1.2 ]; then
		fx_psql -d "$db" -c "ALTER EXTENSION chatgenius UPDATE TO '1.2'" || return 1
	fi
	fx_psql -d "$db" -c 'ALTER EXTENSION chatgenius UPDATE' || return 1
}

rc=0
for setup in fresh: from_1_0:1.0 from_1_1:1.1 from_1_2:1.2; do
	db=tap_${setup%%:*}
	from=${setup#*:}
	if [ -n "$from" ]; then
		echo "# pgTAP on $db: installed at $from, with data, updated to the newest"
	else
		echo "# pgTAP on $db: fresh install of the newest"
	fi
	if ! make_db "$db" "$from"; then
		echo "not ok - could not prepare $db"
		rc=1
		continue
	fi
	pg_prove -d "$db" "$HERE"/[0-9]*.sql || rc=1
done
exit "$rc"
