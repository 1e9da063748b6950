package graphfake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aloro/wa-senders/shared/graphfake"
)

const token = graphfake.DefaultToken

// do sends one request to the fake's handler in process and decodes the JSON answer.
func do(t *testing.T, f *graphfake.Fake, method, target, auth, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, target, err, rec.Body.String())
		}
	}
	return rec.Code, out
}

// errCode extracts error.code (0 when absent) and checks Meta's body shape.
func errCode(t *testing.T, out map[string]any) int {
	t.Helper()
	e, ok := out["error"].(map[string]any)
	if !ok {
		return 0
	}
	for _, k := range []string{"message", "type", "fbtrace_id"} {
		if s, _ := e[k].(string); s == "" {
			t.Fatalf("error body without %s: %v", k, out)
		}
	}
	code, _ := e["code"].(float64)
	return int(code)
}

const sendPath = "/v24.0/1234567/messages"

func TestSendValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 4097)
	cases := []struct {
		name   string
		path   string
		auth   string
		body   string
		status int
		code   int
	}{
		{"no token", sendPath, "", `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`, 401, 190},
		{"wrong token", sendPath, "nope", `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`, 401, 190},
		{"not json", sendPath, token, `hello`, 400, 100},
		{"no messaging_product", sendPath, token, `{"to":"+16505551234","text":{"body":"hi"}}`, 400, 100},
		{"wrong messaging_product", sendPath, token, `{"messaging_product":"sms","to":"+16505551234","text":{"body":"hi"}}`, 400, 100},
		{"bad recipient_type", sendPath, token, `{"messaging_product":"whatsapp","recipient_type":"crowd","to":"+16505551234","text":{"body":"hi"}}`, 400, 100},
		{"no recipient", sendPath, token, `{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}`, 400, 100},
		{"to not a number", sendPath, token, `{"messaging_product":"whatsapp","to":"alice","text":{"body":"hi"}}`, 400, 100},
		{"unknown type", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"hologram","hologram":{}}`, 400, 100},
		{"type without payload", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"image"}`, 400, 100},
		{"text without body", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{}}`, 400, 100},
		{"text too long", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"` + long + `"}}`, 400, 100},
		{"media without id or link", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"document","document":{"caption":"x"}}`, 400, 100},
		{"template without name", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"template","template":{"language":{"code":"en"}}}`, 400, 100},
		{"template without language", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"template","template":{"name":"t"}}`, 400, 100},
		{"template components not a list", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"template","template":{"name":"t","language":{"code":"en"},"components":{}}}`, 400, 100},
		{"contacts empty", sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","type":"contacts","contacts":[]}`, 400, 100},
		{"same number as sender", sendPath, token, `{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"hi"}}`, 400, 131021},
		{"too many segments", "/v24.0/1234567/messages/x", token, `{}`, 400, 100},
		{"unknown edge", "/v24.0/1234567/conversations", token, `{}`, 400, 100},
		{"text ok, type defaulted", sendPath, token, `{"messaging_product":"whatsapp","to":"+1 (650) 555-1234","text":{"body":"hi"}}`, 200, 0},
		{"contacts ok", sendPath, token, `{"messaging_product":"whatsapp","to":"16505551234","type":"contacts","contacts":[{"name":{"formatted_name":"A"}}]}`, 200, 0},
		{"media link ok", sendPath, token, `{"messaging_product":"whatsapp","to":"16505551234","type":"video","video":{"link":"https://x/v.mp4"}}`, 200, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := graphfake.New(graphfake.Options{})
			status, out := do(t, f, http.MethodPost, tc.path, tc.auth, tc.body)
			if status != tc.status || errCode(t, out) != tc.code {
				t.Fatalf("answer = %d code %d (%v); want %d code %d", status, errCode(t, out), out, tc.status, tc.code)
			}
			reqs := f.Requests()
			if len(reqs) != 1 || reqs[0].Status != tc.status || reqs[0].AuthValid != (tc.auth == token) {
				t.Fatalf("recorded %+v", reqs)
			}
			if want := 0; tc.status != 200 && len(f.Sends()) != want {
				t.Fatalf("a rejected send was recorded as a send")
			}
		})
	}
}

