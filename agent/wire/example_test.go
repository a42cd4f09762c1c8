package wire_test

import (
	"fmt"
	"strings"

	"github.com/mayflyhq/mayfly/agent/wire"
)

func ExampleWrite() {
	var conn strings.Builder // stands in for the agent's socket
	wire.Write(&conn, wire.Request{V: wire.Version, Op: wire.OpToken, URL: "https://git.corp.example/org/repo.git", Consumer: "git"})
	fmt.Print(conn.String())
	// Output:
	// {"v":1,"op":"token","url":"https://git.corp.example/org/repo.git","consumer":"git"}
}

func ExampleReader_Read() {
	conn := strings.NewReader(`{"event":"device","profile":"work","verification_uri":"https://login.corp.example/device","user_code":"WDJB-MJHT"}
{"event":"done","profile":"work","subject":"ada@corp.example"}
`)
	r := wire.NewReader(conn)
	for {
		var resp wire.Response
		if err := r.Read(&resp); err != nil {
			break
		}
		switch resp.Event {
		case wire.EventDevice:
			fmt.Printf("open %s and enter %s\n", resp.VerificationURI, resp.UserCode)
		case wire.EventDone:
			fmt.Printf("signed in to %s as %s\n", resp.Profile, resp.Subject)
		}
	}
	// Output:
	// open https://login.corp.example/device and enter WDJB-MJHT
	// signed in to work as ada@corp.example
}
