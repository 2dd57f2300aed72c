#!/bin/sh
# Installs what the test suite needs on a fresh Debian machine, when it is
# missing: Debian's Dovecot (password-scheme vectors, compatibility tests),
# Python for imaplib-based tests, slapd and PostgreSQL for the LDAP and SQL
# auth tests, and the Go modules.
set -eu
need=""
command -v doveadm >/dev/null 2>&1 || need="$need dovecot-core"
[ -x /usr/lib/dovecot/pop3 ] || need="$need dovecot-pop3d"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# A real OpenLDAP server and its client tools for auth/ldap's tests, and a
# PostgreSQL server for auth/sql's.
[ -x /usr/sbin/slapd ] || need="$need slapd"
command -v ldapadd >/dev/null 2>&1 || need="$need ldap-utils"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
# Packaging tests (internal/pkgtest): systemd-analyze verify on the units,
# systemd-sysusers and systemd-tmpfiles, logrotate --debug, man -w, and
# make for `make install`.
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v logrotate >/dev/null 2>&1 || need="$need logrotate"
command -v man >/dev/null 2>&1 || need="$need man-db"
command -v make >/dev/null 2>&1 || need="$need make"
# ManageSieve: Debian's sieve-connect client for managesieve-login's
# end-to-end test.
command -v sieve-connect >/dev/null 2>&1 || need="$need sieve-connect"
# PAM: headers and a C compiler for the cgo PAM passdb, and pam_wrapper
# with its pam_matrix and pam_chatty test modules for auth/pam's tests.
[ -f /usr/include/security/pam_appl.h ] || need="$need libpam0g-dev"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so >/dev/null 2>&1 || need="$need libpam-wrapper"
# MTA and client interop (internal/itest): Postfix delivering over LMTP
# and authenticating against the auth-client socket, swaks for LMTP and
# SMTP AUTH, fetchmail retrieving over POP3.
[ -x /usr/sbin/postfix ] || need="$need postfix"
command -v swaks >/dev/null 2>&1 || need="$need swaks"
command -v fetchmail >/dev/null 2>&1 || need="$need fetchmail"
if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "test-deps: missing:$need (run as root or install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# --no-install-recommends keeps dovecot's services from being pulled
	# in; policy-rc.d keeps the package from starting its daemon.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	# Postfix's package asks how to set up /etc/postfix: not at all, the
	# tests write their own configuration.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get install -y -q --no-install-recommends $need
	rm -f /usr/sbin/policy-rc.d
fi
go mod download
