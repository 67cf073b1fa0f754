package initproc

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Kind names a message on the sync socket (see the sequence in doc.go).
type Kind string

// The messages after Config and ExecConfig, one Kind each.
const (
	// init → runtime
	KindRuntimeHooks Kind = "runtimeHooks" // RuntimeHooksRequest
	KindBindSources  Kind = "bindSources"  // BindSourcesRequest
	KindSeccompFd    Kind = "seccompFd"    // SeccompFdOffer
	KindReady        Kind = "ready"        // Ready
	KindFailed       Kind = "failed"       // Failed

	// runtime → init
	KindCgroupJoined    Kind = "cgroupJoined"    // CgroupJoined
	KindHooksDone       Kind = "hooksDone"       // HooksDone
	KindSeccompFdAccept Kind = "seccompFdAccept" // SeccompFdAccept
	KindSeccompFdPassed Kind = "seccompFdPassed" // SeccompFdPassed
	KindRelease         Kind = "release"         // Release
)

// Message is one message of the protocol after the config.
type Message interface{ Kind() Kind }

// RuntimeHooksRequest asks the runtime to run the prestart and createRuntime hooks
// now: the namespaces and mounts exist and pivot_root has not happened.
// The runtime answers HooksDone.
type RuntimeHooksRequest struct{}

// BindSourcesRequest asks the runtime for the bind mounts' sources,
// opened in init's mount namespace (Config.BindSources). The answer is
// not JSON: one byte, 'F' with the fds as SCM_RIGHTS in the order of
// BindSourcePaths, or 'E' when the runtime could not open them.
type BindSourcesRequest struct{}

// SeccompFdOffer: a filter with a listener (linux.seccomp.listenerPath)
// is loaded. The runtime answers SeccompFdAccept, receives one byte 'S'
// with the notify fd (SCM_RIGHTS), passes it to the agent and answers
// SeccompFdPassed (seccomp_notify_linux.go).
type SeccompFdOffer struct{}

// Ready: init is set up and waits for Release.
type Ready struct {
	Warnings []string `json:"warnings,omitempty"`
	Notes    []string `json:"notes,omitempty"` // debug-level details
}

// Failed is the child's last message: it exits after it.
type Failed struct {
	Error string `json:"error"`
}

// CgroupJoined: init is in the container's cgroup (Config.AwaitCgroup).
type CgroupJoined struct{}

// HooksDone: the prestart and createRuntime hooks ran and succeeded.
type HooksDone struct{}

// SeccompFdAccept: the runtime waits for the notify fd.
type SeccompFdAccept struct{}

// SeccompFdPassed: the agent holds the notify fd.
type SeccompFdPassed struct{}

// Release: the container is recorded; init closes the socket and waits
// for start.
type Release struct{}

func (RuntimeHooksRequest) Kind() Kind { return KindRuntimeHooks }
func (BindSourcesRequest) Kind() Kind  { return KindBindSources }
func (SeccompFdOffer) Kind() Kind      { return KindSeccompFd }
func (Ready) Kind() Kind               { return KindReady }
func (Failed) Kind() Kind              { return KindFailed }
func (CgroupJoined) Kind() Kind        { return KindCgroupJoined }
func (HooksDone) Kind() Kind           { return KindHooksDone }
func (SeccompFdAccept) Kind() Kind     { return KindSeccompFdAccept }
func (SeccompFdPassed) Kind() Kind     { return KindSeccompFdPassed }
func (Release) Kind() Kind             { return KindRelease }

// envelope is a message on the wire: {"type":"ready","body":{...}}.
type envelope struct {
	Type Kind            `json:"type"`
	Body json.RawMessage `json:"body,omitempty"`
}

var decoders = map[Kind]func([]byte) (Message, error){
	KindRuntimeHooks:    decodeAs[RuntimeHooksRequest],
	KindBindSources:     decodeAs[BindSourcesRequest],
	KindSeccompFd:       decodeAs[SeccompFdOffer],
	KindReady:           decodeAs[Ready],
	KindFailed:          decodeFailed,
	KindCgroupJoined:    decodeAs[CgroupJoined],
	KindHooksDone:       decodeAs[HooksDone],
	KindSeccompFdAccept: decodeAs[SeccompFdAccept],
	KindSeccompFdPassed: decodeAs[SeccompFdPassed],
	KindRelease:         decodeAs[Release],
}

// ProtocolError is a message that was read whole but means nothing the
// reader can act on: no type, an unknown type, a body that does not fit
// its type, or a type not expected at this point. It is never taken as
// success (an empty message once read as "ready").
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "sync protocol: " + e.Msg }

// Send writes m as one JSON line.
func Send(enc *json.Encoder, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Kind(), err)
	}
	if bytes.Equal(body, []byte("{}")) {
		body = nil
	}
	return enc.Encode(envelope{Type: m.Kind(), Body: body})
}

// Receive reads one message. A read or JSON error comes back as it is (the
// peer is gone or wrote garbage); a well-formed message that is no known
// Message is a *ProtocolError.
func Receive(dec *json.Decoder) (Message, error) {
	var e envelope
	if err := dec.Decode(&e); err != nil {
		return nil, err
	}
	decode, ok := decoders[e.Type]
	if !ok {
		if e.Type == "" {
			return nil, &ProtocolError{"message without a type"}
		}
		return nil, &ProtocolError{fmt.Sprintf("unknown message type %q", e.Type)}
	}
	return decode(e.Body)
}

// Expect reads one message and fails unless it is a T.
func Expect[T Message](dec *json.Decoder) (T, error) {
	var want T
	m, err := Receive(dec)
	if err != nil {
		return want, err
	}
	got, ok := m.(T)
	if !ok {
		return want, Unexpected(m)
	}
	return got, nil
}

// Unexpected is the error for a message that is valid but not expected at
// this point of the exchange.
func Unexpected(m Message) error {
	return &ProtocolError{fmt.Sprintf("unexpected message %q", m.Kind())}
}

// decodeAs decodes a body strictly: a field the type does not have is an
// error, not ignored.
func decodeAs[T Message](body []byte) (Message, error) {
	var m T
	if len(body) == 0 {
		return m, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return nil, &ProtocolError{fmt.Sprintf("%s: %v", m.Kind(), err)}
	}
	return m, nil
}

func decodeFailed(body []byte) (Message, error) {
	m, err := decodeAs[Failed](body)
	if err != nil {
		return nil, err
	}
	if m.(Failed).Error == "" {
		return nil, &ProtocolError{"failed: no error text"}
	}
	return m, nil
}
