#!/usr/bin/env bash
# The SSH files the helper reads, against a real sshd, judged as OpenSSH
# judges them: known_hosts (unreadable, lines libssh2 1.10 cannot parse,
# @revoked and @cert-authority markers, "host" against "[host]:port", the
# host key type pin) and the private key (unreadable by the service user,
# owned by someone else, reached through a symlink).  Each refusal is exit 3
# with the real reason, never retried.
#
#   prove test/helper/ssh_files.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
fx_init sshfiles
fx_pg_start
ssh-keygen -q -t ecdsa -b 256 -N '' -C chatgenius-test-host-ecdsa -f "$FX_DIR/host_ecdsa" </dev/null
fx_sshd_start "HostKey $FX_DIR/host_ecdsa"

host_ed25519=$(cut -d' ' -f1-2 "$FX_SSH_DIR/host_ed25519.pub")
host_ecdsa=$(cut -d' ' -f1-2 "$FX_DIR/host_ecdsa.pub")
ssh-keygen -q -t ed25519 -N '' -f "$FX_DIR/stranger_host" </dev/null
stranger=$(cut -d' ' -f1-2 "$FX_DIR/stranger_host.pub")
hp="[127.0.0.1]:$FX_SSH_PORT"

# run_as USER NAME KEY=VALUE...: tl_start with the helper running as USER.
run_as()
{
	local user=$1 name=$2
	shift 2
	TL_ENV=$FX_DIR/$name.env
	TL_LOG=$FX_DIR/$name.log
	FX_TUNNEL_PORT=$(fx_free_port)
	fx_env_file "$TL_ENV" "TUNNEL_NAME=test-$name" "$@"
	chown "$user" "$TL_ENV"	# 0600: it holds a password
	fx_bg "$TL_LOG" setpriv --reuid="$user" --regid="$user" --init-groups "$FX_HELPER" --env-file "$TL_ENV"
	TL_PID=$FX_BG_PID
}

# refused NAME REGEX DESCRIPTION: the helper exited 3 with REGEX in its log,
# without retrying.
refused()
{
	tl_wait_exit 30
	is "$TL_RC" 3 "$1: exit 3"
	like "$(cat "$TL_LOG")" "$2" "$1: $3"
	is "$(tl_count 'event=reconnecting')" 0 "$1: never retried"
}

# connects NAME: the helper came up and forwards, then stops cleanly.
connects()
{
	tl_up
	ok $? "$1: connected"
	is "$(tl_psql -Atc 'SELECT 7')" 7 "$1: forwards"
	tl_stop
	is "$TL_RC" 0 "$1: stops cleanly"
}

# The service user's own copy of the key and a state folder it can write.
mkdir -p "$FX_DIR/svc"
cp "$FX_SSH_KEY" "$FX_DIR/svc/id_ed25519"
chown -R postgres:postgres "$FX_DIR/svc"
chmod 700 "$FX_DIR/svc"
chmod 600 "$FX_DIR/svc/id_ed25519"
svc_env=(SSH_KEY_PATH="$FX_DIR/svc/id_ed25519" TUNNEL_STATE_DIR="$FX_DIR/svc/state")

# ------------------------------------------------ known_hosts unreadable
fault_begin
printf '%s %s\n' "$hp" "$host_ed25519" >"$FX_DIR/known_root_only"
chmod 600 "$FX_DIR/known_root_only"
run_as postgres kh_unreadable "${svc_env[@]}" SSH_KNOWN_HOSTS="$FX_DIR/known_root_only"
refused "known_hosts unreadable by the service user" \
	"load_hostkeys: fopen $FX_DIR/known_root_only: Permission denied \\(SSH_KNOWN_HOSTS must be readable by the user chatgenius-tunnel runs as: postgres" \
	"Permission denied, naming the file and the user"
unlike "$(cat "$TL_LOG")" 'No ED25519 host key is known' "known_hosts unreadable: not reported as an unknown host"
fault_end refused-input known-hosts-unreadable

# ------------------------------------------------ lines libssh2 1.10 cannot parse
{
	echo "# comment"
	echo "example.org sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIDY= x"
	echo "@cert-authority *.example.org $stranger"
	echo "this is not a known_hosts line"
	echo "short-key ssh-ed25519 AAAA"
	printf '%s %s\n' "$hp" "$host_ed25519"
} >"$FX_DIR/known_odd"
tl_start kh_odd SSH_KNOWN_HOSTS="$FX_DIR/known_odd"
connects "known_hosts with unparsable lines before the host's line"

{
	echo "garbage-before garbage"
	printf '%s %s\n' "other.example" "$host_ed25519"
} >"$FX_DIR/known_garbage"
tl_start kh_garbage SSH_KNOWN_HOSTS="$FX_DIR/known_garbage"
refused "host unknown, file has an unparsable line" \
	"No (ED25519|ECDSA) host key is known for \\[127\\.0\\.0\\.1\\]:$FX_SSH_PORT.*1 line\\(s\\) of $FX_DIR/known_garbage could not be read and were skipped \\(first: line 1" \
	"says which line was skipped"

# ------------------------------------------------ hashed names (HashKnownHosts)
printf '%s %s\n' "$hp" "$host_ed25519" >"$FX_DIR/known_hashed"
ssh-keygen -q -H -f "$FX_DIR/known_hashed" >/dev/null 2>&1
rm -f "$FX_DIR/known_hashed.old"
like "$(cat "$FX_DIR/known_hashed")" '^\|1\|' "the known_hosts line is hashed"
tl_start kh_hashed SSH_KNOWN_HOSTS="$FX_DIR/known_hashed"
connects "a hashed [host]:port entry"

