package config

import (
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// field describes one tagged struct field.
type field struct {
	key     string // the setting name; "" for the section-name field
	index   []int
	section bool // a nested `key [name] { }` block: slice of structs or map
	named   bool // a section whose blocks must have a name
	comma   bool // print a list joined with ", "
	upper   bool // list values are stored upper-case
	octal   bool // an octal number (unix modes)
	isName  bool // holds the section's name
}

// allFields holds fieldsOf for the closed set of block types. It is computed
// once and never changed (a constant table, not state).
var allFields = sync.OnceValue(func() map[reflect.Type]map[string]field {
	m := map[reflect.Type]map[string]field{}
	for _, t := range []reflect.Type{reflect.TypeFor[Settings](), reflect.TypeFor[DB](), reflect.TypeFor[Service](),
		reflect.TypeFor[InetListener](), reflect.TypeFor[UnixListener](), reflect.TypeFor[Namespace](), reflect.TypeFor[Mailbox]()} {
		m[t] = computeFields(t)
	}
	return m
})

// fieldsOf maps each setting name of struct type t to its field. The
// section-name field is under the key ",name". The map must not be
// modified.
func fieldsOf(t reflect.Type) map[string]field {
	if m, ok := allFields()[t]; ok {
		return m
	}
	return computeFields(t)
}

func computeFields(t reflect.Type) map[string]field {
	m := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("cote")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		f := field{key: parts[0], index: sf.Index}
		for _, o := range parts[1:] {
			switch o {
			case "section":
				f.section = true
			case "named":
				f.named = true
			case "comma":
				f.comma = true
			case "upper":
				f.upper = true
			case "octal":
				f.octal = true
			case "name":
				f.isName = true
			default:
				panic("config: bad tag option " + o)
			}
		}
		if f.isName {
			m[",name"] = f
			continue
		}
		m[f.key] = f
	}
	return m
}

// sortedKeys returns the setting names of t (no sections), sorted.
func sortedKeys(t reflect.Type) []string {
	var keys []string
	for k, f := range fieldsOf(t) {
		if !f.section && !f.isName {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

var durationType = reflect.TypeFor[time.Duration]()

// setField parses text into v according to v's type.
func setField(v reflect.Value, f field, text string) error {
	if v.Type() == durationType {
		d, err := ParseDuration(text)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		b, err := parseBool(text)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid number %q", text)
		}
		v.SetInt(n)
	case reflect.Uint32:
		base := 10
		if f.octal {
			base = 8
		}
		n, err := strconv.ParseUint(strings.TrimSpace(text), base, 32)
		if err != nil {
			if f.octal {
				return fmt.Errorf("invalid octal number %q", text)
			}
			return fmt.Errorf("invalid number %q", text)
		}
		v.SetUint(n)
	case reflect.Uint64:
		n, err := ParseSize(text)
		if err != nil {
			return err
		}
		v.SetUint(n)
	case reflect.Slice:
		list := splitList(text)
		if f.upper {
			for i := range list {
				list[i] = strings.ToUpper(list[i])
			}
		}
		v.Set(reflect.ValueOf(list))
	default:
		panic("config: unsupported field type " + v.Type().String())
	}
	return nil
}

// formatField is the inverse of setField.
func formatField(v reflect.Value, f field) string {
	if v.Type() == durationType {
		return FormatDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		if v.Bool() {
			return "yes"
		}
		return "no"
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint32:
		if f.octal {
			return fmt.Sprintf("%04o", v.Uint())
		}
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Uint64:
		return FormatSize(v.Uint())
	case reflect.Slice:
		sep := " "
		if f.comma {
			sep = ", "
		}
		return strings.Join(v.Interface().([]string), sep)
	}
	panic("config: unsupported field type " + v.Type().String())
}

// splitList splits a list value on commas and white space. It never returns
// nil, so that an empty list survives a JSON round trip unchanged.
func splitList(s string) []string {
	return append([]string{}, strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t'
	})...)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "1":
		return true, nil
	case "no", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want yes or no)", s)
}

// ParseSize parses a size with an optional Dovecot unit: a bare number is
// bytes; b, k, M, G and T (either case, optionally followed by B or iB, and
// optionally after a space) multiply by powers of 1024. "unlimited" is the
// largest value.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "unlimited") {
		return math.MaxUint64, nil
	}
	num, unit := splitNumber(t)
	if num == "" {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	var shift uint
	u := strings.ToLower(unit)
	if u != "" {
		switch u[0] {
		case 'b':
			shift = 0
			u = u[1:]
			if u != "" {
				return 0, fmt.Errorf("invalid size unit in %q", s)
			}
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		case 't':
			shift = 40
		default:
			return 0, fmt.Errorf("invalid size unit in %q", s)
		}
		if u != "" {
			switch u[1:] {
			case "", "b", "ib":
			default:
				return 0, fmt.Errorf("invalid size unit in %q", s)
			}
		}
	}
	if hi, _ := bits.Mul64(n, 1<<shift); hi != 0 {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return n << shift, nil
}

// FormatSize prints a size in the largest unit that divides it exactly
// ("64k", "256M"), in a form ParseSize reads back.
func FormatSize(n uint64) string {
	if n == math.MaxUint64 {
		return "unlimited"
	}
	if n == 0 {
		return "0"
	}
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "T"}, {30, "G"}, {20, "M"}, {10, "k"}} {
		if n%(1<<u.shift) == 0 {
			return strconv.FormatUint(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatUint(n, 10)
}

var durationUnits = []struct {
	names []string
	d     time.Duration
}{
	{[]string{"ms", "msec", "msecs", "millisecond", "milliseconds", "millisec", "millisecs"}, time.Millisecond},
	{[]string{"", "s", "sec", "secs", "second", "seconds"}, time.Second},
	{[]string{"m", "min", "mins", "minute", "minutes"}, time.Minute},
	{[]string{"h", "hour", "hours"}, time.Hour},
	{[]string{"d", "day", "days"}, 24 * time.Hour},
	{[]string{"w", "week", "weeks"}, 7 * 24 * time.Hour},
}

// ParseDuration parses a Dovecot time: a whole number followed, optionally
// after a space, by a unit (ms, s/sec/secs, m/min/mins, h/hours, d/days,
// w/weeks and their spelled-out forms). A bare number is seconds.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	num, unit := splitNumber(t)
	if num == "" {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	unit = strings.ToLower(unit)
	for _, u := range durationUnits {
		for _, name := range u.names {
			if unit != name {
				continue
			}
			if n > math.MaxInt64/int64(u.d) {
				return 0, fmt.Errorf("time %q too large", s)
			}
			return time.Duration(n) * u.d, nil
		}
	}
	return 0, fmt.Errorf("invalid time unit in %q", s)
}

// FormatDuration prints d in the largest unit that divides it exactly, in a
// form ParseDuration reads back. Sub-millisecond parts are dropped.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	for _, u := range []struct {
		d            time.Duration
		one, several string
	}{{7 * 24 * time.Hour, "week", "weeks"}, {24 * time.Hour, "day", "days"}, {time.Hour, "hour", "hours"}, {time.Minute, "min", "mins"}, {time.Second, "sec", "secs"}} {
		if d%u.d == 0 {
			n := d / u.d
			if n == 1 || n == -1 {
				return strconv.FormatInt(int64(n), 10) + " " + u.one
			}
			return strconv.FormatInt(int64(n), 10) + " " + u.several
		}
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + " ms"
}

// splitNumber splits "256 M" into "256" and "M".
func splitNumber(s string) (num, unit string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], strings.TrimSpace(s[i:])
}
