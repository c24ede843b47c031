# shellcheck shell=bash
# The reliability tally line of a fault scenario: "# reliability:
# fault=NAME survived" (or "refused-input=NAME" for a bad input refused
# cleanly), printed only when every assertion of the scenario passed;
# otherwise "# reliability: fault=NAME not-survived".  Sourced after
# test/lib/tap.sh.
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
	if [ "$TAP_FAILED" -eq "$FAULT_FAILED_BEFORE" ]; then
		if [ "$1" = fault ]; then
			echo "# reliability: fault=$2 survived"
		else
			echo "# reliability: refused-input=$2"
		fi
	else
		echo "# reliability: $1=$2 not-survived"
	fi
}
