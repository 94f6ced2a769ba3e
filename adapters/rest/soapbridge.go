package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/service"
)

// soapClients are the SOAP clients of bridged services, one per
// configuration (endpoint, version, timeout, credentials).
var soapClients sync.Map // string → *soap.Client

// bridge answers a call to a service with a soap: block (C2, REST ⇄ SOAP):
// the JSON body becomes the request of the operation (through the declared
// mapping, or decoded by the generated type's JSON names when there is
// none), the operation is called at the service's endpoint within its
// timeout (at most 30 s), and its answer goes back as JSON. A fault of the
// legacy service is a service.fault problem whose detail carries the
// fault's code and string; transport failures are service.unreachable,
// service.timeout or service.busy as for REST services. A SOAP call is not
// idempotent, so it is never retried.
func (p *proxy) bridge(w http.ResponseWriter, r *http.Request, svc *route.Service, who *auth.Principal) {
	sp := soap.BridgeOf(svc)
	b, ok := soap.Lookup(sp.Key())
	if !ok {
		service.WriteProblem(w, r, bus.ErrServiceDown.New("service %s: operation %s is not registered in this build", svc.Name, sp.Key()))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		service.WriteProblem(w, r, bus.ErrBadRequest.New("service %s bridges to SOAP: call it with POST and a JSON body", svc.Name))
		return
	}
	var body io.Reader = io.LimitReader(r.Body, svc.MaxBytes+1)
	if who.BodySHA256 != "" {
		body = auth.VerifyBody(io.NopCloser(body), who.BodySHA256, nil)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		var be *bus.Error
		if errors.As(err, &be) {
			service.WriteProblem(w, r, be)
		} else {
			service.WriteProblem(w, r, bus.ErrBadRequest.New("reading the body: %v", err))
		}
		return
	}
	if int64(len(data)) > svc.MaxBytes {
		service.WriteProblem(w, r, bus.ErrBodyTooLarge.New("service %s accepts bodies of at most %d bytes", svc.Name, svc.MaxBytes))
		return
	}
	req, err := bridgeRequest(b, sp.Mapping, data)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	c, err := bridgeClient(svc, b.VersionFor(sp.Version))
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	var resp any
	if b.NewResponse != nil {
		resp = b.NewResponse()
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(svc.Timeout, route.MaxServiceTimeout))
	defer cancel()
	err = c.Call(ctx, b.Action, req, resp)
	var f *soap.Fault
	switch {
	case errors.As(err, &f):
		detail := fmt.Sprintf("service %s: fault %s: %s", svc.Name, f.Code, f.String)
		if f.LGSPCode != "" {
			detail += " (" + string(f.LGSPCode) + ")"
		}
		service.WriteProblem(w, r, bus.ErrServiceFault.New("%s", detail))
		return
	case errors.Is(r.Context().Err(), context.Canceled):
		return // the caller went away
	case err != nil:
		service.WriteProblem(w, r, err)
		return
	}
	if resp == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	service.WriteJSON(w, http.StatusOK, resp)
}

// bridgeRequest builds the SOAP request from the JSON body.
func bridgeRequest(b soap.Binding, mapping []soap.FieldMap, data []byte) (any, error) {
	req := b.NewRequest()
	if len(mapping) == 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(req); err != nil {
			return nil, bus.ErrBadJSON.New("%v", err)
		}
		return req, nil
	}
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, bus.ErrBadJSON.New("expected a JSON object: %v", err)
	}
	for _, m := range mapping {
		var v any
		switch {
		case strings.HasPrefix(m.Source, "const:"):
			v = strings.TrimPrefix(m.Source, "const:")
		case strings.HasPrefix(m.Source, "json:"):
			v = jsonAt(in, strings.TrimPrefix(m.Source, "json:"))
		}
		if n, ok := v.(json.Number); ok {
			v = n.String()
		}
		if _, isObj := v.(map[string]any); isObj {
			return nil, bus.ErrBadRequest.New("%s: %s is an object, not a value", m.Field, m.Source)
		}
		if list, isList := v.([]any); isList && !strings.Contains(m.Field, "[].") {
			return nil, bus.ErrBadRequest.New("%s: %s is a list (%d items); map lists to Name[].Field", m.Field, m.Source, len(list))
		}
		if err := soap.SetField(req, m.Field, v); err != nil {
			return nil, bus.ErrBadRequest.New("%v", err)
		}
	}
	return req, nil
}

// jsonAt returns the value at a dotted path of a JSON object, or nil.
func jsonAt(in map[string]any, path string) any {
	var cur any = in
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// bridgeClient returns the SOAP client of a bridged service.
func bridgeClient(svc *route.Service, v soap.Version) (*soap.Client, error) {
	sp := soap.BridgeOf(svc)
	var password string
	if sp.Auth.User != "" {
		if password = os.Getenv(sp.Auth.PasswordEnv); password == "" {
			return nil, bus.ErrServiceDown.New("service %s: the password of its SOAP endpoint is not set (environment variable %s)", svc.Name, sp.Auth.PasswordEnv)
		}
	}
	key := strings.Join([]string{svc.Endpoint, fmt.Sprint(v), svc.Timeout.String(), sp.Auth.User, fmt.Sprint(sp.Auth.Digest), auth.HashBody([]byte(password))}, "|")
	if c, ok := soapClients.Load(key); ok {
		return c.(*soap.Client), nil
	}
	opts := []soap.Option{soap.WithTimeout(min(svc.Timeout, route.MaxServiceTimeout))}
	opts = append(opts, soap.WithVersion(v))
	if sp.Auth.User != "" {
		opts = append(opts, soap.WithUsernameToken(sp.Auth.User, password, sp.Auth.Digest), soap.WithTimestamp(5*time.Minute))
	}
	c, err := soap.NewClient(svc.Endpoint, opts...)
	if err != nil {
		return nil, bus.ErrServiceDown.Wrap(err, "service %s", svc.Name)
	}
	actual, _ := soapClients.LoadOrStore(key, c)
	return actual.(*soap.Client), nil
}
