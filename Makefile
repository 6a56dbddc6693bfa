# make && sudo make install [PREFIX=/usr/local] [SYSCONFDIR=/etc] [DESTDIR=]
# SNAPSHOT=no: no V8 startup snapshot of the bundle, nor code cache of `brmgr run` (they then start from the bundle).
# make uninstall (same variables) removes what install added but /etc/brmgr/*.conf.
# make dev-link [LINKDIR=~/.local/bin]: brmgr runs from this clone, without make install; make dev-unlink.
# make demo / make check: from a fresh clone to the demo / to the whole test suite (scripts/demo, scripts/check).
PREFIX      ?= /usr/local
SYSCONFDIR  ?= /etc
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib/brmgr
DATADIR     ?= $(PREFIX)/share/brmgr
DOCDIR      ?= $(PREFIX)/share/doc/brmgr
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
RUNITDIR    ?= $(SYSCONFDIR)/sv
OPENRCDIR   ?= $(SYSCONFDIR)/init.d
INSTALL     ?= install
# where check-tools looks for the runtime tools
TOOLPATH    ?= $(PATH):/usr/sbin:/sbin
LINKDIR     ?= $(HOME)/.local/bin

PROGRAMS = brmgr brmgr-pre brmgr-post
SUBST = sed -e 's|@bindir@|$(BINDIR)|g' -e 's|@datadir@|$(DATADIR)|g' -e 's|@docdir@|$(DOCDIR)|g'
RUNIT_SV = $(DESTDIR)$(RUNITDIR)/brmgr-brmgr0
RUNIT_EXPORTER = $(DESTDIR)$(RUNITDIR)/brmgr-exporter

all: dist/bundle/brmgr.mjs

# only when missing: a newer package-lock.json must not make `make` reinstall the dependencies
node_modules:
	npm ci

dist/bundle/brmgr.mjs: $(shell find src -name '*.ts') package.json build/bundle.mjs build/launcher.sh build/snapshot.mjs build/run-loader.mjs | node_modules
	node build/bundle.mjs

# Names every runtime tool brmgr needs that this host lacks. A staged install
# (DESTDIR set, e.g. a package build) only warns: the target host may have them.
check-tools:
	@PATH="$(TOOLPATH)"; missing=; \
	command -v node >/dev/null 2>&1 || missing="$$missing node(nodejs>=20.19)"; \
	if command -v node >/dev/null 2>&1 && ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then missing="$$missing node>=20.19(found $$(node --version))"; fi; \
	command -v ip >/dev/null 2>&1 || missing="$$missing ip(iproute2)"; \
	command -v dnsmasq >/dev/null 2>&1 || missing="$$missing dnsmasq(dnsmasq-base)"; \
	command -v nft >/dev/null 2>&1 || command -v iptables-restore >/dev/null 2>&1 || missing="$$missing nft-or-iptables(nftables)"; \
	if [ -n "$$missing" ]; then \
		if [ -n "$(DESTDIR)" ]; then echo "brmgr: warning: missing runtime tools:$$missing" >&2; \
		else echo "brmgr: missing runtime tools:$$missing" >&2; exit 1; fi; \
	fi

