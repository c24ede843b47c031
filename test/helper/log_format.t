#!/usr/bin/env bash
# The log's field escapes, case by case (test/tools/log_cases.c, linked
# with helper/log.c): every value a format's %s prints is escaped, standing
# alone after "key=" (quoted when it needs quotes, an already-quoted value
# kept) or between the format's own quotes; other conversions print as
# printf prints them; a small buffer is cut and terminated.  The helper's
# whole lines are log_fields.t's.
#
#   prove test/helper/log_format.t
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
BIN=$(mktemp -d /tmp/chatgenius-logcases.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
cc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
	-fsanitize=address,undefined -fno-sanitize-recover=all -I"$TOP/helper" \
	"$TOP/test/tools/log_cases.c" "$TOP/helper/log.c" "$TOP/helper/clock.c" \
	-o "$BIN/log_cases" 2>"$BIN/build.log" || bail_out "log_cases does not build: $(head -5 "$BIN/build.log")"
"$BIN/log_cases"
