package people

import (
	"slices"
)

// Roles of people, matching the regulation's duties (M2, M6).
const (
	// RoleAdmin is the province's platform administrator: every action
	// on every unit.
	RoleAdmin = "admin"
	// RoleSecurity is a security officer: keys, grants, lockouts, the
	// activity log and alerts, on every unit.
	RoleSecurity = "security"
	// RoleOperator is a unit operator: only the systems of the person's
	// own unit — their keys, exchanges' metadata, errors, activity and
	// reports (M6).
	RoleOperator = "operator"
	// RoleAuditor is an auditor: read-only access to the activity log, its
	// verification and reports, on every unit.
	RoleAuditor = "auditor"
)

// Roles lists every role.
var Roles = []string{RoleAdmin, RoleSecurity, RoleOperator, RoleAuditor}

// Actions a person may be allowed. Handlers name the action they perform;
// Can decides.
const (
	ActConsoleView     = "console.view"     // see the console at all (any person with a role)
	ActSystemsRead     = "systems.read"     // connected systems and their keys (metadata)
	ActSystemsWrite    = "systems.write"    // register, suspend, change systems and webhooks
	ActKeysWrite       = "keys.write"       // issue, rotate, revoke keys
	ActGrantsWrite     = "grants.write"     // grant and revoke permissions between systems
	ActLockoutsWrite   = "lockouts.write"   // lift key and login lockouts
	ActExchangesRead   = "exchanges.read"   // exchanges' metadata and ledgers, never payloads
	ActDeliveriesRead  = "deliveries.read"  // deliveries and dead letters
	ActDeliveriesWrite = "deliveries.write" // retry or discard deliveries
	ActRoutesRead      = "routes.read"      // the loaded route set and its problems
	ActRoutesReload    = "routes.reload"    // reload routes
	ActReportsRead     = "reports.read"     // statistics reports (R7)
	ActActivityRead    = "activity.read"    // the activity log and errors (M5, M6)
	ActActivityVerify  = "activity.verify"  // verify the activity log's chains
	ActAlertsRead      = "alerts.read"      // firing alerts
	ActPeopleRead      = "people.read"      // people and their roles
	ActPeopleWrite     = "people.write"     // add people, change roles, disable accounts
	ActClientsWrite    = "clients.write"    // register single sign-on applications (OIDC clients)
)

// grants says which actions each role has, and whether on every unit
// (true) or only on the person's own (false).
var grants = map[string]map[string]bool{
	RoleSecurity: {
		ActConsoleView: true, ActSystemsRead: true, ActKeysWrite: true, ActGrantsWrite: true,
		ActLockoutsWrite: true, ActActivityRead: true, ActActivityVerify: true, ActAlertsRead: true,
		ActExchangesRead: true, ActDeliveriesRead: true, ActRoutesRead: true, ActPeopleRead: true,
	},
	RoleOperator: {
		ActConsoleView: false, ActSystemsRead: false, ActKeysWrite: false, ActExchangesRead: false,
		ActDeliveriesRead: false, ActActivityRead: false, ActReportsRead: false,
	},
	RoleAuditor: {
		ActConsoleView: true, ActActivityRead: true, ActActivityVerify: true, ActReportsRead: true,
	},
}

// KnownRole reports whether r is a role.
func KnownRole(r string) bool { return slices.Contains(Roles, r) }

// Can reports whether p may take action on unit. It denies by default: a
// disabled person, an unknown action or role, and an operator acting on
// another unit — or on "every unit" (unit "") — are refused. The
// administrator may do everything.
func Can(p Person, action, unit string) bool {
	if p.Disabled || p.ID == 0 && p.Login == "" {
		return false
	}
	for _, r := range p.Roles {
		if r == RoleAdmin {
			return true
		}
		everyUnit, ok := grants[r][action]
		if !ok {
			continue
		}
		if everyUnit {
			return true
		}
		if p.Unit != "" && unit == p.Unit {
			return true
		}
	}
	return false
}

// Can is the package function Can; a method so that handlers holding the
// service need nothing else.
func (s *Service) Can(p Person, action, unit string) bool { return Can(p, action, unit) }
