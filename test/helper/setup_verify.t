#!/usr/bin/env bash
# "chatgenius-tunnel setup" and "verify" through a real tunnel: setup on an
# empty database and from each older version (1.0, 1.1) keeps every row and
# is idempotent; a role without the rights fails clearly; verify exits 0 when
# healthy and non-zero when the database is unreachable, the extension is
# missing or a check is critical.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tunnel_lib.sh"
. "$TOP/test/lib/app_lib.sh"
. "$TOP/test/lib/health_checks.sh"
tl_begin setup
NEWEST=$FX_NEWEST
# One version per script: chatgenius--1.0.sql and one update script each.
NVERSIONS=$(find "$TOP/sql" -name 'chatgenius--*.sql' | wc -l)

# hcmd COMMAND DB [KEY=VALUE...]: run setup/verify as the superuser (or as
# set by the extras) against DB; OUT, ERR, RC.
hcmd()
{
	local cmd=$1 db=$2
	shift 2
	fx_env_file "$FX_DIR/$db.env" "POSTGRES_DB=$db" POSTGRES_USER=postgres \
		"POSTGRES_PASSWORD=$FX_SUPER_PASSWORD" "TUNNEL_NAME=$cmd-$db" "$@"
	(cd "$FX_DIR" && timeout 120 "$FX_HELPER" "$cmd" --env-file "$FX_DIR/$db.env") \
		>"$FX_DIR/out" 2>"$FX_DIR/err"
	RC=$?
	OUT=$(cat "$FX_DIR/out")
	ERR=$(cat "$FX_DIR/err")
}

dbsql()
{
	psql -qXAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# row_counts DB: "table=count,..." for every table of the extension except
# the history.
row_counts()
{
	dbsql "$1" "SELECT string_agg(c.relname || '=' || (xpath('/row/n/text()',
		query_to_xml(format('SELECT count(*) AS n FROM chatgenius.%I', c.relname), false, true, '')))[1]::text,
		',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'chatgenius' AND c.relkind IN ('r', 'p')
		  AND c.relname NOT IN ('schema_migrations', 'realtime_outbox', 'realtime_dead_letter', 'realtime_sent', 'tunnel_routes')"
}

history()
{
	dbsql "$1" "SELECT string_agg(version || '@' || applied_at, ' ' ORDER BY string_to_array(version, '.')::int[]) FROM chatgenius.schema_migrations"
}

# seed DB: one row in every chat table, as the app would write them.
seed()
{
	dbsql "$1" "
		INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
			VALUES ('01HZZZZZZZZZZZZZZZZZZZZZZA', 'auth0|1', 'a@example.com', 'ann', 'Ann A');
		INSERT INTO chatgenius.channels (id, name, topic, type, created_by)
			VALUES ('01HZZZZZZZZZZZZZZZZZZZZZZC', 'general', 'the topic', 'public', '01HZZZZZZZZZZZZZZZZZZZZZZA');
		INSERT INTO chatgenius.channel_members (channel_id, user_id, role)
			VALUES ('01HZZZZZZZZZZZZZZZZZZZZZZC', '01HZZZZZZZZZZZZZZZZZZZZZZA', 'owner');
		INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
			VALUES ('01HZZZZZZZZZZZZZZZZZZZZZZM', '01HZZZZZZZZZZZZZZZZZZZZZZC', '01HZZZZZZZZZZZZZZZZZZZZZZA', 'hello');
		INSERT INTO chatgenius.reactions (message_id, user_id, emoji)
			VALUES ('01HZZZZZZZZZZZZZZZZZZZZZZM', '01HZZZZZZZZZZZZZZZZZZZZZZA', ':+1:');
		INSERT INTO chatgenius.files (message_id, user_id, name, type, size, url)
			VALUES ('01HZZZZZZZZZZZZZZZZZZZZZZM', '01HZZZZZZZZZZZZZZZZZZZZZZA', 'a.txt', 'text/plain', 3, 'https://x/a.txt');
		SELECT chatgenius.report_event('old-tunnel', 'connected', 'seeded', now(), 'seed-1');"
}

# ---------------------------------------------------------------- fresh install

dbsql postgres "CREATE DATABASE fresh OWNER $FX_APP_USER"
hcmd setup fresh
is "$RC" 0 "setup on an empty database: exit 0"
like "$OUT" "Installing chatgenius $NEWEST" "it says what it installs"
like "$OUT" "Versions applied now: 1\\.0, 1\\.1, 1\\.2" "and which versions it applied"
like "$OUT" "Migration history" "and prints the history"
is "$(printf '%s\n' "$OUT" | grep -cE '^ 1\.[0-9]+ +\| ')" "$NVERSIONS" "one history line per version"
is "$(dbsql fresh "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")" "$NEWEST" \
	"the extension is at $NEWEST"
h1=$(history fresh)
hcmd setup fresh
is "$RC" 0 "setup again: exit 0"
like "$OUT" "chatgenius $NEWEST is up to date: nothing to do" "setup again: nothing to do"
like "$OUT" "Versions applied now: none" "setup again: applies nothing"
is "$(history fresh)" "$h1" "setup again: the history is unchanged"

