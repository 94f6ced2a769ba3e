package people

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tuyenquang/lgsp/bus"
)

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func parseRef(s string) (*url.URL, error) { return url.Parse(s) }

// loginTmpl is the minimal login form (Vietnamese first, English after);
// the console replaces it with its own page through LoginHandler's page
// argument.
var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Đăng nhập LGSP · LGSP login</title></head>
<body><main>
<h1>Đăng nhập LGSP <small lang="en">(LGSP login)</small></h1>
{{if .Err}}<p role="alert" id="error">{{.Err.Def.VI}} <span lang="en">({{.Err.Def.EN}})</span></p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="next" value="{{.Next}}">
<p><label for="login">Tên đăng nhập <span lang="en">(login)</span></label><br><input id="login" name="login" autocomplete="username" required autofocus></p>
<p><label for="password">Mật khẩu <span lang="en">(password)</span></label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><label for="totp">Mã xác thực hai lớp, nếu có <span lang="en">(authenticator code, if enrolled)</span></label><br><input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}"></p>
<p><button type="submit">Đăng nhập <span lang="en">(log in)</span></button></p>
</form></main></body></html>
`))

func minimalLoginPage(w http.ResponseWriter, r *http.Request, csrf, next string, err error) {
	var e *bus.Error
	if err != nil {
		e = bus.AsError(err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if e != nil {
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
		w.Header().Set("X-LGSP-Error-Code", string(e.Def.Code))
		w.WriteHeader(e.Def.Status)
	}
	_ = loginTmpl.Execute(w, map[string]any{"Action": LoginPath, "CSRF": csrf, "Next": next, "Err": e})
}

var homeTmpl = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>LGSP</title></head>
<body><main>
<h1>Bảng điều khiển LGSP <small lang="en">(LGSP console)</small></h1>
<p id="person">{{.P.Name}} ({{.P.Login}}){{if .P.Unit}} · {{.P.Unit}}{{end}} · {{range $i, $r := .P.Roles}}{{if $i}}, {{end}}{{$r}}{{end}}</p>
<form method="post" action="{{.Logout}}"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">Đăng xuất <span lang="en">(log out)</span></button></form>
</main></body></html>
`))

// HomeHandler is the placeholder /console/ page: who is logged in, and a
// logout button. Mount it behind Guard(ActConsoleView, …).
func (s *Service) HomeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = homeTmpl.Execute(w, map[string]any{"P": p, "CSRF": s.CSRF(r), "Logout": LogoutPath})
	})
}

// LoginPage renders the login form: the hidden fields csrf and next, and
// after a failed login the error, answered with its status.
type LoginPage func(w http.ResponseWriter, r *http.Request, csrf, next string, err error)

// Mount mounts the built-in minimal login form, logout and a placeholder
// /console/ home on handle (a mux's Handle), for a server without the
// console: bus/sso's tests log people in through it. A node mounts the
// console (bus/console), which serves its own login page through
// LoginHandler and its own home.
func (s *Service) Mount(handle func(pattern string, h http.Handler)) {
	handle(LoginPath, s.LoginHandler(minimalLoginPage))
	handle(LogoutPath, s.LogoutHandler())
	handle("GET /console/{$}", s.Guard(ActConsoleView, s.HomeHandler()))
}
