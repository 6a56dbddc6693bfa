# make && sudo make install [PREFIX=/usr/local] [SYSCONFDIR=/etc] [DESTDIR=]
PREFIX      ?= /usr/local
SYSCONFDIR  ?= /etc
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib/brmgr
DATADIR     ?= $(PREFIX)/share/brmgr
DOCDIR      ?= $(PREFIX)/share/doc/brmgr
UNITDIR     ?= $(PREFIX)/lib/systemd/system
RUNITDIR    ?= $(SYSCONFDIR)/sv
OPENRCDIR   ?= $(SYSCONFDIR)/init.d

PROGRAMS = brmgr brmgr-pre brmgr-post
SUBST = sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@datadir@|$(DATADIR)|g' -e 's|@docdir@|$(DOCDIR)|g'

all: dist/bundle/brmgr.mjs

node_modules: package-lock.json
	npm ci
	touch node_modules

dist/bundle/brmgr.mjs: node_modules $(shell find src -name '*.ts') package.json build/bundle.mjs
	node build/bundle.mjs

# names the runtime tools brmgr needs, instead of failing later
check-tools:
	@missing=; \
	for t in node ip dnsmasq; do command -v $$t >/dev/null 2>&1 || PATH=$$PATH:/usr/sbin:/sbin command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	PATH=$$PATH:/usr/sbin:/sbin; command -v nft >/dev/null 2>&1 || command -v iptables-restore >/dev/null 2>&1 || missing="$$missing nft-or-iptables"; \
	if [ -n "$$missing" ]; then echo "brmgr: missing runtime tools:$$missing (Debian: nodejs iproute2 dnsmasq-base nftables)" >&2; exit 1; fi

install: all check-tools
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 0644 dist/bundle/*.mjs $(DESTDIR)$(LIBDIR)/
	chmod 0755 $(addprefix $(DESTDIR)$(LIBDIR)/,$(addsuffix .mjs,$(PROGRAMS)))
	for p in $(PROGRAMS); do ln -sfr $(DESTDIR)$(LIBDIR)/$$p.mjs $(DESTDIR)$(BINDIR)/$$p; done
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/brmgr $(DESTDIR)$(SYSCONFDIR)/dnsmasq.d
	[ -e $(DESTDIR)$(SYSCONFDIR)/brmgr/brmgr0.conf ] || install -m 0644 etc/brmgr/brmgr0.conf $(DESTDIR)$(SYSCONFDIR)/brmgr/brmgr0.conf
	install -m 0644 etc/dnsmasq.d/brmgr.conf $(DESTDIR)$(SYSCONFDIR)/dnsmasq.d/brmgr.conf
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(RUNITDIR)/brmgr-brmgr0 $(DESTDIR)$(OPENRCDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	$(SUBST) init/systemd/brmgr@.service > $(DESTDIR)$(UNITDIR)/brmgr@.service
	for f in run finish; do $(SUBST) init/runit/brmgr-brmgr0/$$f > $(DESTDIR)$(RUNITDIR)/brmgr-brmgr0/$$f; chmod 0755 $(DESTDIR)$(RUNITDIR)/brmgr-brmgr0/$$f; done
	$(SUBST) init/openrc/brmgr > $(DESTDIR)$(OPENRCDIR)/brmgr && chmod 0755 $(DESTDIR)$(OPENRCDIR)/brmgr
	$(SUBST) share/lxc/lxc.container.conf > $(DESTDIR)$(DATADIR)/lxc.container.conf
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

# leaves /etc/brmgr/*.conf: they are the user's
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS))
	rm -rf $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(UNITDIR)/brmgr@.service $(DESTDIR)$(OPENRCDIR)/brmgr $(DESTDIR)$(SYSCONFDIR)/dnsmasq.d/brmgr.conf
	rm -rf $(DESTDIR)$(RUNITDIR)/brmgr-brmgr0

.PHONY: all install uninstall check-tools
