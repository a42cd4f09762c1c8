package wire_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// The hot path's codecs against encoding/json, on a token request and its
// answer as the agent sends them (a 900-byte JWT). In a helper the bigger
// saving is at start-up, in code not linked and types not reflected on
// (bench/README.md, "Where the time goes"); these measure the rest.

var (
	benchReq   = wire.Request{V: wire.Version, Op: wire.OpToken, Config: "/home/user/.config/mayfly/config.toml", URL: "https://git.corp.example/org/repo.git", Consumer: "git"}
	benchReply = func() []byte {
		b, err := json.Marshal(wire.Response{Profile: "corp", Username: "oauth2", Token: "eyJ" + strings.Repeat("x", 900), Expiry: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)})
		if err != nil {
			panic(err)
		}
		return append(b, '\n')
	}()
)

func BenchmarkAppendRequest(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = wire.AppendRequest(buf[:0], benchReq)
	}
}

func BenchmarkAppendRequestJSON(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(benchReq); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalReply(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReply)))
	for b.Loop() {
		var r wire.Response
		if err := wire.UnmarshalReply(benchReply, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalReplyJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReply)))
	for b.Loop() {
		var r wire.Response
		if err := json.Unmarshal(benchReply, &r); err != nil {
			b.Fatal(err)
		}
	}
}
