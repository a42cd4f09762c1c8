package testpeers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TokenVerifier checks bearer tokens the way a resource server in front of
// the provider does: signed by the issuer's keys (fetched by discovery),
// unexpired, and issued for the audience. The git server and the Kubernetes
// API stand-in share it, so both accept exactly the same tokens.
type TokenVerifier struct {
	verifier *oidc.IDTokenVerifier
	audience string
}

// errWrongAudience is the outcome for a valid token issued to someone else.
var errWrongAudience = errors.New("wrong audience")

// NewTokenVerifier discovers issuer and returns a verifier for audience.
func NewTokenVerifier(ctx context.Context, issuer, audience string) (*TokenVerifier, error) {
	prov, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	return &TokenVerifier{
		// Dex's access tokens are JWTs like its ID tokens; the audience is
		// checked in Verify, against a list rather than the client ID alone.
		verifier: prov.Verifier(&oidc.Config{SkipClientIDCheck: true}),
		audience: audience,
	}, nil
}

// Verify returns the token's subject, or an error whose text is a short,
// one-line outcome for a request log ("invalid: ...", "wrong audience").
// It never holds the token.
func (v *TokenVerifier) Verify(ctx context.Context, raw string) (string, error) {
	tok, err := v.verifier.Verify(ctx, raw)
	switch {
	case err != nil:
		return "", errors.New("invalid: " + firstLine(err.Error()))
	case !slices.Contains(tok.Audience, v.audience):
		return "", errWrongAudience
	}
	return tok.Subject, nil
}
