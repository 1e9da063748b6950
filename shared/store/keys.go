package store

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
//	outbound record     MSG#<requestId>                      #MSG
//	wamid lookup        WAMID#<wamid>                        #WAMID       → request id
//	orphan status       WAMID#<wamid>                        STATUS#<status>  TTL 30 d
//	inbound dedupe      INBOUND#<wamid>                      #INBOUND     TTL 8 d (> Meta's 7-day retries)
//	parked payload      PARKED#<yyyy-mm-dd>                  <time>#<id>  TTL 30 d
//	budget recipient    BUDGET#<portfolioKey>                <customerKey> TTL 24 h after first send

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
func recordKey(id string) key   { return key{"MSG#" + id, "#MSG"} }
func wamidKey(wamid string) key { return key{"WAMID#" + wamid, "#WAMID"} }

const (
	gsiSendersPK = "SENDERS"
)

func wabaGSI(waba string) string { return "WABA#" + waba }
