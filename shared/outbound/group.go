package outbound

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/aloro/wa-senders/shared/phone"
)

// maxSQSID is SQS's limit on MessageGroupId and MessageDeduplicationId.
const maxSQSID = 128

// GroupID is the SQS MessageGroupId of a request: sender + recipient, so that messages of one
// conversation keep their order and different conversations proceed in parallel. Numbers are
// normalised first, so "+4072…" and "4072…" are the same group; a sender is named the same way
// only when callers consistently use from or senderId for it.
func GroupID(r Request) string {
	snd := r.SenderID
	if snd == "" {
		snd = r.From
		if e164, err := phone.ParseE164(r.From); err == nil {
			snd = e164
		}
	}
	rcpt := r.ToUserID
	if r.To != "" {
		rcpt = r.To
		if e164, err := phone.ParseRecipient(r.To); err == nil {
			rcpt = e164
		}
	}
	return sqsID(snd + "|" + rcpt)
}

// DedupeID is the SQS MessageDeduplicationId of a request's first enqueue: its id.
func DedupeID(r Request) string { return sqsID(r.ID) }

// RequeueDedupeID is the deduplication id of the re-enqueue of a record deferred until at: the
// same deferral re-enqueued twice (a retried requeue run) is deduplicated by SQS, a later
// deferral of the same request is not.
func RequeueDedupeID(id string, at time.Time) string {
	return sqsID(id + "~" + strconv.FormatInt(at.Unix(), 10))
}

// sqsID keeps an id within SQS's 128 characters (a BSUID alone may be 131): longer ones are
// replaced by a hash, which keeps them distinct.
func sqsID(s string) string {
	if len(s) <= maxSQSID {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "h:" + hex.EncodeToString(sum[:])
}
