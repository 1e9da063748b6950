package numberpool_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/carrier"
	"github.com/aloro/wa-senders/shared/carrier/twilio"
	"github.com/aloro/wa-senders/shared/carrierfake"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/numberpool"
)

const num1 = "+40721000001"

func TestBuyAndVerifyBySMS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliverCodes()
	ctx := context.Background()
	n, err := e.pool.Buy(ctx, "req-1", num1)
	if err != nil {
		t.Fatal(err)
	}
	if n.Country != "RO" || n.MetaID == "" || n.Method != numberpool.MethodSMS {
		t.Fatalf("after buy: %+v", n)
	}
	v := e.waitState(t, num1, numberpool.StateVerified)
	if want := e.clock.Now().Add(graphfake.PreVerifiedValidity); !v.VerifiedUntil.Equal(want.Truncate(time.Second)) {
		t.Fatalf("verified until %s, want %s", v.VerifiedUntil, want)
	}
	if p := e.carrier.Purchases(); len(p) != 1 || p[0].Hooks != e.pool.Hooks() {
		t.Fatalf("purchases: %+v", p)
	}
	if ids, err := e.pool.OfferedIDs(ctx); err != nil || len(ids) != 1 || ids[0] != v.MetaID {
		t.Fatalf("offered ids: %v %v", ids, err)
	}
	e.assertNothingLeaked(t)
}

func TestBuyAndVerifyByVoiceTranscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *numberpool.Options) { o.VoiceCountries = []string{"RO"} })
	e.deliverCodes()
	n, err := e.pool.Buy(context.Background(), "req-v", num1)
	if err != nil {
		t.Fatal(err)
	}
	if n.Method != numberpool.MethodVoice {
		t.Fatalf("method %s, want VOICE for RO", n.Method)
	}
	e.waitState(t, num1, numberpool.StateVerified)
	pv := e.graph.PreVerifiedNumbers()
	if len(pv) != 1 || pv[0].LastMethod != "VOICE" || pv[0].Status != "VERIFIED" {
		t.Fatalf("at Meta: %+v", pv)
	}
	e.assertNothingLeaked(t)
}

func TestSMSRefusedFallsBackToVoice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliverCodes()
	if err := e.graph.Script(graphfake.Script{Path: graphfake.PathRequestCode, ErrorCode: 136024}); err != nil {
		t.Fatal(err)
	}
	n, err := e.pool.Buy(context.Background(), "req-fb", num1)
	if err != nil {
		t.Fatal(err)
	}
	if n.Method != numberpool.MethodVoice {
		t.Fatalf("method %s, want the VOICE fallback", n.Method)
	}
	e.waitState(t, num1, numberpool.StateVerified)
}

func TestBuyIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a, err := e.pool.Buy(ctx, "req-1", num1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.pool.Buy(ctx, "req-1", num1)
	if err != nil || b.CarrierSID != a.CarrierSID {
		t.Fatalf("second buy: %+v %v", b, err)
	}
	if got := e.carrier.Requests("buy"); got != 1 {
		t.Fatalf("%d buy requests at the carrier, want 1", got)
	}
	if _, err := e.pool.Buy(ctx, "req-1", "+40721000002"); !errors.Is(err, numberpool.ErrRequestReused) {
		t.Fatalf("request id reused: %v", err)
	}
	if _, err := e.pool.Buy(ctx, "req-2", num1); !errors.Is(err, numberpool.ErrTaken) {
		t.Fatalf("same number, other request: %v", err)
	}
	e.assertNothingLeaked(t)
}

func TestBuyFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("carrier refuses: nothing bought, same answer on retry", func(t *testing.T) {
		e := newEnv(t)
		e.carrier.AddFault(carrierfake.Fault{Op: "buy", Status: 400, Code: 21422})
		_, err := e.pool.Buy(ctx, "req-r", num1)
		var pe *numberpool.PurchaseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "21422") {
			t.Fatalf("buy: %v", err)
		}
		if _, err := e.pool.Buy(ctx, "req-r", num1); !errors.As(err, &pe) {
			t.Fatalf("retry: %v", err)
		}
		if got := e.carrier.Requests("buy"); got != 1 {
			t.Fatalf("%d buy requests, want 1", got)
		}
		if len(e.carrier.Purchases()) != 0 {
			t.Fatal("something was bought")
		}
		e.assertNothingLeaked(t)
	})

	t.Run("answer lost after buying: found, recorded once", func(t *testing.T) {
		e := newEnv(t)
		e.carrier.AddFault(carrierfake.Fault{Op: "buy", LoseAnswer: true})
		n, err := e.pool.Buy(ctx, "req-l", num1)
		if err != nil {
			t.Fatal(err)
		}
		if p := e.carrier.Purchases(); len(p) != 1 || p[0].SID != n.CarrierSID {
			t.Fatalf("purchases %+v, number %+v", p, n)
		}
		e.assertNothingLeaked(t)
	})

	t.Run("carrier 500 without buying: retry buys once", func(t *testing.T) {
		e := newEnv(t)
		e.carrier.AddFault(carrierfake.Fault{Op: "buy", Status: 500, Code: 20500})
		if _, err := e.pool.Buy(ctx, "req-5", num1); err == nil || errors.As(err, new(*numberpool.PurchaseError)) {
			t.Fatalf("buy: %v, want a passing error", err)
		}
		if _, err := e.pool.Buy(ctx, "req-5", num1); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if len(e.carrier.Purchases()) != 1 {
			t.Fatalf("purchases: %+v", e.carrier.Purchases())
		}
		e.assertNothingLeaked(t)
	})

	t.Run("store fails after buying: retry and reconcile keep it", func(t *testing.T) {
		e := newEnv(t)
		e.mem.FailNext["number"] = errors.New("dynamodb down")
		if _, err := e.pool.Buy(ctx, "req-s", num1); err == nil {
			t.Fatal("buy succeeded with the store down")
		}
		if len(e.carrier.Purchases()) != 1 {
			t.Fatal("the carrier sold nothing")
		}
		rep, err := e.pool.Reconcile(ctx)
		if err != nil || rep.IntentsSettled != 1 {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		if n, err := e.pool.Buy(ctx, "req-s", num1); err != nil || n.CarrierSID != e.carrier.Purchases()[0].SID {
			t.Fatalf("retry: %+v %v", n, err)
		}
		if got := e.carrier.Requests("buy"); got != 1 {
			t.Fatalf("%d buy requests, want 1", got)
		}
		e.assertNothingLeaked(t)
	})

	t.Run("process died between buy and record: reconcile finds it", func(t *testing.T) {
		e := newEnv(t)
		// An intent written, the carrier asked, then nothing: the process died.
		if _, err := e.store.UpdateIntent(ctx, "req-d", func(*numberpool.Intent) (*numberpool.Intent, error) {
			return &numberpool.Intent{RequestID: "req-d", E164: num1, State: numberpool.IntentPending,
				LeaseUntil: e.clock.Now().Add(2 * time.Minute), CreatedAt: e.clock.Now()}, nil
		}); err != nil {
			t.Fatal(err)
		}
		tw := twilioFor(t, e)
		if _, err := tw.Buy(ctx, num1, e.pool.Hooks(), "pool"); err != nil {
			t.Fatal(err)
		}
		if rep, _ := e.pool.Reconcile(ctx); rep.IntentsSettled != 0 {
			t.Fatalf("settled a leased intent: %+v", rep)
		}
		e.clock.Add(3 * time.Minute)
		if rep, err := e.pool.Reconcile(ctx); err != nil || rep.IntentsSettled != 1 {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		e.assertNothingLeaked(t)
	})

	t.Run("pending intent with nothing bought fails after an hour", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.store.UpdateIntent(ctx, "req-n", func(*numberpool.Intent) (*numberpool.Intent, error) {
			return &numberpool.Intent{RequestID: "req-n", E164: num1, State: numberpool.IntentPending, CreatedAt: e.clock.Now()}, nil
		}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(2 * time.Hour)
		if rep, err := e.pool.Reconcile(ctx); err != nil || rep.IntentsFailed != 1 {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		in, _ := e.store.GetIntent(ctx, "req-n")
		if in.State != numberpool.IntentFailed || len(e.carrier.Purchases()) != 0 {
			t.Fatalf("intent %+v", in)
		}
	})
}

func twilioFor(t *testing.T, e *env) carrier.Carrier {
	t.Helper()
	srv := newServer(t, e.carrier)
	return twilio.New(twilio.Options{BaseURL: srv, AccountSID: e.carrier.AccountSID(), AuthToken: e.carrier.AuthToken()})
}

func TestVerificationFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	unverified := func(t *testing.T, e *env, reason string) {
		t.Helper()
		n := e.waitState(t, num1, numberpool.StateUnverified)
		if !strings.Contains(n.Reason, reason) {
			t.Fatalf("reason %q, want it to say %q", n.Reason, reason)
		}
	}
	retryVerifies := func(t *testing.T, e *env) {
		t.Helper()
		e.deliverCodes()
		if _, err := e.pool.StartVerification(ctx, num1, ""); err != nil {
			t.Fatalf("retry: %v", err)
		}
		e.waitState(t, num1, numberpool.StateVerified)
	}

	t.Run("wrong code", func(t *testing.T) {
		e := newEnv(t) // no code sender: we deliver a wrong one ourselves
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.carrier.DeliverSMS(ctx, num1, "+16505550100", "Your WhatsApp code 000-000"); err != nil {
			t.Fatal(err)
		}
		unverified(t, e, "wrong")
		retryVerifies(t, e)
	})
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		if rep, _ := e.pool.Reconcile(ctx); rep.TimedOut != 0 {
			t.Fatal("timed out early")
		}
		e.clock.Add(numberpool.DefaultCodeTimeout + time.Second)
		if rep, err := e.pool.Reconcile(ctx); err != nil || rep.TimedOut != 1 {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		unverified(t, e, "timeout")
		retryVerifies(t, e)
	})
	t.Run("request_code refused by SMS and call", func(t *testing.T) {
		e := newEnv(t)
		if err := e.graph.Script(graphfake.Script{Path: graphfake.PathRequestCode, ErrorCode: 136024, Times: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		unverified(t, e, "request_code failed")
		retryVerifies(t, e)
	})
	t.Run("add_phone_numbers refused", func(t *testing.T) {
		e := newEnv(t)
		if err := e.graph.Script(graphfake.Script{Path: "*/add_phone_numbers", ErrorCode: 100}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		unverified(t, e, "business portfolio")
		retryVerifies(t, e)
	})
	t.Run("verify_code Meta error", func(t *testing.T) {
		e := newEnv(t)
		e.deliverCodes()
		if err := e.graph.Script(graphfake.Script{Path: graphfake.PathVerifyCode, ErrorCode: 131000}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		unverified(t, e, "verify_code failed")
	})
	t.Run("verify_code accepted, answer lost", func(t *testing.T) {
		e := newEnv(t)
		e.deliverCodes()
		if err := e.graph.Script(graphfake.Script{Path: graphfake.PathVerifyCode, LoseAnswer: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		e.waitState(t, num1, numberpool.StateVerified)
	})
	t.Run("transcription without a code", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.carrier.DeliverCall(ctx, num1, "+16505550100", "hello this is not a code"); err != nil {
			t.Fatal(err)
		}
		unverified(t, e, "no 6-digit code")
	})
	t.Run("an SMS without a code is ignored", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.carrier.DeliverSMS(ctx, num1, "+40700000000", "win a prize"); err != nil {
			t.Fatal(err)
		}
		n, _ := e.store.GetNumber(ctx, num1)
		if n.State != numberpool.StateVerifying {
			t.Fatalf("state %s", n.State)
		}
	})
	t.Run("verified numbers re-verify only in the window", func(t *testing.T) {
		e := newEnv(t)
		e.deliverCodes()
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		v := e.waitState(t, num1, numberpool.StateVerified)
		if _, err := e.pool.StartVerification(ctx, num1, ""); !errors.Is(err, numberpool.ErrState) {
			t.Fatalf("early re-verification: %v", err)
		}
		if rep, _ := e.pool.Reconcile(ctx); rep.Reverifying != 0 {
			t.Fatal("re-verifying early")
		}
		e.clock.Add(v.VerifiedUntil.Sub(e.clock.Now()) - numberpool.DefaultReverifyBefore + time.Hour)
		if rep, err := e.pool.Reconcile(ctx); err != nil || rep.Reverifying != 1 {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, _ := e.store.GetNumber(ctx, num1)
			if n.State == numberpool.StateVerified && n.VerifiedUntil.After(v.VerifiedUntil) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not re-verified: %+v", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestWebhookRefusesAndIgnores(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.GetNumber(ctx, num1)
	post := func(path string, p url.Values, sig string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.hookURL+path, strings.NewReader(p.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set(carrier.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	token := e.carrier.AuthToken()
	sms := url.Values{"MessageSid": {"SM1"}, "AccountSid": {e.carrier.AccountSID()}, "To": {num1}, "From": {"+1"}, "Body": {"code 111-111"}}
	cases := []struct {
		name, path string
		p          url.Values
		sig        string
		status     int
		body       string
	}{
		{"missing signature", "/carrier/sms", sms, "", 403, "<Response/>"},
		{"bad signature", "/carrier/sms", sms, carrier.Sign("other", e.hookURL+"/carrier/sms", sms), 403, "<Response/>"},
		{"signed for another URL", "/carrier/sms", sms, carrier.Sign(token, e.hookURL+"/carrier/voice", sms), 403, "<Response/>"},
		{"sms to a number not ours", "/carrier/sms", url.Values{"MessageSid": {"SM2"}, "To": {"+40721999999"}, "Body": {"123456"}},
			"", 200, "<Response/>"},
		{"call to a number not ours", "/carrier/voice", url.Values{"CallSid": {"CA2"}, "To": {"+40721999999"}}, "", 200, "<Reject/>"},
		{"call to ours is recorded and transcribed", "/carrier/voice", url.Values{"CallSid": {"CA3"}, "To": {num1}}, "", 200, `transcribe="true"`},
		{"not a webhook we know", "/carrier/sms", url.Values{"To": {num1}}, "", 200, "<Response/>"},
	}
	for _, c := range cases {
		sig := c.sig
		if sig == "" && c.status == 200 {
			sig = carrier.Sign(token, e.hookURL+c.path, c.p)
		}
		status, body := post(c.path, c.p, sig)
		if status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d containing %q", c.name, status, body, c.status, c.body)
		}
	}
	after, _ := e.store.GetNumber(ctx, num1)
	if after.State != before.State || after.Attempt != before.Attempt || len(after.Seen) != 0 {
		t.Fatalf("refused webhooks changed the number: %+v → %+v", before, after)
	}

	// A replay of an applied SMS changes nothing.
	e.graph.SetCodeSender(nil)
	wrong := url.Values{"MessageSid": {"SM9"}, "To": {num1}, "From": {"+1"}, "Body": {"code 000-000"}}
	sig := carrier.Sign(token, e.hookURL+"/carrier/sms", wrong)
	if status, _ := post("/carrier/sms", wrong, sig); status != 200 {
		t.Fatalf("first delivery: %d", status)
	}
	failed := e.waitState(t, num1, numberpool.StateUnverified)
	if _, err := e.pool.StartVerification(ctx, num1, ""); err != nil {
		t.Fatal(err)
	}
	if status, _ := post("/carrier/sms", wrong, sig); status != 200 {
		t.Fatalf("replay: %d", status)
	}
	n, _ := e.store.GetNumber(ctx, num1)
	if n.State != numberpool.StateVerifying || n.Attempt != failed.Attempt+1 {
		t.Fatalf("replay changed the number: %+v", n)
	}
}

func TestClaimReturnRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *numberpool.Options) { o.Hold = 30 * 24 * time.Hour })
	ctx := context.Background()
	if claimed, err := e.pool.Claim(ctx, num1, "biz-1", "106540352200001"); err != nil || claimed {
		t.Fatalf("claim of a number not ours: %v %v", claimed, err)
	}
	if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
		t.Fatal(err)
	}
	// Not verified yet (no code is delivered): not claimable.
	if _, err := e.pool.Claim(ctx, num1, "biz-1", "106540352200001"); !errors.Is(err, numberpool.ErrState) {
		t.Fatalf("claim while verifying: %v", err)
	}
	e.deliverCodes()
	if _, err := e.pool.StartVerification(ctx, num1, ""); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, num1, numberpool.StateVerified)
	for i := 0; i < 2; i++ {
		if claimed, err := e.pool.Claim(ctx, num1, "biz-1", "106540352200001"); err != nil || !claimed {
			t.Fatalf("claim %d: %v %v", i, claimed, err)
		}
	}
	if _, err := e.pool.Claim(ctx, num1, "biz-2", "106540352200002"); !errors.Is(err, numberpool.ErrAlreadyClaimed) {
		t.Fatalf("claim by another business: %v", err)
	}
	offers, err := e.pool.Available(ctx, "RO", carrier.KindMobile, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offers {
		if o.E164 == num1 {
			t.Fatalf("a claimed number is offered: %+v", o)
		}
	}
	if ok, err := e.pool.Return(ctx, num1); err != nil || !ok {
		t.Fatalf("return: %v %v", ok, err)
	}
	e.clock.Add(29 * 24 * time.Hour)
	if rep, _ := e.pool.Reconcile(ctx); rep.Released != 0 {
		t.Fatal("released inside the hold")
	}
	e.clock.Add(2 * 24 * time.Hour)
	if rep, err := e.pool.Reconcile(ctx); err != nil || rep.Released != 1 {
		t.Fatalf("reconcile: %+v %v", rep, err)
	}
	if p := e.carrier.Purchases(); len(p) != 1 || !p[0].Released() {
		t.Fatalf("purchases: %+v", p)
	}
	if ok, _ := e.pool.Owns(ctx, num1); ok {
		t.Fatal("a released number is still ours")
	}
	e.assertNothingLeaked(t)
}

func TestAvailableListsPoolFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliverCodes()
	ctx := context.Background()
	if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, num1, numberpool.StateVerified)
	offers, err := e.pool.Available(ctx, "RO", carrier.KindMobile, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 5 || offers[0].E164 != num1 || offers[0].Source != "pool" || offers[1].Source != "carrier" {
		t.Fatalf("offers: %+v", offers)
	}
	for _, o := range offers[1:] {
		if o.E164 == num1 {
			t.Fatal("our number offered twice")
		}
	}
}

func TestWABAModeAttachVerifiesAndClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *numberpool.Options) { o.Mode = numberpool.ModeWABA })
	e.deliverCodes()
	ctx := context.Background()
	n, err := e.pool.Buy(ctx, "r", num1)
	if err != nil {
		t.Fatal(err)
	}
	if n.State != numberpool.StateUnverified || n.MetaID != "" {
		t.Fatalf("in waba mode a bought number waits for a WABA: %+v", n)
	}
	if _, err := e.pool.AttachToWABA(ctx, num1, "102290129340398", "biz-1", "Lucky Shrub"); err != nil {
		t.Fatal(err)
	}
	c := e.waitState(t, num1, numberpool.StateClaimed)
	if c.ClaimedBy != "biz-1" || c.PhoneNumberID == "" || c.PhoneNumberID != c.MetaID {
		t.Fatalf("claimed: %+v", c)
	}
	e.assertNothingLeaked(t)
}

// TestConcurrentBuysBuyOnce: callers racing with one request id buy the number once.
func TestConcurrentBuysBuyOnce(t *testing.T) {
	t.Parallel()
	concurrentBuys(t, newEnv(t))
}

func concurrentBuys(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := e.pool.Buy(ctx, "req-race", num1)
			errs <- err
		}()
	}
	ok := 0
	for i := 0; i < n; i++ {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, numberpool.ErrInProgress):
			t.Errorf("racing buy: %v", err)
		}
	}
	if ok == 0 {
		t.Fatal("no caller bought")
	}
	if got := e.carrier.Requests("buy"); got != 1 {
		t.Fatalf("%d buy requests at the carrier, want 1", got)
	}
	if n, err := e.pool.Buy(ctx, "req-race", num1); err != nil || n.CarrierSID == "" {
		t.Fatalf("after the race: %+v %v", n, err)
	}
	e.assertNothingLeaked(t)
}

func TestReleaseFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := func(t *testing.T) *env {
		e := newEnv(t)
		e.deliverCodes()
		if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
			t.Fatal(err)
		}
		e.waitState(t, num1, numberpool.StateVerified)
		if ok, err := e.pool.Claim(ctx, num1, "biz-1", "106540352200001"); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if ok, err := e.pool.Return(ctx, num1); err != nil || !ok {
			t.Fatalf("return: %v %v", ok, err)
		}
		e.clock.Add(numberpool.DefaultHold + time.Hour)
		return e
	}
	t.Run("carrier fails: kept, released on the next run", func(t *testing.T) {
		e := setup(t)
		e.carrier.AddFault(carrierfake.Fault{Op: "release", Status: 500, Code: 20500})
		if rep, err := e.pool.Reconcile(ctx); err == nil || rep.Released != 0 || rep.Errors != 1 {
			t.Fatalf("reconcile: %+v %v", rep, err)
		}
		if n, _ := e.store.GetNumber(ctx, num1); n.State != numberpool.StateUnverified {
			t.Fatalf("state %s", n.State)
		}
		e.assertNothingLeaked(t)
		if rep, err := e.pool.Reconcile(ctx); err != nil || rep.Released != 1 {
			t.Fatalf("second run: %+v %v", rep, err)
		}
		e.assertNothingLeaked(t)
	})
	t.Run("released, answer lost: the next run notes it", func(t *testing.T) {
		e := setup(t)
		e.carrier.AddFault(carrierfake.Fault{Op: "release", LoseAnswer: true})
		if _, err := e.pool.Reconcile(ctx); err == nil {
			t.Fatal("a lost answer reported success")
		}
		if rep, err := e.pool.Reconcile(ctx); err != nil || rep.Released != 1 {
			t.Fatalf("second run: %+v %v", rep, err)
		}
		e.assertNothingLeaked(t)
	})
	t.Run("store fails after releasing: the next run notes it", func(t *testing.T) {
		e := setup(t)
		e.mem.FailNext["number"] = errors.New("dynamodb down")
		if _, err := e.pool.Reconcile(ctx); err == nil {
			t.Fatal("no error")
		}
		if rep, err := e.pool.Reconcile(ctx); err != nil || rep.Released != 1 {
			t.Fatalf("second run: %+v %v", rep, err)
		}
		e.assertNothingLeaked(t)
	})
}

func TestRequestCodeAnswerLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliverCodes()
	if err := e.graph.Script(graphfake.Script{Path: graphfake.PathRequestCode, LoseAnswer: true}); err != nil {
		t.Fatal(err)
	}
	n, err := e.pool.Buy(context.Background(), "r", num1)
	if err != nil || n.State != numberpool.StateVerifying {
		t.Fatalf("buy: %+v %v (a lost answer keeps waiting for the code)", n, err)
	}
	e.waitState(t, num1, numberpool.StateVerified)
}

func TestWebhookTransport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodGet, "/carrier/sms", "", http.StatusMethodNotAllowed},
		{http.MethodPost, "/carrier/fax", "", http.StatusNotFound},
		{http.MethodPost, "/carrier/sms", strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge},
		{http.MethodPost, "/carrier/sms", "%zz", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(c.method, e.hookURL+c.path, strings.NewReader(c.body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.status || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/xml") {
			t.Errorf("%s %s: %d %s, want %d TwiML", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), c.status)
		}
	}
	if _, err := numberpool.NewWebhook(e.pool, "", nil); !errors.Is(err, carrier.ErrNoSecret) {
		t.Fatalf("empty token: %v", err)
	}
}

// TestCallsToClaimedNumbersAreNotRecorded: only Meta's verification call is recorded and
// transcribed; a call to a number a business holds is rejected.
func TestCallsToClaimedNumbersAreNotRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliverCodes()
	ctx := context.Background()
	if _, err := e.pool.Buy(ctx, "r", num1); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, num1, numberpool.StateVerified)
	if ok, err := e.pool.Claim(ctx, num1, "biz-1", "106540352200001"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	p := url.Values{"CallSid": {"CA77"}, "To": {num1}, "From": {"+40700000000"}}
	req, _ := http.NewRequest(http.MethodPost, e.hookURL+"/carrier/voice", strings.NewReader(p.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(carrier.SignatureHeader, carrier.Sign(e.carrier.AuthToken(), e.hookURL+"/carrier/voice", p))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 512)
	n, _ := res.Body.Read(buf)
	if res.StatusCode != 200 || !strings.Contains(string(buf[:n]), "<Reject/>") {
		t.Fatalf("call to a claimed number: %d %s", res.StatusCode, buf[:n])
	}
}
