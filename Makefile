# Builds formnet and installs what an operator needs: the two binaries, their man pages, the
# systemd units, shell completions and example configs.
#
#   make                                   swift build -c release
#   make install                           as root, into PREFIX (default /usr/local)
#   make install PREFIX=/usr DESTDIR=/tmp/pkg    staged, for a package
#   make install BUILD_DIR=.build/debug    binaries built already (Integration/contrib/run)
#   make uninstall                         removes what install put in place
#
# `install` never builds: `make` runs as the user who owns the tree and `make install` as root,
# so root never writes into .build (and CI, which has debug binaries already, builds nothing).
#
# formnet-relay-probe is not installed. It is the test client of Integration/relay and bench/:
# it sends spoofed, replayed, stale and flooding frames on purpose. Operators check a relay
# with its /status and /metrics endpoints and `formnet list-relays`, not with an attack tool.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# systemd reads units from both /usr/local/lib/systemd/system and /usr/lib/systemd/system, so
# PREFIX decides this too. On systems without merged /usr that want /lib/systemd/system, pass
# SYSTEMDUNITDIR=/lib/systemd/system.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# Where bash-completion, zsh (Debian's fpath) and fish look for vendors' completions, under
# both /usr and /usr/local.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DOCDIR ?= $(PREFIX)/share/doc/formnet

SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
BUILD_DIR ?= .build/release
INSTALL ?= install

PROGRAMS = formnet formnet-server
MANPAGES = man/formnet.8 man/formnet-server.8
UNITS = formnet@.service formnet-server@.service formnet-relay.service
EXAMPLES = relay-allow-keys relay.env network.env formnet-hosts.conf

.PHONY: all build install install-bin install-man install-systemd install-completions \
	install-examples uninstall check-binaries

all: build

build:
	$(SWIFT) build -c release $(SWIFT_BUILD_FLAGS)

check-binaries:
	@for p in $(PROGRAMS); do \
		[ -x "$(BUILD_DIR)/$$p" ] || { echo "no $(BUILD_DIR)/$$p: run 'make' first (or pass BUILD_DIR=.build/debug)" >&2; exit 1; }; \
	done

install: install-bin install-man install-systemd install-completions install-examples

install-bin: check-binaries
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)"
	for p in $(PROGRAMS); do $(INSTALL) -m 0755 "$(BUILD_DIR)/$$p" "$(DESTDIR)$(BINDIR)/$$p"; done

install-man:
	$(INSTALL) -d "$(DESTDIR)$(MANDIR)/man8"
	$(INSTALL) -m 0644 $(MANPAGES) "$(DESTDIR)$(MANDIR)/man8/"

# The units name the binaries by absolute path (systemd needs one), which only install knows.
install-systemd:
	$(INSTALL) -d "$(DESTDIR)$(SYSTEMDUNITDIR)"
	for u in $(UNITS); do \
		sed 's|@BINDIR@|$(BINDIR)|g' "contrib/systemd/$$u" > "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp" && \
		chmod 0644 "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp" && \
		mv "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp" "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u" || exit 1; \
	done

# Generated from the binaries being installed, so they always match their commands and options.
install-completions: check-binaries
	$(INSTALL) -d "$(DESTDIR)$(BASHCOMPDIR)" "$(DESTDIR)$(ZSHCOMPDIR)" "$(DESTDIR)$(FISHCOMPDIR)"
	for p in $(PROGRAMS); do \
		"$(BUILD_DIR)/$$p" --generate-completion-script bash > "$(DESTDIR)$(BASHCOMPDIR)/$$p" && \
		"$(BUILD_DIR)/$$p" --generate-completion-script zsh > "$(DESTDIR)$(ZSHCOMPDIR)/_$$p" && \
		"$(BUILD_DIR)/$$p" --generate-completion-script fish > "$(DESTDIR)$(FISHCOMPDIR)/$$p.fish" && \
		chmod 0644 "$(DESTDIR)$(BASHCOMPDIR)/$$p" "$(DESTDIR)$(ZSHCOMPDIR)/_$$p" "$(DESTDIR)$(FISHCOMPDIR)/$$p.fish" \
		|| exit 1; \
	done

install-examples:
	$(INSTALL) -d "$(DESTDIR)$(DOCDIR)/examples"
	for e in $(EXAMPLES); do $(INSTALL) -m 0644 "contrib/examples/$$e" "$(DESTDIR)$(DOCDIR)/examples/$$e"; done

uninstall:
	for p in $(PROGRAMS); do \
		rm -f "$(DESTDIR)$(BINDIR)/$$p" "$(DESTDIR)$(BASHCOMPDIR)/$$p" "$(DESTDIR)$(ZSHCOMPDIR)/_$$p" \
			"$(DESTDIR)$(FISHCOMPDIR)/$$p.fish"; \
	done
	for m in $(MANPAGES); do rm -f "$(DESTDIR)$(MANDIR)/man8/$$(basename $$m)"; done
	for u in $(UNITS); do rm -f "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u"; done
	for e in $(EXAMPLES); do rm -f "$(DESTDIR)$(DOCDIR)/examples/$$e"; done
	-rmdir "$(DESTDIR)$(DOCDIR)/examples" "$(DESTDIR)$(DOCDIR)" 2>/dev/null
