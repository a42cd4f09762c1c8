package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("status", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	resp, err := c.Do(ctx, wire.Request{Op: wire.OpStatus})
	if err != nil {
		return agentErr(err)
	}
	st := resp.Status
	if st == nil {
		return fmt.Errorf("the agent sent no status")
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "agent    running, pid %d, version %s, since %s\n", st.PID, st.Version, st.Started.Local().Format(time.DateTime))
	fmt.Fprintf(stdout, "socket   %s\n", st.Socket)
	fmt.Fprintf(stdout, "config   %s\n", st.Config)
	fmt.Fprintf(stdout, "store    %s (%s)", st.Store.Name, st.Store.Protection)
	if st.Store.Detail != "" {
		fmt.Fprintf(stdout, ": %s", st.Store.Detail)
	}
	fmt.Fprintln(stdout)
	if st.TPM != nil {
		fmt.Fprintf(stdout, "tpm      %s\n", describeTPM(st.TPM))
	}
	if st.DeviceKey != nil {
		fmt.Fprintf(stdout, "key      %s\n", describeDeviceKey(st.DeviceKey))
	}
	fmt.Fprintln(stdout)
	if len(st.Profiles) == 0 {
		fmt.Fprintf(stdout, "no profiles configured in %s\n", st.Config)
	} else {
		showProfiles(stdout, st.Profiles)
	}
	if len(st.Static) > 0 {
		fmt.Fprintf(stdout, "\nLong-lived credentials kept for consumers (%d). Mayfly cannot make these\nshort-lived; replace each with a profile where the server supports OpenID:\n", len(st.Static))
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CONSUMER\tSERVER\tUSER\tSTORED")
		for _, e := range st.Static {
			saved := "-"
			if !e.Saved.IsZero() {
				saved = e.Saved.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Namespace, e.Name, e.Username, saved)
		}
		tw.Flush()
	}
	return nil
}

func showProfiles(stdout io.Writer, profiles []wire.ProfileStatus) {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tSIGNED IN\tUSER\tTOKEN\tISSUER\tMATCH")
	now := time.Now()
	for _, p := range profiles {
		signed := "no"
		if p.SignedIn {
			signed = "yes"
			if !p.RefreshToken {
				signed = "yes (no refresh token)"
			}
		}
		tok := "-"
		if !p.AccessExpiry.IsZero() {
			if left := p.AccessExpiry.Sub(now); left > 0 {
				tok = fmt.Sprintf("valid %s (until %s)", left.Round(time.Second), p.AccessExpiry.Local().Format("15:04:05"))
			} else {
				tok = "expired; refreshed on next use"
			}
		} else if p.RefreshToken {
			tok = "minted on next use"
		}
		user := p.Subject
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, signed, user, tok, p.Issuer, strings.Join(p.Match, " "))
	}
	tw.Flush()
	for _, p := range profiles {
		if p.Problem != "" {
			fmt.Fprintf(stdout, "\n%s: %s", p.Name, p.Problem)
		}
		if !p.SignedIn {
			fmt.Fprintf(stdout, "\nsign in to %s with: mayfly login --profile %s", p.Name, p.Name)
		}
	}
	fmt.Fprintln(stdout)
}

func logout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("logout", stderr)
	profile := fs.String("profile", "", "profile to sign out")
	all := fs.Bool("all", false, "sign out of every profile")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *all && *profile != "" {
		return usageError{fmt.Errorf("--all and --profile exclude each other")}
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	resp, err := c.Do(ctx, wire.Request{Op: wire.OpLogout, Profile: *profile, All: *all})
	if err != nil {
		return agentErr(err)
	}
	for _, r := range resp.Results {
		fmt.Fprintf(stderr, "%s: %s\n", r.Profile, r.Outcome)
	}
	return nil
}

func describeTPM(t *wire.TPMInfo) string {
	if !t.Usable {
		return fmt.Sprintf("not usable at %s: %s", t.Path, t.Problem)
	}
	s := t.Path
	if t.Manufacturer != "" {
		s += ", manufacturer " + t.Manufacturer
	}
	if t.Firmware != "" {
		s += ", firmware " + t.Firmware
	}
	return s
}

func describeDeviceKey(k *wire.DeviceKeyInfo) string {
	where := "in the TPM (hardware-bound, not exportable)"
	if !k.Hardware {
		where = "software, kept in the secret store (no TPM: sessions bound to it last at most 24 h)"
	}
	return fmt.Sprintf("%s %s, thumbprint %s", k.Algorithm, where, k.Thumbprint)
}

// key prints the device key's public JWK and thumbprint, to register a
// confidential client for private_key_jwt or to check DPoP bindings.
func key(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("key", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if sub != "show" {
		return usageError{fmt.Errorf("usage: mayfly key show [--json]")}
	}
	c, err := newClient()
	if err != nil {
		return err
	}
	resp, err := c.Do(ctx, wire.Request{Op: wire.OpKey})
	if err != nil {
		return agentErr(err)
	}
	if resp.Status == nil || resp.Status.DeviceKey == nil {
		return fmt.Errorf("the agent sent no device key")
	}
	k := resp.Status.DeviceKey
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(k)
	}
	fmt.Fprintf(stderr, "device key: %s\n", describeDeviceKey(k))
	fmt.Fprintf(stderr, "register this public key (JWKS) with the provider for client_auth = \"private_key_jwt\":\n")
	var jwk map[string]any
	if err := json.Unmarshal(k.JWK, &jwk); err != nil {
		return fmt.Errorf("the agent sent a bad JWK: %w", err)
	}
	jwk["kid"], jwk["use"], jwk["alg"] = k.Thumbprint, "sig", "ES256"
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"keys": []any{jwk}})
}
