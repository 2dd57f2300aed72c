package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settings is the whole effective configuration. Every exported field with a
// `cote` tag is a setting of the same name in the configuration file; the
// table in table.go gives its default and documentation.
//
// A Settings round-trips through encoding/json: the master sends it to its
// children that way. The source positions (unexported) do not travel; a
// child has no use for them.
type Settings struct {
	// General.
	BaseDir              string        `cote:"base_dir"`
	StateDir             string        `cote:"state_dir"`
	AdminGroup           string        `cote:"admin_group"`
	AdminPprof           bool          `cote:"admin_pprof"`
	InstanceName         string        `cote:"instance_name"`
	Protocols            []string      `cote:"protocols"`
	Listen               []string      `cote:"listen,comma"`
	ShutdownClients      bool          `cote:"shutdown_clients"`
	VersionIgnore        bool          `cote:"version_ignore"`
	Hostname             string        `cote:"hostname"`
	ImportEnvironment    []string      `cote:"import_environment"`
	DefaultProcessLimit  int           `cote:"default_process_limit"`
	DefaultClientLimit   int           `cote:"default_client_limit"`
	DefaultVszLimit      uint64        `cote:"default_vsz_limit"`
	DefaultIdleKill      time.Duration `cote:"default_idle_kill"`
	DefaultInternalUser  string        `cote:"default_internal_user"`
	DefaultInternalGroup string        `cote:"default_internal_group"`
	DefaultLoginUser     string        `cote:"default_login_user"`
	PostmasterAddress    string        `cote:"postmaster_address"`
	SendmailPath         string        `cote:"sendmail_path"`
	SubmissionHost       string        `cote:"submission_host"`

	// TLS.
	SSL                    string   `cote:"ssl"`
	SSLCert                string   `cote:"ssl_cert"`
	SSLKey                 string   `cote:"ssl_key"`
	SSLCertPath            string   `json:",omitempty"` // file ssl_cert was read from (`<path`), if any
	SSLKeyPath             string   `json:",omitempty"` // file ssl_key was read from (`<path`), if any
	SSLKeyPassword         string   `cote:"ssl_key_password"`
	SSLCA                  string   `cote:"ssl_ca"`
	SSLClientCAFile        string   `cote:"ssl_client_ca_file"`
	SSLClientCADir         string   `cote:"ssl_client_ca_dir"`
	SSLVerifyClientCert    bool     `cote:"ssl_verify_client_cert"`
	SSLMinProtocol         string   `cote:"ssl_min_protocol"`
	SSLCipherList          string   `cote:"ssl_cipher_list"`
	SSLCurveList           string   `cote:"ssl_curve_list"`
	SSLPreferServerCiphers bool     `cote:"ssl_prefer_server_ciphers"`
	SSLDH                  string   `cote:"ssl_dh"`
	SSLOptions             []string `cote:"ssl_options"`

	// Login processes.
	DisablePlaintextAuth     bool          `cote:"disable_plaintext_auth"`
	LoginGreeting            string        `cote:"login_greeting"`
	LoginTrustedNetworks     []string      `cote:"login_trusted_networks"`
	LoginLogFormatElements   string        `cote:"login_log_format_elements"`
	LoginLogFormat           string        `cote:"login_log_format"`
	MailMaxUserIPConnections int           `cote:"mail_max_userip_connections"`
	HAProxyTrustedNetworks   []string      `cote:"haproxy_trusted_networks"`
	HAProxyTimeout           time.Duration `cote:"haproxy_timeout"`
	VerboseSSL               bool          `cote:"verbose_ssl"`
	VerboseProctitle         bool          `cote:"verbose_proctitle"`

	// Mail storage and users.
	MailLocation             string        `cote:"mail_location"`
	MailHome                 string        `cote:"mail_home"`
	MailUID                  string        `cote:"mail_uid"`
	MailGID                  string        `cote:"mail_gid"`
	MailPrivilegedGroup      string        `cote:"mail_privileged_group"`
	MailAccessGroups         string        `cote:"mail_access_groups"`
	MailPlugins              []string      `cote:"mail_plugins"`
	FirstValidUID            int           `cote:"first_valid_uid"`
	LastValidUID             int           `cote:"last_valid_uid"`
	FirstValidGID            int           `cote:"first_valid_gid"`
	LastValidGID             int           `cote:"last_valid_gid"`
	MailFsync                string        `cote:"mail_fsync"`
	MailTempDir              string        `cote:"mail_temp_dir"`
	MailMaxKeywordLength     int           `cote:"mail_max_keyword_length"`
	MailMaxLockTimeout       time.Duration `cote:"mail_max_lock_timeout"`
	MailboxIdleCheckInterval time.Duration `cote:"mailbox_idle_check_interval"`
	MaildirDovecotCompat     bool          `cote:"maildir_dovecot_compat"`
	MaildirCopyWithHardlinks bool          `cote:"maildir_copy_with_hardlinks"`
	MaildirVeryDirtySyncs    bool          `cote:"maildir_very_dirty_syncs"`
	MailDebug                bool          `cote:"mail_debug"`
	MailLogPrefix            string        `cote:"mail_log_prefix"`
	RecipientDelimiter       string        `cote:"recipient_delimiter"`
	LdaMailboxAutocreate     bool          `cote:"lda_mailbox_autocreate"`
	LdaMailboxAutosubscribe  bool          `cote:"lda_mailbox_autosubscribe"`
	QuotaFullTempfail        bool          `cote:"quota_full_tempfail"`

	// IMAP.
	ImapCapability         string        `cote:"imap_capability"`
	ImapClientWorkarounds  []string      `cote:"imap_client_workarounds"`
	ImapIdleNotifyInterval time.Duration `cote:"imap_idle_notify_interval"`
	ImapMaxLineLength      uint64        `cote:"imap_max_line_length"`
	ImapLogoutFormat       string        `cote:"imap_logout_format"`
	ImapIDSend             string        `cote:"imap_id_send"`
	ImapIDLog              string        `cote:"imap_id_log"`
	ImapFetchFailure       string        `cote:"imap_fetch_failure"`
	ImapHibernateTimeout   time.Duration `cote:"imap_hibernate_timeout"`
	ImapLiteralMinus       bool          `cote:"imap_literal_minus"`

	// POP3.
	Pop3UIDLFormat        string        `cote:"pop3_uidl_format"`
	Pop3LoginDelay        time.Duration `cote:"pop3_login_delay"`
	Pop3NoFlagUpdates     bool          `cote:"pop3_no_flag_updates"`
	Pop3LockSession       bool          `cote:"pop3_lock_session"`
	Pop3EnableLast        bool          `cote:"pop3_enable_last"`
	Pop3ReuseXUIDL        bool          `cote:"pop3_reuse_xuidl"`
	Pop3SaveUIDL          bool          `cote:"pop3_save_uidl"`
	Pop3UIDLDuplicates    string        `cote:"pop3_uidl_duplicates"`
	Pop3ClientWorkarounds []string      `cote:"pop3_client_workarounds"`
	Pop3LogoutFormat      string        `cote:"pop3_logout_format"`
	Pop3DeleteType        string        `cote:"pop3_delete_type"`
	Pop3DeletedFlag       string        `cote:"pop3_deleted_flag"`

	// LMTP.
	LmtpProxy                bool   `cote:"lmtp_proxy"`
	LmtpSaveToDetailMailbox  bool   `cote:"lmtp_save_to_detail_mailbox"`
	LmtpRcptCheckQuota       bool   `cote:"lmtp_rcpt_check_quota"`
	LmtpHdrDeliveryAddress   string `cote:"lmtp_hdr_delivery_address"`
	LmtpAddReceivedHeader    bool   `cote:"lmtp_add_received_header"`
	LmtpUserConcurrencyLimit int    `cote:"lmtp_user_concurrency_limit"`
	LmtpMaxMessageSize       uint64 `cote:"lmtp_max_message_size"`

	// ManageSieve.
	ManagesieveMaxLineLength        uint64 `cote:"managesieve_max_line_length"`
	ManagesieveImplementationString string `cote:"managesieve_implementation_string"`
	ManagesieveSieveCapability      string `cote:"managesieve_sieve_capability"`
	ManagesieveNotifyCapability     string `cote:"managesieve_notify_capability"`
	ManagesieveMaxCompileErrors     int    `cote:"managesieve_max_compile_errors"`
	ManagesieveLogoutFormat         string `cote:"managesieve_logout_format"`

	// Authentication.
	AuthMechanisms          []string      `cote:"auth_mechanisms,upper"`
	AuthFailureDelay        time.Duration `cote:"auth_failure_delay"`
	AuthUsernameFormat      string        `cote:"auth_username_format"`
	AuthUsernameChars       string        `cote:"auth_username_chars"`
	AuthUsernameTranslation string        `cote:"auth_username_translation"`
	AuthRealms              []string      `cote:"auth_realms"`
	AuthDefaultRealm        string        `cote:"auth_default_realm"`
	AuthMasterUserSeparator string        `cote:"auth_master_user_separator"`
	AuthAnonymousUsername   string        `cote:"auth_anonymous_username"`
	AuthDebug               bool          `cote:"auth_debug"`
	AuthDebugPasswords      bool          `cote:"auth_debug_passwords"`
	AuthVerbose             bool          `cote:"auth_verbose"`
	AuthVerbosePasswords    string        `cote:"auth_verbose_passwords"`
	AuthCacheSize           uint64        `cote:"auth_cache_size"`
	AuthCacheTTL            time.Duration `cote:"auth_cache_ttl"`
	AuthCacheNegativeTTL    time.Duration `cote:"auth_cache_negative_ttl"`
	AuthWorkerMaxCount      int           `cote:"auth_worker_max_count"`

	// Logging.
	LogPath        string `cote:"log_path"`
	MetricsListen  string `cote:"metrics_listen"`
	InfoLogPath    string `cote:"info_log_path"`
	DebugLogPath   string `cote:"debug_log_path"`
	LogTimestamp   string `cote:"log_timestamp"`
	SyslogFacility string `cote:"syslog_facility"`

	// Sections.
	Passdbs    []DB              `cote:"passdb,section"`
	Userdbs    []DB              `cote:"userdb,section"`
	Namespaces []Namespace       `cote:"namespace,section"`
	Services   []Service         `cote:"service,section,named"`
	Plugin     map[string]string `cote:"plugin,section"`
	Dict       map[string]string `cote:"dict,section"`
	// ProtocolOverrides holds the `protocol NAME { }` blocks in file
	// order; ForProtocol applies them.
	ProtocolOverrides []ProtocolOverride `json:",omitempty"`

	// pos maps a setting path ("ssl", "service/auth/user",
	// "passdb/0/driver") to where it was last set. files maps a path to the
	// file a `<file` value was read from. Neither travels in JSON.
	pos   map[string]Pos
	files map[string]string
}

