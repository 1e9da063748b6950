package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/graph"
)

const testToken = "secret-token-never-in-errors"

// captured is what the test server saw.
type captured struct {
	Method, Path, RawQuery, Auth, ContentType string
	Body                                      []byte
}

// recorder is an httptest server that answers with a fixed status and body and records requests.
type recorder struct {
	mu   sync.Mutex
	reqs []captured
}

func (r *recorder) last(t *testing.T) captured {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("no request reached the server")
	}
	return r.reqs[len(r.reqs)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func serve(t *testing.T, status int, body string) (*recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, captured{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Authorization"), req.Header.Get("Content-Type"), b})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return rec, srv
}

func newClient(srv *httptest.Server, opts ...func(*graph.Options)) *graph.Client {
	o := graph.Options{BaseURL: srv.URL + "//", Version: "v24.0", Token: testToken, Timeout: 2 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	return graph.New(o)
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameJSON compares two JSON documents structurally.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("fixture is not JSON: %v", err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Fatalf("body mismatch (-want +got):\n%s", d)
	}
}

func TestSendMessageRequestShape(t *testing.T) {
	t.Parallel()
	components := json.RawMessage(`[
      {"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/a.png"}}]},
      {"type":"body","parameters":[{"type":"text","text":"Jessica"}]},
      {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"TRACK"}]}]`)
	cases := []struct {
		name   string
		msg    graph.Message
		golden string
	}{
		{
			name: "text reply with callback data",
			msg: graph.Message{To: "+16505551234", Type: graph.TypeText, Text: &graph.Text{Body: "Your order shipped"},
				Context: &graph.Context{MessageID: "wamid.PREVIOUS"}, BizOpaqueCallbackData: "job-123"},
			golden: "send_text.golden.json",
		},
		{
			name: "template with inferred type",
			msg: graph.Message{To: "16505551234", Template: &graph.Template{Name: "order_update",
				Language: graph.Language{Code: "en_US"}, Components: components}},
			golden: "send_template.golden.json",
		},
		{
			name: "document to a bsuid",
			msg: graph.Message{Recipient: "US.13491208655302741918", Type: graph.TypeDocument,
				Document: &graph.Media{ID: "1234567890", Caption: "Invoice", Filename: "invoice.pdf"}},
			golden: "send_document_bsuid.golden.json",
		},
		{
			name: "interactive payload with both recipients",
			msg: graph.Message{To: "+40721234567", Recipient: "RO.998877", Type: graph.TypeInteractive,
				Payload: json.RawMessage(`{"type":"button","body":{"text":"Pick one"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}`)},
			golden: "send_interactive.golden.json",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, srv := serve(t, 200, fixture(t, "send_response.json"))
			res, err := newClient(srv).SendMessage(context.Background(), "106540352242922", tc.msg)
			if err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			want := graph.SendResult{WAMID: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
				MessageStatus: "accepted", ContactWaID: "16505551234", ContactInput: "+16505551234"}
			if d := cmp.Diff(want, res); d != "" {
				t.Fatalf("result (-want +got):\n%s", d)
			}
			got := rec.last(t)
			if got.Method != http.MethodPost || got.Path != "/v24.0/106540352242922/messages" {
				t.Fatalf("request = %s %s", got.Method, got.Path)
			}
			if got.Auth != "Bearer "+testToken {
				t.Fatalf("Authorization = %q", got.Auth)
			}
			if got.ContentType != "application/json" {
				t.Fatalf("Content-Type = %q", got.ContentType)
			}
			sameJSON(t, got.Body, fixture(t, tc.golden))
		})
	}
}

func TestSendMessageGenericPayloadType(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(graph.Message{To: "+16505551234", Type: "call_permission_request", Payload: json.RawMessage(`{"x":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, b, `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"call_permission_request","call_permission_request":{"x":1}}`)
}

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		msg  graph.Message
		ok   bool
	}{
		{"text ok", graph.Message{To: "+1", Text: &graph.Text{Body: "hi"}}, true},
		{"no recipient", graph.Message{Text: &graph.Text{Body: "hi"}}, false},
		{"no payload", graph.Message{To: "+1", Type: "text"}, false},
		{"two payloads", graph.Message{To: "+1", Text: &graph.Text{Body: "hi"}, Image: &graph.Media{ID: "1"}}, false},
		{"empty body", graph.Message{To: "+1", Text: &graph.Text{}}, false},
		{"body too long", graph.Message{To: "+1", Text: &graph.Text{Body: strings.Repeat("é", graph.MaxTextBody+1)}}, false},
		{"body at limit", graph.Message{To: "+1", Text: &graph.Text{Body: strings.Repeat("é", graph.MaxTextBody)}}, true},
		{"type mismatch", graph.Message{To: "+1", Type: "image", Text: &graph.Text{Body: "hi"}}, false},
		{"media without id or link", graph.Message{To: "+1", Image: &graph.Media{Caption: "c"}}, false},
		{"media link", graph.Message{To: "+1", Video: &graph.Media{Link: "https://x/v.mp4"}}, true},
		{"template without language", graph.Message{To: "+1", Template: &graph.Template{Name: "t"}}, false},
		{"payload without type", graph.Message{To: "+1", Payload: json.RawMessage(`{}`)}, false},
		{"bsuid only", graph.Message{Recipient: "US.1", Audio: &graph.Media{ID: "9"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.msg.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v; want ok=%v", err, tc.ok)
			}
			if err != nil && graph.Classify(err) != graph.ClassInvalidParam {
				t.Fatalf("Classify = %q; want invalid_param", graph.Classify(err))
			}
		})
	}
}

func TestSendMessageInvalidNeverCallsMeta(t *testing.T) {
	t.Parallel()
	rec, srv := serve(t, 200, fixture(t, "send_response.json"))
	c := newClient(srv)
	_, err := c.SendMessage(context.Background(), "123", graph.Message{Text: &graph.Text{Body: "x"}})
	if !errors.Is(err, graph.ErrInvalidRequest) {
		t.Fatalf("err = %v; want ErrInvalidRequest", err)
	}
	_, err = c.SendMessage(context.Background(), "", graph.Message{To: "+1", Text: &graph.Text{Body: "x"}})
	if !errors.Is(err, graph.ErrInvalidRequest) {
		t.Fatalf("empty phone number id: err = %v", err)
	}
	_, err = c.SendMessage(context.Background(), "12/../34", graph.Message{To: "+1", Text: &graph.Text{Body: "x"}})
	if !errors.Is(err, graph.ErrInvalidRequest) {
		t.Fatalf("path in phone number id: err = %v", err)
	}
	if rec.count() != 0 {
		t.Fatalf("%d requests reached the server", rec.count())
	}
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		want   graph.Error
		class  graph.Class
	}{
		{
			name: "meta pair rate body", status: 400, body: fixture(t, "error_pair_rate.json"),
			want: graph.Error{HTTPStatus: 400, Code: 131056, Subcode: 2494055, Type: "OAuthException",
				Message:   "(#131056) (Business Account, Consumer Account) pair rate limit hit",
				Details:   "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
				FBTraceID: "AbCdEf123456"},
			class: graph.ClassPairRate,
		},
		{
			name: "code as string, no error_data", status: 500, body: fixture(t, "error_string_code.json"),
			want:  graph.Error{HTTPStatus: 500, Code: 131000, Message: "(#131000) Something went wrong"},
			class: graph.ClassTransient,
		},
		{
			name: "expired token", status: 401, body: fixture(t, "error_token.json"),
			want: graph.Error{HTTPStatus: 401, Code: 190, Subcode: 463, Type: "OAuthException",
				Message: "Error validating access token: Session has expired.", FBTraceID: "Azz"},
			class: graph.ClassTokenInvalid,
		},
		{
			name: "proxy html 502", status: 502, body: fixture(t, "error_proxy.html"),
			want:  graph.Error{HTTPStatus: 502, Message: "<html> <head><title>502 Bad Gateway</title></head> <body><center><h1>502 Bad Gateway</h1></center></body> </html>"},
			class: graph.ClassNetwork,
		},
		{name: "empty 503", status: 503, body: "", want: graph.Error{HTTPStatus: 503}, class: graph.ClassNetwork},
		{name: "non-json 400", status: 400, body: "bad", want: graph.Error{HTTPStatus: 400, Message: "bad"}, class: graph.ClassUnknown},
		{name: "json without error key", status: 404, body: `{"foo":1}`, want: graph.Error{HTTPStatus: 404, Message: `{"foo":1}`}, class: graph.ClassUnknown},
		{
			name: "error inside a 200", status: 200, body: `{"error":{"message":"(#131047) Re-engagement message","code":131047}}`,
			want:  graph.Error{HTTPStatus: 200, Code: 131047, Message: "(#131047) Re-engagement message"},
			class: graph.ClassWindowClosed,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, srv := serve(t, tc.status, tc.body)
			_, err := newClient(srv).SendMessage(context.Background(), "123", graph.Message{To: "+16505551234", Text: &graph.Text{Body: "hi"}})
			var ge *graph.Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %T %v; want *graph.Error", err, err)
			}
			if d := cmp.Diff(tc.want, *ge); d != "" {
				t.Fatalf("error (-want +got):\n%s", d)
			}
			if got := graph.Classify(err); got != tc.class {
				t.Fatalf("Classify = %q; want %q", got, tc.class)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatal("error text contains the access token")
			}
		})
	}
}

func TestUnexpectedSuccessBody(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"not json", `{"messaging_product":"whatsapp","messages":[]}`} {
		_, srv := serve(t, 200, body)
		_, err := newClient(srv).SendMessage(context.Background(), "123", graph.Message{To: "+1", Text: &graph.Text{Body: "hi"}})
		if !errors.Is(err, graph.ErrUnexpectedResponse) || graph.Classify(err) != graph.ClassUnknown || graph.IsRetryable(err) {
			t.Fatalf("body %q: err = %v class %q", body, err, graph.Classify(err))
		}
	}
}

func TestTimeoutIsTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to EOF lets the server notice the client hanging up.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	c := newClient(srv, func(o *graph.Options) { o.Timeout = 50 * time.Millisecond })
	_, err := c.SendMessage(context.Background(), "123", graph.Message{To: "+1", Text: &graph.Text{Body: "hi"}})
	var te *graph.TransportError
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("err = %T %v; want timing-out *graph.TransportError", err, err)
	}
	if graph.Classify(err) != graph.ClassNetwork || !graph.IsRetryable(err) {
		t.Fatalf("Classify = %q", graph.Classify(err))
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatal("error text contains the access token")
	}
}

func TestConnectionDropIsTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	_, err := newClient(srv).SendMessage(context.Background(), "123", graph.Message{To: "+1", Text: &graph.Text{Body: "hi"}})
	var te *graph.TransportError
	if !errors.As(err, &te) || te.Timeout() {
		t.Fatalf("err = %T %v; want non-timeout *graph.TransportError", err, err)
	}
	if graph.Classify(err) != graph.ClassNetwork {
		t.Fatalf("Classify = %q", graph.Classify(err))
	}
}

func TestRefusedConnectionIsTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // the port is now closed
	c := graph.New(graph.Options{BaseURL: srv.URL, Version: "v24.0", Token: testToken})
	err := c.Deregister(context.Background(), "123")
	var te *graph.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %T %v; want *graph.TransportError", err, err)
	}
}

func TestTokenSource(t *testing.T) {
	t.Parallel()
	rec, srv := serve(t, 200, `{"success":true}`)
	calls := 0
	c := newClient(srv, func(o *graph.Options) {
		o.Token = "ignored"
		o.TokenSource = func(context.Context) (string, error) { calls++; return "from-source", nil }
	})
	if err := c.Deregister(context.Background(), "123"); err != nil {
		t.Fatal(err)
	}
	if got := rec.last(t).Auth; got != "Bearer from-source" || calls != 1 {
		t.Fatalf("Authorization = %q after %d calls", got, calls)
	}

	boom := errors.New("secrets manager down")
	failing := newClient(srv, func(o *graph.Options) {
		o.TokenSource = func(context.Context) (string, error) { return "", boom }
	})
	if err := failing.Deregister(context.Background(), "123"); !errors.Is(err, boom) {
		t.Fatalf("err = %v; want the token source's error", err)
	}
	empty := newClient(srv, func(o *graph.Options) { o.Token = "" })
	if err := empty.Deregister(context.Background(), "123"); !errors.Is(err, graph.ErrNoToken) {
		t.Fatalf("err = %v; want ErrNoToken", err)
	}
	if rec.count() != 1 {
		t.Fatalf("requests = %d; token failures must not reach the server", rec.count())
	}
}

// TestClassifyTokenSourceErrors: a failed token lookup sent nothing, so it is retried
// (ClassTransient), whatever the cause; a token refused for good is ClassTokenInvalid; a graph
// error the source wraps keeps its own class.
func TestClassifyTokenSourceErrors(t *testing.T) {
	t.Parallel()
	rec, srv := serve(t, 200, `{"messages":[{"id":"wamid.1"}]}`)
	for _, tc := range []struct {
		name string
		err  error
		want graph.Class
	}{
		{"store down", errors.New("read binding: dynamodb: throttled"), graph.ClassTransient},
		{"kms down", fmt.Errorf("open token: %w", errors.New("kms: decrypt: timeout")), graph.ClassTransient},
		{"no key", errors.New("credentials: this function holds no key to seal or open secrets"), graph.ClassTransient},
		{"deadline", context.DeadlineExceeded, graph.ClassTransient},
		{"forgotten", fmt.Errorf("%w: disconnected", graph.ErrTokenRefused), graph.ClassTokenInvalid},
		{"graph 190", &graph.Error{Code: graph.CodeTokenInvalid, HTTPStatus: 400}, graph.ClassTokenInvalid},
	} {
		for _, via := range []string{"TokenFor", "TokenSource"} {
			c := newClient(srv, func(o *graph.Options) {
				if via == "TokenFor" {
					o.TokenFor = func(context.Context, string) (string, error) { return "", tc.err }
				} else {
					o.TokenSource = func(context.Context) (string, error) { return "", tc.err }
				}
			})
			err := c.Deregister(context.Background(), "123")
			if got := graph.Classify(err); got != tc.want {
				t.Errorf("%s via %s: Classify(%v) = %s; want %s", tc.name, via, err, got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%s via %s: %v does not wrap the source's error", tc.name, via, err)
			}
			var te *graph.TokenError
			if !errors.As(err, &te) {
				t.Errorf("%s via %s: err = %T; want *graph.TokenError", tc.name, via, err)
			}
		}
	}
	if rec.count() != 0 {
		t.Fatalf("requests = %d; token failures must not reach the server", rec.count())
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	var hits []string
	var mu sync.Mutex
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		hits = append(hits, r.URL.String())
		mu.Unlock()
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"success":true}`)), Header: http.Header{}}, nil
	})
	c := graph.New(graph.Options{Version: "v24.0", Token: "t", HTTPClient: &http.Client{Transport: rt}})
	if err := c.Deregister(context.Background(), "42"); err != nil {
		t.Fatal(err)
	}
	if want := "https://graph.facebook.com/v24.0/42/deregister"; len(hits) != 1 || hits[0] != want {
		t.Fatalf("hits = %v; want %s", hits, want)
	}
	noVersion := graph.New(graph.Options{Token: "t", HTTPClient: &http.Client{Transport: rt}})
	if err := noVersion.Deregister(context.Background(), "42"); !errors.Is(err, graph.ErrInvalidRequest) {
		t.Fatalf("no version: err = %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRegistrationRequests(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		call     func(*graph.Client) error
		path     string
		body     string
		rejected bool // refused locally
	}{
		{"request code sms", func(c *graph.Client) error { return c.RequestCode(context.Background(), "77", "SMS", "en_US") },
			"/v24.0/77/request_code", `{"code_method":"SMS","language":"en_US"}`, false},
		{"request code voice", func(c *graph.Client) error { return c.RequestCode(context.Background(), "77", "VOICE", "ro") },
			"/v24.0/77/request_code", `{"code_method":"VOICE","language":"ro"}`, false},
		{"request code bad method", func(c *graph.Client) error { return c.RequestCode(context.Background(), "77", "EMAIL", "ro") }, "", "", true},
		{"verify code", func(c *graph.Client) error { return c.VerifyCode(context.Background(), "77", "123456") },
			"/v24.0/77/verify_code", `{"code":"123456"}`, false},
		{"register", func(c *graph.Client) error { return c.Register(context.Background(), "77", "212834") },
			"/v24.0/77/register", `{"messaging_product":"whatsapp","pin":"212834"}`, false},
		{"register short pin", func(c *graph.Client) error { return c.Register(context.Background(), "77", "1234") }, "", "", true},
		{"deregister", func(c *graph.Client) error { return c.Deregister(context.Background(), "77") },
			"/v24.0/77/deregister", `{}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, srv := serve(t, 200, `{"success":true}`)
			err := tc.call(newClient(srv))
			if tc.rejected {
				if !errors.Is(err, graph.ErrInvalidRequest) || rec.count() != 0 {
					t.Fatalf("err = %v, requests = %d; want local rejection", err, rec.count())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := rec.last(t)
			if got.Method != http.MethodPost || got.Path != tc.path {
				t.Fatalf("request = %s %s; want POST %s", got.Method, got.Path, tc.path)
			}
			sameJSON(t, got.Body, tc.body)
		})
	}
}

func TestRegistrationAnswers(t *testing.T) {
	t.Parallel()
	_, srv := serve(t, 200, `{"success":false}`)
	if err := newClient(srv).VerifyCode(context.Background(), "77", "1"); !errors.Is(err, graph.ErrUnexpectedResponse) {
		t.Fatalf("success=false: err = %v", err)
	}
	_, srv = serve(t, 400, `{"error":{"message":"(#136025) Verify code error","type":"OAuthException","code":136025,"error_data":{"messaging_product":"whatsapp","details":"Code couldn't be verified, You have entered the wrong code."},"fbtrace_id":"A1"}}`)
	err := newClient(srv).VerifyCode(context.Background(), "77", "000000")
	if !graph.IsWrongCode(err) || graph.Classify(err) != graph.ClassWrongCode {
		t.Fatalf("err = %v; want wrong code", err)
	}
}

func TestGetPhoneNumber(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fixture string
		want    graph.PhoneNumber
	}{
		{"documented shape", "phone_number.json", graph.PhoneNumber{
			ID: "106540352242922", DisplayPhoneNumber: "+1 631-555-1234", VerifiedName: "Lucky Shrub",
			QualityRating: "GREEN", MessagingLimit: graph.MessagingLimit{Raw: "TIER_2K", Limit: 2000},
			Status: "CONNECTED", NameStatus: "APPROVED", CodeVerificationStatus: "VERIFIED",
			ThroughputLevel: "STANDARD", PlatformType: "CLOUD_API", AccountMode: "LIVE"}},
		{"numbers and unknown enums", "phone_number_tolerant.json", graph.PhoneNumber{
			ID: "106540352242922", DisplayPhoneNumber: "16315551234", QualityRating: "PURPLE",
			MessagingLimit: graph.MessagingLimit{Raw: "1000", Limit: 1000}, Status: "SOMETHING_NEW", ThroughputLevel: "HIGH"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, srv := serve(t, 200, fixture(t, tc.fixture))
			got, err := newClient(srv).GetPhoneNumber(context.Background(), "106540352242922")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
			req := rec.last(t)
			if req.Method != http.MethodGet || req.Path != "/v24.0/106540352242922" {
				t.Fatalf("request = %s %s", req.Method, req.Path)
			}
			if want := "fields=" + strings.ReplaceAll(graph.PhoneNumberFields, ",", "%2C"); req.RawQuery != want {
				t.Fatalf("query = %q; want %q", req.RawQuery, want)
			}
			if req.Auth != "Bearer "+testToken {
				t.Fatalf("Authorization = %q", req.Auth)
			}
		})
	}
}

func TestParseMessagingLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want graph.MessagingLimit
	}{
		{"TIER_50", graph.MessagingLimit{Raw: "TIER_50", Limit: 50}},
		{"TIER_250", graph.MessagingLimit{Raw: "TIER_250", Limit: 250}},
		{"TIER_1K", graph.MessagingLimit{Raw: "TIER_1K", Limit: 1000}},
		{"TIER_2K", graph.MessagingLimit{Raw: "TIER_2K", Limit: 2000}},
		{"TIER_10K", graph.MessagingLimit{Raw: "TIER_10K", Limit: 10000}},
		{"TIER_100K", graph.MessagingLimit{Raw: "TIER_100K", Limit: 100000}},
		{"TIER_UNLIMITED", graph.MessagingLimit{Raw: "TIER_UNLIMITED", Unlimited: true}},
		{"250", graph.MessagingLimit{Raw: "250", Limit: 250}},
		{"TIER_WEIRD", graph.MessagingLimit{Raw: "TIER_WEIRD"}},
		{"", graph.MessagingLimit{}},
	}
	for _, tc := range cases {
		got := graph.ParseMessagingLimit(tc.in)
		if got != tc.want {
			t.Errorf("ParseMessagingLimit(%q) = %+v; want %+v", tc.in, got, tc.want)
		}
		if got.Known() != (tc.want.Limit > 0 || tc.want.Unlimited) {
			t.Errorf("Known(%q) wrong", tc.in)
		}
	}
	var holder struct {
		L graph.MessagingLimit `json:"l"`
	}
	for _, in := range []string{`{"l":null}`, `{"l":{"tier":"x"}}`, `{"l":true}`} {
		if err := json.Unmarshal([]byte(in), &holder); err != nil || holder.L.Known() {
			t.Errorf("%s: err=%v limit=%+v; want tolerated and unknown", in, err, holder.L)
		}
	}
}

func TestGetHealthStatus(t *testing.T) {
	t.Parallel()
	rec, srv := serve(t, 200, fixture(t, "health_status.json"))
	got, err := newClient(srv).GetHealthStatus(context.Background(), "106540352242922")
	if err != nil {
		t.Fatal(err)
	}
	want := graph.HealthStatus{CanSendMessage: "BLOCKED", Entities: []graph.HealthEntity{
		{EntityType: "PHONE_NUMBER", ID: "106540352242922", CanSendMessage: "AVAILABLE"},
		{EntityType: "WABA", ID: "102290129340398", CanSendMessage: "BLOCKED",
			Errors:         []graph.HealthIssue{{Code: 141009, Description: "The WhatsApp Business Account has been restricted.", PossibleSolution: "Request a review."}},
			AdditionalInfo: []string{"Restriction ends 2026-12-01"}},
		{EntityType: "BUSINESS", ID: "506914307656634", CanSendMessage: "LIMITED",
			Errors: []graph.HealthIssue{{Code: 141006, Description: "Payment method issue", PossibleSolution: "Add a payment method"}}},
		{EntityType: "APP", ID: "334536302424811", CanSendMessage: "AVAILABLE"},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if q := rec.last(t).RawQuery; q != "fields=health_status" {
		t.Fatalf("query = %q", q)
	}

	_, srv = serve(t, 200, `{"id":"1"}`)
	if _, err := newClient(srv).GetHealthStatus(context.Background(), "1"); !errors.Is(err, graph.ErrUnexpectedResponse) {
		t.Fatalf("missing health_status: err = %v", err)
	}
}

func TestMessageJSONRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		msg  graph.Message
	}{
		{"text", graph.Message{To: "+16505551234", Type: "text", Text: &graph.Text{Body: "hi", PreviewURL: true},
			Context: &graph.Context{MessageID: "wamid.X"}, BizOpaqueCallbackData: "job"}},
		{"template", graph.Message{To: "1", Type: "template", Template: &graph.Template{Name: "t",
			Language: graph.Language{Code: "en", Policy: "deterministic"}, Components: json.RawMessage(`[{"type":"body"}]`)}}},
		{"document to bsuid", graph.Message{Recipient: "US.1", Type: "document", Document: &graph.Media{ID: "9", Filename: "a.pdf"}}},
		{"interactive", graph.Message{To: "1", Type: "interactive", Payload: json.RawMessage(`{"type":"button"}`)}},
		{"unnamed type", graph.Message{To: "1", Type: "call_permission_request", Payload: json.RawMessage(`{"x":1}`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			var back graph.Message
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.msg, back); d != "" {
				t.Fatalf("round trip (-want +got):\n%s", d)
			}
		})
	}
}
