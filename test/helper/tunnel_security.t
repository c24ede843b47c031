#!/usr/bin/env bash
# chatgenius-tunnel's SSH security against a real sshd: host key unknown or
# changed (exit 3, OpenSSH's words, no retry), a private key readable by
# others (refused), and a password-only server (no password is ever tried).
#
#   prove test/helper/tunnel_security.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin security

sshd_conns()
{
	grep -c 'Connection from 127.0.0.1' "$FX_SSH_DIR/sshd.log"
}

# ------------------------------------------------------------- unknown host key
: >"$FX_DIR/known_empty"
tl_start unknown SSH_KNOWN_HOSTS="$FX_DIR/known_empty" SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=100
tl_wait_exit 30
is "$TL_RC" 3 "unknown host key: exit 3"
like "$(cat "$TL_LOG")" 'Host key verification failed\.' "Host key verification failed."
like "$(cat "$TL_LOG")" "No ED25519 host key is known for \\[127\\.0\\.0\\.1\\]:$FX_SSH_PORT" "names the key type and [host]:port"
ok "$(tl_count 'event=reconnecting')" "never retried"
is "$(tl_count 'msg=session_failed')" 1 "one attempt only"
tl_sanitizer_clean unknown

# ------------------------------------------------------------- changed host key
ssh-keygen -q -t ed25519 -N '' -f "$FX_DIR/other_host" </dev/null
printf '[127.0.0.1]:%s %s\n' "$FX_SSH_PORT" "$(cut -d' ' -f1-2 "$FX_DIR/other_host.pub")" >"$FX_DIR/known_changed"
tl_start changed SSH_KNOWN_HOSTS="$FX_DIR/known_changed" SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=100
tl_wait_exit 30
is "$TL_RC" 3 "changed host key: exit 3"
like "$(cat "$TL_LOG")" 'REMOTE HOST IDENTIFICATION HAS CHANGED' "OpenSSH's warning"
like "$(cat "$TL_LOG")" 'SHA256:[A-Za-z0-9+/]{43}' "with the server key's fingerprint"
like "$(cat "$TL_LOG")" 'Host key verification failed\.' "Host key verification failed."
ok "$(tl_count 'event=reconnecting')" "never retried"
tl_sanitizer_clean changed

# ------------------------------------------------------------- loose key file
cp "$FX_SSH_KEY" "$FX_DIR/loose_key"
chmod 644 "$FX_DIR/loose_key"
before=$(sshd_conns)
tl_start loose SSH_KEY_PATH="$FX_DIR/loose_key" SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=100
tl_wait_exit 30
is "$TL_RC" 3 "key readable by others: exit 3"
like "$(cat "$TL_LOG")" "Permissions 0644 for '$FX_DIR/loose_key' are too open\\." "OpenSSH's words"
is "$(($(sshd_conns) - before))" 0 "the key is refused before connecting"
tl_sanitizer_clean loose

# ------------------------------------------------------------- passphrase-protected key
ssh-keygen -q -t ed25519 -N 'correct horse' -C chatgenius-test-pp -f "$FX_DIR/pp_key" </dev/null
cat "$FX_DIR/pp_key.pub" >>"$FX_SSH_DIR/authorized_keys"
tl_start passphrase SSH_KEY_PATH="$FX_DIR/pp_key" SSH_KEY_PASSPHRASE='correct horse'
tl_up
ok $? "an ed25519 key with SSH_KEY_PASSPHRASE connects"
is "$(tl_psql -Atc 'SELECT 42')" 42 "and forwards"
tl_stop
is "$TL_RC" 0 "and stops cleanly"
tl_start wrong_passphrase SSH_KEY_PATH="$FX_DIR/pp_key" SSH_KEY_PASSPHRASE='pp-Wr0ng-9x' \
	SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=100
tl_wait_exit 30
is "$TL_RC" 3 "a wrong passphrase: exit 3"
ok "$(tl_count 'event=reconnecting')" "never retried"
unlike "$(cat "$TL_LOG")" 'Wr0ng-9x' "the passphrase is not logged"

# ------------------------------------------------------------- key not authorized
ssh-keygen -q -t ed25519 -N '' -C chatgenius-test-stranger -f "$FX_DIR/stranger_key" </dev/null
tl_start stranger SSH_KEY_PATH="$FX_DIR/stranger_key" SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=100
tl_wait_exit 30
is "$TL_RC" 3 "a key the server does not accept: exit 3"
like "$(cat "$TL_LOG")" 'Permission denied \(publickey' "Permission denied (publickey)."
ok "$(tl_count 'event=reconnecting')" "never retried"
tl_sanitizer_clean stranger

# ------------------------------------------------------------- password-only server
fx_sshd_stop
: >"$FX_SSH_DIR/sshd.log"
fx_sshd_start 'AuthenticationMethods password' 'PubkeyAuthentication no' 'PasswordAuthentication yes'
tl_start password SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=100
tl_wait_exit 30
is "$TL_RC" 3 "password-only server: exit 3"
like "$(cat "$TL_LOG")" 'Permission denied \(password\)' "Permission denied (password)."
fx_wait_for 5 "sshd logged the auth method probe" grep -q 'method none' "$FX_SSH_DIR/sshd.log"
ok $? "sshd logged our 'none' probe (its log shows methods)"
unlike "$(grep -E 'userauth-request|Failed|Accepted' "$FX_SSH_DIR/sshd.log")" 'method (password|keyboard-interactive)|Failed password' \
	"no password or keyboard-interactive attempt reached sshd"
ok "$(tl_count 'event=reconnecting')" "never retried"
tl_sanitizer_clean password

done_testing
