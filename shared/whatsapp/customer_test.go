package whatsapp

import (
	"errors"
	"testing"

	"github.com/aloro/wa-senders/shared/phone"
	"github.com/google/go-cmp/cmp"
)

func TestIsBSUIDAndWaID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		bsuid, waid bool
	}{
		{in: "US.13491208655302741918", bsuid: true},
		{in: "US.1234", bsuid: true},
		{in: "BR.1502576394655843", bsuid: true},
		{in: "US.ENT.11815799212886844830", bsuid: true},
		{in: "HK.xxxxxxxxxxxxx", bsuid: true},
		{in: "16505551234", waid: true},
		{in: "1", waid: true},
		{in: "+16505551234"},
		{in: "us.1234"},
		{in: "USA.1234"},
		{in: "US."},
		{in: "US..1"},
		{in: "US.1."},
		{in: "US.12-34"},
		{in: "US.12 34"},
		{in: ""},
		{in: "123456789012345678901"},
	}
	for _, tt := range tests {
		if got := IsBSUID(tt.in); got != tt.bsuid {
			t.Errorf("IsBSUID(%q) = %v, want %v", tt.in, got, tt.bsuid)
		}
		if got := IsWaID(tt.in); got != tt.waid {
			t.Errorf("IsWaID(%q) = %v, want %v", tt.in, got, tt.waid)
		}
	}
}

func TestMessageCustomer(t *testing.T) {
	t.Parallel()
	sheena := Contact{Profile: Profile{Name: "Sheena", Username: "@sheena"}, WaID: fixtureWaID, UserID: fixtureUserID, ParentUserID: fixtureParent}
	other := Contact{Profile: Profile{Name: "Other"}, WaID: "447700900123", UserID: "GB.555"}
	tests := []struct {
		name     string
		msg      Message
		contacts []Contact
		want     CustomerRef
	}{
		{
			name:     "phone and user id, contact fills profile",
			msg:      Message{From: fixtureWaID, FromUserID: fixtureUserID},
			contacts: []Contact{sheena},
			want:     CustomerRef{UserID: fixtureUserID, WaID: fixtureWaID, ParentUserID: fixtureParent, ProfileName: "Sheena", Username: "@sheena"},
		},
		{
			name:     "legacy payload: phone only",
			msg:      Message{From: fixtureWaID},
			contacts: []Contact{{Profile: Profile{Name: "Sheena"}, WaID: fixtureWaID}},
			want:     CustomerRef{WaID: fixtureWaID, ProfileName: "Sheena"},
		},
		{
			name:     "from is a BSUID",
			msg:      Message{From: "US.1234"},
			contacts: []Contact{{Profile: Profile{Username: "@u"}, UserID: "US.1234"}},
			want:     CustomerRef{UserID: "US.1234", Username: "@u"},
		},
		{
			name:     "from BSUID, contact also knows the phone",
			msg:      Message{From: fixtureUserID},
			contacts: []Contact{sheena},
			want:     CustomerRef{UserID: fixtureUserID, WaID: fixtureWaID, ParentUserID: fixtureParent, ProfileName: "Sheena", Username: "@sheena"},
		},
		{
			name:     "picks the matching contact in a batch",
			msg:      Message{From: fixtureWaID},
			contacts: []Contact{other, sheena},
			want:     CustomerRef{UserID: fixtureUserID, WaID: fixtureWaID, ParentUserID: fixtureParent, ProfileName: "Sheena", Username: "@sheena"},
		},
		{
			name:     "a contradicting single contact is not merged",
			msg:      Message{From: fixtureWaID},
			contacts: []Contact{other},
			want:     CustomerRef{WaID: fixtureWaID},
		},
		{
			name:     "a single id-less contact is merged",
			msg:      Message{From: fixtureWaID},
			contacts: []Contact{{Profile: Profile{Name: "Anon"}}},
			want:     CustomerRef{WaID: fixtureWaID, ProfileName: "Anon"},
		},
		{
			name: "explicit from_user_id wins over a BSUID in from",
			msg:  Message{From: "US.1", FromUserID: "US.2"},
			want: CustomerRef{UserID: "US.2"},
		},
		{
			name: "garbage from is ignored",
			msg:  Message{From: "not-an-id"},
			want: CustomerRef{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.msg.Customer(tt.contacts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Customer() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusCustomer(t *testing.T) {
	t.Parallel()
	s := Status{RecipientID: fixtureWaID, Contacts: []Contact{{Profile: Profile{Name: "Sheena"}, WaID: fixtureWaID, UserID: fixtureUserID}}}
	want := CustomerRef{UserID: fixtureUserID, WaID: fixtureWaID, ProfileName: "Sheena"}
	if diff := cmp.Diff(want, s.Customer(nil)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	bs := Status{RecipientID: "US.77"}
	if got := bs.Customer(nil); got.UserID != "US.77" || got.WaID != "" {
		t.Errorf("BSUID recipient = %+v", got)
	}
}

func TestCustomerE164(t *testing.T) {
	t.Parallel()
	got, err := CustomerRef{WaID: "40721234567"}.E164()
	if err != nil || got != "+40721234567" {
		t.Errorf("E164() = %q, %v", got, err)
	}
	if _, err := (CustomerRef{UserID: "US.1"}).E164(); !errors.Is(err, ErrNoPhone) {
		t.Errorf("no phone: %v", err)
	}
	if _, err := (CustomerRef{WaID: "12"}).E164(); !errors.Is(err, phone.ErrInvalid) {
		t.Errorf("bad wa_id: %v", err)
	}
	if !(CustomerRef{}).IsZero() || (CustomerRef{UserID: "US.1"}).IsZero() {
		t.Error("IsZero")
	}
}

func TestMetadataDisplayE164(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "15550783881", want: "+15550783881"},
		{in: "+250 788 123 200", want: "+250788123200"},
		{in: "", wantErr: true},
		{in: "phone", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Metadata{DisplayPhoneNumber: tt.in}.DisplayE164()
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("DisplayE164(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestContentWithoutContentObject(t *testing.T) {
	t.Parallel()
	// A message whose content object is missing must still give a usable Content.
	for _, mt := range append(MessageTypes, "hologram") {
		m := Message{Type: mt}
		c := m.Content()
		if c.Kind != mt {
			t.Errorf("%s: kind = %q", mt, c.Kind)
		}
		wantSupported := KnownMessageType(mt) && mt != MessageTypeUnsupported && mt != MessageTypeUnknown
		if c.Supported != wantSupported {
			t.Errorf("%s: supported = %v, want %v", mt, c.Supported, wantSupported)
		}
	}
}

func TestHasFreeEntryReferral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  *Referral
		want bool
	}{
		{name: "none", ref: nil},
		{name: "ad", ref: &Referral{SourceType: "ad"}, want: true},
		{name: "post", ref: &Referral{SourceType: "post"}, want: true},
		{name: "upper case", ref: &Referral{SourceType: "AD"}, want: true},
		{name: "ctwa clid only", ref: &Referral{CtwaClid: "ARAk"}, want: true},
		{name: "other source", ref: &Referral{SourceType: "unknown"}},
	}
	for _, tt := range tests {
		if got := (&Message{Referral: tt.ref}).HasFreeEntryReferral(); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
