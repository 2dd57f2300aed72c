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
//     hash, as `doveadm pw` does.
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
