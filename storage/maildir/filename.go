package maildir

import (
	"slices"
	"strconv"
	"strings"

	"cote/storage"
)

// fileInfo is what a maildir file name says (maildir-filename.c).
type fileInfo struct {
	Base  string // the name before ":2,"
	Flags string // the letters after ":2,", "" when there is no info
	Size  int64  // S=, -1 when absent
	VSize int64  // W=, -1 when absent
}

// parseFileName splits a maildir file name. The info part starts at the
// first ':'; sizes are the ",S=" and ",W=" fields of the base name.
func parseFileName(name string) fileInfo {
	fi := fileInfo{Base: name, Size: -1, VSize: -1}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		fi.Base = name[:i]
		if info, ok := strings.CutPrefix(name[i+1:], "2,"); ok {
			fi.Flags = info
		}
	}
	fields := strings.Split(fi.Base, ",")
	for _, f := range fields[1:] {
		if v, ok := strings.CutPrefix(f, "S="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				fi.Size = n
			}
		} else if v, ok := strings.CutPrefix(f, "W="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				fi.VSize = n
			}
		}
	}
	return fi
}

// baseName returns the part of a file name before the info.
func baseName(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

var letterFlags = map[byte]string{
	'D': storage.FlagDraft,
	'F': storage.FlagFlagged,
	'R': storage.FlagAnswered,
	'S': storage.FlagSeen,
	'T': storage.FlagDeleted,
}

// flagsFromInfo maps info letters to flags through the keyword table;
// letters it does not know (P, unknown keywords) come back in other.
func flagsFromInfo(info string, kw []string) (flags []string, other string) {
	for i := 0; i < len(info); i++ {
		c := info[i]
		switch {
		case letterFlags[c] != "":
			flags = append(flags, letterFlags[c])
		case c >= 'a' && c <= 'z' && int(c-'a') < len(kw) && kw[c-'a'] != "":
			flags = append(flags, kw[c-'a'])
		case c >= 'A' && c <= 'Z':
			other += string(c)
		}
	}
	return flags, other
}

// infoFromFlags builds the sorted info letters for flags; other keeps
// letters the file had that cote does not interpret. kwIndex gives the
// letter of a keyword, or -1.
func infoFromFlags(flags []string, other string, kwIndex func(string) int) string {
	var letters []byte
	for _, f := range flags {
		for c, name := range letterFlags {
			if strings.EqualFold(f, name) {
				letters = append(letters, c)
			}
		}
		if !strings.HasPrefix(f, `\`) {
			if i := kwIndex(f); i >= 0 {
				letters = append(letters, byte('a'+i))
			}
		}
	}
	letters = append(letters, other...)
	slices.Sort(letters)
	return string(slices.Compact(letters))
}
