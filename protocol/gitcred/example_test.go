package gitcred_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/protocol/gitcred"
)

// A get as git 2.46 sends it after "git fetch https://git.example.com/org/repo.git",
// answered with a bearer token because git announced capability[]=authtype.
// A git without the capability would get username= and password= instead.
func Example() {
	stdin := strings.NewReader("capability[]=authtype\n" +
		"protocol=https\n" +
		"host=git.example.com\n" +
		"wwwauth[]=Bearer realm=\"git\"\n" +
		"\n")

	req, err := gitcred.ReadRequest(stdin)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("url:", req.URL(), "authtype:", req.HasCapability("authtype"))

	resp := gitcred.Response{
		Username:       "oauth2",
		Password:       "gho_token",
		AuthType:       "Bearer",
		Credential:     "gho_token",
		PasswordExpiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if err := gitcred.WriteResponse(os.Stdout, req, resp); err != nil {
		fmt.Println(err)
	}
	// Output:
	// url: https://git.example.com authtype: true
	// capability[]=authtype
	// authtype=Bearer
	// credential=gho_token
	// password_expiry_utc=1893456000
}
