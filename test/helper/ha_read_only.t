#!/usr/bin/env bash
# A write that meets a read-only node (SQLSTATE 25006) over the primary
# port makes the tunnel probe every host at once, instead of waiting for
# the next health-check interval: that is how it learns of a primary that
# became read-only under a client whose connection stayed up.  The node is
# made read-only here by default_transaction_read_only on a plain streaming
# pair's primary (test/lib/standby.sh); the interval is 60 s, so only the
# client's error can explain a probe.
# Then an attack: a local client provoking that error in a loop must not
# turn the tunnel into a storm of probe connections to every host (asked-for
# rounds run at most once per PROBE_REQUEST_GAP_MS, 250 ms).
#
#   prove test/helper/ha_read_only.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/standby.sh
. test/lib/attack.sh
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
fx_init haro
sb_pair_start
fx_sshd_start
fx_psql -d "$FX_APP_DB" >/dev/null <<-EOF
	CREATE TABLE public.ro_writes (n integer);
	ALTER TABLE public.ro_writes OWNER TO "$FX_APP_USER";
	EOF
tl_start ro "POSTGRES_REMOTE_HOST=$(sb_remote_hosts)" SSH_HEALTH_CHECK_INTERVAL=60000 \
	TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "the helper connects"
is "$(tl_psql -Atc 'INSERT INTO public.ro_writes VALUES (1) RETURNING n')" 1 "a write goes through"

# read_only_rounds: probe rounds asked for by a read-only error so far (one
# probe line per host and round).
read_only_rounds()
{
	echo $(($(tl_count 'msg=probe .*trigger=read_only ') / 2))
}
is "$(read_only_rounds)" 0 "no probe asked for yet"

tl_section
sb_set_on_primary default_transaction_read_only on
out=$(tl_psql -Atc 'INSERT INTO public.ro_writes VALUES (2)' 2>&1)
like "$out" 'cannot execute INSERT in a read-only transaction' "the write meets a read-only primary"
fx_wait_for 5 "a probe round asked for by the read-only error" bash -c \
	"[ \"\$(grep -cE 'msg=probe .*trigger=read_only ' '$TL_LOG')\" -ge 2 ]"
ok $? "every host is probed at once (trigger=read_only), well before the 60 s interval"
like "$(grep -m1 'msg=read_only_primary' "$TL_LOG")" "host=$SB_PRIMARY_HOST:$SB_PRIMARY_PORT" \
	"read_only_primary names the host the write met"
tl_fault read_only_primary

# The storm: 3000 failing writes in one session, as fast as they go.
tl_section
before=$(read_only_rounds)
t0=$(date +%s%N)
for i in $(seq 3000); do echo "INSERT INTO public.ro_writes VALUES ($i);"; done |
	tl_psql -qAt -v ON_ERROR_STOP=0 >"$FX_DIR/storm.out" 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
errors=$(grep -c 'read-only transaction' "$FX_DIR/storm.out")
rounds=$(($(read_only_rounds) - before))
allowed=$((ms / 250 + 2))
diag "storm: $errors read-only errors in $ms ms drew $rounds probe rounds (at most $allowed allowed)"
cmp_ok "$errors" -ge 3000 "every write of the storm met the read-only error"
held=0
[ "$rounds" -le "$allowed" ] || held=1
attack read_only_probe_storm $held "3000 read-only errors draw at most one probe round per 250 ms ($rounds in $ms ms)"
kill -0 "$TL_PID" 2>/dev/null
ok $? "the helper still runs"

sb_set_on_primary default_transaction_read_only off
is "$(tl_psql -Atc 'INSERT INTO public.ro_writes VALUES (3) RETURNING n')" 3 "writes go through again"
tl_stop
is "$TL_RC" 0 "stops cleanly"
tl_sanitizer_clean ha_read_only
done_testing
