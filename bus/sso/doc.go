// Package sso makes LGSP the OpenID Connect provider of the province's
// business applications (issue #12, C6) and lets people log in through an
// upstream OpenID Connect provider such as the national electronic
// identification system VNeID or the national single sign-on (M7).
//
// The protocol is github.com/zitadel/oidc/v3's op package (an OpenID
// Certified library), not code of ours: discovery, the authorization code
// flow with PKCE (S256, required of public clients), ID and JWT access
// tokens signed with RS256 keys published in the JWKS, userinfo, refresh
// tokens (rotated on each use), revocation, introspection and
// RP-initiated logout. This package implements the library's Storage on
// bus/store (one table of records, migration 0017): registered
// applications, authorization requests, single-use codes, tokens, and the
// signing keys, whose private part is sealed by bus/vault. Keys rotate on
// a schedule (a key older than the rotation period is replaced when the
// next token is signed) or on command; a replaced key stays in the JWKS
// until every token it signed has expired.
//
// The login step is the people login of the console (bus/people): a
// browser without a session is sent to people.LoginPath?next=… and comes
// back; a person logged in once reaches every application its roles and
// unit allow without typing a password again. Logging out at any
// application (end_session) ends the person's console session, revokes
// every access and refresh token the person holds at every application,
// and sends an OpenID Connect back-channel logout token to each of those
// applications that registered a back-channel logout URI.
//
// Upstream (upstream.go) is the relying-party side: github.com/coreos/go-oidc
// and golang.org/x/oauth2 log a person in at the upstream provider, the
// verified claim chosen by the administrator (personal_id or a verified
// e-mail) finds the account through people.Service.FindByClaim, and
// people.Service.StartSession logs it in. Nobody gets an account without
// an administrator: an unknown person either matches a mapping rule of
// the configuration or is recorded as a pending request for the
// administrators.
//
// The package sits above bus/people in docs/architecture.md; it imports
// bus, bus/store, bus/vault, bus/activity and bus/people, never
// bus/service or an adapter.
package sso
