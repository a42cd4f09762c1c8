package setup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Object is a JSON object whose keys keep their order and whose values are
// kept as written, so that editing one key of a consumer's settings file
// leaves every other key as the consumer (or the person) wrote it.
// encoding/json's maps would sort the keys; its structs would drop the
// unknown ones.
type Object struct {
	keys []string
	vals map[string]json.RawMessage
}

// ParseObject parses data, which must hold one JSON object. Empty data (or
// only white space) is an empty object, the way consumers treat a missing
// file. A repeated key keeps its first place and its last value, as
// encoding/json reads it.
func ParseObject(data []byte) (*Object, error) {
	o := &Object{vals: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return o, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON: object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		o.Set(key, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: text after the object")
	}
	return o, nil
}

// Keys returns the keys in order.
func (o *Object) Keys() []string { return append([]string(nil), o.keys...) }

// Get returns the value of key as written.
func (o *Object) Get(key string) (json.RawMessage, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// Set sets key to v, in its place if it exists, else last.
func (o *Object) Set(key string, v json.RawMessage) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// SetString sets key to the JSON string s.
func (o *Object) SetString(key, s string) { o.Set(key, jsonString(s)) }

// Delete removes key.
func (o *Object) Delete(key string) {
	if _, ok := o.vals[key]; !ok {
		return
	}
	delete(o.vals, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Marshal writes the object with one key per line, indented by indent
// (nested values too), and keys in their order.
func (o *Object) Marshal(indent string) []byte {
	var b bytes.Buffer
	o.write(&b, "", indent)
	return b.Bytes()
}

func (o *Object) write(b *bytes.Buffer, prefix, indent string) {
	if len(o.keys) == 0 {
		b.WriteString("{}")
		return
	}
	b.WriteString("{\n")
	for i, k := range o.keys {
		b.WriteString(prefix + indent)
		b.Write(jsonString(k))
		b.WriteString(": ")
		var v bytes.Buffer
		if err := json.Indent(&v, o.vals[k], prefix+indent, indent); err != nil {
			b.Write(o.vals[k]) // cannot happen: values were decoded as JSON
		} else {
			b.Write(v.Bytes())
		}
		if i < len(o.keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(prefix + "}")
}

// jsonString is s as a JSON string, without HTML escaping.
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// stringValue returns v as a string, and whether it is one.
func stringValue(v json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// detectIndent returns the indentation of the first indented line of a
// JSON file, or def when there is none (an empty or one-line file).
func detectIndent(data []byte, def string) string {
	for line := range strings.Lines(string(data)) {
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed != line && strings.TrimSpace(trimmed) != "" {
			return line[:len(line)-len(trimmed)]
		}
	}
	return def
}

// marshalLike writes o indented like old (or with def), ending with a
// newline when old did (or when old was empty).
func marshalLike(o *Object, old []byte, def string) []byte {
	out := o.Marshal(detectIndent(old, def))
	if len(bytes.TrimSpace(old)) == 0 || bytes.HasSuffix(old, []byte("\n")) {
		out = append(out, '\n')
	}
	return out
}
