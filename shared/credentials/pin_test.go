package credentials

import (
	"context"
	"errors"
	"testing"

	"github.com/aloro/wa-senders/shared/persist"
)

type mapPINs struct {
	pins    map[string]string
	failPut bool
}

func (m *mapPINs) PIN(_ context.Context, id string) (string, error) {
	if p, ok := m.pins[id]; ok {
		return p, nil
	}
	return "", persist.ErrNotFound
}

func (m *mapPINs) PutPIN(_ context.Context, id, pin string) error {
	if m.failPut {
		return errors.New("table down")
	}
	m.pins[id] = pin
	return nil
}

var errRefused = errors.New("Meta refused the pin")

func refusedOnly(err error) bool { return errors.Is(err, errRefused) }

// TestApplyPIN: the PIN is kept before Meta sees it; a refusal puts the previous one back; an
// answer that may hide Meta's acceptance keeps the new one; nothing reaches Meta when keeping fails.
func TestApplyPIN(t *testing.T) {
	t.Parallel()
	lost := errors.New("connection reset")
	for _, tc := range []struct {
		name      string
		prev      string
		failPut   bool
		applyErr  error
		wantKept  string
		wantMeta  bool
		wantErrIs error
	}{
		{name: "accepted", prev: "111111", wantKept: "222222", wantMeta: true},
		{name: "first pin accepted", wantKept: "222222", wantMeta: true},
		{name: "refused restores the previous", prev: "111111", applyErr: errRefused, wantKept: "111111", wantMeta: true, wantErrIs: errRefused},
		{name: "refused with none before keeps the new", applyErr: errRefused, wantKept: "222222", wantMeta: true, wantErrIs: errRefused},
		{name: "lost answer keeps the new", prev: "111111", applyErr: lost, wantKept: "222222", wantMeta: true, wantErrIs: lost},
		{name: "keeping fails: Meta not asked", prev: "111111", failPut: true, wantKept: "111111", wantErrIs: ErrPINNotKept},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := &mapPINs{pins: map[string]string{}}
			if tc.prev != "" {
				k.pins["1001"] = tc.prev
			}
			k.failPut = tc.failPut
			asked := false
			err := ApplyPIN(context.Background(), k, "1001", "222222", func(pin string) error {
				asked = true
				if k.pins["1001"] != pin {
					t.Errorf("Meta saw the PIN before it was kept")
				}
				return tc.applyErr
			}, refusedOnly)
			if tc.wantErrIs == nil && err != nil || tc.wantErrIs != nil && !errors.Is(err, tc.wantErrIs) {
				t.Fatalf("err = %v, want %v", err, tc.wantErrIs)
			}
			if asked != tc.wantMeta {
				t.Errorf("Meta asked = %v, want %v", asked, tc.wantMeta)
			}
			if got := k.pins["1001"]; got != tc.wantKept {
				t.Errorf("kept %q, want %q", got, tc.wantKept)
			}
		})
	}
}

func TestKeptOrNewPIN(t *testing.T) {
	t.Parallel()
	k := &mapPINs{pins: map[string]string{"1001": "482913"}}
	if pin, kept, err := KeptOrNewPIN(context.Background(), k, "1001"); err != nil || !kept || pin != "482913" {
		t.Fatalf("kept number: %q %v %v", pin, kept, err)
	}
	pin, kept, err := KeptOrNewPIN(context.Background(), k, "1002")
	if err != nil || kept || !ValidPIN(pin) {
		t.Fatalf("new number: %q %v %v", pin, kept, err)
	}
}
