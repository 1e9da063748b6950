package store

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aloro/wa-senders/shared/sender"
)

// SenderCursor is the ListSenders cursor that resumes after the sender (status, id) under
// filter f: the one this store issues, for another implementation of the listing (the memory
// store) to issue the same.
func SenderCursor(status sender.Status, id string, f SenderFilter) (string, error) {
	return encodeCursor(map[string]types.AttributeValue{attrGSI2SK: str(senderGSI2SK(string(status), id))}, f)
}

// ParseSenderCursor returns the (status, id) a ListSenders cursor resumes after, or
// ErrBadCursor for one not issued under filter f.
func ParseSenderCursor(c string, f SenderFilter) (sender.Status, string, error) {
	k, err := decodeCursor(c, f)
	if err != nil {
		return "", "", err
	}
	st, id, _ := strings.Cut(getS(k, attrGSI2SK), "#")
	return sender.Status(st), id, nil
}
