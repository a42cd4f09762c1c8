package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// The hand-written codecs (AppendRequest, UnmarshalReply) must agree with
// encoding/json, which the agent uses, on every message. These tests check
// every field by reflection, so a field added to Request or Response but
// not to the codecs fails here; the fuzz targets check the rest.

// tricky holds strings that each take a different branch of the escaping.
var tricky = []string{
	"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>",
	"\b\f\n\r\t\x00\x01\x1f\x7f", "\u2028\u2029", "é ü 日本 🎉",
	"bad \xff\xfe utf-8 \xc3", "\xed\xa0\x80 (a surrogate in UTF-8)", "\ufffd", "a\u2027b\u202ac",
}

func TestAppendRequestMatchesJSON(t *testing.T) {
	typ := reflect.TypeFor[wire.Request]()
	check := func(req wire.Request) {
		t.Helper()
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := wire.AppendRequest(nil, req); !bytes.Equal(got, want) {
			t.Errorf("AppendRequest(%+v)\n got %s\nwant %s", req, got, want)
		}
	}
	check(wire.Request{})
	// Each field alone, then all of them, with every kind of string.
	for _, s := range tricky {
		var all wire.Request
		for i := range typ.NumField() {
			var one wire.Request
			for _, r := range []*wire.Request{&one, &all} {
				f := reflect.ValueOf(r).Elem().Field(i)
				switch f.Kind() {
				case reflect.String:
					f.SetString(s)
				case reflect.Bool:
					f.SetBool(true)
				case reflect.Int:
					f.SetInt(-12345)
				default:
					t.Fatalf("Request.%s is a %s: teach AppendRequest and this test about it", typ.Field(i).Name, f.Kind())
				}
			}
			check(one)
		}
		check(all)
	}
}

func TestWriteRequest(t *testing.T) {
	req := wire.Request{V: wire.Version, Op: wire.OpToken, URL: "https://git.example/", Consumer: "git"}
	var a, b bytes.Buffer
	if err := wire.WriteRequest(&a, req); err != nil {
		t.Fatal(err)
	}
	if err := wire.Write(&b, req); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("WriteRequest wrote %q, Write %q", a.String(), b.String())
	}
	sendErr := errors.New("broken pipe")
	if err := wire.WriteRequest(failingWriter{sendErr}, req); !errors.Is(err, sendErr) || !strings.Contains(err.Error(), "wire: send") {
		t.Errorf("WriteRequest to a failing writer: %v", err)
	}
}

// nested are the fields of Response that UnmarshalReply leaves to Read.
var nested = map[string]bool{"Static": true, "Results": true, "Status": true}

func TestUnmarshalReplyCoversResponse(t *testing.T) {
	when := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("", 3600))
	typ := reflect.TypeFor[wire.Response]()
	var all wire.Response
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		var one wire.Response
		for _, r := range []*wire.Response{&one, &all} {
			f := reflect.ValueOf(r).Elem().Field(i)
			switch v := f.Addr().Interface().(type) {
			case *string:
				*v = "value of " + name + " \u2028<&>\"\n"
			case *time.Time:
				*v = when
			case **wire.Error:
				*v = &wire.Error{Code: wire.CodeRevoked, Message: "run `mayfly login`"}
			case *[]wire.StaticEntry:
				*v = []wire.StaticEntry{{Name: "x"}}
			case *[]wire.LogoutResult:
				*v = []wire.LogoutResult{{Profile: "x"}}
			case **wire.Status:
				*v = &wire.Status{PID: 1}
			default:
				t.Fatalf("Response.%s is a %s: teach UnmarshalReply (or nested) and this test about it", name, f.Type())
			}
		}
		data, err := json.Marshal(one)
		if err != nil {
			t.Fatal(err)
		}
		var got wire.Response
		err = wire.UnmarshalReply(data, &got)
		if nested[name] {
			if !errors.Is(err, wire.ErrNested) {
				t.Errorf("Response.%s: UnmarshalReply(%s) = %v, want ErrNested", name, data, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Response.%s: UnmarshalReply(%s): %v", name, data, err)
		} else if diff := cmp.Diff(one, got); diff != "" {
			t.Errorf("Response.%s: UnmarshalReply(%s) (-want +got):\n%s", name, data, diff)
		}
	}
	for name := range nested {
		reflect.ValueOf(&all).Elem().FieldByName(name).SetZero()
	}
	data, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.Response
	if err := wire.UnmarshalReply(data, &got); err != nil {
		t.Fatalf("UnmarshalReply(%s): %v", data, err)
	}
	if diff := cmp.Diff(all, got); diff != "" {
		t.Errorf("UnmarshalReply(%s) (-want +got):\n%s", data, diff)
	}
}

