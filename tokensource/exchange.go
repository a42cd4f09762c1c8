package tokensource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Token type identifiers of RFC 8693 §3.
const (
	TokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeID     = "urn:ietf:params:oauth:token-type:id_token"
)

// ExchangeRequest names the narrower token a consumer should get.
type ExchangeRequest struct {
	SubjectToken     string   // the token to exchange
	SubjectTokenType string   // TokenTypeAccess (default) or TokenTypeID
	Audience         []string // RFC 8693 §2.1 audience: logical names of the target services
	Resource         []string // RFC 8693 §2.1 resource: absolute URIs of the target services
	Scopes           []string // scope of the requested token; empty: the server decides
}

// Exchange trades a token for another per RFC 8693 (OAuth 2.0 Token
// Exchange): one for a given audience, resource and scope, so each consumer
// holds a token that is good only for its own service.
func (c *Client) Exchange(ctx context.Context, r ExchangeRequest) (*oauth2.Token, error) {
	if c.Provider.TokenURL == "" {
		return nil, errors.New("token exchange: no token endpoint")
	}
	typ := r.SubjectTokenType
	if typ == "" {
		typ = TokenTypeAccess
	}
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":        {r.SubjectToken},
		"subject_token_type":   {typ},
		"requested_token_type": {TokenTypeAccess},
		"client_id":            {c.ClientID},
	}
	for _, a := range r.Audience {
		form.Add("audience", a)
	}
	for _, res := range r.Resource {
		form.Add("resource", res)
	}
	if len(r.Scopes) > 0 {
		form.Set("scope", strings.Join(r.Scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Provider.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("token exchange: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("token exchange: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("token exchange: %w", err)
	}
	var out struct {
		AccessToken     string          `json:"access_token"`
		IssuedTokenType string          `json:"issued_token_type"`
		TokenType       string          `json:"token_type"`
		ExpiresIn       json.RawMessage `json:"expires_in"`
		Scope           string          `json:"scope"`
		Error           string          `json:"error"`
		ErrorDesc       string          `json:"error_description"`
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct != "application/json" || json.Unmarshal(body, &out) != nil {
		return nil, fmt.Errorf("token exchange: token endpoint answered %s, not JSON", resp.Status)
	}
	if resp.StatusCode != http.StatusOK || out.Error != "" {
		// RFC 8693 §2.2.2: errors as in RFC 6749 §5.2.
		re := &oauth2.RetrieveError{Response: resp, ErrorCode: out.Error, ErrorDescription: out.ErrorDesc}
		if re.ErrorCode == "" {
			return nil, fmt.Errorf("token exchange: token endpoint answered %s", resp.Status)
		}
		return nil, fmt.Errorf("token exchange: %s", describe(re))
	}
	if out.AccessToken == "" {
		return nil, errors.New("token exchange: the answer holds no access_token")
	}
	tok := &oauth2.Token{AccessToken: out.AccessToken, TokenType: out.TokenType}
	// expires_in is a number, but some servers send a string.
	var secs float64
	if json.Unmarshal(out.ExpiresIn, &secs) != nil {
		var s string
		if json.Unmarshal(out.ExpiresIn, &s) == nil {
			fmt.Sscan(s, &secs)
		}
	}
	if secs > 0 && secs < 1<<31 {
		tok.Expiry = time.Now().Add(time.Duration(secs * float64(time.Second)))
	}
	extra := map[string]any{"issued_token_type": out.IssuedTokenType}
	if out.Scope != "" {
		extra["scope"] = out.Scope
	}
	return tok.WithExtra(extra), nil
}
