// Package auth is the authentication service of LGSP (C4): the registry of
// connected systems and their key pairs (R7, Art. 8), the request signature
// protocol LGSP-HMAC-SHA256, and the nonce replay cache.
//
// A connected system signs every request with its secret key over a
// canonical form of the method, path, query, chosen headers, timestamp,
// nonce and body hash (see CanonicalRequest and docs/auth.md, which is the
// normative description for integrators). Verifier.Verify checks such a
// request and answers with the Principal that sent it, or with exactly one
// error of the bus catalogue (auth.*). The body hash is checked while the
// body streams, by the reader VerifyBody returns, because bodies can be far
// larger than memory.
//
// Algorithms are pluggable: each is an Algorithm registered by name, and all
// share one canonical form whose first line is the algorithm's name, so
// LGSP-HMAC-SHA1 and LGSP-RSA-SHA256 can be added without touching the
// canonical form or the verifier.
//
// Secrets are never stored in clear: the Registry seals them with the
// master key (package vault) bound to their access key (SecretAAD). The
// kind of a key is stored with it (store.KeyShared or store.KeyPublic), and
// SharedSecret, the only function that opens a sealed secret, has nothing
// to give for a public key (auth.key_kind): a system's certificate is
// public and must never pass for a secret. Webhooks to systems without a
// secret are signed by the platform key (PlatformKeys).
//
// Session keys for service access (A1–A6) are issued and checked by
// Sessions; Tokens and Authenticator accept OAuth2 bearer tokens and the
// legacy lgspaccesstoken header beside signatures (docs/services.md).
//
// Package auth imports bus, bus/vault and bus/store (for its types only; it
// needs just the narrow KeyStore and RegistryStore subsets) and the
// standard library. It never imports adapters or later bus packages.
package auth
