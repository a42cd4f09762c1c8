package tokensource

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"
)

// StartDevice asks for a device code and a user code (RFC 8628 §3.1).
func (c *Client) StartDevice(ctx context.Context) (*oauth2.DeviceAuthResponse, error) {
	if c.Provider.DeviceAuthURL == "" {
		return nil, errors.New(`the provider has no device_authorization_endpoint: use flow = "browser"`)
	}
	da, err := c.config("").DeviceAuth(c.ctx(ctx))
	if err != nil {
		return nil, classify("device authorization", err)
	}
	return da, nil
}

// PollDevice waits for the user to approve da (RFC 8628 §3.4–3.5). x/oauth2
// keeps to the server's interval, defaults it to 5 s when absent, and adds
// 5 s on every slow_down; it stops at the code's expiry.
func (c *Client) PollDevice(ctx context.Context, da *oauth2.DeviceAuthResponse) (*oauth2.Token, error) {
	tok, err := c.config("").DeviceAccessToken(c.ctx(ctx), da)
	if err == nil {
		return tok, nil
	}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.ErrorCode == "access_denied":
		return nil, errors.New("sign-in was denied")
	case errors.As(err, &re) && re.ErrorCode == "expired_token",
		errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, errors.New("the code expired before it was approved: run the command again")
	case ctx.Err() != nil:
		return nil, fmt.Errorf("sign-in cancelled: %w", ctx.Err())
	}
	return nil, classify("device token", err)
}
