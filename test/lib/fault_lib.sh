# shellcheck shell=bash
# Reliability tally lines, in the runner's format (doc/hacking.md, The tests), written
# with diag (stderr) so that prove shows them and the runner tallies them.
# Sources test/lib/tap.sh (test/lib/tunnel_lib.sh sources this file too).
#
#   tl_section; ...assertions...; tl_fault NAME    "fault=NAME survived"
#   tl_section; ...assertions...; tl_input NAME    "input=NAME refused"
#
# A scenario any of whose checks since tl_section failed prints "failed"
# (or "accepted") instead, which fails the run.

# shellcheck source=tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

tl_section()
{
	TL_SECTION_FAILED=$TAP_FAILED
}

tl_fault()
{
	local v=survived
	[ "$TAP_FAILED" -eq "${TL_SECTION_FAILED:-0}" ] || v=failed
	diag "reliability: fault=$1 $v"
}

tl_input()
{
	local v=refused
	[ "$TAP_FAILED" -eq "${TL_SECTION_FAILED:-0}" ] || v=accepted
	diag "reliability: input=$1 $v"
}

# The same, as the fault scenarios of test/helper/*_faults.t and friends
# write it: fault_begin; ...; fault_end fault|refused-input NAME.
fault_begin()
{
	tl_section
}

fault_end()
{
	if [ "$1" = fault ]; then
		tl_fault "$2"
	else
		tl_input "$2"
	fi
}

# The security suite's line (test/security/): tl_section; ...; tl_attack NAME
# prints "attack=NAME held", or "attack=NAME succeeded" when a check failed.
tl_attack()
{
	local v=held
	[ "$TAP_FAILED" -eq "${TL_SECTION_FAILED:-0}" ] || v=succeeded
	diag "reliability: attack=$1 $v"
}
