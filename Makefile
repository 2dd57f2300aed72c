# cote — see README.md. `make run` starts the development server,
# `make test` installs what the tests need and runs every check.

GO        ?= go
BIN       := bin
# As root the development state must be reachable by the unprivileged
# uids the roles drop to, so it lives outside a possibly private home.
DEV_DIR   ?= $(if $(filter 0,$(shell id -u)),/var/tmp/cote-dev,$(CURDIR)/dev-state)
TEST_FLAGS ?= -race -shuffle=on -timeout 20m

.PHONY: all build build-deps run test deps lint unit fuzz-smoke clean install

all: build

# cote-worker is the worker role alone, linked statically: the master
# starts workers from it when it finds it beside cote or in ../lib/cote
# (docs/ipc.md, "Executables").
build: build-deps
	$(GO) build -o $(BIN)/cote ./cmd/cote
	CGO_ENABLED=0 $(GO) build -o $(BIN)/cote-worker ./cmd/cote-worker

run: build
	$(BIN)/cote --dev $(DEV_DIR)

# The PAM headers and gcc for cgo, installed when missing (as root).
build-deps:
	@sh scripts/build-deps.sh

deps:
	sh scripts/test-deps.sh

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test $(TEST_FLAGS) ./...

test: deps lint unit

clean:
	rm -rf $(BIN) dev-state

# `make install DESTDIR=/tmp/root PREFIX=/usr` lays out what a package
# ships: binaries, systemd units, sysusers.d and tmpfiles.d files, the
# /etc/cote tree (kept where it exists already), logrotate, man pages and
# documentation. Paths inside the units follow PREFIX and SYSCONFDIR.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
LIBDIR_SD  ?= $(PREFIX)/lib
# Where cote looks for cote-worker: SBINDIR/../lib/cote.
LIBEXECDIR ?= $(PREFIX)/lib/cote
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/cote
INSTALL    ?= install
COTE_SED    = -e 's|/usr/sbin/cote|$(SBINDIR)/cote|g' -e 's|/usr/bin/coteadm|$(BINDIR)/coteadm|g' -e 's|/etc/cote|$(SYSCONFDIR)/cote|g'

install: build
	$(GO) build -o $(BIN)/coteadm ./cmd/coteadm
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(LIBDIR_SD)/sysusers.d $(DESTDIR)$(LIBDIR_SD)/tmpfiles.d \
		$(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(SYSCONFDIR)/cote/conf.d \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/admin $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(LIBEXECDIR)
	$(INSTALL) -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/cote/ssl
	$(INSTALL) -m 0755 $(BIN)/cote $(DESTDIR)$(SBINDIR)/cote
	$(INSTALL) -m 0755 $(BIN)/cote-worker $(DESTDIR)$(LIBEXECDIR)/cote-worker
	$(INSTALL) -m 0755 $(BIN)/coteadm $(DESTDIR)$(BINDIR)/coteadm
	for u in cote.service cote.socket; do \
		sed $(COTE_SED) packaging/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	$(INSTALL) -m 0644 packaging/sysusers.d/cote.conf $(DESTDIR)$(LIBDIR_SD)/sysusers.d/cote.conf
	$(INSTALL) -m 0644 packaging/tmpfiles.d/cote.conf $(DESTDIR)$(LIBDIR_SD)/tmpfiles.d/cote.conf
	$(INSTALL) -m 0644 packaging/logrotate.d/cote $(DESTDIR)$(SYSCONFDIR)/logrotate.d/cote
	cd packaging/etc/cote && for f in cote.conf conf.d/* cote-ldap.conf.ext cote-sql.conf.ext; do \
		mode=0644; case $$f in *-ldap.conf.ext|*-sql.conf.ext) mode=0640;; esac; \
		dst=$(DESTDIR)$(SYSCONFDIR)/cote/$$f; \
		if [ -e "$$dst" ]; then echo "install: keeping existing $$dst"; continue; fi; \
		sed $(COTE_SED) $$f > "$$dst" && chmod $$mode "$$dst" || exit 1; \
	done
	$(INSTALL) -m 0644 packaging/man/coteadm.1 $(DESTDIR)$(MANDIR)/man1/coteadm.1
	$(INSTALL) -m 0644 packaging/man/cote.conf.5 $(DESTDIR)$(MANDIR)/man5/cote.conf.5
	$(INSTALL) -m 0644 packaging/man/cote.8 $(DESTDIR)$(MANDIR)/man8/cote.8
	$(INSTALL) -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 docs/admin/*.md $(DESTDIR)$(DOCDIR)/admin/
	$(INSTALL) -m 0644 packaging/cote.conf $(DESTDIR)$(DOCDIR)/examples/cote.conf

# cote and Dovecot side by side (bench/run.sh, as root): writes
# docs/benchmarks.md. IMAPTEST=/path/to/imaptest adds Dovecot's imaptest.
.PHONY: bench
bench:
	IMAPTEST="$(IMAPTEST)" bash bench/run.sh
