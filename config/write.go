package config

import (
	"bytes"
	"io"
	"reflect"
	"sort"
	"strings"
)

// WriteAll writes every setting, defaults included, in configuration syntax
// (`cote -a`). The output parses back to the same Settings. Values read from
// `<file` are written as `<file`.
func (s *Settings) WriteAll(w io.Writer) error {
	return s.write(w, true)
}

// WriteNonDefault writes the settings that were set in the configuration or
// differ from their defaults (`cote -n`), in configuration syntax.
func (s *Settings) WriteNonDefault(w io.Writer) error {
	return s.write(w, false)
}

type printer struct {
	s   *Settings
	all bool
	b   bytes.Buffer
}

func (s *Settings) write(w io.Writer, all bool) error {
	p := &printer{s: s, all: all}
	def := rawDefaults()
	finalizeFrom(def, s)

	type item struct {
		key   string
		print func()
	}
	root, droot := rootOf(s), rootOf(def)
	var items []item
	fs := fieldsOf(root.Type())
	for _, k := range sortedKeys(root.Type()) {
		f := fs[k]
		items = append(items, item{k, func() {
			p.setting(0, k, k, root.FieldByIndex(f.index), droot.FieldByIndex(f.index), f)
		}})
	}
	items = append(items,
		item{"dict", func() { p.mapBlock("dict", s.Dict) }},
		item{"namespace", func() {
			for i, ns := range s.Namespaces {
				p.block(0, "", "namespace", ns.Name, elemKey(ns.Name, i), reflect.ValueOf(ns), reflect.Value{})
			}
		}},
		item{"passdb", func() { p.dbs("passdb", s.Passdbs) }},
		item{"plugin", func() { p.mapBlock("plugin", s.Plugin) }},
		item{"protocol", func() { p.protocols() }},
		item{"service", func() {
			for _, svc := range s.Services {
				var dv reflect.Value
				if d := def.Service(svc.Name); d != nil {
					dv = reflect.ValueOf(*d)
				}
				p.block(0, "", "service", svc.Name, svc.Name, reflect.ValueOf(svc), dv)
			}
		}},
		item{"userdb", func() { p.dbs("userdb", s.Userdbs) }},
	)
	sort.SliceStable(items, func(i, j int) bool { return items[i].key < items[j].key })
	for _, it := range items {
		it.print()
	}
	_, err := io.WriteString(w, p.b.String())
	return err
}

func (p *printer) dbs(kind string, dbs []DB) {
	for i, db := range dbs {
		p.block(0, "", kind, db.Name, elemKey(db.Name, i), reflect.ValueOf(db), reflect.Value{})
	}
}

func (p *printer) indent(n int) { p.b.WriteString(strings.Repeat("  ", n)) }

// setting prints `key = value` when all is set, or when the value was set
// in a file or differs from def (an invalid def means "print").
func (p *printer) setting(depth int, path, key string, v, def reflect.Value, f field) {
	val := formatField(v, f)
	_, set := p.s.pos[path]
	if !p.all && !set && def.IsValid() && val == formatField(def, f) {
		return
	}
	p.indent(depth)
	if file := p.s.fileOf(path); file != "" {
		p.b.WriteString(key + " = <" + file + "\n")
		return
	}
	p.b.WriteString(key + " =" + valueText(val) + "\n")
}

// block prints a `kind name { }` block of struct v. prefix is the position
// path of the enclosing block ("" or "service/auth/"), key the block's name
// or index. def is the built-in block of the same name, or invalid when
// there is none: then the block is printed even when nothing in it differs
// from the per-kind defaults.
func (p *printer) block(depth int, prefix, kind, name, key string, v, def reflect.Value) {
	path := prefix + kind + "/" + key
	isNew := !def.IsValid()
	if isNew {
		def = newElem(v.Type(), kind, name)
		if kind == "inet_listener" {
			def.FieldByIndex(fieldsOf(v.Type())["address"].index).SetString(strings.Join(p.s.Listen, ", "))
		}
	}
	start := p.b.Len()
	p.indent(depth)
	p.b.WriteString(kind)
	if name != "" {
		p.b.WriteString(" " + nameText(name))
	}
	p.b.WriteString(" {\n")
	head := p.b.Len()
	fs := fieldsOf(v.Type())
	for _, k := range sortedKeys(v.Type()) {
		f := fs[k]
		p.setting(depth+1, path+"/"+k, k, v.FieldByIndex(f.index), def.FieldByIndex(f.index), f)
	}
	for _, k := range sectionKeys(v.Type()) {
		f := fs[k]
		sl, dsl := v.FieldByIndex(f.index), def.FieldByIndex(f.index)
		for i := 0; i < sl.Len(); i++ {
			el := sl.Index(i)
			elName := el.FieldByIndex(fieldsOf(el.Type())[",name"].index).String()
			var del reflect.Value
			if j := findNamed(dsl, elName); j >= 0 && elName != "" {
				del = dsl.Index(j)
			}
			p.block(depth+1, path+"/", k, elName, elemKey(elName, i), el, del)
		}
	}
	if !p.all && !isNew && p.b.Len() == head {
		// A built-in block with nothing changed.
		p.b.Truncate(start)
		return
	}
	p.indent(depth)
	p.b.WriteString("}\n")
}

func (p *printer) mapBlock(kind string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	p.b.WriteString(kind + " {\n")
	for _, k := range keys {
		p.indent(1)
		if file := p.s.fileOf(kind + "/" + k); file != "" {
			p.b.WriteString(k + " = <" + file + "\n")
			continue
		}
		p.b.WriteString(k + " =" + valueText(m[k]) + "\n")
	}
	p.b.WriteString("}\n")
}

func (p *printer) protocols() {
	for _, po := range p.s.ProtocolOverrides {
		p.b.WriteString("protocol " + nameText(po.Protocol) + " {\n")
		for _, kv := range po.Settings {
			p.indent(1)
			if kv.File != "" {
				p.b.WriteString(kv.Key + " = <" + kv.File + "\n")
				continue
			}
			p.b.WriteString(kv.Key + " =" + valueText(kv.Value) + "\n")
		}
		p.b.WriteString("}\n")
	}
}

// sectionKeys returns the names of t's nested blocks in field order.
func sectionKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("cote")
		if strings.Contains(tag, ",section") {
			keys = append(keys, strings.Split(tag, ",")[0])
		}
	}
	return keys
}

// valueText renders a value after "key =": a space and the value, quoted
// when it would not read back as itself; nothing for an empty value.
func valueText(v string) string {
	if v == "" {
		return ""
	}
	if needsQuote(v) {
		return " " + quote(v)
	}
	return " " + v
}

func needsQuote(v string) bool {
	if v != strings.TrimSpace(v) || strings.ContainsAny(v, "\n\r") || strings.HasSuffix(v, "\\") {
		return true
	}
	switch v[0] {
	case '"', '\'', '<':
		return true
	}
	line := "k = " + v
	if stripComment(line) != line {
		return true
	}
	for _, w := range strings.Fields(v) {
		if isVarRef(w) {
			return true
		}
	}
	return false
}

func nameText(n string) string {
	if n == "" || strings.ContainsAny(n, " \t\"'{}#\\\n\r") {
		return quote(n)
	}
	return n
}

func quote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(v) + `"`
}
