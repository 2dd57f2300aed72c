#!/bin/sh
# Installs what building cote needs on a fresh Debian machine, when it is
# missing: the PAM headers and a C compiler for the cgo PAM passdb. As a
# normal user it names what is missing instead.
set -eu
need=""
[ -f /usr/include/security/pam_appl.h ] || need="$need libpam0g-dev"
command -v gcc >/dev/null 2>&1 || need="$need gcc"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "build-deps: missing:$need (run as root, or: sudo apt-get install$need)" >&2
	exit 1
fi
echo "build-deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $need
