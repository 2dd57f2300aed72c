package config

import "strings"

// info is one row of the defaults table: a setting's default (in
// configuration syntax), its allowed values when it is an enumeration
// ("a|b|c"), and its documentation. docs/config.md is generated from these
// rows (see TestDocsCurrent).
type info struct {
	key, def, choices, doc string
}

// sectionKinds lists the block kinds with their own tables, in the order the
// documentation presents them. "" is the top level.
var sectionKinds = []string{"", "service", "inet_listener", "unix_listener", "passdb", "userdb", "namespace", "mailbox"}

// table returns the rows for one block kind.
func table(kind string) []info {
	switch kind {
	case "":
		return globalTable()
	case "service":
		return serviceTable()
	case "inet_listener":
		return []info{
			{"address", "", "", "Addresses to listen on, separated by commas or spaces. Empty means the global `listen`."},
			{"port", "0", "", "TCP port. 0 disables the listener."},
			{"ssl", "no", "", "Implicit TLS: the TLS handshake starts as soon as the client connects (imaps, pop3s)."},
			{"haproxy", "no", "", "Expect a HAProxy PROXY protocol header before the client's data. Connections must come from `haproxy_trusted_networks`."},
			{"reuse_port", "no", "", "Set SO_REUSEPORT on the socket."},
		}
	case "unix_listener":
		return []info{
			{"mode", "0600", "", "Permission bits of the socket, octal. 0 disables the listener."},
			{"user", "", "", "Owner of the socket. Empty: the master's user (root in production)."},
			{"group", "", "", "Group of the socket. Empty: the master's group."},
		}
	case "passdb", "userdb":
		return dbTable(kind)
	case "namespace":
		return []info{
			{"type", "private", "private|shared|public", "Namespace type. cote serves one personal namespace: the value is accepted and not applied (no shared or public namespaces yet)."},
			{"separator", "", "", "Hierarchy separator shown to clients. Accepted and not applied: cote shows `/`."},
			{"prefix", "", "", "Prefix of every mailbox name in this namespace. cote serves its mailboxes without one: the mailbox blocks of a namespace with a prefix are not applied."},
			{"location", "", "", "Mail location of the namespace. Accepted and not applied: mail is where `mail_location` (or the userdb's `mail`) says."},
			{"inbox", "no", "", "This namespace holds INBOX. Exactly one namespace should."},
			{"hidden", "no", "", "Do not advertise the namespace in the NAMESPACE reply. Accepted and not applied."},
			{"list", "yes", "yes|no|children", "Whether LIST shows the namespace's mailboxes. Accepted and not applied."},
			{"subscriptions", "yes", "", "The namespace keeps its own subscriptions. Accepted and not applied."},
			{"disabled", "no", "", "Ignore the namespace and its mailbox blocks."},
		}
	case "mailbox":
		return []info{
			{"special_use", "", "", "SPECIAL-USE attributes (RFC 6154) such as `\\Sent`, `\\Trash`, `\\Drafts`, `\\Junk`, `\\Archive`: LIST shows them for the mailbox of this name when it has none of its own, and a mailbox `auto` makes keeps them."},
			{"auto", "no", "no|create|subscribe", "Create (and subscribe) the mailbox at login when missing, unless another mailbox has its special use. With no namespace block at all, cote makes Drafts, Sent, Trash, Junk and Archive, subscribed; with one, only the mailboxes marked here."},
			{"autoexpunge", "0", "", "Expunge messages older than this (by save date). Accepted and not applied yet."},
		}
	}
	return nil
}

