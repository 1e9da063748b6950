package outbound

import "github.com/aloro/wa-senders/shared/sender"

// PauseScopeTokenOf is the scope of the hold after Meta refuses a sender's token (190): the
// sender's business portfolio, whose token it is (or its WABA when no business is known), so a
// refused business token pauses only that business's senders. Senders on the platform token
// pause per portfolio too: each learns of a refused platform token from its own first 190.
func PauseScopeTokenOf(s *sender.Sender) string { return PauseScopeToken + ":" + s.PortfolioKey() }
