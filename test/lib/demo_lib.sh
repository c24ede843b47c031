# shellcheck shell=bash
# The first steps of every demo (test/demo.sh, test/demo_ha.sh): from the
# top of the checkout, install what is missing, build and install, and
# source the fixture with the installed helper.  Sourced by a demo after
# `set -euo pipefail`; then `fx_init NAME` is the demo's.

# step TEXT: a demo's headline for what comes next.
step()
{
	printf '\n\033[1m==> %s\033[0m\n' "$*"
}

step "installing what is missing, building and installing chatgenius"
bash test/deps.sh
make -s
make -s install >/dev/null
PATH="$(pg_config --bindir):$PATH"
export PATH

. test/lib/fixture.sh
FX_HELPER=$(pg_config --bindir)/chatgenius-tunnel
