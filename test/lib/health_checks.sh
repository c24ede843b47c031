# shellcheck shell=bash
# health()'s check names as the tests need them, read from their one source,
# src/health_checks.h (one X(name) line per check, in the order of health()'s
# rows), so that no test keeps a list of its own.
#
#   health_check_names          the names, one a line, in health()'s order
#   health_check_names_sorted   the same, sorted as ORDER BY check_name
#                               sorts them in the fixture's C.UTF-8 cluster,
#                               on one line
#   health_sql SQL              one query in the fixture's app database
#   health_row CHECK [SETTINGS] one check's row of health()

HEALTH_CHECKS_H=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src/health_checks.h

health_check_names()
{
	sed -n 's/^[[:space:]]*X(\([a-z_][a-z0-9_]*\))[[:space:]]*\\\{0,1\}$/\1/p' "$HEALTH_CHECKS_H"
}

health_check_names_sorted()
{
	health_check_names | LC_ALL=C sort | paste -sd ' '
}

# health_sql SQL: SQL as the superuser in the fixture's app database
# ($FX_APP_DB), unaligned, tuples only, bounded at 30 s.
health_sql()
{
	timeout 30 psql -qXAtd "$FX_APP_DB" -c "$1"
}

# health_row CHECK [SETTINGS]: "status: detail" of health()'s row CHECK,
# with the SET statements SETTINGS run first in the same session.
health_row()
{
	timeout 30 psql -qXAtd "$FX_APP_DB" ${2:+-c "$2"} \
		-c "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = '$1'"
}
