package store

import (
	"strconv"
	"time"
)

// Key layout of the single table. Every key builder lives here so the layout reads in one place.
//
//	entity              pk                                   sk           indexes / TTL
//	sender              SENDER#<phoneNumberId>               #SENDER      GSI1 WABA#<waba>/SENDER#<id>, GSI2 SENDERS/<status>#<id>
//	phone uniqueness    PHONE#<e164>                         #PHONE
//	archived sender     ARCHIVE#<phoneNumberId>              <time>
//	portfolio limit     PORTFOLIO#<biz:…|waba:…>             #LIMIT
//	window              WINDOW#<phoneNumberId>#<customerKey> #WINDOW      TTL = window expiry
//	alias               ALIAS#<waba>#<customerKey>           #ALIAS       (tel:… ↔ uid:…)
//	opt-out             OPTOUT#<waba>#<customerKey>          #OPTOUT
//	deliverability      DELIV#<waba>#<customerKey>           #DELIV       TTL = latest mark
//	template            TEMPLATE#<waba>                      <name>#<lang>
//	outbound record     MSG#<requestId>                      #MSG         doc + version (the consumer's), wamid; stDoc, stKey, stWamid (the webhook's delivery status, records.go)
//	wamid lookup        WAMID#<wamid>                        #WAMID       → request id
//	orphan status       WAMID#<wamid>                        STATUS#<status>  TTL 30 d
//	inbound dedupe      INBOUND#<wamid | fallback:<reqId>>   #INBOUND     TTL 8 d (> Meta's 7-day retries)
//	parked payload      PARKED#<yyyy-mm-dd>                  <hash>#<part> TTL 30 d
//	opt-out link        OPTLINK#<waba>#<customerKey>         <customerKey> (renamed to; opt-outs follow)
//	WABA account state  WABA#<waba>                          #ACCOUNT     (bans, restrictions, alerts, names)
//	budget recipient    BUDGET#<portfolioKey>                <customerKey> TTL 24 h after first send
//	budget counter      BUDGET#<portfolioKey>                #COUNT#<0-31> hour slots h<unix hour>, version; quotas add up to the limit (budget.go)
//	conversation hold   HOLD#<groupId>                       #HOLD        ordered deferred request ids; TTL a day past its end (holds.go)
//	sender pace         PACE#<phoneNumberId>#<unix second>#<shard> #PACE  sends booked in that second; TTL 2 min (pacing.go)
//	pair pace           PAIR#<phoneNumberId>#<customerKey>   #PAIR        GCRA arrival time of the next message (pacing.go)
//	deferred record     (the MSG# item while deferred)                    GSI1 DEFERRED#<0-7>/<nextAttemptAt>#<createdAt>#<id>
//	send pause          PAUSE#<token|payment:<waba>>         #PAUSE       TTL = end of the pause
//	reconciler cursor   RECONCILE#senders                    #CURSOR      (where the last run stopped)

func senderKey(id string) key       { return key{"SENDER#" + id, "#SENDER"} }
func phoneKey(e164 string) key      { return key{"PHONE#" + e164, "#PHONE"} }
func portfolioKey(k string) key     { return key{"PORTFOLIO#" + k, "#LIMIT"} }
func windowKey(pnid, ck string) key { return key{"WINDOW#" + pnid + "#" + ck, "#WINDOW"} }
func aliasKey(waba, ck string) key  { return key{"ALIAS#" + waba + "#" + ck, "#ALIAS"} }
func optOutKey(waba, ck string) key { return key{"OPTOUT#" + waba + "#" + ck, "#OPTOUT"} }
func delivKey(waba, ck string) key  { return key{"DELIV#" + waba + "#" + ck, "#DELIV"} }
func templateKey(waba, name, lang string) key {
	return key{"TEMPLATE#" + waba, name + "#" + lang}
}
func templatePK(waba string) string { return "TEMPLATE#" + waba }
func recordKey(id string) key       { return key{"MSG#" + id, "#MSG"} }
func wamidKey(wamid string) key     { return key{"WAMID#" + wamid, "#WAMID"} }
func orphanKey(wamid, status string) key {
	return key{"WAMID#" + wamid, "STATUS#" + status}
}
func orphanPrefix(wamid string) (string, string) { return "WAMID#" + wamid, "STATUS#" }
func claimKey(id string) key                     { return key{"INBOUND#" + id, "#INBOUND"} }
func parkedPK(day string) string                 { return "PARKED#" + day }
func parkedKey(day, id string, part int) key {
	return key{parkedPK(day), id + "#" + strconv.Itoa(part)}
}
func optLinkPK(waba, from string) string { return "OPTLINK#" + waba + "#" + from }

// optLinkKey records that opt-outs of customer key from also apply to key to (the customer
// changed number or BSUID).
func optLinkKey(waba, from, to string) key { return key{optLinkPK(waba, from), to} }
func accountKey(waba string) key           { return key{"WABA#" + waba, "#ACCOUNT"} }
func archiveKey(id string, at time.Time) key {
	return key{"ARCHIVE#" + id, at.UTC().Format(time.RFC3339Nano)}
}

func budgetPK(portfolio string) string            { return "BUDGET#" + portfolio }
func budgetRecipientKey(portfolio, ck string) key { return key{budgetPK(portfolio), ck} }
func budgetShardKey(portfolio string, n int) key {
	return key{budgetPK(portfolio), budgetCounterSK + strconv.Itoa(n)}
}
func holdKey(conv string) key { return key{"HOLD#" + conv, "#HOLD"} }
func paceKey(senderID string, second int64, shard int) key {
	return key{"PACE#" + senderID + "#" + strconv.FormatInt(second, 10) + "#" + strconv.Itoa(shard), "#PACE"}
}
func pairKey(senderID, ck string) key { return key{"PAIR#" + senderID + "#" + ck, "#PAIR"} }
func deferredPK(shard uint32) string  { return "DEFERRED#" + strconv.FormatUint(uint64(shard), 10) }
func pauseKey(scope string) key       { return key{"PAUSE#" + scope, "#PAUSE"} }

// reconcileCursorKey holds where the reconciler stopped, so a run cut short (Graph API call
// rate, Lambda deadline) is resumed by the next one instead of starting over.
func reconcileCursorKey() key { return key{"RECONCILE#senders", "#CURSOR"} }

const (
	gsiSendersPK = "SENDERS"
)

func wabaGSI(waba string) string { return "WABA#" + waba }

// senderGSI1SK and senderGSI2SK are a sender's index sort keys; with an empty id they are the
// prefix a query by WABA or by status begins with.
func senderGSI1SK(id string) string         { return "SENDER#" + id }
func senderGSI2SK(status, id string) string { return status + "#" + id }
