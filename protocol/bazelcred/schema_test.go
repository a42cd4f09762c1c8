package bazelcred

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// The JSON Schemas in testdata/schema: the spec's two, restated, and
// Mayfly's three (docs/credential-helper-protocol.md). A request must pass
// both request schemas; an answer on stdout must pass the base response
// schema and either Mayfly's response or its error schema.
const (
	schemaBaseRequest  = "get-credentials-request.schema.json"
	schemaBaseResponse = "get-credentials-response.schema.json"
	schemaRequest      = "mayfly-get-request.schema.json"
	schemaResponse     = "mayfly-get-response.schema.json"
	schemaError        = "mayfly-get-error.schema.json"
)

var (
	schemaOnce  sync.Once
	schemaCache map[string]map[string]any
	schemaErr   error
)

// loadSchema returns a schema from testdata/schema, parsed once per process
// (fuzz workers call it a lot).
func loadSchema(t testing.TB, name string) map[string]any {
	t.Helper()
	schemaOnce.Do(func() {
		schemaCache = map[string]map[string]any{}
		for _, n := range []string{schemaBaseRequest, schemaBaseResponse, schemaRequest, schemaResponse, schemaError} {
			b, err := os.ReadFile(filepath.Join("testdata", "schema", n))
			if err != nil {
				schemaErr = err
				return
			}
			var s map[string]any
			if err := json.Unmarshal(b, &s); err != nil {
				schemaErr = fmt.Errorf("%s: %w", n, err)
				return
			}
			schemaCache[n] = s
		}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	s, ok := schemaCache[name]
	if !ok {
		t.Fatalf("no schema %s", name)
	}
	return s
}

// checkSchema validates the JSON document doc against the named schemas.
func checkSchema(t testing.TB, doc []byte, names ...string) {
	t.Helper()
	v, err := decodeInstance(doc)
	if err != nil {
		t.Fatalf("%q: %v", doc, err)
	}
	for _, n := range names {
		if err := validateSchema(loadSchema(t, n), v, "$"); err != nil {
			t.Errorf("%s: %q: %v", n, doc, err)
		}
	}
}

// schemaAccepts reports whether doc is JSON and valid against the schema.
func schemaAccepts(t testing.TB, doc []byte, name string) bool {
	t.Helper()
	v, err := decodeInstance(doc)
	return err == nil && validateSchema(loadSchema(t, name), v, "$") == nil
}

func decodeInstance(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("not exactly one JSON document")
	}
	return v, nil
}

// validateSchema is a small JSON Schema (draft 2020-12) validator for the
// keywords these schemas use. It refuses a keyword it does not implement, so
// a schema can never pass a document by using one it silently ignores.
func validateSchema(s any, v any, path string) error {
	switch s := s.(type) {
	case bool:
		if !s {
			return fmt.Errorf("%s: the schema false allows nothing", path)
		}
		return nil
	case map[string]any:
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := keyword(s, k, v, path); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s: a schema must be an object or a boolean, not %T", path, s)
}

func keyword(s map[string]any, k string, v any, path string) error {
	kv := s[k]
	obj, isObj := v.(map[string]any)
	arr, isArr := v.([]any)
	str, isStr := v.(string)
	switch k {
	case "$schema", "$id", "$comment", "title", "description":
		return nil
	case "type":
		var types []string
		switch t := kv.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		for _, t := range types {
			if typeOf(v) == t || (t == "number" && typeOf(v) == "integer") {
				return nil
			}
		}
		return fmt.Errorf("%s: %s, want %s", path, typeOf(v), strings.Join(types, " or "))
	case "properties":
		if !isObj {
			return nil
		}
		for name, sub := range kv.(map[string]any) {
			if x, ok := obj[name]; ok {
				if err := validateSchema(sub, x, path+"."+name); err != nil {
					return err
				}
			}
		}
	case "required":
		if !isObj {
			return nil
		}
		for _, name := range kv.([]any) {
			if _, ok := obj[name.(string)]; !ok {
				return fmt.Errorf("%s: %q is required", path, name)
			}
		}
	case "additionalProperties":
		if !isObj {
			return nil
		}
		props, _ := s["properties"].(map[string]any)
		for name, x := range obj {
			if _, ok := props[name]; ok {
				continue
			}
			if err := validateSchema(kv, x, path+"."+name); err != nil {
				return err
			}
		}
	case "propertyNames":
		if !isObj {
			return nil
		}
		for name := range obj {
			if err := validateSchema(kv, name, path+" name "+fmt.Sprintf("%q", name)); err != nil {
				return err
			}
		}
	case "minProperties":
		if isObj && len(obj) < intOf(kv) {
			return fmt.Errorf("%s: %d properties, want at least %d", path, len(obj), intOf(kv))
		}
	case "items":
		for i, x := range arr {
			if err := validateSchema(kv, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "minItems":
		if isArr && len(arr) < intOf(kv) {
			return fmt.Errorf("%s: %d items, want at least %d", path, len(arr), intOf(kv))
		}
	case "maxItems":
		if isArr && len(arr) > intOf(kv) {
			return fmt.Errorf("%s: %d items, want at most %d", path, len(arr), intOf(kv))
		}
	case "minLength":
		if isStr && utf8.RuneCountInString(str) < intOf(kv) {
			return fmt.Errorf("%s: shorter than %d", path, intOf(kv))
		}
	case "maxLength":
		if isStr && utf8.RuneCountInString(str) > intOf(kv) {
			return fmt.Errorf("%s: longer than %d", path, intOf(kv))
		}
	case "pattern":
		if isStr && !compiled(kv.(string)).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", path, str, kv)
		}
	case "enum":
		for _, x := range kv.([]any) {
			if fmt.Sprint(x) == fmt.Sprint(v) && typeOf(x) == typeOf(v) {
				return nil
			}
		}
		return fmt.Errorf("%s: %v is not one of %v", path, v, kv)
	case "not":
		if validateSchema(kv, v, path) == nil {
			return fmt.Errorf("%s: matches a schema it must not match", path)
		}
	default:
		return fmt.Errorf("schema keyword %q is not implemented by this test's validator", k)
	}
	return nil
}

var regexps sync.Map // pattern → *regexp.Regexp

// compiled compiles a pattern once. Go's RE2 syntax covers what these
// schemas use of ECMA-262's.
func compiled(pattern string) *regexp.Regexp {
	if re, ok := regexps.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(pattern)
	regexps.Store(pattern, re)
	return re
}

func typeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if !strings.ContainsAny(v.String(), ".eE") {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func intOf(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// TestValidator checks the validator itself on what the spec says is and
// is not a valid request or response, so that a passing schema check means
// something.
func TestValidator(t *testing.T) {
	for _, tc := range []struct {
		schema, doc string
		ok          bool
	}{
		{schemaBaseRequest, `{"uri":"https://x"}`, true},
		{schemaBaseRequest, `{"uri":"https://x","future":[1]}`, true}, // additionalProperties: true
		{schemaBaseRequest, `{}`, false},
		{schemaBaseRequest, `{"uri":1}`, false},
		{schemaBaseRequest, `[]`, false},
		{schemaBaseResponse, `{}`, true},
		{schemaBaseResponse, `{"headers":{}}`, true},
		{schemaBaseResponse, `{"headers":{"h":[]}}`, true},
		{schemaBaseResponse, `{"headers":{"h":"v"}}`, false}, // values are arrays, never bare strings
		{schemaBaseResponse, `{"headers":{"h":[1]}}`, false},
		{schemaBaseResponse, `{"expires":5}`, false},
		{schemaResponse, `{}`, true},
		{schemaResponse, `{"headers":{}}`, false},
		{schemaResponse, `{"headers":{"a b":["v"]}}`, false},
		{schemaResponse, `{"headers":{"a":["v\n"]}}`, false},
		{schemaResponse, `{"expires":"2026-08-22T15:04:05.5Z"}`, false},
		{schemaResponse, `{"expires":"2026-08-22T15:04:05+02:00"}`, false},
		{schemaResponse, `{"expires":"2026-08-22T15:04:05Z"}`, true},
		{schemaResponse, `{"error":{"code":"other","message":"m"}}`, false},
		{schemaError, `{"error":{"code":"other","message":"m"}}`, true},
		{schemaError, `{"error":{"code":"other"}}`, false},
		{schemaError, `{"error":{"code":"Other","message":"m"}}`, false},
		{schemaError, `{"error":{"code":"other","message":"a\nb"}}`, false},
		{schemaRequest, `{"uri":"grpcs://h/S/M","method":"GET","audience":["a"],"resource":["https://h/"],"scope":"a b","interactive":false,"capabilities":["x"]}`, true},
		{schemaRequest, `{"uri":"https://h","scope":"a  b"}`, false},
		{schemaRequest, `{"uri":"https://h","scope":"a\"b"}`, false},
		{schemaRequest, `{"uri":"https://h","interactive":"no"}`, false},
		{schemaRequest, `{"uri":"https://h","resource":["https://h/#f"]}`, false},
		{schemaRequest, `{"uri":"/relative"}`, false},
	} {
		if got := schemaAccepts(t, []byte(tc.doc), tc.schema); got != tc.ok {
			t.Errorf("%s accepts %s: %v, want %v", tc.schema, tc.doc, got, tc.ok)
		}
	}
	// A keyword the validator does not know must fail, not pass.
	if err := validateSchema(map[string]any{"bogus": 1}, nil, "$"); err == nil {
		t.Error("the validator accepted a keyword it does not implement")
	}
}

// TestDocExamples checks every example in docs/credential-helper-protocol.md
// that is marked <!-- example: request|response|error -->: the spec others
// implement must not show JSON that Mayfly's own schemas, or its decoder,
// would refuse.
func TestDocExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "credential-helper-protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- example: (request|response|error) -->\\s*```json\\n(.*?)```")
	found := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		kind, doc := m[1], []byte(m[2])
		found[kind]++
		switch kind {
		case "request":
			checkSchema(t, doc, schemaBaseRequest, schemaRequest)
			if _, err := ReadRequest(bytes.NewReader(doc)); err != nil {
				t.Errorf("doc example request %s: %v", doc, err)
			}
		case "response":
			checkSchema(t, doc, schemaBaseResponse, schemaResponse)
		case "error":
			checkSchema(t, doc, schemaBaseResponse, schemaError)
			var e wireError
			if err := json.Unmarshal(doc, &e); err != nil || e.Error.Code.ExitCode() == 1 && e.Error.Code != CodeOther {
				t.Errorf("doc example error %s: unknown code %q (%v)", doc, e.Error.Code, err)
			}
		}
	}
	for _, kind := range []string{"request", "response", "error"} {
		if found[kind] == 0 {
			t.Errorf("docs/credential-helper-protocol.md has no marked %s example", kind)
		}
	}
}
