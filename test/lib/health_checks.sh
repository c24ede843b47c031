# shellcheck shell=bash
# health()'s check names as the tests need them, read from their one source,
# src/health_checks.h (one X(name) line per check, in the order of health()'s
# rows), so that no test keeps a list of its own.
#
#   health_check_names          the names, one a line, in health()'s order
#   health_check_names_sorted   the same, sorted as ORDER BY check_name
#                               sorts them in the fixture's C.UTF-8 cluster,
#                               on one line

HEALTH_CHECKS_H=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/src/health_checks.h

health_check_names()
{
	sed -n 's/^[[:space:]]*X(\([a-z_][a-z0-9_]*\))[[:space:]]*\\\{0,1\}$/\1/p' "$HEALTH_CHECKS_H"
}

health_check_names_sorted()
{
	health_check_names | LC_ALL=C sort | paste -sd ' '
}
