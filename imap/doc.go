// Package imap is cote's post-login IMAP engine. It runs inside the
// per-user worker: the login process has greeted the client and read its
// LOGIN or AUTHENTICATE, and Serve answers that command's tag and runs the
// authenticated and selected states on the storage.Store of the user.
//
// The package is split as go-imap is: the wire codec (reader.go frames
// commands and literals, parser.go parses arguments with a sticky error,
// encode.go writes strings, literals and lists), the session loop
// (serve.go), the client's view of the selected mailbox (view.go), one
// file per command group (cmd_*.go), and the message model behind FETCH
// and SEARCH (mime.go, envelope.go, bodystructure.go, section.go).
//
// Implemented (docs/imap.md has the list of what is missing):
//   - RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1 together (RFC 9051
//     appendix E); ENABLE IMAP4rev2 switches the rev2 response changes on
//   - RFC 2177 IDLE, RFC 2342 NAMESPACE, RFC 2971 ID, RFC 3348 CHILDREN
//   - RFC 3502 MULTIAPPEND, RFC 3516 BINARY, RFC 3691 UNSELECT
//   - RFC 4315 UIDPLUS, RFC 4731 ESEARCH, RFC 4978 COMPRESS=DEFLATE
//   - RFC 4469 CATENATE, RFC 4467 URLAUTH with RFC 5524 URLAUTH=BINARY,
//     on the message URLs of RFC 5092 (imapurl.go)
//   - RFC 5032 WITHIN, RFC 5161 ENABLE, RFC 5182 SEARCHRES
//   - RFC 5255 I18NLEVEL=1 (i;unicode-casemap, RFC 5051)
//   - RFC 5256 SORT and THREAD (ORDEREDSUBJECT, REFERENCES; REFS from
//     draft-ietf-morg-inthread), RFC 5957 SORT=DISPLAY, RFC 5267 ESORT
//   - RFC 5267 CONTEXT=SEARCH and CONTEXT=SORT (context.go), RFC 5465
//     NOTIFY (notify.go)
//   - RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 5530 codes
//   - RFC 6154 SPECIAL-USE and CREATE-SPECIAL-USE, RFC 6851 MOVE
//   - RFC 6855 UTF8=ACCEPT, RFC 7162 CONDSTORE and QRESYNC
//   - RFC 7888 LITERAL+ and LITERAL-, RFC 7889 APPENDLIMIT
//   - RFC 8438 STATUS=SIZE, RFC 8514 SAVEDATE, RFC 8970 PREVIEW
//   - RFC 8437 UNAUTHENTICATE, through Options.Unauthenticate
//     (unauthenticate.go)
//   - RFC 9208 QUOTA, QUOTA=RES-STORAGE, QUOTA=RES-MESSAGE
//   - RFC 2180 behaviour for messages expunged by another session
package imap
