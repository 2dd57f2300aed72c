package sieve

import "sync"

// valType is the type of a positional or tagged argument.
type valType int

const (
	vNone valType = iota // a tag without an argument
	vString
	vStringList
	vNumber
)

func (v valType) String() string {
	switch v {
	case vString:
		return "string"
	case vStringList:
		return "string list"
	case vNumber:
		return "number"
	}
	return "nothing"
}

// tagDef describes a tagged argument. Tags in one group exclude each
// other (":is" and ":contains", ":days" and ":seconds").
type tagDef struct {
	name  string
	ext   string
	group string
	arg   valType
}

// cmdDef describes a command or a test: its extension, its tagged and
// positional arguments, and what follows them.
type cmdDef struct {
	name    string
	ext     []string // any one enables it; none means core
	test    bool
	tags    []tagDef
	args    []valType // positional, in order
	minArgs int       // fewer than len(args) drops leading optional ones
	optLast bool      // ... or, when set, trailing ones
	tests   int       // 0 none, 1 exactly one, -1 a test list
	block   bool
	action  bool // counts toward the action limit
}

var (
	comparatorTag = []tagDef{{name: "comparator", group: "comparator", arg: vString}}
	matchTags     = []tagDef{
		{name: "is", group: "match"},
		{name: "contains", group: "match"},
		{name: "matches", group: "match"},
		{name: "regex", group: "match", ext: "regex"},
		{name: "value", group: "match", ext: "relational", arg: vString},
		{name: "count", group: "match", ext: "relational", arg: vString},
	}
	addressPartTags = []tagDef{
		{name: "all", group: "addrpart"},
		{name: "localpart", group: "addrpart"},
		{name: "domain", group: "addrpart"},
		{name: "user", group: "addrpart", ext: "subaddress"},
		{name: "detail", group: "addrpart", ext: "subaddress"},
	}
	indexTags = []tagDef{
		{name: "index", group: "index", ext: "index", arg: vNumber},
		{name: "last", group: "last", ext: "index"},
	}
	flagsTag = []tagDef{{name: "flags", ext: "imap4flags", arg: vStringList}}
	copyTag  = []tagDef{{name: "copy", ext: "copy"}}
)

