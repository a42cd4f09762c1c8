package execcred_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mayflyhq/mayfly/protocol/execcred"
)

func ExampleReadRequest() {
	// What kubectl puts in KUBERNETES_EXEC_INFO for a kubeconfig with
	// apiVersion client.authentication.k8s.io/v1 and provideClusterInfo.
	info := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",` +
		`"spec":{"cluster":{"server":"https://kube.corp.example:6443"},"interactive":false}}`
	req, err := execcred.ReadRequest(strings.NewReader(info))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.APIVersion, req.Interactive, req.Cluster.Server)
	// Output: client.authentication.k8s.io/v1 false https://kube.corp.example:6443
}

func ExampleWriteResponse() {
	resp := execcred.Response{Token: "eyJhbGciOi...", Expiry: time.Date(2026, 3, 5, 17, 30, 20, 0, time.UTC)}
	if err := execcred.WriteResponse(os.Stdout, execcred.V1, resp); err != nil {
		fmt.Println(err)
	}
	// Output: {"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false},"status":{"expirationTimestamp":"2026-03-05T17:30:20Z","token":"eyJhbGciOi..."}}
}