func dbTable(kind string) []info {
	skip := "never|authenticated|unauthenticated"
	if kind == "userdb" {
		skip = "never|found|notfound"
	}
	results := "return-ok|return-fail|return|continue|continue-ok|continue-fail"
	rows := []info{
		{"driver", "", "", "Backend: passwd-file, static, pam, ldap, sql, passwd, shadow, checkpassword" + map[bool]string{true: ", prefetch", false: ""}[kind == "userdb"] + "."},
		{"args", "", "", "Driver arguments, driver-specific (for passwd-file: options such as `scheme=CRYPT username_format=%u` followed by the file path)."},
		{"default_fields", "", "", "Fields (`key=value` separated by spaces) used when the backend does not return them."},
		{"override_fields", "", "", "Fields that replace whatever the backend returns."},
		{"skip", "never", skip, "When to skip this " + kind + "."},
		{"result_success", "return-ok", results, "What to do when the lookup succeeds."},
		{"result_failure", "continue", results, "What to do when the lookup fails (user unknown or password mismatch)."},
		{"result_internalfail", "continue", results, "What to do when the backend fails."},
		{"auth_verbose", "default", "default|yes|no", "Override `auth_verbose` for this " + kind + "."},
	}
	if kind == "passdb" {
		rows = append(rows,
			info{"deny", "no", "", "A user found in this passdb is refused (a deny list)."},
			info{"pass", "no", "", "Deprecated alias of result_success = continue."},
			info{"master", "no", "", "This passdb holds master users, who may log in as others (`user*master` with `auth_master_user_separator`)."},
			info{"mechanisms", "", "", "Use this passdb only for these SASL mechanisms. Empty: all."},
			info{"username_filter", "", "", "Use this passdb only for user names matching these wildcard patterns (`!pattern` excludes)."},
		)
	} else {
		rows = append(rows,
			info{"deny", "no", "", "Not valid in a userdb."},
			info{"pass", "no", "", "Not valid in a userdb."},
			info{"master", "no", "", "Not valid in a userdb."},
			info{"mechanisms", "", "", "Not valid in a userdb."},
			info{"username_filter", "", "", "Not valid in a userdb."},
		)
	}
	return rows
}

func serviceTable() []info {
	return []info{
		{"type", "", "|login|worker", "Role class. `login`: a pre-authentication process (imap-login, pop3-login, managesieve-login). `worker`: the per-user mail process. Empty: any other."},
		{"executable", "", "", "Role name the master passes when it re-executes itself. Empty: the service name. Kept for Dovecot compatibility; cote finds its binaries itself (docs/ipc.md, \"Executables\")."},
		{"protocol", "", "", "The service runs only when this protocol is in `protocols`. Empty: always."},
		{"user", "", "", "User the processes run as: a name, or `#UID`. Empty keeps the master's user, except for the worker, which takes each user's uid from the userdb."},
		{"group", "", "", "Group the processes run as: a name or `#GID`. Empty: the user's primary group."},
		{"privileged_group", "", "", "Supplementary group kept only while the process opens privileged files."},
		{"extra_groups", "", "", "Further supplementary groups."},
		{"chroot", "", "", "Directory to chroot into, relative to `base_dir` unless absolute. Empty: no chroot."},
		{"drop_priv_before_exec", "no", "", "Set the credentials before the exec rather than in the new process. cote always sets them at exec; accepted for compatibility."},
		{"process_limit", "0", "", "Maximum number of processes. 0: `default_process_limit`."},
		{"client_limit", "0", "", "Maximum concurrent connections per process. 0: `default_client_limit`, except for the worker, where 0 means no limit."},
		{"process_min_avail", "0", "", "Processes kept started and waiting for connections."},
		{"service_count", "0", "", "Connections a process serves before it exits; 1 means one process per connection. 0: no limit."},
		{"idle_kill", "0", "", "A process that has had no connection for this long is stopped (for the worker: how long it lingers after its last session). 0: `default_idle_kill`."},
		{"vsz_limit", "0", "", "Memory limit: the Go runtime's soft limit (GOMEMLIMIT), with a hard address-space limit above it. 0: `default_vsz_limit`."},
		{"max_procs", "0", "", "How many threads of each process run Go code at once (the Go runtime's GOMAXPROCS). 0: one per CPU. The worker's default is 1, as Dovecot's imap processes are single-threaded: parallelism comes from the many workers, and more threads in each add scheduler wake-ups (about 30% more CPU per IMAP command with 2 on 2 CPUs, docs/benchmarks.md). Raise it for a server with few users with large mailboxes. The lmtp service's default is 1 too (a fifth less CPU per delivery on 2 CPUs); raise it, or its process_min_avail, on a server with many CPUs that takes thousands of messages a second."},
	}
}

