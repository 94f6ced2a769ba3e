package sso

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/people"
)

// newUpstreamPair starts an upstream LGSP acting as the identity provider
// (as VNeID or the national SSO would) and a province node that logs
// people in through it, linking by claim.
func newUpstreamPair(t *testing.T, claim string, emailVerified bool, rules []Rule, issuerOverride func(up *idp) string) (up, node *idp) {
	t.Helper()
	up = newIDP(t, nil, func(o *Options) {
		// Another host name for the same address, so that the browser's
		// cookies of the two nodes stay apart.
		o.Issuer = strings.Replace(o.Issuer, "127.0.0.1", "localhost", 1)
		o.EmailVerified = emailVerified
	})
	node = newIDP(t, nil, func(o *Options) {
		c, secret, err := up.p.AddClient(t.Context(), "test", Client{ID: "province", Name: "Province LGSP", RedirectURIs: []string{o.Issuer + "/upstream/callback"}})
		if err != nil {
			t.Fatal(err)
		}
		iss := up.p.Issuer()
		if issuerOverride != nil {
			iss = issuerOverride(up)
		}
		o.Upstream = &Upstream{Name: "VNeID (test)", Issuer: iss, ClientID: c.ID, ClientSecret: secret, Claim: claim, Rules: rules,
			Scopes: []string{"openid", "profile", "email", ScopePersonalID}}
	})
	return up, node
}

// upstreamLogin drives a browser from the province node's upstream link
// through the upstream's login form and back.
func loginUpstream(t *testing.T, b *browser, up, node *idp, login string) (*http.Response, string) {
	t.Helper()
	res, body := b.get(t, node.srv.URL+node.p.UpstreamLoginPath()+"?next=/console/")
	if strings.HasPrefix(res.Request.URL.Path, people.LoginPath) && strings.Contains(res.Request.URL.Host, "localhost") {
		res, body = b.login(t, res, body, login, testPassword)
	}
	return res, body
}

func problemCode(body string) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal([]byte(body), &p)
	if p.Code == "" {
		if i := strings.Index(body, ":"); i > 0 {
			return body[:i]
		}
	}
	return p.Code
}

