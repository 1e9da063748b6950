package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aloro/wa-senders/shared/graphfake"
)

// adminAPI is the sender admin API as an internal caller uses it (IAM in AWS; none locally).
type adminAPI struct {
	base string
	hc   *http.Client
}

// senderView is the part of the admin API's sender the harness reads.
type senderView struct {
	ID              string `json:"id"`
	Status          string `json:"status"`
	MessagingLimit  string `json:"messagingLimit"`
	DailyLimit      int    `json:"dailyLimit"`
	ThroughputLevel string `json:"throughputLevel"`
}

// CreateOnline creates a sender and brings it online the way an operator does: create, start
// verification by SMS, confirm with the code the Graph API fake accepts (verify, then
// register). A PATCH to online follows if the confirmation left it connecting.
func (a adminAPI) CreateOnline(ctx context.Context, s *senderSpec) error {
	in := map[string]any{
		"phoneNumber": s.Phone, "phoneNumberId": s.ID, "wabaId": s.WABA,
		"type": "external", "displayName": "Load " + s.ID[len(s.ID)-4:],
	}
	if _, err := jsonCall(ctx, a.hc, http.MethodPost, a.base+"/senders", in, nil); err != nil {
		return fmt.Errorf("create sender: %w", err)
	}
	if _, err := jsonCall(ctx, a.hc, http.MethodPost, a.base+"/senders/"+s.ID+"/verification",
		map[string]string{"method": "sms", "language": "en"}, nil); err != nil {
		return fmt.Errorf("start verification: %w", err)
	}
	if _, err := jsonCall(ctx, a.hc, http.MethodPost, a.base+"/senders/"+s.ID+"/verification/confirm",
		map[string]string{"code": graphfake.DefaultVerifyCode}, nil); err != nil {
		return fmt.Errorf("confirm verification: %w", err)
	}
	v, err := a.Get(ctx, s.ID)
	if err != nil {
		return err
	}
	if v.Status != "online" {
		if _, err := jsonCall(ctx, a.hc, http.MethodPatch, a.base+"/senders/"+s.ID, map[string]string{"status": "online"}, nil); err != nil {
			return fmt.Errorf("sender %s is %s after verification; PATCH online: %w", s.ID, v.Status, err)
		}
	}
	return nil
}

// Get reads a sender.
func (a adminAPI) Get(ctx context.Context, id string) (senderView, error) {
	var v senderView
	if _, err := jsonCall(ctx, a.hc, http.MethodGet, a.base+"/senders/"+id, nil, &v); err != nil {
		return v, fmt.Errorf("get sender: %w", err)
	}
	return v, nil
}
