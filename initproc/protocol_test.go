package initproc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// TestReceiveRefuses: a message the reader cannot act on is an error, in
// particular the empty message, which the old Reply read as "ready".
func TestReceiveRefuses(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`{"ready":true}`,
		`{"commit":true}`,
		`{"type":""}`,
		`{"type":"nonsense"}`,
		`{"type":"ready","body":{"warnings":"x"}}`,
		`{"type":"ready","body":{"ready":true}}`,
		`{"type":"failed"}`,
		`{"type":"failed","body":{"error":""}}`,
		`{"type":"release","body":[]}`,
	} {
		_, err := Receive(json.NewDecoder(strings.NewReader(in)))
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want a protocol error", in, err)
		}
	}
	if _, err := Receive(json.NewDecoder(strings.NewReader(""))); !errors.Is(err, io.EOF) {
		t.Errorf("empty stream: got %v, want EOF", err)
	}
}

// TestMessagesRoundTrip: each message reads back as itself, its own type.
func TestMessagesRoundTrip(t *testing.T) {
	for _, m := range []Message{
		RuntimeHooksRequest{}, BindSourcesRequest{}, SeccompFdOffer{},
		Ready{}, Ready{Warnings: []string{"w"}, Notes: []string{"n"}},
		Failed{Error: "boom"},
		CgroupJoined{}, HooksDone{}, SeccompFdAccept{}, SeccompFdPassed{}, Release{},
	} {
		var b bytes.Buffer
		if err := Send(json.NewEncoder(&b), m); err != nil {
			t.Fatal(err)
		}
		got, err := Receive(json.NewDecoder(&b))
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%T: sent %#v, got %#v", m, m, got)
		}
	}
	if len(decoders) != 11-1 { // Ready twice above
		t.Errorf("%d kinds, the test covers 10", len(decoders))
	}
}

// TestExpect: a valid message of another type is an error where a given
// one is awaited (init waiting for Release does not take HooksDone).
func TestExpect(t *testing.T) {
	var b bytes.Buffer
	_ = Send(json.NewEncoder(&b), HooksDone{})
	if _, err := Expect[Release](json.NewDecoder(&b)); err == nil {
		t.Fatal("Expect[Release] took HooksDone")
	}
}