# ---------------------------------------------------------------- from older versions

for from in 1.0 1.1; do
	db=from${from/./}
	dbsql postgres "CREATE DATABASE $db OWNER $FX_APP_USER"
	dbsql "$db" "CREATE EXTENSION chatgenius VERSION '$from'"
	seed "$db" >/dev/null
	ok $? "seeded $from with chat rows and a tunnel event"
	before=$(row_counts "$db")
	hcmd setup "$db"
	is "$RC" 0 "setup from $from: exit 0"
	like "$OUT" "Updating chatgenius $from -> $NEWEST" "setup from $from: says what it updates"
	is "$(dbsql "$db" "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")" "$NEWEST" \
		"setup from $from: the extension is at $NEWEST"
	is "$(row_counts "$db")" "$before" "setup from $from: every row is kept ($before)"
	is "$(dbsql "$db" "SELECT description FROM chatgenius.channels WHERE name = 'general'")" "the topic" \
		"setup from $from: the channel's topic is now its description"
	is "$(dbsql "$db" "SELECT count(*) FROM chatgenius.schema_migrations")" "$NVERSIONS" \
		"setup from $from: the history has every version"
	h1=$(history "$db")
	hcmd setup "$db"
	is "$RC" 0 "setup from $from, again: exit 0"
	is "$(history "$db")|$(row_counts "$db")" "$h1|$before" "setup from $from, again: history and rows unchanged"
	if [ "$RC" -ne 0 ]; then diag "$ERR"; fi
done

# ---------------------------------------------------------------- a role without the rights

dbsql postgres "CREATE DATABASE norights OWNER $FX_APP_USER"
hcmd setup norights "POSTGRES_USER=$FX_APP_USER" "POSTGRES_PASSWORD=$FX_APP_PASSWORD"
is "$RC" 1 "setup as a role that is not a superuser: exit 1"
like "$ERR" "setup failed: CREATE EXTENSION chatgenius: permission denied to create extension \"chatgenius\"" \
	"it gives PostgreSQL's reason"
like "$ERR" "HINT:  POSTGRES_USER \(\"$FX_APP_USER\"\) must be a superuser" "and says which rights are needed"
is "$(dbsql norights "SELECT count(*) FROM pg_extension WHERE extname = 'chatgenius'")" 0 "nothing was installed"

# ---------------------------------------------------------------- verify

FX_APP_DB=fresh app_install_extension fresh
hcmd verify fresh "POSTGRES_USER=$FX_APP_USER" "POSTGRES_PASSWORD=$FX_APP_PASSWORD"
is "$RC" 0 "verify on a healthy database: exit 0"
like "$OUT" "server version: +PostgreSQL 15" "verify prints the server version"
like "$OUT" "extension version: +$NEWEST" "verify prints the extension version"
# verify prints health() as it is: every check of src/health_checks.h, in
# its order, and no other name.
for check in $(health_check_names); do
	like "$OUT" $'\n'" $check +\\| (ok|warn) +\\|" "verify prints the $check check"
done
is "$(printf '%s\n' "$OUT" | sed -n 's/^ \([a-z_]*\) *| \(ok\|warn\|critical\) *|.*/\1/p' | uniq | paste -sd ' ')" \
	"$(health_check_names | paste -sd ' ')" "verify's table has the checks of src/health_checks.h, in order, and no other"
like "$OUT" "verify: ok" "verify says ok"

hcmd verify norights
is "$RC" 1 "verify without the extension: exit 1"
like "$ERR" "extension \"chatgenius\" is not installed" "and says so"

dbsql fresh "SELECT chatgenius.report_status('broken', 'failed', 1000, 3, 0, 'max retries exceeded',
	10, 0, 0, 0, 0, 0, 0, 1, 'h', '1.2', now(), true)"
hcmd verify fresh "POSTGRES_USER=$FX_APP_USER" "POSTGRES_PASSWORD=$FX_APP_PASSWORD"
is "$RC" 1 "verify with a critical check: exit 1"
like "$OUT" $'\n'" tunnel +\\| critical +\\| broken" "the table shows the critical check"
like "$ERR" "critical checks: tunnel" "and stderr names it"
dbsql fresh "DELETE FROM chatgenius.tunnel_status WHERE tunnel_name = 'broken'"

CLOSED=$(fx_free_port)
hcmd verify fresh "POSTGRES_REMOTE_PORT=$CLOSED" SSH_MAX_RETRIES=1 SSH_RETRY_DELAY=100
cmp_ok "$RC" -ne 0 "verify with the database unreachable: non-zero exit ($RC)"
like "$ERR" "unreachable" "and says the database is unreachable"

hcmd verify fresh "POSTGRES_USER=$FX_APP_USER" "POSTGRES_PASSWORD=$FX_APP_PASSWORD"
is "$RC" 0 "verify is healthy again once the critical row is gone"

done_testing
