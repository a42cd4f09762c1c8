package execcred

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
)

// WriteResponse writes resp as one ExecCredential in apiVersion (V1 or
// V1beta1, normally the request's), as a single JSON line in a single Write,
// so that a failure never leaves half a document on w.
//
// The output carries apiVersion, kind, status.token and, unless
// resp.Expiry is zero, status.expirationTimestamp (exec.go reads nothing
// else for a token). The timestamp is RFC 3339 in UTC with whole seconds,
// as metav1.Time writes it: the fraction is dropped, which brings the expiry
// forward, never back.
func WriteResponse(w io.Writer, apiVersion string, resp Response) error {
	if resp.Token == "" {
		return ErrNoToken
	}
	var exp *metav1.Time
	if !resp.Expiry.IsZero() {
		// time.Format writes years outside 0..9999 in a form RFC 3339
		// parsers refuse, and kubectl would fail with "decoding stdout".
		if y := resp.Expiry.UTC().Year(); y < 1 || y > 9999 {
			return fmt.Errorf("execcred: expiry %v is out of range", resp.Expiry.UTC().Format(time.DateOnly))
		}
		exp = &metav1.Time{Time: resp.Expiry}
	}
	meta := metav1.TypeMeta{APIVersion: apiVersion, Kind: Kind}
	var obj any
	switch apiVersion {
	case V1:
		obj = &clientauthv1.ExecCredential{TypeMeta: meta, Status: &clientauthv1.ExecCredentialStatus{Token: resp.Token, ExpirationTimestamp: exp}}
	case V1beta1:
		obj = &clientauthv1beta1.ExecCredential{TypeMeta: meta, Status: &clientauthv1beta1.ExecCredentialStatus{Token: resp.Token, ExpirationTimestamp: exp}}
	default:
		return unsupported(apiVersion)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("execcred: encoding the response: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("execcred: writing the response: %w", err)
	}
	return nil
}
