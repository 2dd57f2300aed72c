#!/bin/sh
# Installs what the test suite needs on a fresh Debian machine, when it is
# missing: Debian's Dovecot (password-scheme vectors, compatibility tests),
# Python for imaplib-based tests, and the Go modules.
set -eu
need=""
command -v doveadm >/dev/null 2>&1 || need="$need dovecot-core"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
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
	apt-get install -y -q --no-install-recommends $need
	rm -f /usr/sbin/policy-rc.d
fi
go mod download
