package sso

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/tuyenquang/lgsp/bus/people"
)

// codeFor runs an authorization request in a logged-in browser and
// returns the code the manual application received (or its error).
func codeFor(t *testing.T, b *browser, a *app, authURL string) (string, string) {
	t.Helper()
	a.mu.Lock()
	a.manual, a.code, a.callbackErr = true, "", ""
	a.mu.Unlock()
	b.get(t, authURL)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.code, a.callbackErr
}

func exchange(t *testing.T, a *app, code string, opts ...oauth2.AuthCodeOption) error {
	t.Helper()
	_, err := a.cfg.Exchange(t.Context(), code, opts...)
	return err
}

// TestProviderAttacks: what an attacker (or a broken application) tries
// against the provider is refused.
func TestProviderAttacks(t *testing.T) {
	d := newIDP(t, nil, nil)
	who := d.addPerson(t, people.Person{Login: "tran.thi.b", Name: "Trần Thị B", Email: "b@stp.gov.vn", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}})
	web := d.newApp(t, "web", false, nil)
	pub := d.newApp(t, "spa", true, nil)
	adminsOnly := d.newApp(t, "admins-only", false, func(c *Client) { c.Roles = []string{people.RoleAdmin} })
	otherUnit := d.newApp(t, "other-unit", false, func(c *Client) { c.Units = []string{"Sở Y tế"} })
	b := newBrowser(t)
	res, body := b.get(t, web.srv.URL+"/login")
	if res, body = b.login(t, res, body, "tran.thi.b", testPassword); !strings.Contains(body, "signed in to web") {
		t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	noFollow := &http.Client{Transport: testTLSTransport(), Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	t.Run("wrong redirect_uri", func(t *testing.T) {
		for _, evil := range []string{"https://evil.example/callback", web.srv.URL + "/callback/../evil", web.srv.URL + "/callback?x=1", strings.ToUpper(web.srv.URL) + "/callback"} {
			u := strings.Replace(web.authURL(), url.QueryEscape(web.srv.URL+"/callback"), url.QueryEscape(evil), 1)
			res, err := noFollow.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if loc := res.Header.Get("Location"); res.StatusCode/100 == 3 || strings.Contains(loc, "evil") {
				t.Errorf("redirect_uri %s: %d Location %q", evil, res.StatusCode, loc)
			}
		}
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		pub.mu.Lock()
		pub.state = "s1"
		pub.mu.Unlock()
		code, e := codeFor(t, b, pub, pub.cfg.AuthCodeURL("s1", gooidc.Nonce("n")))
		if code != "" || e != "invalid_request" {
			t.Errorf("got code %q error %q", code, e)
		}
	})
	t.Run("plain PKCE refused", func(t *testing.T) {
		pub.mu.Lock()
		pub.state = "s2"
		pub.mu.Unlock()
		code, e := codeFor(t, b, pub, pub.cfg.AuthCodeURL("s2", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if code != "" || e != "invalid_request" {
			t.Errorf("got code %q error %q", code, e)
		}
	})
	t.Run("missing or wrong PKCE verifier", func(t *testing.T) {
		code, _ := codeFor(t, b, pub, pub.authURL())
		if code == "" {
			t.Fatal("no code")
		}
		if err := exchange(t, pub, code); err == nil {
			t.Error("code exchanged without the verifier")
		}
		code, _ = codeFor(t, b, pub, pub.authURL())
		if err := exchange(t, pub, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Error("code exchanged with a wrong verifier")
		}
		// A confidential client that sent a challenge must send the verifier too.
		code, _ = codeFor(t, b, web, web.authURL())
		if err := exchange(t, web, code); err == nil {
			t.Error("confidential client exchanged a PKCE code without the verifier")
		}
	})
	t.Run("code reuse", func(t *testing.T) {
		code, _ := codeFor(t, b, web, web.authURL())
		if err := exchange(t, web, code, oauth2.VerifierOption(web.pkce)); err != nil {
			t.Fatalf("first exchange: %v", err)
		}
		if err := exchange(t, web, code, oauth2.VerifierOption(web.pkce)); err == nil {
			t.Error("a code worked twice")
		}
	})
	t.Run("expired code", func(t *testing.T) {
		code, _ := codeFor(t, b, web, web.authURL())
		d.clock.add(2 * time.Minute)
		defer d.clock.add(-2 * time.Minute)
		if err := exchange(t, web, code, oauth2.VerifierOption(web.pkce)); err == nil {
			t.Error("an expired code worked")
		}
	})
	t.Run("code of one client at another", func(t *testing.T) {
		code, _ := codeFor(t, b, web, web.authURL())
		other := otherUnit.cfg
		other.RedirectURL = web.cfg.RedirectURL
		if _, err := other.Exchange(t.Context(), code, oauth2.VerifierOption(web.pkce)); err == nil {
			t.Error("client other-unit redeemed web's code")
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		code, _ := codeFor(t, b, web, web.authURL())
		bad := web.cfg
		bad.ClientSecret = "not-the-secret"
		if _, err := bad.Exchange(t.Context(), code, oauth2.VerifierOption(web.pkce)); err == nil {
			t.Error("wrong secret accepted")
		}
	})
	t.Run("application not allowed for the person", func(t *testing.T) {
		for _, a := range []*app{adminsOnly, otherUnit} {
			code, e := codeFor(t, b, a, a.authURL())
			if code != "" || e != "access_denied" {
				t.Errorf("%s: code %q error %q", a.id, code, e)
			}
		}
	})

	// A valid access token to copy claims from.
	web.mu.Lock()
	web.manual = false
	web.mu.Unlock()
	b.get(t, web.srv.URL+"/login")
	tok, _, _ := web.signedIn()
	t.Run("alg none and HS256 with the JWKS key", func(t *testing.T) {
		parts := strings.Split(tok.AccessToken, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var jwks jose.JSONWebKeySet
		res, body := b.get(t, d.p.Issuer()+"/keys")
		if res.StatusCode != 200 || json.Unmarshal([]byte(body), &jwks) != nil || len(jwks.Keys) == 0 {
			t.Fatalf("jwks %d %s", res.StatusCode, body)
		}
		for _, k := range jwks.Keys {
			if k.Algorithm != "RS256" || k.Use != "sig" || !k.IsPublic() {
				t.Errorf("JWKS key %s alg %s use %s public %v", k.KeyID, k.Algorithm, k.Use, k.IsPublic())
			}
		}
		pub := jwks.Keys[0].Key.(*rsa.PublicKey)
		der, _ := x509.MarshalPKIXPublicKey(pub)
		enc := base64.RawURLEncoding.EncodeToString
		forge := func(alg string, secret []byte) string {
			h := enc([]byte(`{"alg":"` + alg + `","typ":"JWT","kid":"` + jwks.Keys[0].KeyID + `"}`))
			in := h + "." + enc(payload)
			if secret == nil {
				return in + "."
			}
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(in))
			return in + "." + enc(m.Sum(nil))
		}
		for name, forged := range map[string]string{"none": forge("none", nil), "HS256-der": forge("HS256", der), "HS256-n": forge("HS256", pub.N.Bytes())} {
			req, _ := http.NewRequest(http.MethodGet, d.p.Issuer()+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+forged)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Errorf("%s: forged token read userinfo: %s", name, body)
			}
			if _, err := web.verifier.Verify(t.Context(), forged); err == nil {
				t.Errorf("%s: forged token verified by the relying party", name)
			}
		}
	})
	t.Run("disabled person", func(t *testing.T) {
		off := who
		off.Disabled = true
		if _, err := d.people.Update(t.Context(), "test", off); err != nil {
			t.Fatal(err)
		}
		if _, err := web.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
			t.Error("a disabled person's refresh token worked")
		}
		if _, err := web.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("a disabled person's access token read userinfo")
		}
		web.reset()
		res, body := b.get(t, web.srv.URL+"/login")
		res, body = b.login(t, res, body, "tran.thi.b", testPassword)
		if _, _, idt := web.signedIn(); idt != nil || res.StatusCode == 200 && strings.Contains(body, "signed in") {
			t.Errorf("a disabled person signed in: %d %s", res.StatusCode, body)
		}
	})
}