func globalTable() []info {
	return []info{
		// General.
		{"base_dir", "/run/cote", "", "Runtime directory: sockets, pid file, login chroots."},
		{"state_dir", "/var/lib/cote", "", "Persistent state of the server itself (not mail)."},
		{"admin_group", "", "", "Group (name or `#GID`) whose members may use coteadm: the admin socket `base_dir/admin` becomes mode 0660 in this group, and a peer is let in when its primary or a supplementary group is this one. Empty: root and the master's own user only."},
		{"admin_pprof", "no", "", "Let `coteadm pprof` take CPU, heap, goroutine and other runtime profiles (and execution traces) of any cote process through the admin socket: the master, a role's process or a user's worker. Off by default: a profile shows the process's code paths and can slow it while it runs."},
		{"instance_name", "cote", "", "Name of this instance in logs and process titles, to tell several instances apart."},
		{"protocols", "imap pop3 lmtp", "", "Protocols to serve: any of imap, pop3, lmtp, sieve (ManageSieve), or `none`."},
		{"listen", "*, ::", "", "Addresses inet listeners bind to unless they set their own `address`. `*` is every IPv4 address, `::` every IPv6 address."},
		{"shutdown_clients", "yes", "", "Disconnect clients when the master stops. With `no`, sessions stay up until they end (for upgrades)."},
		{"version_ignore", "no", "", "Let children of a different build run with this master (during upgrades)."},
		{"hostname", "", "", "Host name in greetings, LMTP replies and Message-IDs. Empty: the system's host name."},
		{"import_environment", "TZ", "", "Environment variables children keep, as `NAME` or `NAME=value`."},
		{"default_process_limit", "100", "", "`process_limit` of services that set 0."},
		{"default_client_limit", "1000", "", "`client_limit` of services that set 0 (other than the worker)."},
		{"default_vsz_limit", "256M", "", "`vsz_limit` of services that set 0."},
		{"default_idle_kill", "1 min", "", "`idle_kill` of services that set 0."},
		{"default_internal_user", "cote", "", "Unprivileged user of internal services (lmtp, imap-hibernate)."},
		{"default_internal_group", "cote", "", "Group of internal services."},
		{"default_login_user", "cotenull", "", "User of the login processes. It must own no files: an attacker who takes over a login process gets only this user."},
		{"postmaster_address", "", "", "Address of the postmaster in rejections and bounces. Empty: postmaster@ the recipient's domain."},
		{"sendmail_path", "/usr/sbin/sendmail", "", "Program that sends mail out (Sieve redirect, reject, vacation and notifications), run as `sendmail_path -i -f FROM -- TO...` with the message on its input. Unused when `submission_host` is set."},
		{"submission_host", "", "", "SMTP server (`host:port`) that sends mail out instead of `sendmail_path`; STARTTLS is used when it offers it."},

		// TLS.
		{"ssl", "yes", "yes|no|required", "TLS support. `yes`: offered (STARTTLS/STLS and the implicit-TLS listeners). `required`: plaintext authentication needs TLS even when `disable_plaintext_auth = no`. `no`: no TLS."},
		{"ssl_cert", "", "", "The certificate chain in PEM, usually `<path` to read it from a file. Required unless `ssl = no`."},
		{"ssl_key", "", "", "The private key in PEM, usually `<path`. Only the master reads it; login processes get it over their control socket."},
		{"ssl_key_password", "", "", "Password of an encrypted ssl_key."},
		{"ssl_ca", "", "", "CA certificates (PEM) to verify client certificates with."},
		{"ssl_client_ca_file", "", "", "File of CA certificates for outgoing TLS connections (proxying)."},
		{"ssl_client_ca_dir", "", "", "Directory of CA certificates for outgoing TLS connections."},
		{"ssl_verify_client_cert", "no", "", "Ask clients for a certificate."},
		{"ssl_min_protocol", "TLSv1.2", "TLSv1|TLSv1.1|TLSv1.2|TLSv1.3|ANY", "Oldest TLS version accepted."},
		{"ssl_cipher_list", "ALL:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!MD5:!PSK:!RC4:!ADH:!LOW@STRENGTH", "", "OpenSSL-style cipher list for TLS 1.2 and older, kept for Dovecot compatibility. Go's crypto/tls chooses the TLS 1.3 suites itself."},
		{"ssl_curve_list", "", "", "Key exchange groups, colon-separated. Empty: the TLS library's default."},
		{"ssl_prefer_server_ciphers", "no", "", "Prefer the server's cipher order to the client's."},
		{"ssl_dh", "", "", "Diffie-Hellman parameters. Accepted for compatibility and ignored: cote offers no finite-field DHE."},
		{"ssl_options", "", "", "TLS options (Dovecot: no_compression, no_ticket). Accepted for compatibility."},

		// Login processes.
		{"disable_plaintext_auth", "yes", "", "Refuse plaintext authentication (LOGIN, USER/PASS, PLAIN) on connections that are not secured. A connection is secured when it uses TLS, comes from `login_trusted_networks`, or comes from the server's own address (loopback)."},
		{"login_greeting", "cote ready.", "", "Greeting of the IMAP, POP3 and ManageSieve login processes."},
		{"login_trusted_networks", "", "", "Networks (CIDR) of trusted proxies, which may forward the real client address (IMAP ID x-originating-ip, POP3 XCLIENT) and count as secured."},
		{"login_log_format_elements", "user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{session}>", "", "Elements of the login processes' lines about a client; empty ones are left out (the user's stays, as `user=<>`)."},
		{"login_log_format", "%$: %s", "", "Every login-process line about a client (logins, failed authentications, disconnects; docs/login.md): %$ is the message, %s the elements."},
		{"mail_max_userip_connections", "10", "", "Maximum concurrent connections of one user from one IP address, per protocol. 0: no limit."},
		{"haproxy_trusted_networks", "", "", "Networks (CIDR) allowed to connect to listeners with `haproxy = yes`."},
		{"haproxy_timeout", "3 secs", "", "How long to wait for the PROXY header."},
		{"verbose_ssl", "no", "", "Log TLS errors and handshake details."},
		{"verbose_proctitle", "no", "", "Show the user and address in process titles."},

		// Mail.
		{"mail_location", "", "", "Where mail is: `maildir:~/Maildir`, `mbox:~/mail:INBOX=/var/mail/%u`. Empty: the userdb's `mail` field, else autodetected in the home directory."},
		{"mail_home", "", "", "Home directory template when the userdb gives none (for example `/srv/mail/%d/%n`)."},
		{"mail_uid", "", "", "User (name or `#UID`) that owns all mail, for virtual-user setups. Empty: the userdb's uid."},
		{"mail_gid", "", "", "Group (name or `#GID`) of all mail. Empty: the userdb's gid."},
		{"mail_privileged_group", "", "", "Group the worker keeps temporarily to create dotlocks in /var/mail."},
		{"mail_access_groups", "", "", "Supplementary groups of the worker, for shared mailboxes."},
		{"mail_plugins", "", "", "Plugins loaded by mail processes (for example quota). Extend per protocol with `mail_plugins = $mail_plugins name` in a protocol block."},
		{"first_valid_uid", "500", "", "Lowest uid a user may have. Users with a lower uid are refused (uid 0 always is)."},
		{"last_valid_uid", "0", "", "Highest uid a user may have. 0: no limit."},
		{"first_valid_gid", "1", "", "Lowest primary gid a user may have."},
		{"last_valid_gid", "0", "", "Highest primary gid a user may have. 0: no limit."},
		{"mail_fsync", "optimized", "optimized|always|never", "When to fsync. `optimized`: whenever a change must survive a crash (a message is acknowledged only after it is on disk). `always`: after every write. `never`: never (for tests; loses mail on a crash)."},
		{"mail_temp_dir", "/tmp", "", "Directory for temporary files of mail processes."},
		{"mail_max_keyword_length", "50", "", "Longest keyword (user flag) a client may create."},
		{"mail_max_lock_timeout", "0", "", "Longest a mail process waits for a lock. 0: no limit."},
		{"mailbox_idle_check_interval", "30 secs", "", "How often an IDLE session checks the mailbox when change notification is unavailable."},
		{"maildir_dovecot_compat", "yes", "", "Read and maintain Dovecot's `dovecot-uidlist` and `dovecot-keywords` beside the Maildir, so that a Dovecot Maildir keeps its UIDs when it moves to cote and back."},
		{"maildir_copy_with_hardlinks", "yes", "", "COPY within the same file system by hard link."},
		{"maildir_very_dirty_syncs", "no", "", "Assume nothing but cote changes the Maildir's cur/ directory, and rescan it less often."},
		{"mail_debug", "no", "", "Log debug detail of mail processes (never passwords); a userdb field `mail_debug=yes` turns it on for that user's worker alone."},
		{"mail_log_prefix", "%s(%u)<%{pid}><%{session}>: ", "", "Prefix of mail process log lines."},
		{"recipient_delimiter", "+", "", "Characters that separate a user from a detail in addresses (`user+detail@domain`). Empty disables detail handling."},
		{"lda_mailbox_autocreate", "no", "", "Create a missing mailbox a delivery (or Sieve fileinto) targets."},
		{"lda_mailbox_autosubscribe", "no", "", "Subscribe mailboxes created that way."},
		{"quota_full_tempfail", "no", "", "An over-quota delivery fails temporarily (LMTP 452) instead of permanently (552)."},

		// IMAP.
		{"imap_capability", "", "", "Replace the CAPABILITY list (`+CAP` items only add). Empty: the built-in list."},
		{"imap_client_workarounds", "", "", "Workarounds for client bugs: delay-newmail, tb-extra-mailbox-sep, tb-lsub-flags."},
		{"imap_idle_notify_interval", "2 mins", "", "How often an idle IDLE session is told `* OK Still here`."},
		{"imap_max_line_length", "64k", "", "Longest IMAP command line, literals excluded."},
		{"imap_logout_format", "in=%i out=%o deleted=%{deleted} expunged=%{expunged} trashed=%{trashed} hdr_count=%{fetch_hdr_count} hdr_bytes=%{fetch_hdr_bytes} body_count=%{fetch_body_count} body_bytes=%{fetch_body_bytes}", "", "Statistics logged when an IMAP session ends."},
		{"imap_id_send", "name *", "", "ID fields sent to clients; `*` means the built-in value."},
		{"imap_id_log", "", "", "ID fields from clients to log; `*` logs all."},
		{"imap_fetch_failure", "disconnect-immediately", "disconnect-immediately|disconnect-after|no-after", "What to do when a message cannot be read during FETCH."},
		{"imap_hibernate_timeout", "30 secs", "", "Move a session that has been in IDLE this long with nothing to send to imap-hibernate, so that it holds no worker (Dovecot's default is 0). 0 disables hibernation and the imap-hibernate service."},
		{"imap_literal_minus", "no", "", "Advertise LITERAL- (RFC 7888) instead of LITERAL+."},

		// POP3.
		{"pop3_login_delay", "0", "", "cote's own (Dovecot has no such setting): the shortest time between two POP3 logins of a user, announced as LOGIN-DELAY (RFC 2449) and enforced with -ERR [LOGIN-DELAY]. 0 disables it."},
		{"pop3_uidl_format", "%08Xu%08Xv", "", "UIDL of a message: %u IMAP UID, %v UIDVALIDITY, %m MD5 of the header, %f Maildir file name, %g GUID."},
		{"pop3_no_flag_updates", "no", "", "Do not set \\Seen on messages that were read."},
		{"pop3_lock_session", "no", "", "Allow only one POP3 session per user at a time."},
		{"pop3_enable_last", "no", "", "Support the obsolete LAST command."},
		{"pop3_reuse_xuidl", "no", "", "Use a message's X-UIDL header as its UIDL."},
		{"pop3_save_uidl", "no", "", "Store UIDLs once computed, so that a later format change keeps old UIDLs."},
		{"pop3_uidl_duplicates", "allow", "allow|rename", "What to do with duplicate UIDLs."},
		{"pop3_client_workarounds", "", "", "Workarounds for client bugs: outlook-no-nuls, oe-ns-eoh."},
		{"pop3_logout_format", "top=%t/%p retr=%r/%b del=%d/%m size=%s", "", "Statistics logged when a POP3 session ends."},
		{"pop3_delete_type", "default", "default|expunge|flag", "What DELE does at QUIT."},
		{"pop3_deleted_flag", "", "", "Keyword set instead of expunging, with pop3_delete_type = flag."},

		// LMTP.
		{"lmtp_proxy", "no", "", "Proxy recipients whose passdb entry has `proxy` and `host` to that backend."},
		{"lmtp_save_to_detail_mailbox", "no", "", "Deliver `user+detail` to the mailbox named detail, when it exists."},
		{"lmtp_rcpt_check_quota", "no", "", "Check quota at RCPT TO, not only at delivery."},
		{"lmtp_hdr_delivery_address", "final", "final|original|none", "Address in the Delivered-To: header."},
		{"lmtp_add_received_header", "yes", "", "Add a Received: header."},
		{"lmtp_user_concurrency_limit", "0", "", "Concurrent deliveries to one user. 0: no limit."},
		{"lmtp_max_message_size", "0", "", "cote's own: the largest message LMTP accepts, announced with SIZE (RFC 1870); larger ones get 552 5.3.4. 0: no limit (the MTA's message_size_limit applies)."},

		// ManageSieve.
		{"managesieve_max_line_length", "64k", "", "Longest ManageSieve command line."},
		{"managesieve_implementation_string", "cote", "", "IMPLEMENTATION capability."},
		{"managesieve_sieve_capability", "", "", "Replace the SIEVE capability list. Empty: the extensions the Sieve engine has."},
		{"managesieve_notify_capability", "", "", "Replace the NOTIFY capability list."},
		{"managesieve_max_compile_errors", "5", "", "Errors reported for a script that does not compile."},
		{"managesieve_logout_format", "bytes=%i/%o", "", "Statistics logged when a ManageSieve session ends."},

		// Authentication.
		{"auth_mechanisms", "plain", "", "SASL mechanisms offered: plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 scram-sha-1-plus scram-sha-256-plus external oauthbearer xoauth2 anonymous apop. Case does not matter."},
		{"auth_failure_delay", "2 secs", "", "Delay before a failed authentication is answered. Failures released together are answered in random order."},
		{"auth_username_format", "%Lu", "", "Template the user name is normalised with before lookups; `%Lu` lower-cases it."},
		{"auth_username_chars", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@", "", "Characters allowed in user names. Empty: all."},
		{"auth_username_translation", "", "", "Pairs of characters translated in user names (`@.` turns @ into .)."},
		{"auth_realms", "", "", "Realms offered by DIGEST-MD5."},
		{"auth_default_realm", "", "", "Domain appended to user names that have none."},
		{"auth_master_user_separator", "", "", "Separator for master user logins (`user*master`). Empty disables master logins by name."},
		{"auth_anonymous_username", "anonymous", "", "User the ANONYMOUS mechanism logs in as."},
		{"auth_debug", "no", "", "Log every step of authentication (never passwords unless auth_debug_passwords)."},
		{"auth_debug_passwords", "no", "", "Also log the passwords given. For debugging on test systems only."},
		{"auth_verbose", "no", "", "Log failed authentications and their reasons."},
		{"auth_verbose_passwords", "no", "no|yes|plain|sha1", "Log the wrong passwords of failed logins: in plain text, or as SHA-1 (a prefix length may follow, sha1:8)."},
		{"auth_cache_size", "0", "", "Size of the authentication cache. 0 disables it."},
		{"auth_cache_ttl", "1 hour", "", "How long cached lookups stay valid."},
		{"auth_cache_negative_ttl", "1 hour", "", "How long a `user unknown` result stays cached. 0: not cached."},
		{"auth_worker_max_count", "30", "", "Concurrent blocking lookups (PAM, shadow, checkpassword) the auth process runs."},

		// Logging.
		{"log_path", "syslog", "", "Where to log: `syslog`, a file path, or /dev/stderr."},
		{"metrics_listen", "", "", "Address (host:port) where the master serves Prometheus metrics of every process at /metrics. Empty: off. Keep it on loopback or a management network: the metrics name users."},
		{"info_log_path", "", "", "Separate file for info messages. Empty: log_path."},
		{"debug_log_path", "", "", "Separate file for debug messages. Empty: info_log_path."},
		{"log_timestamp", "%b %d %H:%M:%S ", "", "strftime prefix of lines logged to files."},
		{"syslog_facility", "mail", "", "Syslog facility."},
	}
}

// choicesOf returns the allowed values of key in kind, or nil when any value
// is allowed.
func choicesOf(kind, key string) []string {
	for _, r := range table(kind) {
		if r.key == key {
			if r.choices == "" {
				return nil
			}
			return strings.Split(r.choices, "|")
		}
	}
	return nil
}
