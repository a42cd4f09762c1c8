package bazelcred

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var fuzzSeeds = []string{
	"",
	"{}",
	"[]",
	"null",
	`"https://h/"`,
	`{"uri":"https://h/"}`,
	`{"uri":"grpcs://example.com/com.example.package.Service/Method"}`,
	`{"uri":"https://h/","method":"POST","audience":["a"],"resource":["https://h/"],"scope":"a b","interactive":true,"capabilities":["not_found_error"]}`,
	`{"uri":"https://h/","uri":"https://evil/"}`,
	`{"uri":"https://h/"}{"uri":"https://h/"}`,
	`{"uri":"https://h/"} trailing`,
	`{"uri":1}`,
	`{"uri":null}`,
	`{"uri":"https://h/","x":{"a":[1,2,{"b":null}]}}`,
	`{"uri":"https://h/","scope":"a  b"}`,
	`{"uri":"https://h/","resource":["https://h/#f"]}`,
	`{"u\u0072i":"https://h/"}`,
	"{\"uri\":\"https://h/\xff\"}",
	"\ufeff{}",
	"{\"uri\":\"https://h/\"",
	strings.Repeat("[", 10000),
	"protocol=https\nhost=h\n\n",
}

// FuzzReadRequest checks that the decoder never panics; that what it
// refuses is a one-line bad_request; and that what it accepts passes both
// request schemas, survives a WriteRequest round trip unchanged, and gives
// a MatchURL without query or fragment.
func FuzzReadRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ReadRequest(bytes.NewReader(data))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadRequest {
				t.Fatalf("error %v is not a bad_request *Error", err)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "bazelcred: ") {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		checkSchema(t, data, schemaBaseRequest, schemaRequest)
		var buf bytes.Buffer
		if err := WriteRequest(&buf, req); err != nil {
			t.Fatalf("WriteRequest(%+v): %v", req, err)
		}
		back, err := ReadRequest(&buf)
		if err != nil {
			t.Fatalf("reading back %q: %v", buf.String(), err)
		}
		req.Unknown = nil
		if diff := cmp.Diff(req, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip (-first +second)\n%s", diff)
		}
		if u := req.MatchURL(); strings.ContainsAny(u, "?#") {
			t.Fatalf("MatchURL(%q) = %q", req.URI, u)
		}
	})
}

// FuzzRun feeds Run any stdin and any handler outcome, and checks the
// protocol's promise: stdout is exactly one JSON document in one write,
// valid against the base response schema and either Mayfly's response or
// its error schema; stderr is empty on success and one line on failure;
// the exit status is the code's.
func FuzzRun(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint8(i), "Bearer tok")
	}
	f.Add([]byte(`{"uri":"https://h/","capabilities":["not_found_error"]}`), uint8(2), "")
	f.Add([]byte(`{"uri":"https://h/"}`), uint8(0), "Bearer \n")
	f.Fuzz(func(t *testing.T, data []byte, outcome uint8, value string) {
		outcomes := []struct {
			resp Response
			err  error
		}{
			{Response{Headers: map[string][]string{"Authorization": {value}}, Expires: time.Unix(int64(len(data))*7919, 123)}, nil},
			{Response{}, nil},
			{Response{}, &Error{Code: CodeNotFound, Message: value}},
			{Response{}, &Error{Code: CodeInteractionRequired, Message: value, LoginCommand: "mayfly login --profile " + value}},
			{Response{}, &Error{Code: CodeUnsupported, Message: value}},
			{Response{}, errors.New(value)},
		}
		o := outcomes[int(outcome)%len(outcomes)]
		var stdout countingWriter
		var stderr bytes.Buffer
		code := Run(context.Background(), []string{"get"}, bytes.NewReader(data), &stdout, &stderr, static(o.resp, o.err))
		if stdout.writes != 1 {
			t.Fatalf("%d writes to stdout", stdout.writes)
		}
		doc := stdout.Bytes()
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(doc, &probe); err != nil {
			t.Fatalf("stdout %q is not one JSON object: %v", doc, err)
		}
		if _, failed := probe["error"]; failed {
			checkSchema(t, doc, schemaBaseResponse, schemaError)
			var e wireError
			json.Unmarshal(doc, &e)
			if code == 0 || code != e.Error.Code.ExitCode() {
				t.Fatalf("exit %d with code %q", code, e.Error.Code)
			}
			if s := stderr.String(); strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || s != "mayfly: "+e.Error.Message+"\n" {
				t.Fatalf("stderr %q is not the one line of the error", s)
			}
			return
		}
		checkSchema(t, doc, schemaBaseResponse, schemaResponse)
		if code != 0 || stderr.Len() != 0 {
			t.Fatalf("exit %d, stderr %q with a response", code, stderr.String())
		}
	})
}
