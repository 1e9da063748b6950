package graphfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
)

// The graph client against the fake: the two must agree on Meta's documented shapes.

func newPair(t *testing.T, o graphfake.Options, timeout time.Duration) (*graphfake.Fake, *graph.Client) {
	t.Helper()
	f, base := graphfake.ServeNew(t, o)
	c := graph.New(graph.Options{BaseURL: base, Version: "v24.0", Token: f.Token(), Timeout: timeout})
	return f, c
}

var hello = graph.Message{To: "+16505551234", Text: &graph.Text{Body: "hello"}, BizOpaqueCallbackData: "job-9"}

func TestClientHappyPaths(t *testing.T) {
	t.Parallel()
	f, c := newPair(t, graphfake.Options{}, 2*time.Second)
	ctx := context.Background()

	res, err := c.SendMessage(ctx, "106540352242922", hello)
	if err != nil {
		t.Fatal(err)
	}
	if res.MessageStatus != "accepted" || res.ContactWaID != "16505551234" || res.ContactInput != "+16505551234" {
		t.Fatalf("result = %+v", res)
	}
	s := f.Sends()
	if len(s) != 1 || s[0].WAMID != res.WAMID || s[0].BizOpaqueCallbackData != "job-9" || s[0].Type != "text" {
		t.Fatalf("sends = %+v", s)
	}

	tmpl := graph.Message{To: "40721234567", Template: &graph.Template{Name: "order_update", Language: graph.Language{Code: "ro"},
		Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"Ana"}]}]`)}}
	if _, err := c.SendMessage(ctx, "106540352242922", tmpl); err != nil {
		t.Fatal(err)
	}
	bsuid := graph.Message{Recipient: "RO.123456", Image: &graph.Media{Link: "https://example.com/a.png", Caption: "a"}}
	res, err = c.SendMessage(ctx, "106540352242922", bsuid)
	if err != nil || res.ContactUserID != "RO.123456" || res.ContactWaID != "" {
		t.Fatalf("bsuid send = %+v, %v", res, err)
	}

	const id = "200"
	f.SetPhoneNumber(id, graphfake.PhoneNumberState{Status: "UNVERIFIED", CodeVerificationStatus: "NOT_VERIFIED"})
	if err := c.RequestCode(ctx, id, graph.CodeMethodSMS, "en_US"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyCode(ctx, id, graphfake.DefaultVerifyCode); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, id, "212834"); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetPhoneNumber(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != graph.StatusConnected || p.CodeVerificationStatus != graph.VerificationVerified || p.ID != id ||
		p.QualityRating != graph.QualityGreen || p.MessagingLimit.Limit != 2000 || p.ThroughputLevel != graph.ThroughputStandard ||
		p.DisplayPhoneNumber != "15550000200" || p.PlatformType != "CLOUD_API" || p.AccountMode != "LIVE" || p.VerifiedName == "" {
		t.Fatalf("phone number = %+v", p)
	}
	if err := c.Deregister(ctx, id); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.GetPhoneNumber(ctx, id); p.Status != graph.StatusDisconnected {
		t.Fatalf("after deregister: %+v", p)
	}
	if _, err := c.SendMessage(ctx, id, hello); !graph.IsNotRegistered(err) {
		t.Fatalf("send from deregistered number: %v", err)
	}

	f.SetPhoneNumber("300", graphfake.PhoneNumberState{QualityRating: "YELLOW", MessagingLimit: "TIER_UNLIMITED",
		Throughput: &graphfake.Throughput{Level: "HIGH"}, Status: "RESTRICTED"})
	p, err = c.GetPhoneNumber(ctx, "300")
	if err != nil || p.QualityRating != graph.QualityYellow || !p.MessagingLimit.Unlimited || p.ThroughputLevel != graph.ThroughputHigh {
		t.Fatalf("phone number 300 = %+v, %v", p, err)
	}
	h, err := c.GetHealthStatus(ctx, "300")
	if err != nil || h.CanSendMessage != graph.CanSendBlocked || len(h.Entities) != 1 || h.Entities[0].EntityType != "PHONE_NUMBER" || len(h.Entities[0].Errors) != 1 {
		t.Fatalf("health = %+v, %v", h, err)
	}
}

func TestClientRegistrationErrors(t *testing.T) {
	t.Parallel()
	_, c := newPair(t, graphfake.Options{VerifyCode: "654321"}, 2*time.Second)
	ctx := context.Background()
	if err := c.VerifyCode(ctx, "1", "123456"); !graph.IsWrongCode(err) || graph.Classify(err) != graph.ClassWrongCode {
		t.Fatalf("wrong code: %v", err)
	}
	if err := c.Register(ctx, "1", "111111"); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, "1", "222222"); !graph.IsWrongPIN(err) {
		t.Fatalf("wrong pin: %v", err)
	}
}

// Every code of the reference's table, scripted into the fake, comes back as its class.
func TestScriptedCodesRoundTrip(t *testing.T) {
	t.Parallel()
	codes := []int{
		131047, 131026, 131049, 131050, 130429, 131056, 131048, 368, 131031, 131042, 131051,
		132000, 132005, 132007, 132012, 132001, 132015, 132016, 190, 4, 80007, 100, 1, 2, 131000,
		131016, 131057, 133010, 131045, 130497, 131021, 131062, 131064,
		133000, 133005, 133006, 133008, 133009, 133015, 133016, 136024, 136025,
	}
	f, c := newPair(t, graphfake.Options{}, 2*time.Second)
	for _, code := range codes {
		if err := f.Script(graphfake.Script{Path: graphfake.PathMessages, ErrorCode: code, ErrorSubcode: 2494055}); err != nil {
			t.Fatal(err)
		}
		_, err := c.SendMessage(context.Background(), "106540352242922", hello)
		var ge *graph.Error
		if !errors.As(err, &ge) {
			t.Fatalf("code %d: err = %T %v", code, err, err)
		}
		if ge.Code != code || ge.Subcode != 2494055 || ge.FBTraceID == "" || ge.Message == "" || ge.HTTPStatus != graphfake.StatusForCode(code) {
			t.Fatalf("code %d: parsed %+v", code, ge)
		}
		want := graph.ClassOfCode(code)
		if want == graph.ClassUnknown {
			t.Fatalf("code %d has no class", code)
		}
		if got := graph.Classify(err); got != want {
			t.Fatalf("code %d: Classify = %q; want %q", code, got, want)
		}
	}
	if len(f.Sends()) != 0 {
		t.Fatal("scripted errors were recorded as sends")
	}
}

func TestClientTransportFailures(t *testing.T) {
	t.Parallel()
	f, c := newPair(t, graphfake.Options{}, 100*time.Millisecond)
	ctx := context.Background()

	// A dropped connection.
	if err := f.Script(graphfake.Script{Path: graphfake.PathMessages, Drop: true}); err != nil {
		t.Fatal(err)
	}
	_, err := c.SendMessage(ctx, "1", hello)
	var te *graph.TransportError
	if !errors.As(err, &te) || te.Timeout() || graph.Classify(err) != graph.ClassNetwork || !graph.IsRetryable(err) {
		t.Fatalf("drop: err = %T %v", err, err)
	}

	// An answer slower than the client's timeout.
	if err := f.Script(graphfake.Script{Path: graphfake.PathMessages, Delay: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.SendMessage(ctx, "1", hello)
	if !errors.As(err, &te) || !te.Timeout() || graph.Classify(err) != graph.ClassNetwork {
		t.Fatalf("delay: err = %T %v", err, err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("client waited past its timeout")
	}

	// A 5xx without Meta's body.
	if err := f.Script(graphfake.Script{Path: graphfake.PathMessages, Status: 503, Body: "<html>busy</html>"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(ctx, "1", hello)
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Code != 0 || ge.HTTPStatus != 503 || graph.Classify(err) != graph.ClassNetwork {
		t.Fatalf("5xx: err = %v", err)
	}

	// The fake notices the client that gave up.
	waitFor(t, func() bool {
		for _, r := range f.Requests() {
			if r.ClientGone {
				return true
			}
		}
		return false
	})
	reqs := f.Requests()
	if !reqs[0].Dropped || !reqs[0].Scripted {
		t.Fatalf("drop record = %+v", reqs[0])
	}
	if f.Stats().Dropped != 1 || f.Stats().ClientGone != 1 {
		t.Fatalf("stats = %+v", f.Stats())
	}
}

func TestClientWrongToken(t *testing.T) {
	t.Parallel()
	_, base := graphfake.ServeNew(t, graphfake.Options{Token: "right"})
	c := graph.New(graph.Options{BaseURL: base, Version: "v24.0", Token: "wrong"})
	_, err := c.SendMessage(context.Background(), "1", hello)
	if !graph.IsTokenInvalid(err) || graph.Classify(err) != graph.ClassTokenInvalid || graph.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	var ge *graph.Error
	if errors.As(err, &ge); ge.HTTPStatus != 401 {
		t.Fatalf("status = %d", ge.HTTPStatus)
	}
}

func TestSendLatency(t *testing.T) {
	t.Parallel()
	f, c := newPair(t, graphfake.Options{SendLatency: 30 * time.Millisecond}, 2*time.Second)
	start := time.Now()
	if _, err := c.SendMessage(context.Background(), "1", hello); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("send answered before the configured latency")
	}
	// Latency applies to sends only.
	f.SetSendLatency(time.Hour)
	if _, err := c.GetPhoneNumber(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkSendThroughFake measures the client and fake together (no latency), in parallel:
// the floor under any outbound benchmark that uses the fake.
func BenchmarkSendThroughFake(b *testing.B) {
	f, base := graphfake.ServeNew(b, graphfake.Options{MaxRecords: 10_000})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	c := graph.New(graph.Options{BaseURL: base, Version: "v24.0", Token: f.Token(), HTTPClient: hc})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SendMessage(context.Background(), "1", hello); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSendWithLatency50ms is the load harness's "fake answering in 50 ms" case: with 64
// concurrent senders, throughput should approach 64/0.05 s = 1,280 sends/s.
func BenchmarkSendWithLatency50ms(b *testing.B) {
	f, base := graphfake.ServeNew(b, graphfake.Options{SendLatency: 50 * time.Millisecond, MaxRecords: 10_000})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	c := graph.New(graph.Options{BaseURL: base, Version: "v24.0", Token: f.Token(), HTTPClient: hc})
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.SendMessage(context.Background(), "1", hello); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

// LoseAnswer: Meta accepted the send but the client saw a transport error.
func TestClientLostAnswer(t *testing.T) {
	t.Parallel()
	f, c := newPair(t, graphfake.Options{}, 2*time.Second)
	if err := f.Script(graphfake.Script{Path: graphfake.PathMessages, LoseAnswer: true}); err != nil {
		t.Fatal(err)
	}
	_, err := c.SendMessage(context.Background(), "1", hello)
	var te *graph.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %T %v; want *graph.TransportError", err, err)
	}
	sends := f.Sends()
	if len(sends) != 1 || sends[0].BizOpaqueCallbackData != "job-9" {
		t.Fatalf("sends = %+v; want the send recorded although the answer was lost", sends)
	}
	r := f.Requests()[0]
	if !r.Dropped || r.WAMID != sends[0].WAMID || r.Status != 200 {
		t.Fatalf("record = %+v", r)
	}
}