// DB is one passdb or userdb block, with Dovecot 2.3's fields. Pass, Deny,
// Master and Mechanisms only make sense for a passdb.
type DB struct {
	Name               string   `cote:",name"`
	Driver             string   `cote:"driver"`
	Args               string   `cote:"args"`
	DefaultFields      string   `cote:"default_fields"`
	OverrideFields     string   `cote:"override_fields"`
	Skip               string   `cote:"skip"`
	ResultSuccess      string   `cote:"result_success"`
	ResultFailure      string   `cote:"result_failure"`
	ResultInternalfail string   `cote:"result_internalfail"`
	AuthVerbose        string   `cote:"auth_verbose"`
	Deny               bool     `cote:"deny"`
	Pass               bool     `cote:"pass"`
	Master             bool     `cote:"master"`
	Mechanisms         []string `cote:"mechanisms,upper"`
	UsernameFilter     string   `cote:"username_filter"`
}

// Namespace is a `namespace NAME { }` block.
type Namespace struct {
	Name          string    `cote:",name"`
	Type          string    `cote:"type"`
	Separator     string    `cote:"separator"`
	Prefix        string    `cote:"prefix"`
	Location      string    `cote:"location"`
	Inbox         bool      `cote:"inbox"`
	Hidden        bool      `cote:"hidden"`
	List          string    `cote:"list"`
	Subscriptions bool      `cote:"subscriptions"`
	Disabled      bool      `cote:"disabled"`
	Mailboxes     []Mailbox `cote:"mailbox,section,named"`
}

