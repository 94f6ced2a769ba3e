package sso

import (
	"context"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/tuyenquang/lgsp/bus/people"
)

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	j, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return j.Signatures[0].Header.KeyID
}

// TestSingleSignOnTwoApps: two applications, one login, both signed in
// without a second password; tokens verified by go-oidc against the JWKS;
// userinfo; refresh with rotation; key rotation keeps old tokens valid
// until their key is retired; logout at one ends both.
func TestSingleSignOnTwoApps(t *testing.T) {
	d := newIDP(t, nil, nil)
	who := d.addPerson(t, people.Person{Login: "nguyen.van.a", Name: "Nguyễn Văn A", Email: "a@stp.gov.vn", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}})
	appA := d.newApp(t, "app-a", false, nil)
	appB := d.newApp(t, "app-b", true, nil) // public: PKCE only
	b := newBrowser(t)

	res, body := b.get(t, appA.srv.URL+"/login")
	res, body = b.login(t, res, body, "nguyen.van.a", testPassword)
	if res.StatusCode != 200 || !strings.Contains(body, "signed in to app-a") {
		t.Fatalf("app A: %d %s (%s)", res.StatusCode, body, appA.callbackErr)
	}
	b.forget()
	res, body = b.get(t, appB.srv.URL+"/login")
	if res.StatusCode != 200 || !strings.Contains(body, "signed in to app-b") {
		t.Fatalf("app B: %d %s (%s)", res.StatusCode, body, appB.callbackErr)
	}
	if b.sawLoginForm() {
		t.Fatalf("app B asked for the password again: %v", b.visited)
	}
	tokA, rawA, idA := appA.signedIn()
	tokB, rawB, idB := appB.signedIn()
	if idA.Subject != idB.Subject || idA.Subject != subjectOf(who) {
		t.Fatalf("subjects %s %s, want %s", idA.Subject, idB.Subject, subjectOf(who))
	}
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		Unit  string `json:"unit"`
	}
	if err := idA.Claims(&claims); err != nil || claims.Email != "a@stp.gov.vn" || claims.Unit != "Sở Tư pháp" || claims.Name != "Nguyễn Văn A" {
		t.Fatalf("claims %+v %v", claims, err)
	}
	if tokA.RefreshToken == "" || tokB.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	// Audience: A's ID token and access token are not B's.
	if _, err := appB.verifier.Verify(t.Context(), rawA); err == nil {
		t.Fatal("app B accepted app A's ID token")
	}
	if _, err := appA.verifier.Verify(t.Context(), tokA.AccessToken); err != nil {
		t.Fatalf("A's access token (JWT) does not verify for A: %v", err)
	}
	if _, err := appB.verifier.Verify(t.Context(), tokA.AccessToken); err == nil {
		t.Fatal("app B accepted app A's access token")
	}
	// userinfo with the access token.
	ui, err := appA.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tokA))
	if err != nil || ui.Subject != idA.Subject || ui.Email != "a@stp.gov.vn" {
		t.Fatalf("userinfo %+v %v", ui, err)
	}

	// Refresh: a new access token; the used refresh token works once.
	oldKid := kidOf(t, rawA)
	fresh, err := appA.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tokA.RefreshToken}).Token()
	if err != nil || fresh.AccessToken == "" || fresh.RefreshToken == tokA.RefreshToken {
		t.Fatalf("refresh: %v %+v", err, fresh)
	}
	if _, err := appA.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tokA.RefreshToken}).Token(); err == nil {
		t.Fatal("a used refresh token worked again")
	}
	if _, err := appA.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(fresh)); err != nil {
		t.Fatalf("userinfo with refreshed token: %v", err)
	}

	// Key rotation: new tokens use the new key, old ones still verify.
	newKid, err := d.p.RotateKey(t.Context(), "test")
	if err != nil || newKid == oldKid {
		t.Fatalf("rotate: %s %v", newKid, err)
	}
	fresh2, err := appA.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	raw2, _ := fresh2.Extra("id_token").(string)
	if kidOf(t, raw2) != newKid || kidOf(t, fresh2.AccessToken) != newKid {
		t.Fatalf("after rotation tokens signed by %s, want %s", kidOf(t, raw2), newKid)
	}
	relaxed := func() *gooidc.IDTokenVerifier { // a relying party that fetches the JWKS afresh
		pr, err := gooidc.NewProvider(context.Background(), d.p.Issuer())
		if err != nil {
			t.Fatal(err)
		}
		return pr.Verifier(&gooidc.Config{ClientID: "app-a"})
	}
	if _, err := relaxed().Verify(t.Context(), rawA); err != nil {
		t.Fatalf("old ID token no longer verifies right after rotation: %v", err)
	}
	if _, err := relaxed().Verify(t.Context(), raw2); err != nil {
		t.Fatalf("new ID token does not verify: %v", err)
	}
	// Once every token the old key signed has expired, the key leaves the JWKS.
	d.clock.add(d.p.retain() + time.Minute)
	if _, err := relaxed().Verify(t.Context(), rawA); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("retired key still verifies: %v", err)
	}
	d.clock.add(-(d.p.retain() + time.Minute))

	// Logout at A (RP-initiated) ends B too.
	res, body = b.get(t, d.p.Issuer()+"/end_session?id_token_hint="+rawA+"&post_logout_redirect_uri="+appA.srv.URL+"/bye")
	if res.StatusCode != 200 || body != "bye" {
		t.Fatalf("end_session: %d %s", res.StatusCode, body)
	}
	if _, err := appB.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tokB.RefreshToken}).Token(); err == nil {
		t.Fatal("B's refresh token survived the logout")
	}
	if _, err := appB.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tokB)); err == nil {
		t.Fatal("B's access token still reads userinfo after logout")
	}
	if _, err := appA.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(fresh2)); err == nil {
		t.Fatal("A's access token still reads userinfo after logout")
	}
	for _, a := range []*app{appA, appB} {
		a.mu.Lock()
		got := a.logouts
		a.mu.Unlock()
		if len(got) != 1 || got[0] != idA.Subject {
			t.Errorf("%s back-channel logouts %v, want [%s]", a.id, got, idA.Subject)
		}
	}
	_ = rawB
	// The next visit to B needs the password again.
	appB.reset()
	b.forget()
	res, body = b.get(t, appB.srv.URL+"/login")
	if !strings.HasPrefix(res.Request.URL.Path, people.LoginPath) {
		t.Fatalf("after logout app B signed in without a password: %s %.100s", res.Request.URL, body)
	}
}
