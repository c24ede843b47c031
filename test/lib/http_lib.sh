# shellcheck shell=bash
# The helper's HTTP endpoint (TUNNEL_HTTP_ADDR) as the tests ask it: one
# request with curl, its status code and body kept.  Sourced after
# test/lib/fixture.sh; a test that sources it needs curl.

fx_need curl

# http_get PORT PATH: GET http://127.0.0.1:PORT/PATH; HTTP_CODE (000 when
# no answer), HTTP_BODY, HTTP_MS (the request's own time, curl's
# time_total, in ms with three decimals).
http_get()
{
	local out
	out=$(curl -s --max-time 5 -o "$FX_DIR/http_body" -w '%{http_code} %{time_total}' \
		"http://127.0.0.1:$1$2" 2>/dev/null)
	HTTP_CODE=${out%% *}
	HTTP_MS=$(awk -v s="${out#* }" 'BEGIN { printf "%.3f", s * 1000 }')
	HTTP_BODY=$(cat "$FX_DIR/http_body" 2>/dev/null)
	[ -n "$HTTP_CODE" ] || HTTP_CODE=000
}

# http_code_is PORT PATH CODE: true when GET PATH answers CODE now.
http_code_is()
{
	http_get "$1" "$2"
	[ "$HTTP_CODE" = "$3" ]
}

# http_metric PORT NAME_WITH_LABELS: the value of one sample of /metrics
# (the exact text before the value, e.g. 'chatgenius_tunnel_refusals_total{reason="stopping"}').
http_metric()
{
	http_get "$1" /metrics
	printf '%s\n' "$HTTP_BODY" | awk -v n="$2" 'index($0, n " ") == 1 { print $NF; exit }'
}