// TestUpstreamLogin: a person logs in to the province node through the
// upstream provider, linked by personal_id; an unknown person matching a
// rule gets an account; one matching none waits for an administrator.
func TestUpstreamLogin(t *testing.T) {
	up, node := newUpstreamPair(t, "personal_id", false, []Rule{{Pattern: "0019[0-9]{8}", Unit: "Sở Y tế", Roles: []string{people.RoleAuditor}}}, nil)
	up.addPerson(t, people.Person{Login: "le.van.c", Name: "Lê Văn C", PersonalID: "001088000111", Unit: "VNeID"})
	up.addPerson(t, people.Person{Login: "pham.d", Name: "Phạm D", PersonalID: "001999000222", Unit: "VNeID"})
	up.addPerson(t, people.Person{Login: "stranger", Name: "Người lạ", PersonalID: "002077000333", Unit: "VNeID"})
	local, err := node.people.Add(t.Context(), "test", people.Person{Login: "c.local", Name: "Lê Văn C", PersonalID: "001088000111", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}}, "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("linked by personal_id", func(t *testing.T) {
		b := newBrowser(t)
		res, body := loginUpstream(t, b, up, node, "le.van.c")
		if res.StatusCode != 200 || res.Request.URL.Path != "/console/" || !strings.Contains(body, "c.local") {
			t.Fatalf("%d at %s: %.300s", res.StatusCode, res.Request.URL, body)
		}
		req, _ := http.NewRequest(http.MethodGet, node.srv.URL+"/console/", nil)
		for _, c := range b.c.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		if p, ok := node.people.Current(req); !ok || p.ID != local.ID {
			t.Fatalf("session person %+v %v, want %s", p, ok, local.Login)
		}
	})
	t.Run("unknown person matching a rule", func(t *testing.T) {
		b := newBrowser(t)
		res, body := loginUpstream(t, b, up, node, "pham.d")
		if res.StatusCode != 200 || res.Request.URL.Path != "/console/" {
			t.Fatalf("%d at %s: %.300s", res.StatusCode, res.Request.URL, body)
		}
		p, found, err := node.people.FindByClaim("personal_id", "001999000222")
		if err != nil || !found || p.Unit != "Sở Y tế" || len(p.Roles) != 1 || p.Roles[0] != people.RoleAuditor {
			t.Fatalf("account by rule: %+v %v %v", p, found, err)
		}
	})
	t.Run("unknown person without rule waits for an administrator", func(t *testing.T) {
		before, _ := node.people.List(t.Context())
		b := newBrowser(t)
		res, body := loginUpstream(t, b, up, node, "stranger")
		if res.StatusCode != bus.ErrSSOPending.Status || problemCode(body) != string(bus.ErrSSOPending.Code) {
			t.Fatalf("%d %.300s", res.StatusCode, body)
		}
		after, _ := node.people.List(t.Context())
		if len(after) != len(before) {
			t.Fatalf("an account was created: %d → %d", len(before), len(after))
		}
		pend, err := node.p.Pending(t.Context())
		if err != nil || len(pend) != 1 || pend[0].Value != "002077000333" || pend[0].Claim != "personal_id" {
			t.Fatalf("pending %+v %v", pend, err)
		}
		// The administrator approves by creating the account; the next login links it.
		if _, err := node.people.Add(t.Context(), "admin", people.Person{Login: "stranger.ok", Name: "Người lạ", PersonalID: "002077000333", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}}, ""); err != nil {
			t.Fatal(err)
		}
		res, body = loginUpstream(t, b, up, node, "stranger")
		if res.StatusCode != 200 || res.Request.URL.Path != "/console/" {
			t.Fatalf("after approval: %d at %s: %.300s", res.StatusCode, res.Request.URL, body)
		}
	})
	t.Run("state mismatch", func(t *testing.T) {
		b := newBrowser(t)
		noFollow := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noFollow.Get(node.srv.URL + node.p.UpstreamLoginPath())
		if err != nil || res.StatusCode != http.StatusFound {
			t.Fatalf("start: %v %v", res, err)
		}
		res.Body.Close()
		for name, q := range map[string]string{"other state": "?state=forged&code=x", "no state": "?code=x"} {
			res, err := noFollow.Get(node.srv.URL + MountPath + "/upstream/callback" + q)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != bus.ErrSSOUpstreamFailed.Status || problemCode(string(body)) != string(bus.ErrSSOUpstreamFailed.Code) {
				t.Errorf("%s: %d %s", name, res.StatusCode, body)
			}
		}
		// A callback from another browser (no state cookie: login CSRF).
		other := newBrowser(t)
		res, body := other.get(t, node.srv.URL+MountPath+"/upstream/callback?state=whatever&code=x")
		if res.StatusCode != bus.ErrSSOUpstreamFailed.Status {
			t.Errorf("callback without cookie: %d %s", res.StatusCode, body)
		}
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		b := newBrowser(t)
		// The browser logs in at the upstream first, so that the flow runs
		// straight through; the nonce the node remembers is then changed.
		res, body := b.get(t, up.srv.URL+people.LoginPath)
		_ = res
		u := strings.Replace(up.srv.URL, "127.0.0.1", "localhost", 1)
		res, body = b.get(t, u+people.LoginPath)
		b.login(t, res, body, "le.van.c", testPassword)
		noFollow := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noFollow.Get(node.srv.URL + node.p.UpstreamLoginPath())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		recs, err := node.st.ListSSO(t.Context(), kindUpstream, "", node.clock.now())
		if err != nil || len(recs) == 0 {
			t.Fatalf("no upstream login in flight: %v", err)
		}
		for _, r := range recs {
			var l upstreamLogin
			_ = json.Unmarshal(r.Data, &l)
			l.Nonce = "tampered"
			r.Data, _ = json.Marshal(l)
			if err := node.st.PutSSO(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		res, body = b.get(t, res.Header.Get("Location"))
		if res.StatusCode != bus.ErrSSOUpstreamFailed.Status || !strings.Contains(body, "nonce") {
			t.Fatalf("%d %.300s", res.StatusCode, body)
		}
	})
}

// TestUpstreamEmailAndIssuer: linking by e-mail needs email_verified from
// the upstream; an upstream whose discovery names another issuer is
// refused.
func TestUpstreamEmailAndIssuer(t *testing.T) {
	t.Run("unverified e-mail", func(t *testing.T) {
		up, node := newUpstreamPair(t, "email", false, nil, nil)
		up.addPerson(t, people.Person{Login: "e.user", Name: "E", Email: "e@tuyenquang.gov.vn", Unit: "VNeID"})
		node.people.Add(t.Context(), "test", people.Person{Login: "e.local", Name: "E", Email: "e@tuyenquang.gov.vn", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}}, "")
		res, body := loginUpstream(t, newBrowser(t), up, node, "e.user")
		if res.StatusCode != bus.ErrSSOUnverified.Status || problemCode(body) != string(bus.ErrSSOUnverified.Code) {
			t.Fatalf("%d %.300s", res.StatusCode, body)
		}
	})
	t.Run("verified e-mail", func(t *testing.T) {
		up, node := newUpstreamPair(t, "email", true, nil, nil)
		up.addPerson(t, people.Person{Login: "e.user", Name: "E", Email: "e@tuyenquang.gov.vn", Unit: "VNeID"})
		node.people.Add(t.Context(), "test", people.Person{Login: "e.local", Name: "E", Email: "e@tuyenquang.gov.vn", Unit: "Sở Tư pháp", Roles: []string{people.RoleOperator}}, "")
		res, body := loginUpstream(t, newBrowser(t), up, node, "e.user")
		if res.StatusCode != 200 || !strings.Contains(body, "e.local") {
			t.Fatalf("%d %.300s", res.StatusCode, body)
		}
	})
	t.Run("wrong issuer", func(t *testing.T) {
		// A server that hands out the real upstream's discovery document
		// under another address: its issuer is not the configured one.
		var fake *httptest.Server
		_, node := newUpstreamPair(t, "personal_id", false, nil, func(up *idp) string {
			fake = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res, err := http.Get(up.p.Issuer() + "/.well-known/openid-configuration")
				if err != nil {
					http.Error(w, err.Error(), 502)
					return
				}
				defer res.Body.Close()
				w.Header().Set("Content-Type", "application/json")
				io.Copy(w, res.Body)
			}))
			t.Cleanup(fake.Close)
			return fake.URL + MountPath
		})
		res, body := newBrowser(t).get(t, node.srv.URL+node.p.UpstreamLoginPath())
		if res.StatusCode != bus.ErrSSOUpstreamFailed.Status || !strings.Contains(body, "discovery") {
			t.Fatalf("%d %.300s", res.StatusCode, body)
		}
	})
}
