# shellcheck shell=bash
# Minimal TAP producer for the bash test scripts under test/ (run by prove).
#
#   . test/lib/tap.sh
#   ok "$cond_exit_status" "name"      is "$got" "$want" "name"
#   like "$got" "regex" "name"         unlike "$got" "regex" "name"
#   cmp_ok "$a" -lt "$b" "name"        diag "text"
#   same "name" FILE1 FILE2            (identical files; the diff shown)
#   done_testing                        (prints the plan; exit 1 on any failure)
#   bail_out "reason"                   (this file fails alone)
#   skip_all "reason"                   (this machine lacks what the file needs)

# Sourced once (the libraries source it too): a second time would reset the count.
[ -n "${TAP_SH:-}" ] && return 0
TAP_SH=1
TAP_N=0
TAP_FAILED=0

_tap_result()
{
	local pass=$1 name=$2
	TAP_N=$((TAP_N + 1))
	if [ "$pass" -eq 0 ]; then
		printf 'ok %d - %s\n' "$TAP_N" "$name"
	else
		printf 'not ok %d - %s\n' "$TAP_N" "$name"
		TAP_FAILED=$((TAP_FAILED + 1))
		# A file may define tap_on_failure to show what a later reader of
		# the run's output needs (a server's log tail, say): CI keeps only
		# the output.
		if declare -F tap_on_failure >/dev/null; then
			tap_on_failure "$name" 2>&1 | sed 's/^/# /' >&2
		fi
	fi
	return "$pass"
}

diag()
{
	printf '%s\n' "$@" | sed 's/^/# /' >&2
}

# ok STATUS NAME: pass when STATUS is 0 (pass "$?" from a command).
ok()
{
	_tap_result "$([ "$1" -eq 0 ] && echo 0 || echo 1)" "$2"
}

is()
{
	if [ "$1" = "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "     got: '$1'" "expected: '$2'"
		return 1
	fi
}

like()
{
	if [[ $1 =~ $2 ]]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		diag "                  '$1'" "doesn't match '$2'"
		return 1
	fi
}

unlike()
{
	if [[ $1 =~ $2 ]]; then
		_tap_result 1 "$3"
		diag "                  '$1'" "matches '$2'"
		return 1
	else
		_tap_result 0 "$3"
	fi
}

# cmp_ok A OP B NAME: integer comparison with test(1)'s operators.
cmp_ok()
{
	if [ "$1" "$2" "$3" ]; then
		_tap_result 0 "$4"
	else
		_tap_result 1 "$4"
		diag "    '$1' $2 '$3' is false"
		return 1
	fi
}

# same NAME FILE1 FILE2: pass when the two files are identical; else the
# start of their diff -u as diagnostics.
same()
{
	local d
	if d=$(diff -u "$2" "$3"); then
		ok 0 "$1"
	else
		ok 1 "$1"
		diag "$(printf '%s\n' "$d" | head -60)"
	fi
}

# bail_out REASON: this file cannot go on; it fails alone, with its reason.
# (TAP's "Bail out!" would stop prove's whole run, and every file after it.)
bail_out()
{
	_tap_result 1 "cannot go on: $*"
	printf '1..%d\n' "$TAP_N"
	exit 1
}

# skip_all REASON: this machine lacks a facility the file needs; nothing of
# it runs, and prove lists it as skipped with REASON (never as passed).
skip_all()
{
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}

done_testing()
{
	printf '1..%d\n' "$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
}
