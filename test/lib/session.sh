# shellcheck shell=bash
# psql sessions held open on a fifo, for tests that need another backend to
# stay in a state (idle in a transaction, holding a lock, listening) while
# they look at it from new sessions.  Needs test/lib/fixture.sh (FX_DIR,
# fx_bg: cleanup kills what is left).
#
#   sess_open NAME DB        psql -d DB reading $FX_DIR/NAME.in; its output
#                            lands in $FX_DIR/NAME.out
#   sess_send NAME SQL       one line of SQL to it
#   sess_close NAME          end of its input: psql sends what it has and exits

sess_open()
{
	mkfifo "$FX_DIR/$1.in"
	fx_bg "$FX_DIR/$1.out" psql -qAtX -d "$2" -f "$FX_DIR/$1.in"
	eval "exec {sess_fd_$1}>\"\$FX_DIR/\$1.in\""
}

sess_send()
{
	local fd="sess_fd_$1"
	printf '%s\n' "$2" >&"${!fd}"
}

# The descriptor's number is in sess_fd_NAME: {VAR}>&- closes the one whose
# number VAR holds, so the name is expanded first.
sess_close()
{
	eval "exec {sess_fd_$1}>&-"
}
