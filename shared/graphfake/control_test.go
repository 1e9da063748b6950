package graphfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aloro/wa-senders/shared/graphfake"
)

// call sends one request over the network to a served fake and decodes the JSON answer into out.
func call(t *testing.T, method, url, auth, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	f, base := graphfake.ServeNew(t, graphfake.Options{})
	send := `{"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"hi"},"biz_opaque_callback_data":"job-1"}`

	var ok map[string]bool
	if call(t, "GET", base+"/_fake/healthz", "", "", &ok) != 200 || !ok["ok"] {
		t.Fatal("healthz")
	}

	// Scripts: one object (delay as a string) then a list (delay in milliseconds).
	var pending map[string]int
	if st := call(t, "POST", base+"/_fake/script", "", `{"path":"/v24.0/*/messages","error_code":131056,"delay":"10ms"}`, &pending); st != 200 || pending["pending"] != 1 {
		t.Fatalf("script: %d %v", st, pending)
	}
	if st := call(t, "POST", base+"/_fake/script", "", `[{"path":"*/messages","error_code":130429,"times":2,"delay":5},{"path":"*/messages","drop":true}]`, &pending); st != 200 || pending["pending"] != 3 {
		t.Fatalf("script list: %d %v", st, pending)
	}
	var bad map[string]string
	if st := call(t, "POST", base+"/_fake/script", "", `{"delay":"soon"}`, &bad); st != 400 || bad["error"] == "" {
		t.Fatalf("bad script: %d %v", st, bad)
	}
	if st := call(t, "DELETE", base+"/_fake/script", "", "", &pending); st != 200 || f.PendingScripts() != 0 {
		t.Fatalf("clear: %d", st)
	}

	// Latency.
	var lat map[string]string
	if st := call(t, "PUT", base+"/_fake/latency", "", `{"latency":"15ms"}`, &lat); st != 200 || lat["latency"] != "15ms" || f.SendLatency() != 15*time.Millisecond {
		t.Fatalf("latency: %d %v", st, lat)
	}
	if st := call(t, "PUT", base+"/_fake/latency", "", `{"latency":0}`, &lat); st != 200 || f.SendLatency() != 0 {
		t.Fatalf("latency 0: %d %v", st, lat)
	}
	call(t, "GET", base+"/_fake/latency", "", "", &lat)
	if lat["latency"] != "0s" {
		t.Fatalf("GET latency = %v", lat)
	}

	// Phone numbers.
	var st graphfake.PhoneNumberState
	if code := call(t, "PUT", base+"/_fake/phone_numbers/555", "", `{"quality_rating":"RED","throughput":{"level":"HIGH"}}`, &st); code != 200 || st.QualityRating != "RED" || st.Status != "CONNECTED" || st.Throughput.Level != "HIGH" {
		t.Fatalf("PUT phone: %d %+v", code, st)
	}
	if code := call(t, "PUT", base+"/_fake/phone_numbers/555", "", `{"qualty_rating":"RED"}`, &bad); code != 400 {
		t.Fatalf("misspelt field accepted: %d", code)
	}
	var got graphfake.PhoneNumberState
	if code := call(t, "GET", base+"/_fake/phone_numbers/555", "", "", &got); code != 200 || got.QualityRating != "RED" {
		t.Fatalf("GET phone: %d %+v", code, got)
	}
	var node map[string]any
	call(t, "GET", base+"/v24.0/555?fields=quality_rating", graphfake.DefaultToken, "", &node)
	if node["quality_rating"] != "RED" {
		t.Fatalf("Graph read after PUT = %v", node)
	}

	// Records and stats.
	var sendAnswer map[string]any
	if code := call(t, "POST", base+"/v24.0/555/messages", graphfake.DefaultToken, send, &sendAnswer); code != 200 {
		t.Fatalf("send: %d %v", code, sendAnswer)
	}
	var sends []graphfake.Send
	call(t, "GET", base+"/_fake/sends", "", "", &sends)
	if len(sends) != 1 || sends[0].BizOpaqueCallbackData != "job-1" || sends[0].PhoneNumberID != "555" || sends[0].WaID != "16505551234" {
		t.Fatalf("sends = %+v", sends)
	}
	call(t, "GET", base+"/_fake/sends?since=1", "", "", &sends)
	if len(sends) != 0 {
		t.Fatalf("sends since 1 = %+v", sends)
	}
	var reqs []graphfake.Request
	call(t, "GET", base+"/_fake/requests", "", "", &reqs)
	if len(reqs) != 2 || reqs[1].Edge != "messages" || reqs[1].JSON()["to"] != "+16505551234" || !reqs[1].AuthValid {
		t.Fatalf("requests = %+v", reqs)
	}
	if code := call(t, "GET", base+"/_fake/requests?since=x", "", "", &bad); code != 400 {
		t.Fatalf("bad since: %d", code)
	}
	var stats graphfake.Stats
	call(t, "GET", base+"/_fake/stats", "", "", &stats)
	if stats.Requests != 2 || stats.Sends != 1 || stats.ByStatus[200] != 2 || stats.ByPhone["555"] != 1 {
		t.Fatalf("stats = %+v", stats)
	}

	// Reset.
	if code := call(t, "POST", base+"/_fake/reset", "", "", &ok); code != 200 {
		t.Fatalf("reset: %d", code)
	}
	call(t, "GET", base+"/_fake/requests", "", "", &reqs)
	if len(reqs) != 0 {
		t.Fatalf("requests after reset = %d", len(reqs))
	}
	call(t, "GET", base+"/_fake/phone_numbers/555", "", "", &got)
	if got.QualityRating != "GREEN" {
		t.Fatalf("phone state survived reset: %+v", got)
	}

	if code := call(t, "GET", base+"/_fake/nothing", "", "", &bad); code != 404 {
		t.Fatalf("unknown control route: %d", code)
	}
}

func TestScriptJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := graphfake.Script{Path: graphfake.PathMessages, Recipient: "+16505551234", ErrorCode: 131047, Delay: 1500 * time.Millisecond, Times: 3}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"delay":"1.5s"`) {
		t.Fatalf("delay not written as a duration: %s", b)
	}
	var out graphfake.Script
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v; want %+v", out, err, in)
	}
}
