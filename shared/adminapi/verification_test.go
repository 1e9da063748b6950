package adminapi_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/adminapi"
	"github.com/aloro/wa-senders/shared/graph"
	"github.com/aloro/wa-senders/shared/graphfake"
	"github.com/aloro/wa-senders/shared/persist"
	"github.com/aloro/wa-senders/shared/sender"
	"github.com/aloro/wa-senders/shared/testenv"
)

func statuses(r response) []string {
	var out []string
	for _, h := range history(r) {
		out = append(out, fmt.Sprint(h["to"]))
	}
	return out
}

// TestVerificationSuccess walks pending → connecting → online with a wrong code on the way,
// and proves that neither the code nor the PIN (given or generated) is logged, returned or
// stored.
func TestVerificationSuccess(t *testing.T) {
	t.Parallel()
	e := newStackEnv(t)
	e.create("1001", "+40721234567")

	r := e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms", "language": "en"})
	if r.str("status") != "pending" || r.str("verificationMethod") != "sms" {
		t.Fatalf("after request_code: %s", r.raw)
	}
	reqs := e.graphRequests("request_code")
	if len(reqs) != 1 {
		t.Fatalf("request_code calls = %d", len(reqs))
	}
	if m := reqs[0].JSON(); m["code_method"] != "SMS" || m["language"] != "en_US" {
		t.Errorf("request_code body = %v", m)
	}
	// A voice re-send in another locale is fine while pending, and records nothing new.
	r = e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "VOICE", "language": "pt-br"})
	if m := e.graphRequests("request_code")[1].JSON(); m["code_method"] != "VOICE" || m["language"] != "pt_BR" {
		t.Errorf("request_code body = %v", m)
	}
	if len(history(r)) != 1 {
		t.Errorf("a re-send changed the history: %v", statuses(r))
	}

	// A wrong code is counted, not fatal.
	r = e.mustErr(http.StatusBadRequest, "wrong_code", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": "654321"})
	if !strings.Contains(r.errMessage(), "4 attempts left") {
		t.Errorf("wrong code message = %s", r.errMessage())
	}
	r = e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
	if r.body["codeAttemptsLeft"] != float64(4) || r.str("status") != "pending" {
		t.Errorf("after a wrong code: %s", r.raw)
	}
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": "12ab"})
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode, "pin": "12"})

	// The right code, no PIN: one is generated.
	r = e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	if r.str("status") != "online" {
		t.Fatalf("after confirm: %s", r.raw)
	}
	if got, want := strings.Join(statuses(r), ","), "pending,connecting,online"; got != want {
		t.Errorf("history = %s, want %s", got, want)
	}
	regs := e.graphRequests("register")
	if len(regs) != 1 {
		t.Fatalf("register calls = %d", len(regs))
	}
	pin, _ := regs[0].JSON()["pin"].(string)
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(pin) {
		t.Fatalf("generated pin %q is not 6 digits", pin)
	}
	assertSecretsAbsent(t, e, "1001", testCode, "654321", pin)

	// Verified numbers get no new codes; operator offline/online works from here.
	e.mustErr(http.StatusConflict, "transition_refused", http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	e.mustErr(http.StatusConflict, "transition_refused", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	if n := len(e.graphRequests("request_code")); n != 2 {
		t.Errorf("a refused verification still called Meta (%d calls)", n)
	}
	e.must(http.StatusOK, http.MethodPatch, "/senders/1001", map[string]any{"status": "offline"})
}

func TestVerificationWithGivenPIN(t *testing.T) {
	t.Parallel()
	e := newStackEnv(t)
	e.create("1001", "+40721234567")
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "voice"})
	if m := e.graphRequests("request_code")[0].JSON(); m["language"] != "en_US" {
		t.Errorf("default language = %v", m["language"])
	}
	const pin = "918273"
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode, "pin": pin})
	if got := e.graphRequests("register")[0].JSON()["pin"]; got != pin {
		t.Errorf("register pin = %v", got)
	}
	assertSecretsAbsent(t, e, "1001", testCode, pin)
}

// assertSecretsAbsent checks logs, every response body and the stored item for each secret.
func assertSecretsAbsent(t *testing.T, e *env, senderID string, secrets ...string) {
	t.Helper()
	out, err := testenv.DynamoDB(t).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "SENDER#" + senderID},
			"sk": &types.AttributeValueMemberS{Value: "#SENDER"},
		},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("read stored sender: %v", err)
	}
	item := fmt.Sprint(out.Item)
	logs, bodies := e.logs.String(), e.allBodies()
	if logs == "" {
		t.Fatal("no logs captured")
	}
	for _, s := range secrets {
		for where, text := range map[string]string{"logs": logs, "responses": bodies, "DynamoDB item": item} {
			if strings.Contains(text, s) {
				i := strings.Index(text, s)
				t.Errorf("secret %q found in %s: %s", s, where, text[max(0, i-200):min(len(text), i+50)])
			}
		}
	}
}

func TestWrongCodesFailThenRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	for i := 1; i < sender.MaxFailedCodeAttempts; i++ {
		e.mustErr(http.StatusBadRequest, "wrong_code", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": "000000"})
	}
	r := e.mustErr(http.StatusBadRequest, "wrong_code", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": "000000"})
	if !strings.Contains(r.errMessage(), "failed") {
		t.Errorf("last wrong code message = %s", r.errMessage())
	}
	r = e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
	if r.str("status") != "failed" {
		t.Fatalf("after %d wrong codes: %s", sender.MaxFailedCodeAttempts, r.raw)
	}
	// No more guesses on a failed sender, and no operator shortcut to online.
	e.mustErr(http.StatusConflict, "transition_refused", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	e.mustErr(http.StatusConflict, "transition_refused", http.MethodPatch, "/senders/1001", map[string]any{"status": "online"})
	if n := len(e.graphRequests("verify_code")); n != sender.MaxFailedCodeAttempts {
		t.Errorf("verify_code calls = %d, want %d", n, sender.MaxFailedCodeAttempts)
	}

	// Retry setup: verification again from failed.
	r = e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "voice"})
	if r.str("status") != "pending" || r.body["codeAttemptsLeft"] != float64(sender.MaxFailedCodeAttempts) {
		t.Fatalf("retry: %s", r.raw)
	}
	h := history(r)
	if last := h[len(h)-1]; last["from"] != "failed" || !strings.Contains(fmt.Sprint(last["reason"]), "retry") {
		t.Errorf("retry history entry = %v", last)
	}
	r = e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	if got := strings.Join(statuses(r), ","); got != "pending,failed,pending,connecting,online" {
		t.Errorf("history = %s", got)
	}
}

func TestVerificationGraphFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")

	// request_code refused: 502, nothing changes.
	scriptErr(t, e, "*/request_code", 136024)
	r := e.mustErr(http.StatusBadGateway, "graph_error", http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	if !strings.Contains(r.errMessage(), "136024") {
		t.Errorf("message = %s", r.errMessage())
	}
	e.mustErr(http.StatusNotFound, "sender_not_found", http.MethodPost, "/senders/9999/verification", map[string]any{"method": "sms"})
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPost, "/senders/1001/verification", map[string]any{"method": "fax"})
	e.mustErr(http.StatusBadRequest, "invalid_request", http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms", "language": "english!"})
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})

	// verify_code transport trouble: 502, not counted as a wrong code.
	scriptErr(t, e, "*/verify_code", 131000)
	e.mustErr(http.StatusBadGateway, "graph_error", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	r = e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
	if r.str("status") != "pending" || r.body["codeAttemptsLeft"] != float64(sender.MaxFailedCodeAttempts) {
		t.Fatalf("after a Graph failure: %s", r.raw)
	}

	// Register: a wrong PIN keeps the sender connecting; confirming again registers.
	scriptErr(t, e, "*/register", 133005)
	e.mustErr(http.StatusBadRequest, "wrong_pin", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode, "pin": "111111"})
	r = e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
	if r.str("status") != "connecting" {
		t.Fatalf("after a wrong PIN: %s", r.raw)
	}
	// A passing failure too (twice: the confirm repeats the register once itself).
	if err := e.fake.Script(graphfake.Script{Path: "*/register", ErrorCode: 2, Times: 2}); err != nil {
		t.Fatal(err)
	}
	e.mustErr(http.StatusServiceUnavailable, "register_retry_later", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{})
	r = e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"pin": "222222"})
	if r.str("status") != "online" {
		t.Fatalf("register from connecting: %s", r.raw)
	}
	if n := len(e.graphRequests("verify_code")); n != 2 {
		t.Errorf("verify_code calls = %d, want 2 (none once connecting)", n)
	}
}