// Mailbox is a `mailbox NAME { }` block inside a namespace.
type Mailbox struct {
	Name        string        `cote:",name"`
	SpecialUse  []string      `cote:"special_use"`
	Auto        string        `cote:"auto"`
	Autoexpunge time.Duration `cote:"autoexpunge"`
}

// Service is a `service NAME { }` block: how the master runs one role.
type Service struct {
	Name               string         `cote:",name"`
	Type               string         `cote:"type"`
	Executable         string         `cote:"executable"`
	Protocol           string         `cote:"protocol"`
	User               string         `cote:"user"`
	Group              string         `cote:"group"`
	PrivilegedGroup    string         `cote:"privileged_group"`
	ExtraGroups        []string       `cote:"extra_groups"`
	Chroot             string         `cote:"chroot"`
	DropPrivBeforeExec bool           `cote:"drop_priv_before_exec"`
	ProcessLimit       int            `cote:"process_limit"`
	ClientLimit        int            `cote:"client_limit"`
	ProcessMinAvail    int            `cote:"process_min_avail"`
	ServiceCount       int            `cote:"service_count"`
	IdleKill           time.Duration  `cote:"idle_kill"`
	VszLimit           uint64         `cote:"vsz_limit"`
	MaxProcs           int            `cote:"max_procs"`
	InetListeners      []InetListener `cote:"inet_listener,section,named"`
	UnixListeners      []UnixListener `cote:"unix_listener,section,named"`
}

