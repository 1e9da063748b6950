package whatsapp

import "testing"

// The partner events of Embedded Signup (PARTNER_ADDED when a business finishes the flow, and
// the disconnections and reconnection), each carrying waba_info.
func init() {
	partner := func(event string) func(*testing.T, []any) {
		return func(t *testing.T, vals []any) {
			u := only[AccountUpdate](t, vals)
			eq(t, "event", u.Event, event)
			eq(t, "waba", u.WABAInfo.WABAID, fixtureWABA)
			eq(t, "owner", u.WABAInfo.OwnerBusinessID, ID("2329417887457253"))
		}
	}
	fixtureChecks["account_update_partner_added"] = partner("PARTNER_ADDED")
	fixtureChecks["account_update_partner_app_uninstalled"] = partner("PARTNER_APP_UNINSTALLED")
	fixtureChecks["account_update_account_offboarded"] = partner("ACCOUNT_OFFBOARDED")
	fixtureChecks["account_update_account_reconnected"] = partner("ACCOUNT_RECONNECTED")
}