func TestSendSuccess(t *testing.T) {
	t.Parallel()
	f := graphfake.New(graphfake.Options{})
	body := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"template",
		"template":{"name":"order_update","language":{"code":"en_US","policy":"deterministic"}},
		"context":{"message_id":"wamid.PREV"},"biz_opaque_callback_data":"job-123"}`
	status, out := do(t, f, http.MethodPost, sendPath, token, body)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	msgs := out["messages"].([]any)
	wamid := msgs[0].(map[string]any)["id"].(string)
	if !strings.HasPrefix(wamid, "wamid.") {
		t.Fatalf("wamid = %q", wamid)
	}
	want := map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{map[string]any{"input": "+16505551234", "wa_id": "16505551234"}},
		"messages":          []any{map[string]any{"id": wamid, "message_status": "accepted"}},
	}
	if d := cmp.Diff(want, out); d != "" {
		t.Fatalf("answer (-want +got):\n%s", d)
	}
	sends := f.Sends()
	if len(sends) != 1 {
		t.Fatalf("sends = %d", len(sends))
	}
	s := sends[0]
	if s.WAMID != wamid || s.To != "+16505551234" || s.WaID != "16505551234" || s.Type != "template" ||
		s.TemplateName != "order_update" || s.ReplyTo != "wamid.PREV" || s.BizOpaqueCallbackData != "job-123" ||
		s.PhoneNumberID != "1234567" || s.Seq != 1 {
		t.Fatalf("send = %+v", s)
	}
	r := f.Requests()[0]
	if r.WAMID != wamid || r.Version != "v24.0" || r.Edge != "messages" || r.JSON()["to"] != "+16505551234" {
		t.Fatalf("request = %+v", r)
	}
}

func TestSendToBSUID(t *testing.T) {
	t.Parallel()
	f := graphfake.New(graphfake.Options{})
	status, out := do(t, f, http.MethodPost, sendPath, token,
		`{"messaging_product":"whatsapp","recipient":"US.13491208655302741918","type":"text","text":{"body":"hi"}}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	contact := out["contacts"].([]any)[0].(map[string]any)
	if contact["user_id"] != "US.13491208655302741918" || contact["wa_id"] != nil {
		t.Fatalf("contact = %v", contact)
	}
	if s := f.Sends()[0]; s.Recipient != "US.13491208655302741918" || s.To != "" || s.WaID != "" {
		t.Fatalf("send = %+v", s)
	}
}

func TestWAMIDsUniqueUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := graphfake.New(graphfake.Options{})
	url := graphfake.Serve(t, f)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+1650555%04d","text":{"body":"hi"}}`, i)
			req, _ := http.NewRequest(http.MethodPost, url+sendPath, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range f.Sends() {
		if seen[s.WAMID] {
			t.Fatalf("duplicate wamid %s", s.WAMID)
		}
		seen[s.WAMID] = true
	}
	if len(seen) != n || f.Stats().Sends != n || f.Stats().ByPhone["1234567"] != n {
		t.Fatalf("sends = %d, stats = %+v", len(seen), f.Stats())
	}
}

