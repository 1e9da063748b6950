package store

import "github.com/aloro/wa-senders/shared/outbound"

// The tuning the memory store (shared/store/memory) takes from this store, so that the two
// cannot drift apart; the contract suites hold them to the behaviour it gives.
const (
	BudgetShards      = budgetShards
	BudgetWindow      = budgetWindow
	BudgetSlot        = budgetSlot
	PaceShardRate     = paceShardRate
	PaceKeep          = paceKeep
	HoldKeep          = holdKeep
	DeliveryReportTTL = deliveryReportTTL
	DueTimeFormat     = dueTimeFormat
)

// OrphanStatuses are the kept statuses PutSentRecord checks for before it writes a sent record.
func OrphanStatuses() []outbound.Status { return append([]outbound.Status(nil), orphanStatuses...) }