// replySeeds are answers that take each path through the decoder, for the
// table test and as fuzz seeds.
var replySeeds = []string{
	`{"profile":"work","username":"oauth2","token":"t","expiry":"2030-01-02T03:04:05Z"}` + "\n",
	`{"error":{"code":"revoked","message":"run mayfly login"}}` + "\n",
	`{"error":null}`, `{"error":{}}`, `{"error":"revoked"}`, `{"error":[]}`, `{"error":{"code":1}}`,
	`{"error":{"code":"a","message":"m"},"error":{"code":"b"}}`,
	`{"error":{"code":"a"},"error":null}`, `{"error":{"code":"a","extra":[1,{"x":null}]}}`,
	`{"event":"device","user_code":"ABCD","code_expiry":"2030-01-02T03:04:05+02:00"}` + "\n",
	`{"status":{"pid":1,"profiles":[{"name":"w","match":null}]}}` + "\n",
	`{"status":null,"static":null,"results":null,"token":"t"}`, `{"static":[]}`, `{"results":"x"}`,
	`{"expiry":"not a time"}`, `{"expiry":null}`, `{"expiry":5}`, `{"expiry":{}}`, `{"expiry":"2030-01-02T03:04:05Z","expiry":null}`,
	`{"expiry":"2030-01-02T03:04:05.123456789-07:30"}`, `{"expiry":"10000-01-01T00:00:00Z"}`, `{"expiry":"2030\u002d01-02T03:04:05Z"}`,
	`{"error":null,"results":[{}]}` + "\n",
	`null`, ` null `, `nul`, `true`, `"str"`, `[]`, `[1]`, `5`, ``, "\n", `{}`, ` { } `, `{} {}`, `{}x`,
	`{"token":null}`, `{"token":5}`, `{"token":true}`, `{"token":{}}`, `{"token":["x"]}`,
	`{"token":"a","token":"b"}`, `{"TOKEN":"a"}`, `{"Token":"a","token":"b"}`, `{"to\u212Aen":"kelvin"}`, `{"u\u017Fername":"long s"}`,
	"{\"tok\\u0065n\":\"escaped key\"}", `{"token ":"space"}`, `{"":"empty key"}`,
	`{"token":"\ud83c\udf89 \ud800 \udc00 \ud800\ud800 \ud800\u0041 \u00e9\u2028"}`,
	"{\"token\":\"\xff\xfe\xc3\xed\xa0\x80\"}", "{\"token\":\"a\x00b\"}", "{\"token\":\"a\tb\"}", "{\"token\":\"a\x7fb\"}",
	`{"token":"\/\b\f\n\r\t\"\\"}`, `{"token":"\'"}`, `{"token":"\x41"}`, `{"token":"\u12"}`, `{"token":"\u12G4"}`, `{"token":"abc`, `{"token":"a\`,
	`{"unknown":[1,-2.5e+10,0.1,1E9,-0,true,false,null,"s",{"a":[{}]},[]]}`, `{"unknown":01}`, `{"unknown":1.}`, `{"unknown":.5}`,
	`{"unknown":-}`, `{"unknown":1e}`, `{"unknown":1e+}`, `{"unknown":+1}`, `{"unknown":NaN}`, `{"unknown":tru}`, `{"unknown":nullx}`,
	`{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{'a':1}`, `{a:1}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1 2]}`,
	"\ufeff{}", "{\"a\":1}\r\n", "\t{\"token\" : \"spaced\" ,\n\"profile\":\"p\"}\n",
}

func TestUnmarshalReplyMatchesJSON(t *testing.T) {
	for _, s := range replySeeds {
		compareReply(t, []byte(s))
	}
}

// prefilled has every field set, to decode over: both decoders must leave,
// replace and empty the same fields.
func prefilled() wire.Response {
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	return wire.Response{
		Error: &wire.Error{Code: "c", Message: "m"}, Profile: "p", Username: "u", Token: "t", Expiry: when,
		Event: "e", VerificationURI: "v", VerificationURIComplete: "vc", UserCode: "uc", AuthURL: "a", CodeExpiry: when,
		Subject: "s", Note: "n", Static: []wire.StaticEntry{{Name: "x"}}, Results: []wire.LogoutResult{{Profile: "x"}}, Status: &wire.Status{PID: 1},
	}
}

// compareReply checks that UnmarshalReply decodes data as json.Unmarshal
// does, into a zero Response and into a full one, or refuses it with
// ErrNested because it has a non-null nested field.
func compareReply(t *testing.T, data []byte) {
	t.Helper()
	compareReplyInto(t, data, wire.Response{}, wire.Response{})
	compareReplyInto(t, data, prefilled(), prefilled())
}

func compareReplyInto(t *testing.T, data []byte, want, got wire.Response) {
	t.Helper()
	jerr := json.Unmarshal(data, &want)
	herr := wire.UnmarshalReply(data, &got)
	switch {
	case herr == nil && jerr != nil:
		t.Errorf("UnmarshalReply(%q) accepted what encoding/json refuses (%v): %+v", data, jerr, got)
	case herr == nil:
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UnmarshalReply(%q) (-json +UnmarshalReply):\n%s", data, diff)
		}
	case jerr == nil && !errors.Is(herr, wire.ErrNested):
		t.Errorf("UnmarshalReply(%q): %v; encoding/json decodes it: %+v", data, herr, want)
	case jerr == nil:
		// ErrNested is right only if a nested field is there and not null.
		var raw struct {
			Static  json.RawMessage `json:"static"`
			Results json.RawMessage `json:"results"`
			Status  json.RawMessage `json:"status"`
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		present := func(m json.RawMessage) bool { return m != nil && string(m) != "null" }
		if !present(raw.Static) && !present(raw.Results) && !present(raw.Status) {
			t.Errorf("UnmarshalReply(%q): ErrNested, but no nested field is there", data)
		}
	}
}

// encoding/json refuses more than 10000 levels of nesting; so must we.
func TestUnmarshalReplyDepth(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001} {
		for _, open := range []string{"[", `{"x":`} {
			inner := strings.Repeat(open, depth-1)
			close := strings.Repeat(map[string]string{"[": "]", `{"x":`: "}"}[open], depth-1)
			compareReply(t, []byte(`{"unknown":`+inner+`1`+close+`}`))
			compareReply(t, []byte(`{"error":{"unknown":`+inner+`1`+close+`}}`))
		}
	}
}

func TestReadReply(t *testing.T) {
	in := `{"token":"t","expiry":"2030-01-02T03:04:05Z"}` + "\n" + `{"status":{}}` + "\n" + `{"token"` + "\n" + `{"token":"x"}`
	r := wire.NewReader(strings.NewReader(in))
	var resp wire.Response
	if err := r.ReadReply(&resp); err != nil || resp.Token != "t" || resp.Expiry.IsZero() {
		t.Fatalf("ReadReply: %+v, %v", resp, err)
	}
	if err := r.ReadReply(new(wire.Response)); !errors.Is(err, wire.ErrNested) || !strings.HasPrefix(err.Error(), "wire: decode: ") {
		t.Errorf("ReadReply of a status: %v, want wire: decode: and ErrNested", err)
	}
	if err := r.ReadReply(new(wire.Response)); err == nil || !strings.HasPrefix(err.Error(), "wire: decode: ") {
		t.Errorf("ReadReply of a broken line: %v, want wire: decode: ...", err)
	}
	if err := r.ReadReply(new(wire.Response)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadReply of a line without its newline: %v, want io.ErrUnexpectedEOF", err)
	}
	if err := r.ReadReply(new(wire.Response)); err != io.EOF {
		t.Errorf("ReadReply at the end: %v, want io.EOF", err)
	}
	long := `{"token":"` + strings.Repeat("a", wire.MaxLine) + `"}` + "\n"
	if err := wire.NewReader(strings.NewReader(long)).ReadReply(new(wire.Response)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("ReadReply of a line over MaxLine: %v", err)
	}
}

// FuzzAppendRequest checks AppendRequest against json.Marshal.
func FuzzAppendRequest(f *testing.F) {
	for _, s := range tricky {
		f.Add(1, s, s, uint8(0))
	}
	f.Add(-7, "token", "https://x/?a=<b>&c", uint8(0xff))
	f.Fuzz(func(t *testing.T, v int, a, b string, bools uint8) {
		req := wire.Request{V: v, Op: a, Config: b, Profile: a, URL: b, Consumer: a + b, Token: b + a, Flow: a,
			All: bools&1 != 0, ForceNew: bools&2 != 0, NoBrowser: bools&4 != 0, Namespace: b, Name: a, Username: b, Secret: a}
		// Leave some fields empty, as most requests do.
		for i, f := range []*string{&req.Config, &req.Profile, &req.Token, &req.Flow, &req.Namespace} {
			if bools&(8<<i) != 0 {
				*f = ""
			}
		}
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := wire.AppendRequest(nil, req); !bytes.Equal(got, want) {
			t.Fatalf("AppendRequest\n got %s\nwant %s", got, want)
		}
	})
}

// FuzzUnmarshalReply checks UnmarshalReply against json.Unmarshal on
// whatever an agent could send.
func FuzzUnmarshalReply(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareReply(t, data)
	})
}
