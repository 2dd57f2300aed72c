// Package config reads cote's configuration: Dovecot 2.3 syntax and setting
// names (`key = value`, `name [NAME] { }` blocks, `!include`, `$name`,
// `<file`), built-in defaults, validation, and printing for `cote -n` and
// `cote -a`.
//
// The lifecycle is parse, finalize, validate: ParseFile and ParseString
// apply a file over Defaults, resolve what depends on the final values
// (service users given as $default_* settings, listener addresses from
// `listen`) and run Validate, returning every error at once as an
// ErrorList of `file:line: message`. The master does this once, as root;
// children receive the resulting Settings as JSON and never read files.
//
// Each setting is a tagged field of Settings (or of DB, Service,
// InetListener, UnixListener, Namespace, Mailbox); the table in table.go
// holds defaults, allowed values and the documentation from which
// docs/config.md is generated. A user or group written `#NUMBER` is a
// numeric id that needs no system user (NumericID).
package config