func TestRegistrationFlow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	f := graphfake.New(graphfake.Options{Now: clock})
	f.SetPhoneNumber("77", graphfake.PhoneNumberState{Status: "PENDING", CodeVerificationStatus: "NOT_VERIFIED"})

	steps := []struct {
		name   string
		edge   string
		body   string
		status int
		code   int
	}{
		{"send before registering", "messages", `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`, 400, 133010},
		{"request code, bad method", "request_code", `{"code_method":"EMAIL","language":"en_US"}`, 400, 100},
		{"request code, no language", "request_code", `{"code_method":"SMS"}`, 400, 100},
		{"request code", "request_code", `{"code_method":"SMS","language":"en_US"}`, 200, 0},
		{"register before verifying", "register", `{"messaging_product":"whatsapp","pin":"212834"}`, 400, 133006},
		{"verify, wrong code", "verify_code", `{"code":"000000"}`, 400, 136025},
		{"verify, no code", "verify_code", `{}`, 400, 100},
		{"verify", "verify_code", `{"code":"123456"}`, 200, 0},
		{"register, short pin", "register", `{"messaging_product":"whatsapp","pin":"1234"}`, 400, 100},
		{"register, no messaging_product", "register", `{"pin":"212834"}`, 400, 100},
		{"register", "register", `{"messaging_product":"whatsapp","pin":"212834"}`, 200, 0},
		{"send after registering", "messages", `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`, 200, 0},
		{"register, other pin", "register", `{"messaging_product":"whatsapp","pin":"999999"}`, 400, 133005},
		{"deregister", "deregister", ``, 200, 0},
		{"send after deregistering", "messages", `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`, 400, 133010},
	}
	for _, s := range steps {
		status, out := do(t, f, http.MethodPost, "/v24.0/77/"+s.edge, token, s.body)
		if status != s.status || errCode(t, out) != s.code {
			t.Fatalf("%s: %d code %d (%v); want %d code %d", s.name, status, errCode(t, out), out, s.status, s.code)
		}
		if s.status == 200 && s.edge != "messages" && out["success"] != true {
			t.Fatalf("%s: answer %v", s.name, out)
		}
	}
	st, _ := f.PhoneNumber("77")
	if st.Status != "DISCONNECTED" || st.CodeVerificationStatus != "VERIFIED" {
		t.Fatalf("state = %+v", st)
	}

	// 10 register/deregister calls per 72 h: 3 were made above (2 registers that reached the
	// limit check, 1 deregister).
	for i := 3; i < 10; i++ {
		if status, out := do(t, f, http.MethodPost, "/v24.0/77/deregister", token, ""); status != 200 {
			t.Fatalf("call %d: %d %v", i+1, status, out)
		}
	}
	if status, out := do(t, f, http.MethodPost, "/v24.0/77/register", token, `{"messaging_product":"whatsapp","pin":"212834"}`); status != 400 || errCode(t, out) != 133016 {
		t.Fatalf("11th call: %d %v; want 133016", status, out)
	}
	advance(72*time.Hour + time.Second)
	if status, out := do(t, f, http.MethodPost, "/v24.0/77/register", token, `{"messaging_product":"whatsapp","pin":"212834"}`); status != 200 {
		t.Fatalf("after 72 h: %d %v", status, out)
	}

	// Two-step PIN change through POST /{id}.
	if status, _ := do(t, f, http.MethodPost, "/v24.0/77", token, `{"pin":"111111"}`); status != 200 {
		t.Fatalf("set pin: %d", status)
	}
	if status, out := do(t, f, http.MethodPost, "/v24.0/77/register", token, `{"messaging_product":"whatsapp","pin":"212834"}`); errCode(t, out) != 133005 {
		t.Fatalf("old pin after change: %d %v", status, out)
	}
}

