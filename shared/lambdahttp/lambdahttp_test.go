package lambdahttp

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestHandlerRoundTrip(t *testing.T) {
	t.Parallel()
	var gotBody, gotMethod, gotPath, gotQuery, gotHeader string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotMethod, gotPath, gotQuery = string(b), r.Method, r.URL.Path, r.URL.Query().Get("hub.mode")
		gotHeader = r.Header.Get("X-Hub-Signature-256")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("ok"))
	})
	cases := []struct {
		name       string
		ev         events.APIGatewayV2HTTPRequest
		wantMethod string
		wantBody   string
	}{
		{
			name: "plain body",
			ev: events.APIGatewayV2HTTPRequest{RawPath: "/webhook", RawQueryString: "hub.mode=subscribe", Body: `{"a":"\u00e9"}`,
				Headers:        map[string]string{"x-hub-signature-256": "sha256=ab"},
				RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}},
			wantMethod: "POST", wantBody: `{"a":"\u00e9"}`,
		},
		{
			name: "base64 body and method from route key",
			ev: events.APIGatewayV2HTTPRequest{RouteKey: "POST /webhook", RawPath: "/webhook", QueryStringParameters: map[string]string{"hub.mode": "subscribe"},
				Body: base64.StdEncoding.EncodeToString([]byte("raw\xffbytes")), IsBase64Encoded: true,
				Headers: map[string]string{"X-Hub-Signature-256": "sha256=ab"}},
			wantMethod: "POST", wantBody: "raw\xffbytes",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Handler(h)(context.Background(), tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusTeapot || res.Body != "ok" || res.IsBase64Encoded {
				t.Fatalf("response %+v", res)
			}
			if gotMethod != tc.wantMethod || gotBody != tc.wantBody || gotPath != "/webhook" || gotQuery != "subscribe" || gotHeader != "sha256=ab" {
				t.Fatalf("request: %s %s %q %q %q", gotMethod, gotPath, gotBody, gotQuery, gotHeader)
			}
		})
	}
}

func TestBadBase64Is400(t *testing.T) {
	t.Parallel()
	res, err := Handler(http.NotFoundHandler())(context.Background(), events.APIGatewayV2HTTPRequest{Body: "%%%", IsBase64Encoded: true})
	if err != nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("got %v %v", res.StatusCode, err)
	}
}