// InetListener is an `inet_listener NAME { }` block. Address is a
// comma/space separated list; it defaults to the global `listen`. Port 0
// disables the listener.
type InetListener struct {
	Name      string `cote:",name"`
	Address   string `cote:"address"`
	Port      int    `cote:"port"`
	SSL       bool   `cote:"ssl"`
	HAProxy   bool   `cote:"haproxy"`
	ReusePort bool   `cote:"reuse_port"`
}

// Addresses splits Address into its addresses.
func (l InetListener) Addresses() []string { return splitList(l.Address) }

// ListenerEnabled reports whether the master binds l: its port is not 0,
// and it is not an implicit-TLS listener while ssl = no.
func (s *Settings) ListenerEnabled(l InetListener) bool {
	return l.Port != 0 && !(l.SSL && s.SSL == "no")
}

// UnixListener is a `unix_listener PATH { }` block. A relative Path is
// relative to base_dir (see Settings.RuntimePath). Mode 0 disables it.
type UnixListener struct {
	Path  string `cote:",name"`
	Mode  uint32 `cote:"mode,octal"`
	User  string `cote:"user"`
	Group string `cote:"group"`
}

// ProtocolOverride is one `protocol NAME { }` block.
type ProtocolOverride struct {
	Protocol string
	Settings []KeyValue
}

// KeyValue is one setting inside a protocol block. Value is already expanded
// ($variables, <file contents); File is the file it was read from, if any.
type KeyValue struct {
	Key   string
	Value string
	File  string `json:",omitempty"`
	Pos   Pos    `json:"-"`
}

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is one configuration error.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// ErrorList is every error found in one parse or validation.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// err returns l as an error, or nil when it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Service returns the service called name, or nil.
func (s *Settings) Service(name string) *Service {
	for i := range s.Services {
		if s.Services[i].Name == name {
			return &s.Services[i]
		}
	}
	return nil
}

// HasProtocol reports whether proto is in `protocols`.
func (s *Settings) HasProtocol(proto string) bool {
	for _, p := range s.Protocols {
		if p == proto {
			return true
		}
	}
	return false
}

// ServiceEnabled reports whether svc runs: a service bound to a protocol runs
// only when that protocol is in `protocols`.
func (s *Settings) ServiceEnabled(svc *Service) bool {
	return svc.Protocol == "" || s.HasProtocol(svc.Protocol)
}

// RuntimePath resolves a unix listener path or a chroot: relative paths are
// relative to base_dir. The empty string stays empty.
func (s *Settings) RuntimePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.BaseDir, p)
}

// Effective returns a copy of svc with its zero limits resolved from the
// default_* settings: process_limit 0 is default_process_limit, vsz_limit 0
// is default_vsz_limit, idle_kill 0 is default_idle_kill, and client_limit 0
// is default_client_limit except for a service of type "worker", where it
// means no limit and stays 0.
func (s *Settings) Effective(svc Service) Service {
	if svc.ProcessLimit == 0 {
		svc.ProcessLimit = s.DefaultProcessLimit
	}
	if svc.ClientLimit == 0 && svc.Type != "worker" {
		svc.ClientLimit = s.DefaultClientLimit
	}
	if svc.VszLimit == 0 {
		svc.VszLimit = s.DefaultVszLimit
	}
	if svc.IdleKill == 0 {
		svc.IdleKill = s.DefaultIdleKill
	}
	return svc
}

