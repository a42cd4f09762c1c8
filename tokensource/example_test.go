package tokensource_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/mayflyhq/mayfly/tokensource"
)

// A browser sign-in: discover the provider, open the loopback redirect,
// send the user to the authorization URL, and wait for the code to come
// back and be exchanged.
func ExampleClient_StartBrowser() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	p, err := tokensource.Discover(ctx, hc, "https://idp.example.com/realms/dev")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	c := &tokensource.Client{Provider: p, ClientID: "mayfly", Scopes: []string{"openid", "offline_access"}, HTTP: hc}
	login, err := c.StartBrowser(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer login.Close()
	fmt.Fprintln(os.Stderr, "Open this page to sign in:", login.AuthURL())
	tok, err := login.Wait(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	// Later, when the access token runs out:
	if _, err := c.Refresh(ctx, tok.RefreshToken); errors.Is(err, tokensource.ErrSessionEnded) {
		fmt.Fprintln(os.Stderr, "sign in again:", err)
	}
}

func ExampleParseClaims() {
	// {"iss":"https://idp.example.com","sub":"alice","aud":"mayfly","exp":1767225600}
	const idToken = "eyJhbGciOiJSUzI1NiJ9." +
		"eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6ImFsaWNlIiwiYXVkIjoibWF5Zmx5IiwiZXhwIjoxNzY3MjI1NjAwfQ." +
		"c2lnbmF0dXJl"
	cl, err := tokensource.ParseClaims(idToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cl.Issuer, cl.Subject, cl.Aud, cl.Expiry.UTC().Format(time.RFC3339))
	// Output: https://idp.example.com alice [mayfly] 2026-01-01T00:00:00Z
}
