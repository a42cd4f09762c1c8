package dockercred_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/mayflyhq/mayfly/protocol/dockercred"
)

// The spellings of one registry that consumers send are one key.
func ExampleNormalize() {
	for _, s := range []string{"https://Registry.Example:5000/v2/", "registry.example:5000/team/app", "docker.io"} {
		key, _ := dockercred.Normalize(s)
		fmt.Println(key)
	}
	// Output:
	// registry.example:5000
	// registry.example:5000
	// https://index.docker.io/v1/
}

// What `docker login registry.example -u alice --password-stdin` sends to
// "docker-credential-X store" once the registry accepted the password.
func ExampleReadCredentials() {
	stdin := strings.NewReader(`{"ServerURL":"registry.example","Username":"alice","Secret":"hunter2"}` + "\n")
	c, err := dockercred.ReadCredentials(stdin)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.ServerURL, c.Username)
	// Output: registry.example alice
}

// one is a helper that knows one registry.
type one struct{}

func (one) Get(_ context.Context, server string) (dockercred.Credentials, error) {
	if server != "registry.example:5000" {
		return dockercred.Credentials{}, dockercred.ErrNotFound
	}
	return dockercred.Credentials{Username: "oauth2", Secret: "eyJhbGciOi..."}, nil
}
func (one) Store(context.Context, dockercred.Credentials) error { return nil }
func (one) Erase(context.Context, string) error                 { return nil }
func (one) List(context.Context) (map[string]string, error)     { return nil, nil }

// "docker-credential-X get" with the raw address on stdin, as the docker CLI
// runs it before a pull, and the same for a registry the helper does not know.
func ExampleRun() {
	v := dockercred.Version{Name: "docker-credential-example", Package: "example.com/x", Version: "v1"}
	code := dockercred.Run(context.Background(), []string{"get"}, v, strings.NewReader("https://registry.example:5000"), os.Stdout, one{})
	fmt.Println("exit", code)
	code = dockercred.Run(context.Background(), []string{"get"}, v, strings.NewReader("other.example"), os.Stdout, one{})
	fmt.Println("exit", code)
	// Output:
	// {"ServerURL":"https://registry.example:5000","Username":"oauth2","Secret":"eyJhbGciOi..."}
	// exit 0
	// credentials not found in native keychain
	// exit 1
}
