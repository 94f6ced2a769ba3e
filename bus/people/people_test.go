package people

import (
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

func TestCanDeniesByDefault(t *testing.T) {
	admin := Person{ID: 1, Login: "a", Roles: []string{RoleAdmin}}
	sec := Person{ID: 2, Login: "s", Roles: []string{RoleSecurity}}
	op := Person{ID: 3, Login: "o", Unit: "Sở Tư pháp", Roles: []string{RoleOperator}}
	aud := Person{ID: 4, Login: "u", Roles: []string{RoleAuditor}}
	none := Person{ID: 5, Login: "n"}
	opNoUnit := Person{ID: 6, Login: "x", Roles: []string{RoleOperator}}
	off := admin
	off.Disabled = true
	cases := []struct {
		name   string
		p      Person
		action string
		unit   string
		want   bool
	}{
		{"admin anything", admin, ActPeopleWrite, "", true},
		{"admin unknown action", admin, "x.y", "u", true},
		{"disabled admin", off, ActSystemsRead, "", false},
		{"security keys any unit", sec, ActKeysWrite, "Sở Y tế", true},
		{"security not people", sec, ActPeopleWrite, "", false},
		{"security not routes reload", sec, ActRoutesReload, "", false},
		{"operator own unit keys", op, ActKeysWrite, "Sở Tư pháp", true},
		{"operator other unit keys", op, ActKeysWrite, "Sở Y tế", false},
		{"operator every unit", op, ActSystemsRead, "", false},
		{"operator no system writes", op, ActSystemsWrite, "Sở Tư pháp", false},
		{"operator no people", op, ActPeopleRead, "Sở Tư pháp", false},
		{"operator without unit", opNoUnit, ActSystemsRead, "", false},
		{"auditor activity", aud, ActActivityRead, "Sở Y tế", true},
		{"auditor read only", aud, ActKeysWrite, "", false},
		{"auditor no deliveries write", aud, ActDeliveriesWrite, "", false},
		{"no role", none, ActConsoleView, "", false},
		{"unknown action", sec, "launch.missiles", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Can(c.p, c.action, c.unit); got != c.want {
				t.Errorf("Can(%v, %s, %q) = %v, want %v", c.p.Roles, c.action, c.unit, got, c.want)
			}
		})
	}
}

// TestTOTPVectors checks the RFC 6238 appendix B vectors (SHA-1, the
// 8-digit codes' last 6 digits).
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := TOTPCode(secret, TOTPStep(time.Unix(v.unix, 0))); got != v.code {
			t.Errorf("T=%d: code %s, want %s", v.unix, got, v.code)
		}
	}
	now := time.Unix(1111111111, 0)
	if st := checkTOTP(secret, "050471", now.Add(30*time.Second)); st != TOTPStep(now) {
		t.Errorf("code of the previous step refused (step %d)", st)
	}
	if st := checkTOTP(secret, "050471", now.Add(90*time.Second)); st != -1 {
		t.Errorf("code two steps old accepted")
	}
	if st := checkTOTP(secret, "05047", now); st != -1 {
		t.Errorf("short code accepted")
	}
	uri := TOTPURI("LGSP", "nguyen.van.a", secret)
	if !strings.HasPrefix(uri, "otpauth://totp/LGSP:nguyen.van.a?") || !strings.Contains(uri, "secret="+base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)) {
		t.Errorf("uri %s", uri)
	}
}

func TestPasswordHash(t *testing.T) {
	pp := Argon2Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}
	h, err := HashPassword("đúng-mật-khẩu-dài", pp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash %s", h)
	}
	if !VerifyPassword(h, "đúng-mật-khẩu-dài") {
		t.Error("right password refused")
	}
	if VerifyPassword(h, "sai-mật-khẩu-dài") {
		t.Error("wrong password accepted")
	}
	h2, _ := HashPassword("đúng-mật-khẩu-dài", pp)
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", strings.Replace(h, "t=1", "t=99", 1)} {
		if VerifyPassword(bad, "x") {
			t.Errorf("malformed or out-of-bounds hash %q accepted", bad)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "/console/",
		"/console/systems?unit=a":  "/console/systems?unit=a",
		"//evil.example":           "/console/",
		"https://evil.example/":    "/console/",
		"/\\evil.example":          "/console/",
		"javascript:alert(1)":      "/console/",
		"/console/\r\nLocation: x": "/console/",
		"evil.example":             "/console/",
		"/%2F%2Fevil":              "/console/", // harmless, refused anyway
		"///evil":                  "/console/",
		"\t//evil":                 "/console/",
	} {
		if got := SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkHashPassword measures one argon2id hash with the default
// parameters (docs/console.md quotes it).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("một mật khẩu đủ dài", DefaultArgon2); err != nil {
			b.Fatal(err)
		}
	}
}
