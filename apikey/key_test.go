package apikey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/base62"
)

func TestMintParseRoundTrip(t *testing.T) {
	for _, mode := range []keygate.Mode{keygate.ModeTest, keygate.ModeLive} {
		for _, kind := range []keygate.Kind{keygate.KindPublishable, keygate.KindSecret} {
			for _, prefix := range []string{"bk", "x", "abcdefghijkl"} {
				id := newKeyID()
				k := mint(prefix, mode, kind, id)
				s := k.Reveal()
				assert.True(t, strings.HasPrefix(s, prefix+"_"+string(mode)+"_"+string(kind)+"_"), s)
				assert.Len(t, s, len(prefix)+len("_test_sk_")+BodyLen)
				info, err := Parse(s)
				require.NoError(t, err)
				assert.Equal(t, Info{Prefix: prefix, Mode: mode, Kind: kind, ID: id}, info)
				assert.Equal(t, info, k.Info())
			}
		}
	}
}

func TestScannerPatternMatchesMintedKeys(t *testing.T) {
	re := regexp.MustCompile(ScannerPattern)
	for i := 0; i < 100; i++ {
		s := mint(DefaultPrefix, keygate.ModeLive, keygate.KindSecret, newKeyID()).Reveal()
		text := "config: token=" + s + "\n"
		assert.Equal(t, s, re.FindString(text))
	}
	assert.False(t, re.MatchString("bk_test_sk_tooshort"))
}

func TestSecretsAreDistinctAndUniform(t *testing.T) {
	seen := map[string]bool{}
	var counts [256]int
	const n = 2000
	for i := 0; i < n; i++ {
		s := mint("bk", keygate.ModeTest, keygate.KindSecret, "0000000000000000").Reveal()
		secret := s[len("bk_test_sk_")+IDLen : len(s)-ChecksumLen]
		require.False(t, seen[secret], "secret repeated")
		seen[secret] = true
		for i := 0; i < len(secret); i++ {
			counts[secret[i]]++
		}
	}
	// Every base62 character appears, none far off its expected share
	// (n*43/62 ≈ 1387; a bias from a plain modulo would show as ±25%).
	for i := 0; i < len(base62.Alphabet); i++ {
		c := counts[base62.Alphabet[i]]
		assert.InDelta(t, float64(n*SecretLen)/62, float64(c), 250, "character %q", base62.Alphabet[i])
	}
}

// valid is a well-formed key used in the parse table.
var valid = mint(DefaultPrefix, keygate.ModeTest, keygate.KindSecret, "AbCdEfGh01234567").Reveal()

func TestParse(t *testing.T) {
	changedLast := valid[:len(valid)-1] + string(nextBase62(valid[len(valid)-1]))
	changedSecret := valid[:40] + string(nextBase62(valid[40])) + valid[41:]
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"valid", valid, nil},
		{"empty", "", errEmpty},
		{"10 KB", strings.Repeat("a", 10<<10), errTooLong},
		{"one over the maximum", strings.Repeat("a", MaxKeyLen+1), errTooLong},
		{"bad checksum: last character changed", changedLast, errChecksum},
		{"bad checksum: a secret character changed", changedSecret, errChecksum},
		{"wrong prefix case", "BK" + valid[2:], errPrefix},
		{"prefix with digit", "b1" + valid[2:], errPrefix},
		{"prefix too long", "abcdefghijklm" + valid[2:40], errPrefix},
		{"no prefix", valid[2:], errPrefix},
		{"unknown mode", strings.Replace(valid, "_test_", "_prod_", 1), errMode},
		{"mode in capitals", strings.Replace(valid, "_test_", "_TEST_", 1), errMode},
		{"unknown kind", strings.Replace(valid, "_sk_", "_rk_", 1), errKind},
		{"truncated", valid[:len(valid)-1], errBodyLen},
		{"truncated to the layout", "bk_test_sk_", errBodyLen},
		{"truncated inside the layout", "bk_test_s", errLayout},
		{"only a prefix", "bk", errLayout},
		{"extra character", valid + "a", errBodyLen},
		{"non-base62 character", valid[:30] + "-" + valid[31:], errAlphabet},
		{"underscore in body", valid[:30] + "_" + valid[31:], errAlphabet},
		{"unicode", valid[:30] + "é" + valid[32:], errAlphabet},
		{"unicode prefix", "bé" + valid[2:], errPrefix},
		{"space", valid[:30] + " " + valid[31:], errAlphabet},
		{"NUL byte", valid[:30] + "\x00" + valid[31:], errAlphabet},
		{"missing separator", strings.Replace(valid, "test_", "test-", 1), errLayout},
		{"bearer scheme left in", "Bearer " + valid, errPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Parse(tt.in)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "AbCdEfGh01234567", info.ID)
				return
			}
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, ErrMalformed)
			assert.Equal(t, Info{}, info)
			if len(tt.in) > 8 {
				assert.NotContains(t, err.Error(), tt.in[len(tt.in)-8:], "the error must not quote the input")
			}
		})
	}
}

