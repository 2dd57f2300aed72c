package maildir

import "cote/storage/internal/layout"

func encodeMUTF7(s string) string { return layout.EncodeMUTF7(s) }

func decodeMUTF7(s string) (string, error) { return layout.DecodeMUTF7(s) }