func TestGetNode(t *testing.T) {
	t.Parallel()
	f := graphfake.New(graphfake.Options{})
	f.SetPhoneNumber("55", graphfake.PhoneNumberState{QualityRating: "YELLOW", MessagingLimit: "TIER_10K",
		Throughput: &graphfake.Throughput{Level: "HIGH"}})

	status, out := do(t, f, http.MethodGet, "/v24.0/55?fields=quality_rating,whatsapp_business_manager_messaging_limit,throughput,status", token, "")
	want := map[string]any{"id": "55", "quality_rating": "YELLOW", "whatsapp_business_manager_messaging_limit": "TIER_10K",
		"throughput": map[string]any{"level": "HIGH"}, "status": "CONNECTED"}
	if status != 200 {
		t.Fatalf("status %d %v", status, out)
	}
	if d := cmp.Diff(want, out); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}

	_, out = do(t, f, http.MethodGet, "/v24.0/55", token, "")
	for _, k := range []string{"verified_name", "code_verification_status", "display_phone_number", "quality_rating", "platform_type", "throughput", "id"} {
		if _, ok := out[k]; !ok {
			t.Fatalf("default fields miss %s: %v", k, out)
		}
	}
	if len(out) != 7 {
		t.Fatalf("default fields = %v", out)
	}

	status, out = do(t, f, http.MethodGet, "/v24.0/55?fields=quality_score", token, "")
	if status != 400 || errCode(t, out) != 100 {
		t.Fatalf("nonexisting field: %d %v", status, out)
	}

	_, out = do(t, f, http.MethodGet, "/v24.0/55?fields=health_status", token, "")
	hs := out["health_status"].(map[string]any)
	if hs["can_send_message"] != "AVAILABLE" {
		t.Fatalf("health = %v", hs)
	}
	f.UpdatePhoneNumber("55", func(s *graphfake.PhoneNumberState) { s.Status = "RATE_LIMITED" })
	_, out = do(t, f, http.MethodGet, "/v24.0/55?fields=health_status", token, "")
	if got := out["health_status"].(map[string]any)["can_send_message"]; got != "LIMITED" {
		t.Fatalf("derived health for RATE_LIMITED = %v", got)
	}
	f.UpdatePhoneNumber("55", func(s *graphfake.PhoneNumberState) {
		s.Health = &graphfake.Health{CanSendMessage: "BLOCKED", Entities: []graphfake.HealthEntity{
			{EntityType: "WABA", ID: "9", CanSendMessage: "BLOCKED", Errors: []graphfake.HealthError{{ErrorCode: 141009, ErrorDescription: "restricted"}}}}}
	})
	_, out = do(t, f, http.MethodGet, "/v24.0/55?fields=health_status", token, "")
	if got := out["health_status"].(map[string]any)["can_send_message"]; got != "BLOCKED" {
		t.Fatalf("explicit health = %v", got)
	}
}

func TestStrictPhoneNumbers(t *testing.T) {
	t.Parallel()
	f := graphfake.New(graphfake.Options{StrictPhoneNumbers: true})
	status, out := do(t, f, http.MethodGet, "/v24.0/404?fields=status", token, "")
	e, _ := out["error"].(map[string]any)
	if status != 400 || errCode(t, out) != 100 || e["error_subcode"] != float64(33) || e["type"] != "GraphMethodException" {
		t.Fatalf("unknown id: %d %v", status, out)
	}
	if _, ok := f.PhoneNumber("404"); ok {
		t.Fatal("strict fake invented a phone number")
	}
	f.SetPhoneNumber("404", graphfake.PhoneNumberState{})
	if status, _ := do(t, f, http.MethodGet, "/v24.0/404?fields=status", token, ""); status != 200 {
		t.Fatalf("after SetPhoneNumber: %d", status)
	}
}

func TestDefaultPhoneNumber(t *testing.T) {
	t.Parallel()
	got := graphfake.DefaultPhoneNumber("106540352242922")
	if got.DisplayPhoneNumber != "15552242922" || got.Status != "CONNECTED" || got.QualityRating != "GREEN" ||
		got.MessagingLimit != "TIER_2K" || got.Throughput.Level != "STANDARD" {
		t.Fatalf("default = %+v", got)
	}
	if short := graphfake.DefaultPhoneNumber("12"); short.DisplayPhoneNumber != "15550000012" {
		t.Fatalf("short id display = %q", short.DisplayPhoneNumber)
	}
}

