package proto

import (
	"errors"
	"io"
	"os"
	"testing"
)

// TestHandleTakesMessages: a message type given to Handle goes to its
// handler, with its descriptor, and Recv returns the next other message.
func TestHandleTakesMessages(t *testing.T) {
	a, bf, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ConnFromFile(bf)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	got := make(chan *Profile, 1)
	b.Handle(TypeProfile, func(m Message, files []*os.File) {
		if len(files) != 1 {
			t.Errorf("handler got %d descriptors, want 1", len(files))
		}
		for _, f := range files {
			f.Write([]byte("profile"))
			f.Close()
		}
		got <- m.(*Profile)
	})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := a.Send(&Profile{Seq: 1, Kind: "heap"}, w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := a.Send(&Status{Clients: 3}); err != nil {
		t.Fatal(err)
	}
	m, files, err := b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := m.(*Status); !ok || st.Clients != 3 || len(files) != 0 {
		t.Errorf("Recv() = %+v with %d files, want the Status", m, len(files))
	}
	if p := <-got; p.Seq != 1 || p.Kind != "heap" {
		t.Errorf("handler got %+v, want Seq 1, heap", p)
	}
	if data, err := io.ReadAll(r); err != nil || string(data) != "profile" {
		t.Errorf("pipe read %q, %v; want %q", data, err, "profile")
	}

	b.Handle(TypeProfile, nil)
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := a.Send(&Profile{Seq: 2, Kind: "heap"}, w2); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	m, files, err = b.Recv()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	if p, ok := m.(*Profile); !ok || p.Seq != 2 {
		t.Errorf("Recv() after Handle(nil) = %+v, want the Profile", m)
	}
}

func TestProfileRejects(t *testing.T) {
	pkt := Encode(&Profile{Seq: 1, Kind: ProfileCPU, Seconds: MaxProfileSeconds + 1})
	if m, err := Decode(pkt, 1); !errors.Is(err, ErrMalformed) {
		t.Errorf("Decode(profile of %d s) = %+v, %v; want ErrMalformed", MaxProfileSeconds+1, m, err)
	}
	for _, k := range []string{"profile", "heap", "trace", "goroutine"} {
		if !ProfileKind(k) {
			t.Errorf("ProfileKind(%q) = false, want true", k)
		}
	}
	for _, k := range []string{"", "cpu", "../heap"} {
		if ProfileKind(k) {
			t.Errorf("ProfileKind(%q) = true, want false", k)
		}
	}
}