# ------------------------------------------------ @revoked
fault_begin
{
	printf '@revoked %s %s\n' "$hp" "$host_ed25519"
	printf '%s %s\n' "$hp" "$host_ed25519"
} >"$FX_DIR/known_revoked"
tl_start kh_revoked SSH_KNOWN_HOSTS="$FX_DIR/known_revoked"
refused "a @revoked host key" "WARNING: REVOKED HOST KEY DETECTED! The ED25519 host key for \\[127\\.0\\.0\\.1\\]:$FX_SSH_PORT is marked as revoked" \
	"OpenSSH's REVOKED HOST KEY warning"
fault_end refused-input known-hosts-revoked

{
	printf '@revoked %s %s\n' "$hp" "$stranger"
	printf '%s %s\n' "$hp" "$host_ed25519"
} >"$FX_DIR/known_revoked_other"
tl_start kh_revoked_other SSH_KNOWN_HOSTS="$FX_DIR/known_revoked_other"
connects "a @revoked line for another key"

# ------------------------------------------------ @cert-authority for the host
printf '@cert-authority %s %s\n' "$hp" "$stranger" >"$FX_DIR/known_ca"
tl_start kh_ca SSH_KNOWN_HOSTS="$FX_DIR/known_ca"
refused "only a @cert-authority line for the host" \
	"A @cert-authority line names \\[127\\.0\\.0\\.1\\]:$FX_SSH_PORT, but host certificates are not supported" \
	"says certificates are not supported"

# ------------------------------------------------ "host" against "[host]:port"
{
	printf '127.0.0.1 %s\n' "$host_ed25519"
	printf '%s %s\n' "$hp" "$stranger"
} >"$FX_DIR/known_plain_over"
tl_start kh_plain_override SSH_KNOWN_HOSTS="$FX_DIR/known_plain_over"
refused "a plain host entry with a changed [host]:port entry" 'REMOTE HOST IDENTIFICATION HAS CHANGED' \
	"the [host]:port mismatch wins, as in OpenSSH"

printf '127.0.0.1 %s\n' "$host_ed25519" >"$FX_DIR/known_plain_only"
tl_start kh_plain_only SSH_KNOWN_HOSTS="$FX_DIR/known_plain_only"
refused "only a plain host entry for port $FX_SSH_PORT" \
	"No (ED25519|ECDSA) host key is known for \\[127\\.0\\.0\\.1\\]:$FX_SSH_PORT" "unknown, as in OpenSSH"

# ------------------------------------------------ port 22 key types do not pin
{
	printf '127.0.0.1 %s\n' "$stranger"
	printf '%s %s\n' "$hp" "$host_ecdsa"
} >"$FX_DIR/known_pin"
tl_start kh_pin SSH_KNOWN_HOSTS="$FX_DIR/known_pin"
connects "an ed25519 key for port 22 and the ECDSA key for the port"
unlike "$(cat "$TL_LOG")" 'REMOTE HOST IDENTIFICATION HAS CHANGED' "no false host key change"

# ------------------------------------------------ private key unreadable by the service user
fault_begin
cp "$FX_SSH_KEY" "$FX_DIR/root_key"
chmod 600 "$FX_DIR/root_key"
run_as postgres key_unreadable "${svc_env[@]}" SSH_KEY_PATH="$FX_DIR/root_key"
refused "a key the service user cannot read" "Load key \\\\\"$FX_DIR/root_key\\\\\": Permission denied" \
	"OpenSSH's Load key ...: Permission denied"
unlike "$(cat "$TL_LOG")" 'invalid format' "not reported as an invalid format"
fault_end refused-input key-unreadable

# ------------------------------------------------ private key owned by another user
# Root may use another user's key, as OpenSSH's root may (doc/operations.md's setup
# and verify as root, with the service user's key); a loose mode is still
# refused.  Any other user may not: a key it reads through its group.
cp "$FX_SSH_KEY" "$FX_DIR/other_owner_key"
chown postgres "$FX_DIR/other_owner_key"
chmod 600 "$FX_DIR/other_owner_key"
tl_start key_owner_root SSH_KEY_PATH="$FX_DIR/other_owner_key"
connects "as root, a key owned by another user (0600)"

fault_begin
chmod 640 "$FX_DIR/other_owner_key"
tl_start key_owner_root_loose SSH_KEY_PATH="$FX_DIR/other_owner_key"
refused "as root, a key owned by another user at 0640" "Permissions 0640 for '$FX_DIR/other_owner_key' are too open" \
	"OpenSSH's Permissions ... are too open"
fault_end refused-input key-other-owner-loose

fault_begin
cp "$FX_SSH_KEY" "$FX_DIR/group_key"
chown nobody:postgres "$FX_DIR/group_key"
chmod 640 "$FX_DIR/group_key"
run_as postgres key_owner "${svc_env[@]}" SSH_KEY_PATH="$FX_DIR/group_key"
refused "a key owned by another user, read through the group" "Bad owner or permissions on $FX_DIR/group_key" \
	"Bad owner or permissions"
fault_end refused-input key-bad-owner

# ------------------------------------------------ symlinked keys (ssh follows them, checks the target)
ln -s "$FX_SSH_KEY" "$FX_DIR/link_key"
tl_start key_link SSH_KEY_PATH="$FX_DIR/link_key"
connects "a symlink to a private key"

cp "$FX_SSH_KEY" "$FX_DIR/loose_target"
chmod 644 "$FX_DIR/loose_target"
ln -s "$FX_DIR/loose_target" "$FX_DIR/link_loose"
tl_start key_link_loose SSH_KEY_PATH="$FX_DIR/link_loose"
refused "a symlink to a key readable by others" "Permissions 0644 for '$FX_DIR/link_loose' are too open\\." \
	"the target's mode is checked"

done_testing
