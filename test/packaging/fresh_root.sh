#!/usr/bin/env bash
# The README's quick start on a fresh Debian 12, as written: a new root made
# by `debootstrap --variant=minbase bookworm` plus git, a clone of one commit
# of this repository in it, and the README's two commands run inside it as
# root (test/demo.sh, then test/run-tests.sh), installing what they need
# themselves.  Not part of the test command: it downloads a system and runs
# every test (an hour or more on two cores).
#
#   test/packaging/fresh_root.sh [COMMIT [RUN-TESTS ARGS...]]
#
# COMMIT defaults to HEAD; RUN-TESTS ARGS (say, a few .t files) make the
# second command run only those.  FRESH_DIR (default: a new folder under
# /var/tmp) holds the root and the logs: demo.log, tests.log, summary.txt.
# The root is a mount point of its own, with /proc, /sys and /dev (and the
# mounts beneath it) bound in, all inside a private mount namespace, so
# that nothing stays mounted when the script ends.  The Debian mirror is the one apt's own
# sources name.  Exits with run-tests.sh's status.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "fresh_root: run as root" >&2; exit 2; }
commit=$(git -C "$top" rev-parse --verify "${1:-HEAD}^{commit}")
shift $(($# > 0 ? 1 : 0))
work=${FRESH_DIR:-$(mktemp -d /var/tmp/chatgenius-fresh.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
root=$work/root
gitdir=$(cd "$top" && cd "$(git rev-parse --git-common-dir)" && pwd)

# The mirror for bookworm in apt's sources (deb822 or one-line style).
mirror()
{
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN { RS = ""; FS = "\n" }
			/(^|\n)Suites:[^\n]*bookworm( |\n|$)/ && /(^|\n)URIs:/ {
				for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, u, " "); print u[2]; exit } }' "$f"
	done
	awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true
}
MIRROR=$(mirror | head -1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "fresh_root: debootstrap is needed (apt-get install debootstrap)" >&2; exit 2; }

echo "fresh_root: commit $commit, root $root, mirror $MIRROR" | tee "$work/summary.txt"
export root work commit MIRROR gitdir
# Everything below runs in a private mount namespace: its mounts end with it.
exec unshare -m --propagation private bash -euo pipefail -c '
	mkdir -p "$root"
	mount --bind "$root" "$root"	# the root is a mount point, as / is
	if [ ! -x "$root/usr/bin/git" ]; then
		t0=$SECONDS
		debootstrap --variant=minbase --include=git,ca-certificates bookworm "$root" "$MIRROR" \
			>"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
		echo "fresh_root: debootstrap took $((SECONDS - t0)) s" | tee -a "$work/summary.txt"
	fi
	# apt inside sees the same suites as this machine (updates, security).
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && grep -q "^Suites:.*bookworm" "$f" && cp "$f" "$root/etc/apt/sources.list.d/"
	done
	ls "$root"/etc/apt/sources.list.d/*.sources >/dev/null 2>&1 && : >"$root/etc/apt/sources.list"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	# /dev with its own mounts: /dev/pts, and /dev/shm (tmpfs, 1777), where
	# Patroni takes its semaphores as postgres (a plain bind leaves the
	# root-only directory beneath)
	mount --rbind /dev "$root/dev"
	mkdir -p "$root/mnt/src"
	mount --bind -o ro "$gitdir" "$root/mnt/src"

	in_root()
	{
		chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
	}
	in_root bash -c "rm -rf /root/chatgenius && git -c safe.directory=\* clone -q --no-checkout /mnt/src /root/chatgenius &&
		cd /root/chatgenius && git -c advice.detachedHead=false checkout -q $commit"
	echo "fresh_root: cloned $(in_root git -C /root/chatgenius log -1 --format="%h %s" | cut -c1-100)" | tee -a "$work/summary.txt"

	t0=$SECONDS
	set +e
	in_root bash -c "cd /root/chatgenius && test/demo.sh" >"$work/demo.log" 2>&1
	demo_rc=$?
	echo "fresh_root: test/demo.sh exit $demo_rc in $((SECONDS - t0)) s" | tee -a "$work/summary.txt"
	t0=$SECONDS
	in_root bash -c "cd /root/chatgenius && test/run-tests.sh \"\$@\"" _ "$@" >"$work/tests.log" 2>&1
	tests_rc=$?
	set -e
	echo "fresh_root: test/run-tests.sh exit $tests_rc in $((SECONDS - t0)) s" | tee -a "$work/summary.txt"
	grep -E "^(tests: |failed stages|skipped file|  faults tried|  bad inputs)" "$work/tests.log" | tee -a "$work/summary.txt"
	umount -l "$root/mnt/src" "$root/dev" "$root/sys" "$root/proc" 2>/dev/null || true
	[ "$demo_rc" -eq 0 ] && exit "$tests_rc"
	exit "$demo_rc"
' _ "$@"
