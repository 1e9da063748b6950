package sender

import "time"

// DefaultDailyLimit is what the budget enforces while Meta has not told us a tier.
const DefaultDailyLimit = 250

// Tier limits in unique out-of-window recipients per moving 24 h (Meta, since 2025-10-07).
var tierLimits = map[string]int{
	"TIER_50":   50,
	"TIER_250":  250,
	"TIER_1K":   2000, // legacy: became TIER_2K on 2025-10-07
	"TIER_2K":   2000,
	"TIER_10K":  10000,
	"TIER_100K": 100000,
}

// Unlimited is the daily limit value used for TIER_UNLIMITED.
const Unlimited = -1

// DailyLimit returns the number the outbound budget enforces for a tier name: its value,
// Unlimited for TIER_UNLIMITED, DefaultDailyLimit when unknown or not set.
func DailyLimit(tier string) int {
	if tier == "TIER_UNLIMITED" {
		return Unlimited
	}
	if n, ok := tierLimits[tier]; ok {
		return n
	}
	return DefaultDailyLimit
}

// KnownTier reports whether tier is one Meta sends and we map.
func KnownTier(tier string) bool {
	_, ok := tierLimits[tier]
	return ok || tier == "TIER_UNLIMITED"
}

// TierNotSet is what Meta tells for a number still onboarding: it says nothing about the
// portfolio's shared limit.
const TierNotSet = "TIER_NOT_SET"

// TierTellsPortfolio reports whether a tier told for one phone number is the portfolio's limit:
// not when empty or TIER_NOT_SET (a new number's onboarding must not cut every number's limit).
func TierTellsPortfolio(tier string) bool { return tier != "" && tier != TierNotSet }

// tierRank orders tiers for a tie between two events with the same time: the larger limit
// ranks higher; tiers without a limit (TIER_NOT_SET, unknown) rank lowest, by name.
func tierRank(tier string) int {
	switch {
	case tier == "TIER_UNLIMITED":
		return 1 << 30
	case KnownTier(tier):
		return DailyLimit(tier)
	}
	return 0
}

// NewerTier is the one ordering rule of messaging-limit registers (portfolio and sender alike):
// a tier told at at replaces cur told at curAt when it is later; at the same time the higher
// tier wins (then the greater name), so events applied in any order end in the same tier.
func NewerTier(tier string, at time.Time, cur string, curAt time.Time) bool {
	if tier == "" {
		return false
	}
	if !at.Equal(curAt) {
		return at.After(curAt)
	}
	if a, b := tierRank(tier), tierRank(cur); a != b {
		return a > b
	}
	return tier > cur
}

// ProductLimitLabel is the product's approximate label for a quality rating (shown where Meta
// has not told a tier): ~250 / 1,000 / 10,000 / 100,000+.
func ProductLimitLabel(q Quality) string {
	switch q {
	case QualityLow:
		return "1,000"
	case QualityMedium:
		return "10,000"
	case QualityHigh:
		return "100,000+"
	default:
		return "~250"
	}
}

// Portfolio is the business portfolio's shared messaging limit, as last told by Meta.
type Portfolio struct {
	// Key is Sender.PortfolioKey().
	Key string `json:"key"`
	// Tier is Meta's tier name (TIER_2K …); empty when never told.
	Tier string `json:"tier,omitempty"`
	// EventAt is the time of the event that set Tier; older events are ignored.
	EventAt time.Time `json:"eventAt,omitzero"`
}

// DailyLimit is the budget the outbound pipeline enforces for the portfolio.
func (p Portfolio) DailyLimit() int { return DailyLimit(p.Tier) }
