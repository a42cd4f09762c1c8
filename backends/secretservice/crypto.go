package secretservice

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
)

// The two session algorithms of spec chapter 7, "Transfer of Secrets".
const (
	algorithmDH    = "dh-ietf1024-sha256-aes128-cbc-pkcs7"
	algorithmPlain = "plain"
)

// oakley2 is the prime of the 1024-bit MODP group, the "Second Oakley
// Group" of RFC 2409 section 6.2, whose generator is 2. Spec chapter 7,
// "Algorithm: dh-ietf1024-sha256-aes128-cbc-pkcs7", uses these parameters.
var oakley2, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"+
		"FFFFFFFFFFFFFFFF", 16)

// oakley2Len is the length of the prime in bytes.
const oakley2Len = 1024 / 8

// dhKey is the client's half of the key agreement.
type dhKey struct {
	private *big.Int
	// public is g^private mod p "as an array of bytes representing an
	// unsigned integer of arbitrary size, most-significant byte first"
	// (spec chapter 7), the input of OpenSession.
	public []byte
}

func newDHKey() (*dhKey, error) {
	// private is uniform in [2, p-2].
	limit := new(big.Int).Sub(oakley2, big.NewInt(3))
	x, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, err
	}
	x.Add(x, big.NewInt(2))
	pub := new(big.Int).Exp(big.NewInt(2), x, oakley2)
	return &dhKey{private: x, public: pub.Bytes()}, nil
}

// sessionKey returns the AES-128 key agreed with the service whose public
// key is peer (the output of OpenSession). Spec chapter 7: the DH secret is
// "digested into a 128-bit key appropriate for AES ... using HKDF with NULL
// salt and empty info, using the SHA-2 256 hash algorithm". The secret
// enters HKDF as a big-endian integer zero-padded to the length of the
// prime, as gnome-keyring and libsecret (egg_dh_gen_secret) write it.
func (k *dhKey) sessionKey(peer []byte) ([]byte, error) {
	if len(peer) > 2*oakley2Len {
		return nil, fmt.Errorf("the service's public key is %d bytes long", len(peer))
	}
	y := new(big.Int).SetBytes(peer)
	// 0, 1 and p-1 (and values out of the group) would give a secret that
	// anyone can compute.
	pMinus1 := new(big.Int).Sub(oakley2, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pMinus1) >= 0 {
		return nil, errors.New("the service's public key is not in the DH group")
	}
	secret := new(big.Int).Exp(y, k.private, oakley2).FillBytes(make([]byte, oakley2Len))
	defer clear(secret)
	return hkdf.Key(sha256.New, secret, nil, "", 16)
}

// encrypt encrypts a value for the service with AES-128-CBC and PKCS#7 padding
// (spec chapter 7); the random IV goes in the Secret's parameters.
func encrypt(key, value []byte) (iv, ciphertext []byte, err error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	pad := aes.BlockSize - len(value)%aes.BlockSize // 1 to 16: an empty value is one block
	buf := make([]byte, len(value)+pad)
	copy(buf, value)
	for i := len(value); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	iv = make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, nil, err
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return iv, buf, nil
}

// decrypt decrypts what encrypt encrypted. iv and ciphertext come from the
// service, so every length and the padding are checked.
func decrypt(key, iv, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	switch {
	case len(iv) != aes.BlockSize:
		return nil, fmt.Errorf("secret from the service has a %d-byte IV, want %d", len(iv), aes.BlockSize)
	case len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0:
		return nil, fmt.Errorf("secret from the service is %d bytes long, not a positive multiple of %d", len(ciphertext), aes.BlockSize)
	}
	buf := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(buf, ciphertext)
	pad := int(buf[len(buf)-1])
	bad := pad == 0 || pad > aes.BlockSize
	if !bad {
		for _, b := range buf[len(buf)-pad:] {
			bad = bad || int(b) != pad
		}
	}
	if bad {
		clear(buf)
		return nil, errors.New("secret from the service has bad padding (wrong session key?)")
	}
	return buf[:len(buf)-pad], nil
}