func TestScripts(t *testing.T) {
	t.Parallel()
	text := func(to string) string {
		return `{"messaging_product":"whatsapp","to":"` + to + `","type":"text","text":{"body":"hi"}}`
	}
	f := graphfake.New(graphfake.Options{})
	mustScript := func(s ...graphfake.Script) {
		t.Helper()
		if err := f.Script(s...); err != nil {
			t.Fatal(err)
		}
	}
	// Order: first match wins; non-matching scripts wait for their request.
	mustScript(
		graphfake.Script{Path: graphfake.PathMessages, Recipient: "+40721234567", ErrorCode: 131026},
		graphfake.Script{Path: "/v24.0/1234567/messages", ErrorCode: 130429, Times: 2},
		graphfake.Script{Path: graphfake.PathMessages, PhoneNumberID: "other", ErrorCode: 131031},
		graphfake.Script{Path: graphfake.PathRegister, ErrorCode: 133005},
	)
	expect := func(path, body string, status, code int) {
		t.Helper()
		gotStatus, out := do(t, f, http.MethodPost, path, token, body)
		if gotStatus != status || errCode(t, out) != code {
			t.Fatalf("%s: %d code %d; want %d code %d (%v)", path, gotStatus, errCode(t, out), status, code, out)
		}
	}
	expect(sendPath, text("16505551234"), 400, 130429)
	expect(sendPath, text("40721234567"), 400, 131026) // digits match the E.164 recipient
	expect(sendPath, text("16505551234"), 400, 130429)
	expect(sendPath, text("16505551234"), 200, 0) // throughput script used up
	expect("/v24.0/other/messages", text("16505551234"), 400, 131031)
	expect("/v24.0/other/messages", text("16505551234"), 200, 0)
	if n := f.PendingScripts(); n != 1 {
		t.Fatalf("pending = %d; want the register script", n)
	}
	expect("/v24.0/1/register", `{"messaging_product":"whatsapp","pin":"123456"}`, 400, 133005)

	// Raw body and status-only answers.
	mustScript(graphfake.Script{Body: `{"messaging_product":"whatsapp","messages":[{"id":"wamid.SCRIPTED"}]}`})
	_, out := do(t, f, http.MethodPost, sendPath, token, text("16505551234"))
	if out["messages"].([]any)[0].(map[string]any)["id"] != "wamid.SCRIPTED" {
		t.Fatalf("raw body not served: %v", out)
	}
	mustScript(graphfake.Script{Status: 502})
	if status, out := do(t, f, http.MethodPost, sendPath, token, text("16505551234")); status != 502 || out != nil {
		t.Fatalf("status-only: %d %v", status, out)
	}

	// Burst and forever.
	if err := f.Burst(3, graphfake.Script{Path: graphfake.PathMessages, ErrorCode: 131056, Status: 429}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		expect(sendPath, text("16505551234"), 429, 131056)
	}
	expect(sendPath, text("16505551234"), 200, 0)
	mustScript(graphfake.Script{Path: graphfake.PathNode, Method: "GET", ErrorCode: 80007, Times: -1})
	for range 5 {
		if status, out := do(t, f, http.MethodGet, "/v24.0/9?fields=status", token, ""); errCode(t, out) != 80007 {
			t.Fatalf("forever script: %d %v", status, out)
		}
	}
	f.ClearScripts()
	if status, _ := do(t, f, http.MethodGet, "/v24.0/9?fields=status", token, ""); status != 200 {
		t.Fatalf("after ClearScripts: %d", status)
	}

	// Delay only falls through to the default behaviour.
	mustScript(graphfake.Script{Delay: 20 * time.Millisecond})
	start := time.Now()
	expect(sendPath, text("16505551234"), 200, 0)
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("delay-only script did not delay")
	}

	// Scripts answer before the token check (a script can fake 190 too), and are recorded as scripted.
	mustScript(graphfake.Script{ErrorCode: 131000})
	if status, out := do(t, f, http.MethodPost, sendPath, "bad-token", text("16505551234")); status != 500 || errCode(t, out) != 131000 {
		t.Fatalf("scripted before auth: %d %v", status, out)
	}
	last := f.Requests()[len(f.Requests())-1]
	if !last.Scripted || last.AuthValid || last.ErrorCode != 131000 {
		t.Fatalf("record = %+v", last)
	}

	for _, bad := range []graphfake.Script{{Times: -2}, {Path: "[", ErrorCode: 1}, {Status: 42}} {
		if err := f.Script(bad); err == nil {
			t.Errorf("Script(%+v) accepted", bad)
		}
	}
	if err := f.Burst(0, graphfake.Script{}); err == nil {
		t.Error("Burst(0) accepted")
	}
}

