package tpm

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Info identifies a TPM.
type Info struct {
	Path         string // device or address, as opened
	Manufacturer string // TPM_PT_MANUFACTURER as text: "IBM", "INTC", "AMD", "MSFT", "IFX"...
	Vendor       string // TPM_PT_VENDOR_STRING_1..4, such as "SW   TPM"; may be empty
	Firmware     string // TPM_PT_FIRMWARE_VERSION_1 and _2 as a.b.c.d
}

// Info reads the TPM's manufacturer, vendor string and firmware version,
// in one TPM2_GetCapability (TPM 2.0 Library Part 2, "TPM_PT"), and
// remembers them for [TPM.String].
func (t *TPM) Info(ctx context.Context) (Info, error) {
	return withContext(ctx, func() (Info, error) {
		var props map[tpm2.TPMPT]uint32
		err := t.do(ctx, func(tp transport.TPM) error {
			var err error
			props, err = properties(tp, tpm2.TPMPTManufacturer, tpm2.TPMPTFirmwareVersion2)
			return err
		})
		if err != nil {
			return Info{}, fmt.Errorf("tpm: info: %w", classify(t.path, err))
		}
		info := Info{
			Path:         t.path,
			Manufacturer: ascii(props[tpm2.TPMPTManufacturer]),
			Vendor: ascii(props[tpm2.TPMPTVendorString1], props[tpm2.TPMPTVendorString2],
				props[tpm2.TPMPTVendorString3], props[tpm2.TPMPTVendorString4]),
			Firmware: firmware(props[tpm2.TPMPTFirmwareVersion1], props[tpm2.TPMPTFirmwareVersion2]),
		}
		t.info.Store(&info)
		return info, nil
	})
}

// Probe checks that this TPM can do what Mayfly needs of it: it answers,
// and it lets Mayfly create its storage root key under the owner
// hierarchy (which an owner password or a disabled hierarchy prevents).
// It returns the TPM's Info. The SRK stays loaded for later use.
func (t *TPM) Probe(ctx context.Context) (Info, error) {
	info, err := t.Info(ctx)
	if err != nil {
		return Info{}, err
	}
	_, err = withContext(ctx, func() (struct{}, error) {
		err := t.do(ctx, func(tp transport.TPM) error {
			_, err := t.primary(tp)
			return err
		})
		if err != nil {
			return struct{}{}, fmt.Errorf("tpm: probe: %w", classify(t.path, err))
		}
		return struct{}{}, nil
	})
	return info, err
}

// properties reads the TPM properties first..last. A TPM may return fewer
// than asked, with moreData set, so ask again from where it stopped.
func properties(tp transport.TPM, first, last tpm2.TPMPT) (map[tpm2.TPMPT]uint32, error) {
	props := make(map[tpm2.TPMPT]uint32)
	for next := first; next <= last; {
		rsp, err := tpm2.GetCapability{
			Capability:    tpm2.TPMCapTPMProperties,
			Property:      uint32(next),
			PropertyCount: uint32(last - next + 1),
		}.Execute(tp)
		if err != nil {
			return nil, err
		}
		list, err := rsp.CapabilityData.Data.TPMProperties()
		if err != nil {
			return nil, err
		}
		progress := false
		for _, p := range list.TPMProperty {
			if p.Property < next || p.Property > last {
				continue
			}
			props[p.Property] = p.Value
			next, progress = p.Property+1, true
		}
		if !rsp.MoreData || !progress {
			break
		}
	}
	return props, nil
}

// ascii decodes properties that hold four characters each, big-endian,
// padded with NULs or spaces ("IBM\x00"; "SW  ", " TPM"). Anything but
// printable ASCII is dropped: the text ends up in messages.
func ascii(vs ...uint32) string {
	var b []byte
	for _, v := range vs {
		b = append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, string(b))
	return strings.TrimSpace(s)
}

// firmware formats TPM_PT_FIRMWARE_VERSION_1 and _2 the way tpm2-tools and
// Windows' tpm.msc show them: the 16-bit halves of each, in order.
func firmware(v1, v2 uint32) string {
	if v1 == 0 && v2 == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d.%d", v1>>16, v1&0xffff, v2>>16, v2&0xffff)
}
