package imap

import "strings"

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

var simpleMsg = crlf(`From: Alice <alice@example.com>
To: Bob <bob@example.org>, "Carol, C." <carol@example.net>
Subject: Hello there
Date: Tue, 5 Mar 2024 10:00:00 +0100
Message-ID: <1@example.com>

Hi Bob,
how are you?
`)

var multipartMsg = crlf(`From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.com>
To: undisclosed-recipients:;
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
Date: Wed, 6 Mar 2024 08:00:00 +0000
Message-ID: <2@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 body text
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

plain alt
--inner
Content-Type: text/html
Content-Disposition: inline

<p>html alt</p>
--inner--
--outer
Content-Type: message/rfc822

From: Dave <dave@example.com>
Subject: inner

inner body
--outer--
epilogue
`)