install: all check-tools
	rm -rf $(DESTDIR)$(LIBDIR)
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0644 dist/bundle/*.mjs dist/bundle/*.cjs $(DESTDIR)$(LIBDIR)/
	chmod 0755 $(addprefix $(DESTDIR)$(LIBDIR)/,$(addsuffix .mjs,$(PROGRAMS)))
	$(INSTALL) -m 0755 $(addprefix dist/bundle/,$(PROGRAMS)) $(DESTDIR)$(LIBDIR)/
	for p in $(PROGRAMS); do ln -sfr $(DESTDIR)$(LIBDIR)/$$p $(DESTDIR)$(BINDIR)/$$p; done
	@# the V8 startup snapshot, for the node in PATH (SNAPSHOT=no: none); the launchers use it only
	@# while it matches that node and this bundle, and start from the bundle otherwise
	[ "$(SNAPSHOT)" = no ] || node $(DESTDIR)$(LIBDIR)/brmgr-snapshot-build.mjs "$$(command -v node)" || true
	@# the code cache `brmgr run` starts with (build/run-loader.mjs), for the node in PATH
	[ "$(SNAPSHOT)" = no ] || node $(DESTDIR)$(LIBDIR)/brmgr-run.mjs --build-cache || true
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/brmgr $(DESTDIR)$(SYSCONFDIR)/dnsmasq.d
	@# the user's config: never overwritten
	[ -e $(DESTDIR)$(SYSCONFDIR)/brmgr/brmgr0.conf ] || $(INSTALL) -m 0644 etc/brmgr/brmgr0.conf $(DESTDIR)$(SYSCONFDIR)/brmgr/brmgr0.conf
	$(INSTALL) -m 0644 etc/dnsmasq.d/brmgr.conf $(DESTDIR)$(SYSCONFDIR)/dnsmasq.d/brmgr.conf
	$(INSTALL) -d $(DESTDIR)$(UNITDIR) $(RUNIT_SV)/env $(RUNIT_EXPORTER)/env $(DESTDIR)$(OPENRCDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	for u in brmgr@.service brmgr-exporter.service; do $(SUBST) init/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	$(INSTALL) -d $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/polkit-1/rules.d
	@# lets the brmgr user tell systemd-resolved its bridges' DNS ([dns] resolved = true), where polkitd runs
	$(INSTALL) -m 0644 init/polkit/50-brmgr.rules $(DESTDIR)$(SYSCONFDIR)/polkit-1/rules.d/50-brmgr.rules
	$(INSTALL) -m 0644 init/sysusers/brmgr.conf $(DESTDIR)$(SYSUSERSDIR)/brmgr.conf
	@# the account the systemd units serve as (a staged install leaves it to the package's sysusers file)
	[ -n "$(DESTDIR)" ] || id brmgr >/dev/null 2>&1 || \
		{ command -v systemd-sysusers >/dev/null 2>&1 && systemd-sysusers $(SYSUSERSDIR)/brmgr.conf; } || \
		useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin brmgr || \
		echo "brmgr: warning: no brmgr user could be made; brmgr@.service needs one (runit and OpenRC run as root)" >&2
	for f in run finish; do $(SUBST) init/runit/brmgr-brmgr0/$$f > $(RUNIT_SV)/$$f && chmod 0755 $(RUNIT_SV)/$$f; done
	$(SUBST) init/runit/brmgr-exporter/run > $(RUNIT_EXPORTER)/run && chmod 0755 $(RUNIT_EXPORTER)/run
	for s in brmgr brmgr-exporter; do $(SUBST) init/openrc/$$s > $(DESTDIR)$(OPENRCDIR)/$$s && chmod 0755 $(DESTDIR)$(OPENRCDIR)/$$s; done
	$(INSTALL) -d $(DESTDIR)$(SYSCONFDIR)/init
	$(SUBST) init/upstart/brmgr.conf > $(DESTDIR)$(SYSCONFDIR)/init/brmgr.conf && chmod 0644 $(DESTDIR)$(SYSCONFDIR)/init/brmgr.conf
	$(SUBST) share/lxc/lxc.container.conf > $(DESTDIR)$(DATADIR)/lxc.container.conf
	chmod 0644 $(DESTDIR)$(DATADIR)/lxc.container.conf
	$(INSTALL) -d $(DESTDIR)$(DATADIR)/prometheus
	$(INSTALL) -m 0644 prometheus/brmgr.rules.yml prometheus/grafana-dashboard.json $(DESTDIR)$(DATADIR)/prometheus/
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

# keeps /etc/brmgr: the configs there are the user's
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS))
	rm -rf $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(UNITDIR)/brmgr@.service $(DESTDIR)$(OPENRCDIR)/brmgr $(DESTDIR)$(SYSCONFDIR)/dnsmasq.d/brmgr.conf
	rm -f $(DESTDIR)$(UNITDIR)/brmgr-exporter.service $(DESTDIR)$(OPENRCDIR)/brmgr-exporter
	@# the brmgr user stays: files may still be its
	rm -f $(DESTDIR)$(SYSUSERSDIR)/brmgr.conf $(DESTDIR)$(SYSCONFDIR)/polkit-1/rules.d/50-brmgr.rules
	rmdir $(DESTDIR)$(SYSCONFDIR)/polkit-1/rules.d $(DESTDIR)$(SYSCONFDIR)/polkit-1 2>/dev/null || true
	rm -f $(RUNIT_SV)/run $(RUNIT_SV)/finish $(RUNIT_EXPORTER)/run
	rmdir $(RUNIT_SV)/env $(RUNIT_SV) $(RUNIT_EXPORTER)/env $(RUNIT_EXPORTER) 2>/dev/null || true
	rm -f $(DESTDIR)$(SYSCONFDIR)/init/brmgr.conf
	rmdir $(DESTDIR)$(SYSCONFDIR)/init 2>/dev/null || true
	rmdir $(DESTDIR)$(SYSCONFDIR)/dnsmasq.d 2>/dev/null || true

# links to this clone's built programs: `make` again after a change, and they run the new build
dev-link: all
	mkdir -p $(LINKDIR)
	for p in $(PROGRAMS); do ln -sfn $(CURDIR)/dist/bundle/$$p $(LINKDIR)/$$p; done

# removes only links into this clone
dev-unlink:
	for p in $(PROGRAMS); do [ "$$(readlink $(LINKDIR)/$$p)" != $(CURDIR)/dist/bundle/$$p ] || rm -f $(LINKDIR)/$$p; done

demo:
	scripts/demo

check:
	scripts/check

.PHONY: all install uninstall check-tools dev-link dev-unlink demo check
