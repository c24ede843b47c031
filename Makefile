# chatgenius: PostgreSQL extension (PGXS) plus the chatgenius-tunnel helper.
#
#   make                 build the extension library and helper/chatgenius-tunnel
#   make install         install both (the extension with its exporter queries
#                        file), the helper next to PostgreSQL's programs,
#                        linked into HELPER_LINKDIR (on PATH), the README,
#                        NEWS.md and doc/*.md into HELPER_DOCDIR (the unit's
#                        Documentation=), its manual
#                        pages into HELPER_MANDIR (man8, man5), its systemd unit
#                        into HELPER_UNITDIR (ExecStart= this bindir); DESTDIR honoured
#   make installcheck    pg_regress, then the isolation specs, against a running
#                        server (PGHOST/PGPORT)
#
# NO_HELPER=1 builds and installs the extension alone.

EXTENSION = chatgenius
MODULE_big = chatgenius
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# The install and update scripts, and beside them the queries file that
# prometheus-postgres-exporter runs (--extend.query-path): it calls this
# version's functions, so it ships with them, in the versioned extension
# folder that pg_buildext installs per PostgreSQL version.
DATA = $(sort $(wildcard sql/chatgenius--*.sql)) sql/chatgenius-postgres-exporter.yaml
PGFILEDESC = "chatgenius - chat schema, tunnel status and health checks"

# pg_regress inputs are sql/regress_NAME.sql (so that none reads like an
# install or update script), expected outputs expected/regress_NAME.out.
REGRESS = $(sort $(notdir $(basename $(wildcard sql/regress_*.sql))))

# Concurrency: pg_isolation_regress reads test/isolation/specs/NAME.spec and
# compares with expected/NAME.out (in the output folder, here the top).
ISOLATION = $(sort $(notdir $(basename $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=.

PG_CPPFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Where PostgreSQL's tree is rooted: "" for the system's /usr/lib/postgresql,
# the folder above it for a private copy (so that its make install stays in it).
PG_TREE_ROOT := $(patsubst %/usr/lib/postgresql/$(MAJORVERSION)/bin,%,$(filter %/usr/lib/postgresql/$(MAJORVERSION)/bin,$(bindir)))
# The helper on PATH (empty: no link) and the documents.
HELPER_LINKDIR ?= $(PG_TREE_ROOT)/usr/local/bin
HELPER_DOCDIR ?= $(PG_TREE_ROOT)/usr/share/doc/chatgenius-tunnel
# Its manual pages and its units (.service, .socket), where local installs go
# (empty: not installed).
HELPER_MANDIR ?= $(PG_TREE_ROOT)/usr/local/share/man
HELPER_UNITDIR ?= $(PG_TREE_ROOT)/usr/local/lib/systemd/system

ifndef NO_HELPER
all: helper-all
install: helper-install
clean: helper-clean

.PHONY: helper-all helper-install helper-clean
helper-all:
	$(MAKE) -C helper PG_CONFIG=$(PG_CONFIG)

helper-install: helper-all
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) helper/chatgenius-tunnel '$(DESTDIR)$(bindir)/chatgenius-tunnel'
ifneq ($(HELPER_LINKDIR),)
	$(MKDIR_P) '$(DESTDIR)$(HELPER_LINKDIR)'
	ln -sfn '$(bindir)/chatgenius-tunnel' '$(DESTDIR)$(HELPER_LINKDIR)/chatgenius-tunnel'
endif
ifneq ($(HELPER_DOCDIR),)
	$(MKDIR_P) '$(DESTDIR)$(HELPER_DOCDIR)' '$(DESTDIR)$(HELPER_DOCDIR)/doc'
	$(INSTALL_DATA) README.md NEWS.md '$(DESTDIR)$(HELPER_DOCDIR)/'
	$(INSTALL_DATA) $(sort $(wildcard doc/*.md)) '$(DESTDIR)$(HELPER_DOCDIR)/doc/'
endif
ifneq ($(HELPER_MANDIR),)
	$(MKDIR_P) '$(DESTDIR)$(HELPER_MANDIR)/man8' '$(DESTDIR)$(HELPER_MANDIR)/man5'
	$(INSTALL_DATA) helper/chatgenius-tunnel.8 '$(DESTDIR)$(HELPER_MANDIR)/man8/chatgenius-tunnel.8'
	$(INSTALL_DATA) helper/chatgenius-tunnel.env.5 '$(DESTDIR)$(HELPER_MANDIR)/man5/chatgenius-tunnel.env.5'
endif
# The one unit file (the package's too) names /usr/bin; this install's program
# is $(bindir)'s, by its full path (a bare name finds whatever PATH has first).
ifneq ($(HELPER_UNITDIR),)
	$(MKDIR_P) '$(DESTDIR)$(HELPER_UNITDIR)'
	sed 's|^ExecStart=/usr/bin/chatgenius-tunnel |ExecStart=$(bindir)/chatgenius-tunnel |' \
		helper/chatgenius-tunnel.service >'$(DESTDIR)$(HELPER_UNITDIR)/chatgenius-tunnel.service'
	chmod 0644 '$(DESTDIR)$(HELPER_UNITDIR)/chatgenius-tunnel.service'
	$(INSTALL_DATA) helper/chatgenius-tunnel.socket '$(DESTDIR)$(HELPER_UNITDIR)/chatgenius-tunnel.socket'
endif

helper-clean:
	$(MAKE) -C helper clean
endif