// NumericID reports whether a user or group value has the form `#NUMBER`,
// cote's way to name an id that needs no entry in the system's user or group
// database, and returns the number.
func NumericID(v string) (int, bool) {
	if len(v) < 2 || v[0] != '#' {
		return 0, false
	}
	n, err := strconv.Atoi(v[1:])
	if err != nil || n < 0 || v[1] == '+' {
		return 0, false
	}
	return n, true
}

// Pos returns where the setting at path ("ssl_cert", "service/auth/user",
// "passdb/0/driver") was set, and whether it was set in a file at all.
func (s *Settings) Pos(path string) (Pos, bool) {
	p, ok := s.pos[path]
	return p, ok
}

// Clone returns a deep copy of s, positions included.
func (s *Settings) Clone() *Settings {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("config: marshal settings: %v", err))
	}
	c := new(Settings)
	if err := json.Unmarshal(b, c); err != nil {
		panic(fmt.Sprintf("config: unmarshal settings: %v", err))
	}
	c.pos = make(map[string]Pos, len(s.pos))
	for k, v := range s.pos {
		c.pos[k] = v
	}
	c.files = make(map[string]string, len(s.files))
	for k, v := range s.files {
		c.files[k] = v
	}
	for i := range s.ProtocolOverrides {
		for j := range s.ProtocolOverrides[i].Settings {
			c.ProtocolOverrides[i].Settings[j].Pos = s.ProtocolOverrides[i].Settings[j].Pos
		}
	}
	return c
}

// ForProtocol returns a copy of s with the `protocol NAME { }` blocks for
// name applied in file order. The values were checked when they were parsed.
// Without such a block it returns s itself: the result is read only, and
// a copy (through JSON, about 0.4 ms of CPU) would be the same settings.
func (s *Settings) ForProtocol(name string) *Settings {
	if !slices.ContainsFunc(s.ProtocolOverrides, func(po ProtocolOverride) bool { return po.Protocol == name }) {
		return s
	}
	c := s.Clone()
	root := rootOf(c)
	for _, po := range s.ProtocolOverrides {
		if po.Protocol != name {
			continue
		}
		for _, kv := range po.Settings {
			f, ok := fieldsOf(root.Type())[kv.Key]
			if !ok || f.section {
				continue
			}
			if err := setField(root.FieldByIndex(f.index), f, kv.Value); err != nil {
				continue
			}
			c.pos[kv.Key] = kv.Pos
			c.noteFile(kv.Key, kv.File)
		}
	}
	return c
}

// WithoutSecrets returns a copy of s without the TLS private key and its
// password, for processes that must not hold them.
func (s *Settings) WithoutSecrets() *Settings {
	c := s.Clone()
	c.SSLKey, c.SSLKeyPassword = "", ""
	for i := range c.ProtocolOverrides {
		for j := range c.ProtocolOverrides[i].Settings {
			kv := &c.ProtocolOverrides[i].Settings[j]
			if kv.Key == "ssl_key" || kv.Key == "ssl_key_password" {
				kv.Value = ""
			}
		}
	}
	return c
}

// noteFile remembers that the value at path came from file (or forgets it
// when file is empty), and mirrors ssl_cert/ssl_key into the exported path
// fields.
func (s *Settings) noteFile(path, file string) {
	if s.files == nil {
		s.files = map[string]string{}
	}
	if file == "" {
		delete(s.files, path)
	} else {
		s.files[path] = file
	}
	switch path {
	case "ssl_cert":
		s.SSLCertPath = file
	case "ssl_key":
		s.SSLKeyPath = file
	}
}

// fileOf returns the file the value at path was read from.
func (s *Settings) fileOf(path string) string {
	switch path {
	case "ssl_cert":
		return s.SSLCertPath
	case "ssl_key":
		return s.SSLKeyPath
	}
	return s.files[path]
}

func (s *Settings) setPos(path string, p Pos) {
	if s.pos == nil {
		s.pos = map[string]Pos{}
	}
	s.pos[path] = p
}
