# shellcheck shell=bash
# The reliability tally line of a fault scenario, in the runner's format
# (README, Tests): "# reliability: fault=NAME survived" (or "input=NAME
# refused" for a bad input refused cleanly) when every assertion of the
# scenario passed, else "fault=NAME failed" (or "input=NAME accepted"),
# which fails the run.  Written with diag (stderr), so that prove shows it
# and the runner tallies it.  Sourced after test/lib/tap.sh.
#
#   fault_begin; ...assertions...; fault_end fault short-name

FAULT_FAILED_BEFORE=0

fault_begin()
{
	FAULT_FAILED_BEFORE=$TAP_FAILED
}

# fault_end KIND NAME: KIND is "fault" or "refused-input".
fault_end()
{
	local passed=1
	[ "$TAP_FAILED" -eq "$FAULT_FAILED_BEFORE" ] || passed=0
	if [ "$1" = fault ]; then
		diag "reliability: fault=$2 $([ $passed -eq 1 ] && echo survived || echo failed)"
	else
		diag "reliability: input=$2 $([ $passed -eq 1 ] && echo refused || echo accepted)"
	fi
}
