package webhook

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/whatsapp"
)

// requireSameEncoding fails when encodeEvent and marshalASCII disagree on ev (bytes or error).
func requireSameEncoding(t *testing.T, ev *InboundEvent) {
	t.Helper()
	want, werr := marshalASCII(ev)
	got, gerr := encodeEvent(ev)
	if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
		t.Fatalf("errors differ: encodeEvent %v, marshalASCII %v", gerr, werr)
	}
	if string(got) != string(want) {
		t.Fatalf("encodeEvent differs from marshalASCII:\n got %s\nwant %s", got, want)
	}
}

// fixtureEvents builds the event of every message of every payload fixture, in the variants the
// handler produces (window or none, stop keyword, unknown sender, truncated).
func fixtureEvents(t *testing.T) []*InboundEvent {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "whatsapp", "testdata", "payloads", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	now := time.Unix(1764010000, 123456789).UTC()
	var out []*InboundEvent
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n, err := whatsapp.DecodeNotification(body)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for e, c := range n.Changes() {
			v, err := c.Decode()
			mv, ok := v.(*whatsapp.MessagesValue)
			if err != nil || !ok {
				continue
			}
			for i := range mv.Messages {
				m := &mv.Messages[i]
				cust := m.Customer(mv.Contacts)
				ev := &InboundEvent{Version: EventVersion, WAMID: m.ID, WABAID: e.ID.String(),
					Sender: EventSender{PhoneNumberID: mv.Metadata.PhoneNumberID.String(), Phone: "+15550783881", Known: true},
					Customer: EventCustomer{UserID: cust.UserID, ParentUserID: cust.ParentUserID, WaID: cust.WaID,
						ProfileName: cust.ProfileName, Username: cust.Username},
					Type: m.Type, Content: m.Content(), Timestamp: m.Timestamp.Time(), Context: m.Context,
					Referral: m.Referral, GroupID: m.GroupID, Errors: m.Errors, Raw: m.Raw, ReceivedAt: now}
				out = append(out, ev)
				with := *ev
				with.Window = &EventWindow{ExpiresAt: now.Add(24 * time.Hour), FreeEntry: true}
				with.StopKeyword, with.Customer.Phone = true, "+16505551234"
				out = append(out, &with)
				bare := *ev
				bare.Sender = EventSender{PhoneNumberID: ev.Sender.PhoneNumberID}
				bare.Content = whatsapp.Content{Kind: ev.Content.Kind, Supported: ev.Content.Supported}
				bare.Raw, bare.Errors, bare.Referral, bare.Truncated = nil, nil, nil, true
				out = append(out, &bare)
			}
		}
	}
	return out
}

func TestEncodeEventIsMarshalASCII(t *testing.T) {
	t.Parallel()
	events := fixtureEvents(t)
	if len(events) < 60 {
		t.Fatalf("only %d events from the fixtures", len(events))
	}
	for _, ev := range events {
		requireSameEncoding(t, ev)
	}
	odd := []string{"", "plain", `q"uote\back`, "<b>&amp;</b>", "\x00\x01\b\f\n\r\t\x1f\x7f", "caf\u00e9 \u2615 \U0001F600",
		"\u2028\u2029", "bad\xff\xfeutf8\xc3", "\ufffd", "\ufeff", "\U0010FFFF"}
	base := events[0]
	for _, s := range odd {
		ev := *base
		ev.WAMID, ev.Customer.ProfileName, ev.Content.Text, ev.Content.Emoji, ev.GroupID = s, s, s, s, s
		requireSameEncoding(t, &ev)
	}
	for _, ts := range []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 5000, time.FixedZone("x", 5*3600+30*60)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600))} {
		ev := *base
		ev.Timestamp = ts
		requireSameEncoding(t, &ev)
		ev.Timestamp, ev.Window = base.Timestamp, &EventWindow{ExpiresAt: ts}
		requireSameEncoding(t, &ev)
	}
}

// FuzzEncodeEvent checks encodeEvent against marshalASCII on arbitrary strings and times.
func FuzzEncodeEvent(f *testing.F) {
	f.Add("wamid.1", "Sheena", "Hi! <3 & caf\u00e9 \U0001F600", int64(1764000000), int32(0))
	f.Add("\x00", "\xff", "\u2028", int64(-62135596801), int32(-3600))
	f.Fuzz(func(t *testing.T, id, name, text string, sec int64, off int32) {
		ts := time.Unix(sec, 0).In(time.FixedZone("z", int(off%(26*3600))))
		ev := &InboundEvent{Version: EventVersion, WAMID: id, WABAID: name, Sender: EventSender{PhoneNumberID: id, Phone: text},
			Customer: EventCustomer{UserID: id, ProfileName: name, Username: text}, Type: name,
			Content:   whatsapp.Content{Kind: name, Text: text, Caption: id, Emoji: text, Voice: len(text)%2 == 0},
			Timestamp: ts, GroupID: text, Window: &EventWindow{ExpiresAt: ts, FreeEntry: true}, ReceivedAt: ts,
			Context: &whatsapp.MessageContext{ID: text}, Errors: []whatsapp.ErrorInfo{{Title: text}}}
		requireSameEncoding(t, ev)
	})
}