func tags(lists ...[]tagDef) []tagDef {
	var out []tagDef
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func sl(n int) []valType {
	v := make([]valType, n)
	for i := range v {
		v[i] = vStringList
	}
	return v
}

// defs is the closed set of commands and tests, built on first use: a
// worker that never compiles a script does not pay for it at start.
var defs = sync.OnceValue(buildDefs)

func buildDefs() map[string]*cmdDef {
	list := []*cmdDef{
		// RFC 5228 section 3: control commands.
		{name: "require", args: sl(1), minArgs: 1},
		{name: "if", tests: 1, block: true},
		{name: "elsif", tests: 1, block: true},
		{name: "else", block: true},
		{name: "stop"},
		// RFC 5228 section 4: actions.
		{name: "keep", tags: flagsTag, action: true},
		{name: "discard", action: true},
		{name: "redirect", tags: tags(copyTag, nil), args: []valType{vString}, minArgs: 1, action: true},
		{name: "fileinto", ext: []string{"fileinto"}, tags: tags(copyTag, flagsTag, []tagDef{
			{name: "create", ext: "mailbox"},
			{name: "specialuse", ext: "special-use", arg: vString},
			{name: "mailboxid", ext: "mailboxid", arg: vString},
		}), args: []valType{vString}, minArgs: 1, action: true},
		{name: "reject", ext: []string{"reject"}, args: []valType{vString}, minArgs: 1, action: true},
		{name: "ereject", ext: []string{"ereject"}, args: []valType{vString}, minArgs: 1, action: true},
		{name: "vacation", ext: []string{"vacation", "vacation-seconds"}, tags: []tagDef{
			{name: "days", group: "period", arg: vNumber},
			{name: "seconds", group: "period", ext: "vacation-seconds", arg: vNumber},
			{name: "subject", arg: vString},
			{name: "from", arg: vString},
			{name: "addresses", arg: vStringList},
			{name: "mime"},
			{name: "handle", arg: vString},
		}, args: []valType{vString}, minArgs: 1, action: true},
		// RFC 5232: imap4flags.
		{name: "setflag", ext: []string{"imap4flags"}, args: []valType{vString, vStringList}, minArgs: 1},
		{name: "addflag", ext: []string{"imap4flags"}, args: []valType{vString, vStringList}, minArgs: 1},
		{name: "removeflag", ext: []string{"imap4flags"}, args: []valType{vString, vStringList}, minArgs: 1},
		// RFC 5229: variables.
		{name: "set", ext: []string{"variables"}, tags: []tagDef{
			{name: "lower", group: "case"}, {name: "upper", group: "case"},
			{name: "lowerfirst", group: "first"}, {name: "upperfirst", group: "first"},
			{name: "quotewildcard", group: "quote"},
			{name: "quoteregex", group: "quote", ext: "regex"},
			{name: "encodeurl", group: "encodeurl", ext: "enotify"},
			{name: "length", group: "length"},
		}, args: []valType{vString, vString}, minArgs: 2},
		// RFC 6609: include.
		{name: "include", ext: []string{"include"}, tags: []tagDef{
			{name: "personal", group: "location"}, {name: "global", group: "location"},
			{name: "once"}, {name: "optional"},
		}, args: []valType{vString}, minArgs: 1},
		{name: "return", ext: []string{"include"}},
		{name: "global", ext: []string{"include"}, args: sl(1), minArgs: 1},
		// RFC 5293: editheader.
		{name: "addheader", ext: []string{"editheader"}, tags: []tagDef{{name: "last"}},
			args: []valType{vString, vString}, minArgs: 2},
		{name: "deleteheader", ext: []string{"editheader"}, tags: tags(comparatorTag, matchTags, []tagDef{
			{name: "index", group: "index", arg: vNumber}, {name: "last", group: "last"},
		}), args: []valType{vString, vStringList}, minArgs: 1, optLast: true},
		// RFC 5435: enotify.
		{name: "notify", ext: []string{"enotify"}, tags: []tagDef{
			{name: "from", arg: vString}, {name: "importance", arg: vString},
			{name: "options", arg: vStringList}, {name: "message", arg: vString},
		}, args: []valType{vString}, minArgs: 1, action: true},
		// RFC 5463: ihave's error command.
		{name: "error", ext: []string{"ihave"}, args: []valType{vString}, minArgs: 1},

		// Tests, RFC 5228 section 5.
		{name: "address", test: true, tags: tags(comparatorTag, addressPartTags, matchTags, indexTags), args: sl(2), minArgs: 2},
		{name: "envelope", test: true, ext: []string{"envelope"}, tags: tags(comparatorTag, addressPartTags, matchTags), args: sl(2), minArgs: 2},
		{name: "header", test: true, tags: tags(comparatorTag, matchTags, indexTags), args: sl(2), minArgs: 2},
		{name: "exists", test: true, args: sl(1), minArgs: 1},
		{name: "size", test: true, tags: []tagDef{{name: "over", group: "size"}, {name: "under", group: "size"}},
			args: []valType{vNumber}, minArgs: 1},
		{name: "true", test: true},
		{name: "false", test: true},
		{name: "not", test: true, tests: 1},
		{name: "anyof", test: true, tests: -1},
		{name: "allof", test: true, tests: -1},
		// RFC 5173.
		{name: "body", test: true, ext: []string{"body"}, tags: tags(comparatorTag, matchTags, []tagDef{
			{name: "raw", group: "transform"}, {name: "text", group: "transform"},
			{name: "content", group: "transform", arg: vStringList},
		}), args: sl(1), minArgs: 1},
		// RFC 5260.
		{name: "date", test: true, ext: []string{"date"}, tags: tags(comparatorTag, matchTags, indexTags, []tagDef{
			{name: "zone", group: "zone", arg: vString}, {name: "originalzone", group: "zone"},
		}), args: []valType{vString, vString, vStringList}, minArgs: 3},
		{name: "currentdate", test: true, ext: []string{"date"}, tags: tags(comparatorTag, matchTags, []tagDef{
			{name: "zone", group: "zone", arg: vString},
		}), args: []valType{vString, vStringList}, minArgs: 2},
		// RFC 5229.
		{name: "string", test: true, ext: []string{"variables"}, tags: tags(comparatorTag, matchTags), args: sl(2), minArgs: 2},
		// RFC 5232.
		{name: "hasflag", test: true, ext: []string{"imap4flags"}, tags: tags(comparatorTag, matchTags), args: sl(2), minArgs: 1},
		// RFC 5490, RFC 8579, RFC 9042.
		{name: "mailboxexists", test: true, ext: []string{"mailbox"}, args: sl(1), minArgs: 1},
		{name: "specialuse_exists", test: true, ext: []string{"special-use"}, args: []valType{vString, vStringList}, minArgs: 1},
		{name: "mailboxidexists", test: true, ext: []string{"mailboxid"}, args: sl(1), minArgs: 1},
		// RFC 5183.
		{name: "environment", test: true, ext: []string{"environment"}, tags: tags(comparatorTag, matchTags),
			args: []valType{vString, vStringList}, minArgs: 2},
		// RFC 7352.
		{name: "duplicate", test: true, ext: []string{"duplicate"}, tags: []tagDef{
			{name: "handle", arg: vString},
			{name: "header", group: "id", arg: vString}, {name: "uniqueid", group: "id", arg: vString},
			{name: "seconds", arg: vNumber}, {name: "last"},
		}},
		// RFC 5235.
		{name: "spamtest", test: true, ext: []string{"spamtest", "spamtestplus"}, tags: tags(comparatorTag, matchTags, []tagDef{
			{name: "percent", ext: "spamtestplus"},
		}), args: []valType{vString}, minArgs: 1},
		{name: "virustest", test: true, ext: []string{"virustest"}, tags: tags(comparatorTag, matchTags), args: []valType{vString}, minArgs: 1},
		// RFC 5463.
		{name: "ihave", test: true, ext: []string{"ihave"}, args: sl(1), minArgs: 1},
		// RFC 5435.
		{name: "valid_notify_method", test: true, ext: []string{"enotify"}, args: sl(1), minArgs: 1},
		{name: "notify_method_capability", test: true, ext: []string{"enotify"}, tags: tags(comparatorTag, matchTags),
			args: []valType{vString, vString, vStringList}, minArgs: 3},
	}
	m := make(map[string]*cmdDef, len(list))
	for _, d := range list {
		key := d.name
		if d.test {
			key = "test:" + d.name
		}
		m[key] = d
	}
	return m
}

func lookupDef(name string, test bool) *cmdDef {
	if test {
		return defs()["test:"+name]
	}
	return defs()[name]
}
