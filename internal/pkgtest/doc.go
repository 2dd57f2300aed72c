// Package pkgtest holds the tests of what a distribution package ships:
// `make install` and the tree it lays out, the systemd units (checked by
// systemd-analyze verify), the /etc/cote configuration tree, the
// configuration examples of the admin guide, and coteadm's offline
// subcommands run as real binaries against Dovecot's own tools and
// configuration. It has no code outside its tests.
package pkgtest
