package ldap

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"cote/auth/dbconf"
	"cote/auth/varexpand"
)

// AttrMap is a parsed user_attrs, pass_attrs or iterate_attrs: a
// comma-separated list of
//
//	ldapAttr=field           the attribute's value as the field
//	ldapAttr                 the same, the field named like the attribute
//	ldapAttr=field=template  the template, %$ being the attribute's value
//	=field=template          the template, always
//	ldapAttr=                fetch the attribute for templates only
//
// Templates take the usual variables and %{ldap:attr},
// %{ldap:attr:default} and %{ldap_multi:attr[:sep]} (all values joined,
// by "," unless sep is given).
type AttrMap struct {
	Entries []AttrEntry
	// Fetch are the attributes to ask the server for.
	Fetch []string
}

// AttrEntry is one item of an AttrMap.
type AttrEntry struct {
	Attr     string // "" for =field=template
	Field    string // "" to fetch only
	Template dbconf.Template
	HasTmpl  bool
}

func ldapVar(name string) bool {
	if name == "$" {
		return true
	}
	if rest, ok := strings.CutPrefix(name, "ldap:"); ok {
		a, _, _ := strings.Cut(rest, ":")
		return a != ""
	}
	if rest, ok := strings.CutPrefix(name, "ldap_multi:"); ok {
		a, _, _ := strings.Cut(rest, ":")
		return a != ""
	}
	return false
}

// ParseAttrMap parses a Dovecot attribute list.
func ParseAttrMap(s string) (AttrMap, error) {
	var m AttrMap
	fetch := func(a string) {
		if !slices.ContainsFunc(m.Fetch, func(b string) bool { return strings.EqualFold(a, b) }) {
			m.Fetch = append(m.Fetch, a)
		}
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		attr, rest, hasField := strings.Cut(item, "=")
		e := AttrEntry{Attr: strings.TrimSpace(attr)}
		if !hasField {
			e.Field = e.Attr
		} else {
			field, tmpl, hasTmpl := strings.Cut(rest, "=")
			e.Field = strings.TrimSpace(field)
			if hasTmpl {
				t, err := dbconf.ParseTemplate(tmpl, ldapVar)
				if err != nil {
					return AttrMap{}, err
				}
				e.Template, e.HasTmpl = t, true
				for _, seg := range t {
					if a := ldapVarAttr(seg.Var); a != "" {
						fetch(a)
					}
					if seg.Var == "$" && e.Attr == "" {
						return AttrMap{}, fmt.Errorf("%q: %%$ needs an LDAP attribute before the first =", item)
					}
				}
			}
		}
		if e.Attr == "" && !e.HasTmpl {
			return AttrMap{}, fmt.Errorf("%q: no LDAP attribute and no template", item)
		}
		if e.Field == "" && e.Attr == "" {
			return AttrMap{}, fmt.Errorf("%q: no field name", item)
		}
		if strings.ContainsAny(e.Field, " \t") || strings.ContainsAny(e.Attr, " \t()*\\") {
			return AttrMap{}, fmt.Errorf("%q: bad attribute or field name", item)
		}
		if e.Attr != "" {
			fetch(e.Attr)
		}
		m.Entries = append(m.Entries, e)
	}
	if len(m.Entries) == 0 {
		return AttrMap{}, errors.New("empty attribute list")
	}
	return m, nil
}

// ldapVarAttr is the attribute a %{ldap:...} variable reads.
func ldapVarAttr(v string) string {
	for _, p := range []string{"ldap:", "ldap_multi:"} {
		if rest, ok := strings.CutPrefix(v, p); ok {
			a, _, _ := strings.Cut(rest, ":")
			return a
		}
	}
	return ""
}

// entryValues are an entry's attribute values, looked up
// case-insensitively as LDAP attribute names are.
type entryValues map[string][]string

func newEntryValues(attrs map[string][]string) entryValues {
	ev := make(entryValues, len(attrs))
	for k, v := range attrs {
		ev[strings.ToLower(k)] = v
	}
	return ev
}

func (ev entryValues) get(a string) ([]string, bool) {
	v, ok := ev[strings.ToLower(a)]
	return v, ok && len(v) > 0
}

// field is one mapped field.
type field struct{ name, value string }

// Apply maps an entry's attributes to fields, in list order. An entry
// whose attribute the LDAP entry lacks gives no field; a multi-valued
// attribute gives its first value.
func (m AttrMap) Apply(ev entryValues, v varexpand.Values) ([]field, error) {
	std := dbconf.Std(v)
	var out []field
	for _, e := range m.Entries {
		if e.Field == "" {
			continue
		}
		vals, has := []string(nil), false
		if e.Attr != "" {
			if vals, has = ev.get(e.Attr); !has {
				continue
			}
		}
		if !e.HasTmpl {
			out = append(out, field{e.Field, vals[0]})
			continue
		}
		lookup := func(name string) (string, bool) {
			if name == "$" {
				return vals[0], true
			}
			if rest, ok := strings.CutPrefix(name, "ldap:"); ok {
				a, def, _ := strings.Cut(rest, ":")
				if x, ok := ev.get(a); ok {
					return x[0], true
				}
				return def, true
			}
			if rest, ok := strings.CutPrefix(name, "ldap_multi:"); ok {
				a, opt, _ := strings.Cut(rest, ":")
				sep, def, _ := strings.Cut(opt, ":")
				if sep == "" {
					sep = ","
				}
				if x, ok := ev.get(a); ok {
					return strings.Join(x, sep), true
				}
				return def, true
			}
			return std(name)
		}
		val, err := e.Template.Expand(lookup, nil)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", e.Field, err)
		}
		out = append(out, field{e.Field, val})
	}
	return out, nil
}
