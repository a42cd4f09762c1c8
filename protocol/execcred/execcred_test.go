package execcred_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/pkg/apis/clientauthentication"
	"k8s.io/client-go/pkg/apis/clientauthentication/install"

	"github.com/mayflyhq/mayfly/protocol/execcred"
)

// kubectl's side of the protocol, built the way client-go's
// plugin/pkg/client/auth/exec/exec.go builds it: the same scheme, the same
// encoder for KUBERNETES_EXEC_INFO, the same decoder and checks for stdout.
var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme)
)

func init() { install.Install(scheme) }

func groupVersion(t *testing.T, apiVersion string) schema.GroupVersion {
	t.Helper()
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		t.Fatal(err)
	}
	return gv
}

// kubectlInput is KUBERNETES_EXEC_INFO as kubectl would set it.
func kubectlInput(t *testing.T, apiVersion string, spec clientauthentication.ExecCredentialSpec) string {
	t.Helper()
	data, err := runtime.Encode(codecs.LegacyCodec(groupVersion(t, apiVersion)), &clientauthentication.ExecCredential{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// kubectlRead decodes a plugin's stdout and checks it as exec.go does
// (refreshCredsLocked), with its error strings.
func kubectlRead(t *testing.T, apiVersion string, stdout []byte) (*clientauthentication.ExecCredentialStatus, error) {
	t.Helper()
	gv := groupVersion(t, apiVersion)
	cred := &clientauthentication.ExecCredential{}
	_, gvk, err := codecs.UniversalDecoder(gv).Decode(stdout, nil, cred)
	if err != nil {
		return nil, fmt.Errorf("decoding stdout: %v", err)
	}
	if gvk.Group != gv.Group || gvk.Version != gv.Version {
		return nil, fmt.Errorf("exec plugin is configured to use API version %s, plugin returned version %s", gv, gvk.GroupVersion())
	}
	if cred.Status == nil {
		return nil, errors.New("exec plugin didn't return a status field")
	}
	if cred.Status.Token == "" && cred.Status.ClientCertificateData == "" && cred.Status.ClientKeyData == "" {
		return nil, errors.New("exec plugin didn't return a token or cert/key pair")
	}
	return cred.Status, nil
}

// handlerFunc adapts a function to execcred.Handler.
type handlerFunc func(context.Context, execcred.Request) (execcred.Response, error)

func (f handlerFunc) Token(ctx context.Context, req execcred.Request) (execcred.Response, error) {
	return f(ctx, req)
}

// TestRoundTrip runs both versions through kubectl's own encoder and
// decoder: what kubectl sends decodes to the right Request, and what Run
// answers is accepted by kubectl, in the version it asked for, with the
// token and the expiry (whole seconds, never later than the real one).
func TestRoundTrip(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	expiry := time.Date(2026, 3, 5, 17, 30, 20, 900_000_000, time.FixedZone("CET", 3600))
	for _, apiVersion := range []string{execcred.V1, execcred.V1beta1} {
		for _, tc := range []struct {
			name string
			spec clientauthentication.ExecCredentialSpec
			want execcred.Request
		}{
			{"no cluster info", clientauthentication.ExecCredentialSpec{Interactive: true},
				execcred.Request{APIVersion: apiVersion, Interactive: true}},
			{"cluster info", clientauthentication.ExecCredentialSpec{Cluster: &clientauthentication.Cluster{
				Server: "https://127.0.0.1:6443", TLSServerName: "kube.example", CertificateAuthorityData: ca,
				ProxyURL: "http://proxy:3128", DisableCompression: true,
				Config: &runtime.Unknown{Raw: []byte(`{"audience":"kubernetes"}`)},
			}}, execcred.Request{APIVersion: apiVersion, Cluster: &execcred.Cluster{
				Server: "https://127.0.0.1:6443", TLSServerName: "kube.example", CertificateAuthorityData: ca,
				ProxyURL: "http://proxy:3128", DisableCompression: true, Config: json.RawMessage(`{"audience":"kubernetes"}`),
			}}},
			{"insecure", clientauthentication.ExecCredentialSpec{Cluster: &clientauthentication.Cluster{
				Server: "https://10.0.0.1", InsecureSkipTLSVerify: true,
			}}, execcred.Request{APIVersion: apiVersion, Cluster: &execcred.Cluster{Server: "https://10.0.0.1", InsecureSkipTLSVerify: true}}},
		} {
			t.Run(apiVersion[strings.LastIndex(apiVersion, "/")+1:]+"/"+tc.name, func(t *testing.T) {
				in := kubectlInput(t, apiVersion, tc.spec)
				var got execcred.Request
				h := handlerFunc(func(_ context.Context, req execcred.Request) (execcred.Response, error) {
					got = req
					return execcred.Response{Token: "tok-1", Expiry: expiry}, nil
				})
				var stdout, stderr bytes.Buffer
				if code := execcred.Run(context.Background(), in, &stdout, &stderr, h); code != 0 {
					t.Fatalf("Run = %d, stderr %q", code, stderr.String())
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("request from %s (-want +got):\n%s", in, diff)
				}
				if stderr.Len() != 0 {
					t.Errorf("stderr %q", stderr.String())
				}
				st, err := kubectlRead(t, apiVersion, stdout.Bytes())
				if err != nil {
					t.Fatalf("kubectl would refuse %s: %v", stdout.String(), err)
				}
				if st.Token != "tok-1" {
					t.Errorf("token %q", st.Token)
				}
				wantExp := time.Date(2026, 3, 5, 16, 30, 20, 0, time.UTC)
				if st.ExpirationTimestamp == nil || !st.ExpirationTimestamp.Time.Equal(wantExp) {
					t.Errorf("expirationTimestamp %v, want %v", st.ExpirationTimestamp, wantExp)
				}
				if !strings.Contains(stdout.String(), `"expirationTimestamp":"2026-03-05T16:30:20Z"`) {
					t.Errorf("stdout %s: want the RFC 3339 UTC timestamp", stdout.String())
				}
				if n := strings.Count(stdout.String(), "\n"); n != 1 || !strings.HasSuffix(stdout.String(), "\n") {
					t.Errorf("stdout is not one line: %q", stdout.String())
				}
			})
		}
	}
}

// TestNoExpiry: a zero expiry sends no timestamp (kubectl then keeps the
// token until a 401), rather than a zero date that would expire at once.
func TestNoExpiry(t *testing.T) {
	var out bytes.Buffer
	if err := execcred.WriteResponse(&out, execcred.V1, execcred.Response{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	st, err := kubectlRead(t, execcred.V1, out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if st.ExpirationTimestamp != nil || strings.Contains(out.String(), "expirationTimestamp") {
		t.Errorf("got a timestamp: %s", out.String())
	}
}

// TestMissingExecInfo: without KUBERNETES_EXEC_INFO (kubectl before 1.20
// set it only for v1alpha1) the answer is v1beta1 and non-interactive.
func TestMissingExecInfo(t *testing.T) {
	var got execcred.Request
	h := handlerFunc(func(_ context.Context, req execcred.Request) (execcred.Response, error) {
		got = req
		return execcred.Response{Token: "tok"}, nil
	})
	var stdout, stderr bytes.Buffer
	if code := execcred.Run(context.Background(), "", &stdout, &stderr, h); code != 0 {
		t.Fatalf("Run = %d, stderr %q", code, stderr.String())
	}
	if diff := cmp.Diff(execcred.Request{APIVersion: execcred.V1beta1}, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if _, err := kubectlRead(t, execcred.V1beta1, stdout.Bytes()); err != nil {
		t.Errorf("kubectl (v1beta1) would refuse %s: %v", stdout.String(), err)
	}
}

// TestBadInput: every malformed KUBERNETES_EXEC_INFO is one clear line on
// stderr, exit 1, nothing on stdout, and the handler is never called.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"garbage", "not json", "is not valid JSON"},
		{"truncated", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1"`, "is not valid JSON"},
		{"trailing data", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1"} {}`, "is not valid JSON"},
		{"array", `[1,2]`, "is not a JSON object"},
		{"null", `null`, `kind ""`},
		{"whitespace", " \n", "is not valid JSON"},
		{"no kind", `{"apiVersion":"client.authentication.k8s.io/v1"}`, `kind ""`},
		{"wrong kind", `{"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"}`, `kind "Pod"`},
		{"no apiVersion", `{"kind":"ExecCredential","spec":{}}`, "no apiVersion"},
		{"v1alpha1", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}`,
			`apiVersion "client.authentication.k8s.io/v1alpha1" is not supported: set the kubeconfig's exec apiVersion to client.authentication.k8s.io/v1`},
		{"other group", `{"kind":"ExecCredential","apiVersion":"v1"}`, `apiVersion "v1" is not supported`},
		{"apiVersion with a newline", `{"kind":"ExecCredential","apiVersion":"x\n\u001b[2Jy"}`, `apiVersion "x\n\x1b[2Jy" is not supported`},
		{"wrong type", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"yes"}}`, `field "spec.interactive" has the wrong type`},
		{"bad CA", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{"server":"https://x","certificate-authority-data":"!!"}}}`, "not a valid ExecCredential"},
		{"too long", `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","x":"` + strings.Repeat("a", 1<<20) + `"}`, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			h := handlerFunc(func(context.Context, execcred.Request) (execcred.Response, error) {
				called = true
				return execcred.Response{Token: "t"}, nil
			})
			var stdout, stderr bytes.Buffer
			code := execcred.Run(context.Background(), tc.in, &stdout, &stderr, h)
			checkFailure(t, code, stdout.String(), stderr.String(), tc.want)
			if called {
				t.Error("the handler was called")
			}
		})
	}
}

// TestUnknownFieldsIgnored: kubectl may add fields; they must not break us.
func TestUnknownFieldsIgnored(t *testing.T) {
	in := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","future":1,` +
		`"spec":{"interactive":false,"newField":{"a":[1]},"cluster":{"server":"https://k","future-field":true,"config":null}},"status":{"token":"ignored"}}`
	req, err := execcred.ReadRequest(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := execcred.Request{APIVersion: execcred.V1, Cluster: &execcred.Cluster{Server: "https://k"}}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestHandlerError: the handler's error, whatever it holds, is one line and
// stdout stays empty, even if the handler also returned a token.
func TestHandlerError(t *testing.T) {
	h := handlerFunc(func(context.Context, execcred.Request) (execcred.Response, error) {
		return execcred.Response{Token: "half"}, errors.New("not signed in to profile kube:\r\n\x1b[31mrun `mayfly login --profile kube`\n")
	})
	var stdout, stderr bytes.Buffer
	code := execcred.Run(context.Background(), kubectlInput(t, execcred.V1, clientauthentication.ExecCredentialSpec{}), &stdout, &stderr, h)
	checkFailure(t, code, stdout.String(), stderr.String(), "run `mayfly login --profile kube`")
}

// TestBadResponse: an answer kubectl would refuse is our error, not kubectl's.
func TestBadResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp execcred.Response
		want string
	}{
		{"no token", execcred.Response{Expiry: time.Now()}, "no token"},
		{"year 10000", execcred.Response{Token: "t", Expiry: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := handlerFunc(func(context.Context, execcred.Request) (execcred.Response, error) { return tc.resp, nil })
			var stdout, stderr bytes.Buffer
			code := execcred.Run(context.Background(), kubectlInput(t, execcred.V1beta1, clientauthentication.ExecCredentialSpec{}), &stdout, &stderr, h)
			checkFailure(t, code, stdout.String(), stderr.String(), tc.want)
		})
	}
	if err := execcred.WriteResponse(&bytes.Buffer{}, "client.authentication.k8s.io/v2", execcred.Response{Token: "t"}); err == nil {
		t.Error("WriteResponse accepted an unknown apiVersion")
	}
}

// TestWrongVersionRefusedByKubectl shows why the answer's version matters:
// kubectl refuses a v1beta1 answer to a v1 request, with its own error.
func TestWrongVersionRefusedByKubectl(t *testing.T) {
	var out bytes.Buffer
	if err := execcred.WriteResponse(&out, execcred.V1beta1, execcred.Response{Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectlRead(t, execcred.V1, out.Bytes()); err == nil || !strings.Contains(err.Error(), "plugin returned version") {
		t.Errorf("kubectl (v1) on a v1beta1 answer: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestStdoutFails(t *testing.T) {
	h := handlerFunc(func(context.Context, execcred.Request) (execcred.Response, error) {
		return execcred.Response{Token: "t"}, nil
	})
	var stderr bytes.Buffer
	code := execcred.Run(context.Background(), "", failWriter{}, &stderr, h)
	checkFailure(t, code, "", stderr.String(), "broken pipe")
}

func checkFailure(t *testing.T, code int, stdout, stderr, want string) {
	t.Helper()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	if !strings.HasPrefix(stderr, "mayfly: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 || strings.ContainsAny(stderr, "\r\x1b") {
		t.Errorf("stderr %q, want one clean \"mayfly: \" line", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
}
