package maildir

import "cote/storage/internal/layout"

func parseSubscriptions(data []byte, delim rune) []string {
	return layout.ParseSubscriptions(data, delim)
}

func formatSubscriptions(names []string, delim rune) []byte {
	return layout.FormatSubscriptions(names, delim)
}
