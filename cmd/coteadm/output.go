package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// table is a command's result: named columns and rows of values. Every
// subcommand that reports data builds one and prints it with -f's format,
// as doveadm's formatters do.
type table struct {
	fields []string
	rows   [][]string
}

func checkFormat(f string) error {
	switch f {
	case "table", "json", "flow":
		return nil
	}
	return fmt.Errorf("unknown output format %q (want table, json or flow)", f)
}

// write prints t in format:
//   - table: a header line and aligned columns; a result of one field
//     and one row is printed bare, so that `coteadm pw` prints just the
//     hash, as `doveadm pw` does. Values with line breaks (fetch's hdr,
//     body, text) cannot be columns: then each record is printed as
//     `field: value` lines, records separated by a form feed line, as
//     doveadm's pager format.
//   - flow: one line per row, `field=value` separated by spaces, values
//     with spaces or quotes quoted.
//   - json: an array of objects.
func (t *table) write(w io.Writer, format string) error {
	switch format {
	case "json":
		out := make([]map[string]string, len(t.rows))
		for i, r := range t.rows {
			out[i] = map[string]string{}
			for j, f := range t.fields {
				out[i][f] = r[j]
			}
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "flow":
		var b strings.Builder
		for _, r := range t.rows {
			for j, f := range t.fields {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(f + "=" + flowValue(r[j]))
			}
			b.WriteByte('\n')
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(t.fields) == 1 && len(t.rows) == 1 {
		_, err := fmt.Fprintln(w, t.rows[0][0])
		return err
	}
	if t.multiline() {
		return t.writePager(w)
	}
	widths := make([]int, len(t.fields))
	for j, f := range t.fields {
		widths[j] = utf8.RuneCountInString(f)
		for _, r := range t.rows {
			widths[j] = max(widths[j], utf8.RuneCountInString(r[j]))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for j, c := range cells {
			if j == len(cells)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c + strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c)+1))
		}
		b.WriteByte('\n')
	}
	line(t.fields)
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func flowValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\n\"\\=") {
		return fmt.Sprintf("%q", v)
	}
	return v
}

func (t *table) multiline() bool {
	for _, r := range t.rows {
		for _, c := range r {
			if strings.ContainsAny(c, "\r\n") {
				return true
			}
		}
	}
	return false
}

func (t *table) writePager(w io.Writer) error {
	var b strings.Builder
	for i, r := range t.rows {
		if i > 0 {
			b.WriteString("\f\n")
		}
		for j, f := range t.fields {
			v := strings.ReplaceAll(r[j], "\r\n", "\n")
			if strings.Contains(v, "\n") {
				b.WriteString(f + ":\n" + v)
				if !strings.HasSuffix(v, "\n") {
					b.WriteByte('\n')
				}
				continue
			}
			b.WriteString(f + ": " + v + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
