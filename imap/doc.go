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
//   - RFC 3501 IMAP4rev1, authenticated and selected states
//   - RFC 2177 IDLE
//   - RFC 2342 NAMESPACE
//   - RFC 2971 ID
//   - RFC 3348 CHILDREN
//   - RFC 3691 UNSELECT
//   - RFC 4315 UIDPLUS
//   - RFC 5161 ENABLE (nothing to enable yet)
//   - RFC 5258 LIST-EXTENDED (SUBSCRIBED, RECURSIVEMATCH, REMOTE;
//     RETURN SUBSCRIBED, CHILDREN, SPECIAL-USE)
//   - RFC 5530 response codes
//   - RFC 6154 SPECIAL-USE and CREATE-SPECIAL-USE
//   - RFC 6851 MOVE
//   - RFC 7888 LITERAL+
//   - RFC 7889 APPENDLIMIT
//   - RFC 8438 STATUS=SIZE
//   - RFC 2180 behaviour for messages expunged by another session
package imap