func nextBase62(c byte) byte {
	i := strings.IndexByte(base62.Alphabet, c)
	return base62.Alphabet[(i+1)%len(base62.Alphabet)]
}

func TestIsBase62(t *testing.T) {
	// Every byte value, at every position of a 16-byte word pair and in the
	// tail, against the table.
	for c := 0; c < 256; c++ {
		want := strings.IndexByte(base62.Alphabet, byte(c)) >= 0
		for pos := 0; pos < 19; pos++ {
			b := []byte(strings.Repeat("Az09", 5)[:19])
			b[pos] = byte(c)
			if got := isBase62(string(b)); got != want {
				t.Fatalf("byte %#x at %d: got %v, want %v", c, pos, got, want)
			}
		}
	}
	assert.True(t, isBase62(""))
}

func TestChecksumIsCRC32(t *testing.T) {
	for _, s := range []string{"", "a", valid, strings.Repeat("xyz", 100), "\x00\xff"} {
		assert.Equal(t, crc32.ChecksumIEEE([]byte(s)), checksum(s))
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	bad := valid[:len(valid)-1] + "x"
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = Parse(valid)
		_, _ = Parse(bad)
	})
	assert.Zero(t, allocs)
}

func TestKeyRedactsItself(t *testing.T) {
	k := mint("bk", keygate.ModeLive, keygate.KindSecret, newKeyID())
	secret := k.Reveal()
	type carrier struct {
		Exported   Key
		unexported Key
		Ptr        *Key
	}
	c := carrier{k, k, &k}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("minted", "key", k, "carrier", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("minted", "key", k)
	j, err := json.Marshal(c)
	require.NoError(t, err)
	outputs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", c, c, c), fmt.Sprintf("%v %+v", &c, []Key{k}),
		fmt.Sprint(map[string]Key{"k": k}), k.String(), k.GoString(),

		logs.String(), string(j), fmt.Sprintf("%v", errors.New(k.String())),
	}
	// fmt prints an unexported field by reflection, without its methods,
	// and a wrong verb through a fallback: try them all.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t"} {
		for _, v := range []any{c, &c, []carrier{c}, map[string]carrier{"c": c}, struct{ k Key }{k}} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
	}
	for _, out := range outputs {
		assert.NotContains(t, out, secret)
		assert.NotContains(t, out, secret[len(secret)-20:], "no tail of the secret either")
	}
	assert.Contains(t, k.String(), "bk_live_sk_"+k.ID()+"[REDACTED]")
	assert.Equal(t, Key{}.Reveal(), "")
	assert.Equal(t, Key{}.String(), "")
}

// TestModeAndKindAreBoundToTheRecord forges a key whose text claims another
// mode or kind than its record, with a correct checksum and the right
// secret: Verify compares mode and kind with the record, so it fails as an
// invalid key.
func TestModeAndKindAreBoundToTheRecord(t *testing.T) {
	m, err := NewManager(Config{})
	require.NoError(t, err)
	ctx := context.Background()
	key, _, err := m.Create(ctx, CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	require.NoError(t, err)
	reseal := func(s string) string {
		signed := s[:len(s)-ChecksumLen]
		b := []byte(signed + "000000")
		encodeChecksum(b[len(signed):], checksum(signed))
		return string(b)
	}
	for _, forged := range []string{
		reseal(strings.Replace(key.Reveal(), "_test_", "_live_", 1)),
		reseal(strings.Replace(key.Reveal(), "_sk_", "_pk_", 1)),
	} {
		_, err := Parse(forged)
		require.NoError(t, err, "the forgery has a valid checksum")
		_, err = m.Verify(ctx, forged)
		assert.ErrorIs(t, err, ErrUnknownKey)
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(valid)
	f.Add("")
	f.Add("bk_test_sk_")
	f.Add("bk_live_pk_" + strings.Repeat("0", BodyLen))
	f.Add(valid[:len(valid)-1] + "0")
	f.Add("Bearer " + valid)
	f.Fuzz(func(t *testing.T, s string) {
		info, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if info != (Info{}) {
				t.Fatalf("info %+v returned with an error", info)
			}
			return
		}
		// Whatever parses is a well-formed key: the scanner pattern finds
		// it, its parts are where the anatomy says, and the checksum holds.
		if !regexp.MustCompile(`^[a-z]{1,12}_(?:test|live)_(?:pk|sk)_[0-9A-Za-z]{65}$`).MatchString(s) {
			t.Fatalf("Parse accepted %q", s)
		}
		if !info.Mode.Valid() || !info.Kind.Valid() || len(info.ID) != IDLen || !strings.HasPrefix(s, info.Prefix+"_") {
			t.Fatalf("inconsistent info %+v for %q", info, s)
		}
		signed := s[:len(s)-ChecksumLen]
		if decodeChecksum(s[len(signed):]) != uint64(crc32.ChecksumIEEE([]byte(signed))) {
			t.Fatalf("checksum does not hold for %q", s)
		}
	})
}
