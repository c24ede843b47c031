#!/usr/bin/env bash
# Every log line stays one well-formed line whatever the text in its
# fields: a quote, a backslash and a newline in text that reaches the log
# (a file name, an error from the SSH server) are escaped by log.c.
#
#   prove test/helper/log_fields.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin logfields

# well_formed FILE: print the lines of FILE that are not one log line each:
# a timestamp and level first, and quotes that pair up once \" and \\ are
# taken out.
well_formed()
{
	perl -ne '
		chomp;
		my $l = $_;
		(my $q = $l) =~ s/\\[\\"]//g;
		my $n = () = $q =~ /"/g;
		print "$l\n" unless $l =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) (event|msg)=\S+/ && $n % 2 == 0;
	' "$1"
}

fault_begin
# A known_hosts path holding a quote, a backslash and a newline: it ends up in
# the session_failed line (and in ssh_refused).
odd=$'\x27kh" \\ two\nlines'
mkdir -p "$FX_DIR/odd"
odd_path="$FX_DIR/odd/$odd"
TL_ENV=$FX_DIR/odd.env
TL_LOG=$FX_DIR/odd.log
FX_TUNNEL_PORT=$(fx_free_port)
fx_env_file "$TL_ENV" TUNNEL_NAME=test-odd
fx_bg "$TL_LOG" env SSH_KNOWN_HOSTS="$odd_path" "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
tl_wait_exit 30
is "$TL_RC" 3 "unknown host (odd known_hosts name): exit 3"
is "$(well_formed "$TL_LOG")" "" "every line is one well-formed log line"
like "$(grep 'msg=session_failed' "$TL_LOG")" 'kh\\" \\\\ two\\nlines' "the quote, backslash and newline are escaped in session_failed"

# The SSH server's refusal of a user name holding a quote and a backslash
# (sshd's answer comes back in the message with the name).
TL_LOG=$FX_DIR/user.log
fx_bg "$TL_LOG" env SSH_USER='ro"ot\x' "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
tl_wait_exit 30
is "$TL_RC" 3 "a user the server refuses: exit 3"
is "$(well_formed "$TL_LOG")" "" "every line is one well-formed log line"
like "$(grep 'msg=session_failed' "$TL_LOG")" 'ro\\"ot\\\\x@127\.0\.0\.1: Permission denied' "the server's refusal, escaped"
fault_end refused-input log-field-injection

done_testing