// TestRegisterTransientKeepsVerified: a register that fails for a transient or platform-side
// reason (an expired token, a number deleted minutes ago, a 5xx) leaves the sender connecting
// with its code verified; confirming again, without a new code, registers it.
func TestRegisterTransientKeepsVerified(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]graphfake.Script{
		"token 190":            {ErrorCode: 190, Status: http.StatusUnauthorized},
		"recently deleted":     {ErrorCode: 133015},
		"5xx without a code":   {Status: http.StatusBadGateway, Body: "upstream failure", Times: 2},
		"transient code twice": {ErrorCode: 131000, Times: 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.create("1001", "+40721234567")
			e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
			s.Path = "*/register"
			if err := e.fake.Script(s); err != nil {
				t.Fatal(err)
			}
			e.mustErr(http.StatusServiceUnavailable, "register_retry_later", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
			r := e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
			if r.str("status") != "connecting" {
				t.Fatalf("after %s: %s", name, r.raw)
			}
			r = e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification/confirm", map[string]any{})
			if r.str("status") != "online" {
				t.Fatalf("retried register: %s", r.raw)
			}
			if n := len(e.graphRequests("verify_code")); n != 1 {
				t.Errorf("verify_code calls = %d, want 1 (the verified state is kept)", n)
			}
		})
	}
}

// TestPatchOnlineNeedsRegister: an operator cannot PATCH a connecting sender online; only a
// successful register gets it there.
func TestPatchOnlineNeedsRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	scriptErr(t, e, "*/register", 133015)
	e.mustErr(http.StatusServiceUnavailable, "register_retry_later", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	e.mustErr(http.StatusConflict, "transition_refused", http.MethodPatch, "/senders/1001", map[string]any{"status": "online"})
	if r := e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil); r.str("status") != "connecting" {
		t.Fatalf("PATCH online from connecting: %s", r.raw)
	}
}

func TestRegisterLimitFailsSetup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.create("1001", "+40721234567")
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	scriptErr(t, e, "*/register", 133016)
	e.mustErr(http.StatusBadGateway, "graph_error", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	r := e.must(http.StatusOK, http.MethodGet, "/senders/1001", nil)
	h := history(r)
	if r.str("status") != "failed" || !strings.Contains(fmt.Sprint(h[len(h)-1]["reason"]), "133016") {
		t.Fatalf("after 133016: %s", r.raw)
	}
}

// memPINs is a PIN keeper in memory, for tests.
type memPINs struct {
	mu   sync.Mutex
	pins map[string]string
}

func (m *memPINs) PutPIN(_ context.Context, id, pin string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pins == nil {
		m.pins = map[string]string{}
	}
	m.pins[id] = pin
	return nil
}

func (m *memPINs) PIN(_ context.Context, id string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.pins[id]; ok {
		return p, nil
	}
	return "", persist.ErrNotFound
}

// TestLostRegisterAnswerKeepsOnePIN: Meta registered the number with a generated PIN but every
// answer was lost; the PIN was kept before Meta saw it, and the operator's retry registers with
// that same PIN (Meta refuses another one), so the number ends online with the PIN we hold.
func TestLostRegisterAnswerKeepsOnePIN(t *testing.T) {
	t.Parallel()
	pins := &memPINs{}
	e := newEnv(t, func(o *adminapi.Options) { o.PINs = pins })
	e.create("1001", "+40721234567")
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	if err := e.fake.Script(graphfake.Script{Path: "*/register", LoseAnswer: true, Times: -1}); err != nil {
		t.Fatal(err)
	}
	e.mustErr(http.StatusServiceUnavailable, "register_retry_later", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode})
	kept, err := pins.PIN(context.Background(), "1001")
	if err != nil {
		t.Fatalf("no PIN kept after Meta registered the number: %v", err)
	}
	if got := e.fake.PIN("1001"); got != kept {
		t.Fatalf("Meta's PIN is not the kept one")
	}
	e.fake.ClearScripts()
	if r := e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification/confirm", map[string]any{}); r.str("status") != "online" {
		t.Fatalf("retried register: %s", r.raw)
	}
	if again, _ := pins.PIN(context.Background(), "1001"); again != kept {
		t.Fatal("the retry replaced the kept PIN")
	}
}

// TestRefusedPINKeepsTheKeptOne: an operator's PIN that Meta refuses (the number has another
// two-step PIN) never replaces the PIN we keep for the number.
func TestRefusedPINKeepsTheKeptOne(t *testing.T) {
	t.Parallel()
	pins := &memPINs{pins: map[string]string{"1001": "482913"}}
	e := newEnv(t, func(o *adminapi.Options) { o.PINs = pins })
	e.create("1001", "+40721234567")
	e.must(http.StatusOK, http.MethodPost, "/senders/1001/verification", map[string]any{"method": "sms"})
	if err := e.fake.Script(graphfake.Script{Path: "*/register", ErrorCode: graph.CodeWrongPIN}); err != nil {
		t.Fatal(err)
	}
	e.mustErr(http.StatusBadRequest, "wrong_pin", http.MethodPost, "/senders/1001/verification/confirm", map[string]any{"code": testCode, "pin": "111111"})
	if kept, _ := pins.PIN(context.Background(), "1001"); kept != "482913" {
		t.Fatal("a PIN Meta refused replaced the kept one")
	}
}