func TestErrorBody(t *testing.T) {
	t.Parallel()
	var got map[string]any
	if err := json.Unmarshal(graphfake.ErrorBody(131056, 2494055, "", "", "Ftrace"), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"error": map[string]any{
		"message": "(#131056) (Business Account, Consumer Account) pair rate limit hit", "type": "OAuthException",
		"code": float64(131056), "error_subcode": float64(2494055), "fbtrace_id": "Ftrace",
		"error_data": map[string]any{"messaging_product": "whatsapp", "details": "(Business Account, Consumer Account) pair rate limit hit"},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if graphfake.StatusForCode(190) != 401 || graphfake.StatusForCode(131000) != 500 || graphfake.StatusForCode(131047) != 400 {
		t.Fatal("StatusForCode")
	}
	if graphfake.Title(190) != "Invalid OAuth access token - Cannot parse access token" || graphfake.Title(424242) != "(#424242) Unknown error" {
		t.Fatal("Title")
	}
}

func TestRecordsRedactTokenAndTrim(t *testing.T) {
	t.Parallel()
	f := graphfake.New(graphfake.Options{MaxRecords: 10})
	status, _ := do(t, f, http.MethodGet, "/v24.0/1?fields=status&access_token="+token, "", "")
	if status != 200 {
		t.Fatalf("query-string token refused: %d", status)
	}
	r := f.Requests()[0]
	if strings.Contains(r.Query, token) || !r.AuthValid || r.Query != "fields=status" {
		t.Fatalf("record = %+v", r)
	}
	for i := range 25 {
		do(t, f, http.MethodPost, sendPath, token, fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+1650555%04d","text":{"body":"hi"}}`, i))
	}
	reqs, sends := f.Requests(), f.Sends()
	if len(reqs) > 10 || len(sends) > 10 || reqs[len(reqs)-1].Seq != 26 || sends[len(sends)-1].Seq != 25 {
		t.Fatalf("records: %d requests (last %d), %d sends", len(reqs), reqs[len(reqs)-1].Seq, len(sends))
	}
	if got := f.SendsSince(23); len(got) != 2 || got[0].Seq != 24 {
		t.Fatalf("SendsSince(23) = %+v", got)
	}
	if st := f.Stats(); st.Sends != 25 || st.Requests != 26 {
		t.Fatalf("stats = %+v", st)
	}
	f.Reset()
	if len(f.Requests()) != 0 || f.Stats().Requests != 0 {
		t.Fatal("Reset kept records")
	}
	do(t, f, http.MethodPost, sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`)
	if s := f.Sends(); len(s) != 1 || s[0].Seq != 26 {
		t.Fatalf("seq after reset = %+v; want it to keep increasing", s)
	}
}

func TestWaitSends(t *testing.T) {
	t.Parallel()
	f := graphfake.New(graphfake.Options{})
	go func() {
		for range 3 {
			time.Sleep(5 * time.Millisecond)
			do(t, f, http.MethodPost, sendPath, token, `{"messaging_product":"whatsapp","to":"+16505551234","text":{"body":"hi"}}`)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sends, err := f.WaitSends(ctx, 3)
	if err != nil || len(sends) != 3 {
		t.Fatalf("WaitSends = %d, %v", len(sends), err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := f.WaitSends(short, 10); err == nil {
		t.Fatal("WaitSends returned without enough sends")
	}
}
