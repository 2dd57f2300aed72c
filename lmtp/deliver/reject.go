package deliver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// maxRejectHeader bounds the original header quoted in a rejection.
const maxRejectHeader = 64 << 10

// reject sends the rejection message of RFC 5429 section 2.1 to the
// envelope sender: an MDN (RFC 8098) with the disposition "deleted",
// quoting the original header. With the null sender nothing is sent
// (RFC 5429 section 2.1: the message is discarded). The message itself
// is not stored.
func (d *delivery) reject(ctx context.Context, reason string) error {
	if d.req.MailFrom == "" {
		d.log.Info("rejected by filter; null sender, no rejection message sent", "reason", reason)
		return nil
	}
	if d.o.Sender == nil {
		return fmt.Errorf("no sendmail_path or submission_host to send the rejection through")
	}
	msg := d.rejection(reason, time.Now())
	if err := d.o.Sender.Send(ctx, "", []string{d.req.MailFrom}, bytes.NewReader(msg)); err != nil {
		return err
	}
	d.log.Info("rejected by filter; rejection sent", "reason", reason, "to", d.req.MailFrom)
	return nil
}

func (d *delivery) hostname() string {
	if d.o.Hostname != "" {
		return d.o.Hostname
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// rejection composes the rejection message.
func (d *delivery) rejection(reason string, now time.Time) []byte {
	rcpt := oneLine(strings.Trim(d.req.RcptTo, "<>"))
	from := d.o.PostmasterAddress
	if from == "" {
		domain := d.hostname()
		if _, dom, ok := strings.Cut(rcpt, "@"); ok && dom != "" {
			domain = dom
		}
		from = "postmaster@" + domain
	}
	from = oneLine(from)
	hdr := d.originalHeader()
	orig, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(hdr))).ReadMIMEHeader()
	subject := oneLine(orig.Get("Subject"))
	if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = dec
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := "cote-reject-" + hex.EncodeToString(rnd[:])
	host := d.hostname()

	var b bytes.Buffer
	if strings.Contains(from, "<") {
		fmt.Fprintf(&b, "From: %s\r\n", from)
	} else {
		fmt.Fprintf(&b, "From: Mail Delivery System <%s>\r\n", from)
	}
	fmt.Fprintf(&b, "To: <%s>\r\n", oneLine(d.req.MailFrom))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "Rejected: "+subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <cote.reject.%s@%s>\r\n", hex.EncodeToString(rnd[:8]), host)
	if id := oneLine(orig.Get("Message-Id")); id != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\nReferences: %s\r\n", id, id)
	}
	b.WriteString("Auto-Submitted: auto-replied (rejected)\r\n")
	b.WriteString("Precedence: bulk\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=disposition-notification;\r\n\tboundary=\"%s\"\r\n\r\n", boundary)
	b.WriteString("This is a MIME-encapsulated message.\r\n\r\n")

	fmt.Fprintf(&b, "--%s\r\n", boundary)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, "Your message to <%s> was automatically rejected:\r\n", rcpt)
	for _, l := range strings.Split(strings.ReplaceAll(reason, "\r\n", "\n"), "\n") {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")

	fmt.Fprintf(&b, "--%s\r\n", boundary)
	b.WriteString("Content-Type: message/disposition-notification\r\n\r\n")
	fmt.Fprintf(&b, "Reporting-UA: %s; cote\r\n", host)
	fmt.Fprintf(&b, "Final-Recipient: rfc822; %s\r\n", rcpt)
	if id := oneLine(orig.Get("Message-Id")); id != "" {
		fmt.Fprintf(&b, "Original-Message-ID: %s\r\n", id)
	}
	b.WriteString("Disposition: automatic-action/MDN-sent-automatically; deleted\r\n\r\n")

	fmt.Fprintf(&b, "--%s\r\n", boundary)
	b.WriteString("Content-Type: text/rfc822-headers\r\n\r\n")
	b.Write(hdr)
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// originalHeader is the header of the message as received (without our
// Return-Path and Delivered-To), ending with the blank line, CRLF
// terminated.
func (d *delivery) originalHeader() []byte {
	r := bufio.NewReader(io.LimitReader(io.NewSectionReader(d.body, 0, d.body.Size()), maxRejectHeader))
	var b bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		l := strings.TrimRight(line, "\r\n")
		if l == "" {
			break
		}
		b.WriteString(l)
		b.WriteString("\r\n")
		if err != nil {
			break
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
