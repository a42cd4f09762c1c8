package execcred

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
)

// maxRequestBytes bounds what ReadRequest reads. kubectl's input is a few
// hundred bytes plus the cluster's CA bundle, and Linux caps one environment
// string at 128 KiB (MAX_ARG_STRLEN) anyway.
const maxRequestBytes = 1 << 20

// ReadRequest decodes the value of KUBERNETES_EXEC_INFO, read from r.
//
// An empty r means that the variable was not set. kubectl has set it on
// every run since Kubernetes 1.20, in every apiVersion; before that,
// client-go set it for v1alpha1 only ("Input spec disabled for beta due to
// lack of use", kubernetes/kubernetes#61796, exec.go before 1.20). So a
// missing variable can only come from an older kubectl configured for
// v1beta1, and the request is answered in v1beta1, non-interactively.
//
// Fields this package does not know are ignored, as the API's compatibility
// rules require of clients (kubectl adds fields without bumping the version).
// A wrong kind, a missing or unknown apiVersion, or anything but one JSON
// object is an error that names what is wrong, on one line.
func ReadRequest(r io.Reader) (Request, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRequestBytes+1))
	if err != nil {
		return Request{}, fmt.Errorf("execcred: reading %s: %w", EnvVar, err)
	}
	if len(data) > maxRequestBytes {
		return Request{}, fmt.Errorf("execcred: %s is longer than %d bytes", EnvVar, maxRequestBytes)
	}
	if len(data) == 0 {
		return Request{APIVersion: V1beta1}, nil
	}

	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return Request{}, decodeError(err)
	}
	if meta.Kind != Kind {
		return Request{}, fmt.Errorf("execcred: %s has kind %q, want %q", EnvVar, meta.Kind, Kind)
	}
	switch meta.APIVersion {
	case V1:
		var ec clientauthv1.ExecCredential
		if err := json.Unmarshal(data, &ec); err != nil {
			return Request{}, decodeError(err)
		}
		req := Request{APIVersion: V1, Interactive: ec.Spec.Interactive}
		if c := ec.Spec.Cluster; c != nil {
			req.Cluster = &Cluster{
				Server: c.Server, TLSServerName: c.TLSServerName, InsecureSkipTLSVerify: c.InsecureSkipTLSVerify,
				CertificateAuthorityData: c.CertificateAuthorityData, ProxyURL: c.ProxyURL,
				DisableCompression: c.DisableCompression, Config: rawConfig(c.Config.Raw),
			}
		}
		return req, nil
	case V1beta1:
		// The same fields as v1 (the two versions differ in the kubeconfig,
		// where v1 requires interactiveMode, not in ExecCredential), but
		// distinct Go types.
		var ec clientauthv1beta1.ExecCredential
		if err := json.Unmarshal(data, &ec); err != nil {
			return Request{}, decodeError(err)
		}
		req := Request{APIVersion: V1beta1, Interactive: ec.Spec.Interactive}
		if c := ec.Spec.Cluster; c != nil {
			req.Cluster = &Cluster{
				Server: c.Server, TLSServerName: c.TLSServerName, InsecureSkipTLSVerify: c.InsecureSkipTLSVerify,
				CertificateAuthorityData: c.CertificateAuthorityData, ProxyURL: c.ProxyURL,
				DisableCompression: c.DisableCompression, Config: rawConfig(c.Config.Raw),
			}
		}
		return req, nil
	case "":
		return Request{}, fmt.Errorf("execcred: %s has no apiVersion", EnvVar)
	}
	return Request{}, unsupported(meta.APIVersion)
}

// unsupported names the versions we speak. v1alpha1 was removed from
// client-go in Kubernetes 1.24; every kubectl since 1.11 speaks v1beta1.
func unsupported(v string) error {
	return fmt.Errorf("execcred: apiVersion %q is not supported: set the kubeconfig's exec apiVersion to %s (or %s)", v, V1, V1beta1)
}

func rawConfig(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// decodeError says what is wrong with the input without quoting it, and
// without encoding/json's Go type names, which mean nothing to a person.
func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("execcred: %s is not valid JSON (at byte %d)", EnvVar, syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("execcred: %s: field %q has the wrong type (%s)", EnvVar, typ.Field, typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("execcred: %s is not a JSON object (%s)", EnvVar, typ.Value)
	}
	// Values that have the right JSON type but are invalid, such as
	// certificate-authority-data that is not base64 or a timestamp that is
	// not RFC 3339. The message may quote the bad value; Run keeps it on one
	// line. The input holds no secret: kubectl sends no credential in it.
	return fmt.Errorf("execcred: %s is not a valid ExecCredential: %v", EnvVar, err)
}
