package whatsapp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// decodeField decodes {"v": raw} so the tolerant type sees exactly what encoding/json hands it.
func decodeField[T any](raw string) (T, error) {
	var w struct {
		V T `json:"v"`
	}
	err := json.Unmarshal([]byte(`{"v":`+raw+`}`), &w)
	return w.V, err
}

func TestUnixTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    UnixTime
		wantErr bool
	}{
		{name: "string", raw: `"1764000000"`, want: 1764000000},
		{name: "int", raw: `1764000000`, want: 1764000000},
		{name: "float", raw: `1764000000.75`, want: 1764000000},
		{name: "exponent", raw: `1.764e9`, want: 1764000000},
		{name: "string with spaces", raw: `" 1764000000 "`, want: 1764000000},
		{name: "null", raw: `null`, want: 0},
		{name: "empty string", raw: `""`, want: 0},
		{name: "zero", raw: `0`, want: 0},
		{name: "milliseconds are out of range", raw: `1764000000000000`, wantErr: true},
		{name: "negative", raw: `-5`, wantErr: true},
		{name: "huge int", raw: `99999999999999999999999999999`, wantErr: true},
		{name: "huge float", raw: `1e400`, wantErr: true},
		{name: "word", raw: `"yesterday"`, wantErr: true},
		{name: "bool", raw: `true`, wantErr: true},
		{name: "object", raw: `{"s":1}`, wantErr: true},
		{name: "array", raw: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeField[UnixTime](tt.raw)
			if tt.wantErr {
				var fe *FlexError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want *FlexError", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	if got := UnixTime(1764000000).Time(); !got.Equal(time.Date(2025, 11, 24, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("Time() = %v", got)
	}
	if !UnixTime(0).Time().IsZero() {
		t.Error("zero UnixTime should give zero time")
	}
}

func TestFlexInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    FlexInt
		wantErr bool
	}{
		{name: "int", raw: `131047`, want: 131047},
		{name: "string", raw: `"25"`, want: 25},
		{name: "integral float", raw: `25.0`, want: 25},
		{name: "null", raw: `null`},
		{name: "negative", raw: `-1`, want: -1},
		{name: "fraction", raw: `2.5`, wantErr: true},
		{name: "huge", raw: `1e30`, wantErr: true},
		{name: "huge digits", raw: `123456789012345678901234567890`, wantErr: true},
		{name: "word", raw: `"many"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeField[FlexInt](tt.raw)
			if (err != nil) != tt.wantErr || !tt.wantErr && got != tt.want {
				t.Fatalf("got %d, %v; want %d, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestIDAndNullString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		raw         string
		wantID      ID
		wantIDErr   bool
		wantNS      NullString
		wantNSError bool
	}{
		{name: "string", raw: `"1689556908129832"`, wantID: "1689556908129832", wantNS: "1689556908129832"},
		{name: "number keeps digits", raw: `1689556908129832`, wantID: "1689556908129832", wantNS: "1689556908129832"},
		{name: "beyond float precision", raw: `123456789012345678901234567890`, wantID: "123456789012345678901234567890", wantNS: "123456789012345678901234567890"},
		{name: "null", raw: `null`},
		{name: "escaped", raw: `"a\u00e9b"`, wantID: "aéb", wantNS: "aéb"},
		{name: "bool", raw: `true`, wantIDErr: true, wantNS: "true"},
		{name: "object", raw: `{}`, wantIDErr: true, wantNSError: true},
		{name: "array", raw: `["x"]`, wantIDErr: true, wantNSError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := decodeField[ID](tt.raw)
			if (err != nil) != tt.wantIDErr || !tt.wantIDErr && id != tt.wantID {
				t.Errorf("ID: got %q, %v; want %q, err %v", id, err, tt.wantID, tt.wantIDErr)
			}
			ns, err := decodeField[NullString](tt.raw)
			if (err != nil) != tt.wantNSError || !tt.wantNSError && ns != tt.wantNS {
				t.Errorf("NullString: got %q, %v; want %q, err %v", ns, err, tt.wantNS, tt.wantNSError)
			}
		})
	}
}

func TestStringList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr bool
	}{
		{name: "string", raw: `"DISABLE"`, want: "DISABLE"},
		{name: "list", raw: `["REINSTATE"]`, want: "REINSTATE"},
		{name: "empty list", raw: `[]`, want: ""},
		{name: "null", raw: `null`, want: ""},
		{name: "number", raw: `3`, wantErr: true},
		{name: "list of numbers", raw: `[3]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeField[StringList](tt.raw)
			if (err != nil) != tt.wantErr || !tt.wantErr && got.First() != tt.want {
				t.Fatalf("got %v, %v; want %q, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestExpiration(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 12, 1, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		raw     string
		want    time.Time
		wantErr bool
	}{
		{name: "unix int", raw: `1764604800`, want: at},
		{name: "unix string", raw: `"1764604800"`, want: at},
		{name: "rfc3339", raw: `"2025-12-01T16:00:00Z"`, want: at},
		{name: "rfc3339 offset", raw: `"2025-12-01T18:00:00+02:00"`, want: at},
		{name: "graph offset without colon", raw: `"2025-12-01T16:00:00+0000"`, want: at},
		{name: "no zone", raw: `"2025-12-01T16:00:00"`, want: at},
		{name: "date only", raw: `"2025-12-01"`, want: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)},
		{name: "null", raw: `null`},
		{name: "empty", raw: `""`},
		{name: "zero", raw: `0`},
		{name: "garbage", raw: `"next week"`, wantErr: true},
		{name: "huge", raw: `1e300`, wantErr: true},
		{name: "object", raw: `{}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeField[Expiration](tt.raw)
			if (err != nil) != tt.wantErr || !tt.wantErr && !got.Time.Equal(tt.want) {
				t.Fatalf("got %v, %v; want %v, err %v", got.Time, err, tt.want, tt.wantErr)
			}
			if !tt.wantErr && got.IsSet() == tt.want.IsZero() {
				t.Errorf("IsSet() = %v", got.IsSet())
			}
		})
	}
	// Round trip through MarshalJSON.
	b, err := json.Marshal(Expiration{Time: at})
	if err != nil || string(b) != `"2025-12-01T16:00:00Z"` {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
	if b, _ := json.Marshal(Expiration{}); string(b) != "null" {
		t.Errorf("MarshalJSON zero = %s", b)
	}
}

func TestTier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		raw           string
		want          Tier
		wantN         int
		wantUnlimited bool
		wantKnown     bool
		wantErr       bool
	}{
		{name: "TIER_50", raw: `"TIER_50"`, want: Tier50, wantN: 50, wantKnown: true},
		{name: "TIER_250", raw: `"TIER_250"`, want: Tier250, wantN: 250, wantKnown: true},
		{name: "legacy TIER_1K is 2K", raw: `"TIER_1K"`, want: Tier2K, wantN: 2000, wantKnown: true},
		{name: "TIER_2K", raw: `"TIER_2K"`, want: Tier2K, wantN: 2000, wantKnown: true},
		{name: "TIER_10K", raw: `"TIER_10K"`, want: Tier10K, wantN: 10000, wantKnown: true},
		{name: "TIER_100K", raw: `"TIER_100K"`, want: Tier100K, wantN: 100000, wantKnown: true},
		{name: "TIER_UNLIMITED", raw: `"TIER_UNLIMITED"`, want: TierUnlimited, wantUnlimited: true, wantKnown: true},
		{name: "TIER_NOT_SET", raw: `"TIER_NOT_SET"`, want: TierNotSet},
		{name: "lower case", raw: `"tier_10k"`, want: Tier10K, wantN: 10000, wantKnown: true},
		{name: "UNLIMITED", raw: `"UNLIMITED"`, want: TierUnlimited, wantUnlimited: true, wantKnown: true},
		{name: "250", raw: `250`, want: Tier250, wantN: 250, wantKnown: true},
		{name: "1000 legacy", raw: `1000`, want: Tier2K, wantN: 2000, wantKnown: true},
		{name: "2000", raw: `2000`, want: Tier2K, wantN: 2000, wantKnown: true},
		{name: "10000", raw: `10000`, want: Tier10K, wantN: 10000, wantKnown: true},
		{name: "100000 string", raw: `"100000"`, want: Tier100K, wantN: 100000, wantKnown: true},
		{name: "-1 unlimited", raw: `-1`, want: TierUnlimited, wantUnlimited: true, wantKnown: true},
		{name: "-1 string", raw: `"-1"`, want: TierUnlimited, wantUnlimited: true, wantKnown: true},
		{name: "odd number", raw: `5000`, want: "TIER_5K", wantN: 5000, wantKnown: true},
		{name: "odd small number", raw: `1234`, want: "TIER_1234", wantN: 1234, wantKnown: true},
		{name: "float integral", raw: `2000.0`, want: Tier2K, wantN: 2000, wantKnown: true},
		{name: "future name", raw: `"TIER_5M"`, want: "TIER_5M", wantN: 5000000, wantKnown: true},
		{name: "unknown name", raw: `"TIER_PLATINUM"`, want: "TIER_PLATINUM"},
		{name: "null", raw: `null`, want: TierNone},
		{name: "empty", raw: `""`, want: TierNone},
		{name: "huge", raw: `1e30`, wantErr: true},
		{name: "huge digits", raw: `99999999999999999999999`, wantErr: true},
		{name: "beyond limit bound", raw: `10000000000000000`, wantErr: true},
		{name: "negative", raw: `-7`, wantErr: true},
		{name: "fraction", raw: `2.5`, wantErr: true},
		{name: "bool", raw: `true`, wantErr: true},
		{name: "object", raw: `{"tier":1}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeField[Tier](tt.raw)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			n, unl, known := got.Limit()
			if n != tt.wantN || unl != tt.wantUnlimited || known != tt.wantKnown {
				t.Errorf("Limit() = %d, %v, %v; want %d, %v, %v", n, unl, known, tt.wantN, tt.wantUnlimited, tt.wantKnown)
			}
			if got.String() != string(tt.want) {
				t.Errorf("String() = %q", got.String())
			}
		})
	}
}

func TestTierLimitOverflow(t *testing.T) {
	t.Parallel()
	for _, tier := range []Tier{"TIER_99999999999999999999K", "TIER_9999999999999M", "TIER_K", "TIER_", "TIER_-5", "TIER_1.5K"} {
		if n, unl, known := tier.Limit(); known || unl || n != 0 {
			t.Errorf("%s.Limit() = %d, %v, %v; want unknown", tier, n, unl, known)
		}
	}
}

func TestFlexErrorTruncatesValue(t *testing.T) {
	t.Parallel()
	_, err := decodeField[UnixTime](`"` + strings.Repeat("x", 1000) + `"`)
	var fe *FlexError
	if !errors.As(err, &fe) || len(fe.Value) > 50 {
		t.Fatalf("err = %v", err)
	}
}
