package exchange_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

const (
	srcCode = "000.00.05.H60"
	dstA    = "000.00.01.H60"
	dstB    = "000.00.12.H60"
)

// Routes of the tests: "plain" keeps the content, "upper" replaces it (a
// transform), "refuse" refuses any content holding "REFUSE".
const submitRoutes = `
routes:
  - name: plain
    match: {sources: ["*"], data_types: ["plain"]}
    recipients: ["*"]
    max_bytes: 4096
    delivery: {mode: immediate, expiry: 24h}
  - name: upper
    match: {sources: ["*"], data_types: ["upper"]}
    recipients: ["*"]
    max_bytes: 4096
    steps:
      - upper: {}
    delivery: {mode: immediate, expiry: 24h}
  - name: refuse
    match: {sources: ["*"], data_types: ["refuse"]}
    recipients: ["*"]
    max_bytes: 4096
    steps:
      - refuse: {}
    delivery: {mode: immediate, expiry: 24h}
`

type allowAll struct{}

func (allowAll) AllowExchange(context.Context, string, string, string) error { return nil }

type fixture struct {
	st    store.Store
	vault *vault.Vault
	svc   *exchange.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	master := make([]byte, vault.KeySize)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(master)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{srcCode, dstA, dstB} {
		if err := st.CreateSystem(ctx, store.System{Code: c, Name: c, Status: store.SystemActive}); err != nil {
			t.Fatal(err)
		}
	}
	reg := bus.NewStepRegistry()
	reg.Register(bus.StepSpec{Name: "upper", New: func(decode func(any) error) (bus.Step, error) {
		return bus.StepFunc(func(ctx context.Context, m *bus.Message) error {
			b, err := content(m)
			if err != nil {
				return err
			}
			return m.Replace(ctx, "text/plain", bytes.NewReader(bytes.ToUpper(b)))
		}), decode(&struct{}{})
	}})
	reg.Register(bus.StepSpec{Name: "refuse", New: func(decode func(any) error) (bus.Step, error) {
		return bus.StepFunc(func(ctx context.Context, m *bus.Message) error {
			b, err := content(m)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte("REFUSE")) {
				return bus.ErrStepFailed.New("the content says REFUSE")
			}
			return nil
		}), decode(&struct{}{})
	}})
	routes, probs := route.Parse("submit.yaml", []byte(submitRoutes), reg)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	set, probs := route.Build(routes)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	svc := exchange.New(exchange.Options{Store: st, Vault: v, Routes: func() *route.Set { return set }, Node: "n1",
		Config: exchange.Config{ChunkSize: 16}, Permissions: allowAll{}})
	return &fixture{st: st, vault: v, svc: svc}
}

// content reads what a route step sees of m.
func content(m *bus.Message) ([]byte, error) {
	rc, err := m.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// threeSteps sends content as a REST client does: F2, F3, F4 as three calls.
func (f *fixture) threeSteps(ctx context.Context, req exchange.Request, content []byte, c exchange.CompleteRequest) (string, store.Exchange, error) {
	sp, err := f.svc.RequestExchange(ctx, srcCode, req)
	if err != nil {
		return "", store.Exchange{}, err
	}
	if _, err := f.svc.Upload(ctx, srcCode, sp.ExchangeID, 0, bytes.NewReader(content)); err != nil {
		return sp.ExchangeID, store.Exchange{}, err
	}
	ex, err := f.svc.Complete(ctx, srcCode, sp.ExchangeID, c)
	return sp.ExchangeID, ex, err
}

// content decrypts what the store holds for id.
func (f *fixture) content(t *testing.T, id string) []byte {
	t.Helper()
	ctx := context.Background()
	ex, err := f.st.GetExchange(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := f.st.ChunkIndex(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) == 0 {
		return nil
	}
	dk, err := f.vault.UnwrapDataKey(id, ex.WrappedKey)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, ci := range idx {
		c, err := f.st.GetChunk(ctx, id, ci.Offset)
		if err != nil {
			t.Fatal(err)
		}
		p, err := dk.OpenChunk(id, ci.Offset, c.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p...)
	}
	return out
}

// normalized is an exchange without what differs between two exchanges of
// the same content: ids, times, keys.
func normalized(ex store.Exchange) store.Exchange {
	ex.ID, ex.WrappedKey = "", nil
	ex.CreatedAt, ex.UpdatedAt, ex.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	purged := !ex.PurgedAt.IsZero()
	ex.PurgedAt = time.Time{}
	if purged {
		ex.PurgedAt = time.Unix(1, 0)
	}
	ex.Recipients = append([]store.Recipient(nil), ex.Recipients...)
	for i := range ex.Recipients {
		r := &ex.Recipients[i]
		r.ExchangeID = ""
		for _, tm := range []*time.Time{&r.DueAt, &r.NotifiedAt, &r.ReadyAt, &r.DoneAt} {
			if !tm.IsZero() {
				*tm = time.Unix(1, 0)
			}
		}
	}
	return ex
}

// ledger is the exchange's events as kind, actor, recipient and detail
// (without the times, which differ).
func (f *fixture) ledger(t *testing.T, id string) []string {
	t.Helper()
	evs, err := f.st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		var d map[string]any
		if ev.Detail != "" {
			if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil {
				t.Fatal(err)
			}
		}
		delete(d, "due") // a time
		b, _ := json.Marshal(d)
		out = append(out, strings.Join([]string{ev.Kind, ev.Actor, ev.Recipient, string(b), ev.Node}, " "))
	}
	return out
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestSubmitStoresWhatThreeStepsStore: Submit (F2–F4 in one transaction)
// leaves the store as RequestExchange, Upload and Complete do — the same
// exchange and recipients, the same content, the same ledger — for a plain
// route, a transforming one and one whose step refuses the content.
func TestSubmitStoresWhatThreeStepsStore(t *testing.T) {
	ctx := context.Background()
	long := []byte(strings.Repeat("van ban so 1 — nội dung. ", 5)) // several 16-byte chunks
	cases := []struct {
		name, dataType string
		content        []byte
		wantCode       bus.Code
		wantContent    []byte
	}{
		{"plain", "plain", long, "", long},
		{"one chunk", "plain", []byte("short"), "", []byte("short")},
		{"transformed", "upper", long, "", bytes.ToUpper(long)},
		{"refused", "refuse", []byte("please REFUSE this"), bus.ErrStepFailed.Code, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			req := exchange.Request{Recipients: []string{dstA, dstB}, Title: "Công văn " + tc.name, DataType: tc.dataType,
				MediaType: "text/plain", Size: int64(len(tc.content)), SHA256: sum(tc.content), Importance: "2"}
			c := exchange.CompleteRequest{Policy: json.RawMessage(`{"note": "ghi chú"}`)}
			oldID, oldRet, oldErr := f.threeSteps(ctx, req, tc.content, c)
			newRet, newErr := f.svc.Submit(ctx, srcCode, req, tc.content, c)
			if tc.wantCode != "" {
				var a, b *bus.Error
				if !errors.As(oldErr, &a) || !errors.As(newErr, &b) || a.Def.Code != tc.wantCode || b.Def.Code != tc.wantCode {
					t.Fatalf("errors: three steps %v, Submit %v; want %s from both", oldErr, newErr, tc.wantCode)
				}
			} else if oldErr != nil || newErr != nil {
				t.Fatalf("three steps: %v; Submit: %v", oldErr, newErr)
			}
			sent, err := f.st.ListSent(ctx, srcCode, 10)
			if err != nil || len(sent) != 2 {
				t.Fatalf("ListSent: %d exchanges, %v; want the two", len(sent), err)
			}
			newID := sent[0].ID
			if newID == oldID {
				newID = sent[1].ID
			}
			oldEx, err := f.st.GetExchange(ctx, oldID)
			if err != nil {
				t.Fatal(err)
			}
			newEx, err := f.st.GetExchange(ctx, newID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := normalized(newEx), normalized(oldEx); !reflect.DeepEqual(got, want) {
				t.Errorf("stored by Submit:\n %+v\nby three steps:\n %+v", got, want)
			}
			if tc.wantCode == "" {
				if !reflect.DeepEqual(newRet, newEx) {
					t.Errorf("Submit returned\n %+v\nthe store holds\n %+v", newRet, newEx)
				}
				if !reflect.DeepEqual(normalized(oldRet), normalized(oldEx)) {
					t.Errorf("Complete returned\n %+v\nthe store holds\n %+v", oldRet, oldEx)
				}
			}
			if got, want := f.content(t, newID), f.content(t, oldID); !bytes.Equal(got, want) || !bytes.Equal(got, tc.wantContent) {
				t.Errorf("content: Submit stored %q, three steps %q, want %q", got, want, tc.wantContent)
			}
			if got, want := f.ledger(t, newID), f.ledger(t, oldID); !reflect.DeepEqual(got, want) {
				t.Errorf("ledger of Submit:\n %s\nof three steps:\n %s", strings.Join(got, "\n "), strings.Join(want, "\n "))
			}
		})
	}
}

// TestSubmitRefusesWithoutWriting: a Submit refused before the route's
// steps run leaves nothing in the store, with the same coded error as the
// three steps give.
func TestSubmitRefusesWithoutWriting(t *testing.T) {
	ctx := context.Background()
	body := []byte("nội dung")
	ok := exchange.Request{Recipients: []string{dstA}, Title: "t", DataType: "plain", MediaType: "text/plain", SHA256: sum(body)}
	with := func(mod func(*exchange.Request)) exchange.Request { r := ok; mod(&r); return r }
	cases := []struct {
		name    string
		req     exchange.Request
		content []byte
		c       exchange.CompleteRequest
		code    bus.Code
	}{
		{"no title", with(func(r *exchange.Request) { r.Title = " " }), body, exchange.CompleteRequest{}, bus.ErrExchangeInvalid.Code},
		{"unknown recipient", with(func(r *exchange.Request) { r.Recipients = []string{"000.00.99.H60"} }), body, exchange.CompleteRequest{}, bus.ErrRecipientUnknown.Code},
		{"no route", with(func(r *exchange.Request) { r.DataType = "nothing" }), body, exchange.CompleteRequest{}, bus.ErrNoRoute.Code},
		{"empty", with(func(r *exchange.Request) { r.SHA256 = "" }), nil, exchange.CompleteRequest{}, bus.ErrExchangeInvalid.Code},
		{"over the route's limit", with(func(r *exchange.Request) { r.SHA256 = "" }), bytes.Repeat([]byte("x"), 4097), exchange.CompleteRequest{}, bus.ErrSpaceFull.Code},
		{"declared size lies", with(func(r *exchange.Request) { r.Size = 3 }), body, exchange.CompleteRequest{}, bus.ErrSizeMismatch.Code},
		{"hash differs", ok, []byte("something else"), exchange.CompleteRequest{}, bus.ErrHashMismatch.Code},
		{"hash at completion differs", ok, body, exchange.CompleteRequest{SHA256: sum([]byte("x"))}, bus.ErrHashMismatch.Code},
		{"bad policy", ok, body, exchange.CompleteRequest{Policy: json.RawMessage(`{"keep": "forever"}`)}, bus.ErrExchangeInvalid.Code},
		{"bad media type", ok, body, exchange.CompleteRequest{MediaType: "pdf"}, bus.ErrExchangeInvalid.Code},
	}
	f := newFixture(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Submit(ctx, srcCode, tc.req, tc.content, tc.c)
			var be *bus.Error
			if !errors.As(err, &be) || be.Def.Code != tc.code {
				t.Fatalf("Submit: %v; want %s", err, tc.code)
			}
			sent, err := f.st.ListSent(ctx, srcCode, 10)
			if err != nil || len(sent) != 0 {
				t.Fatalf("the store holds %d exchanges (%v) after a refused Submit", len(sent), err)
			}
		})
	}
}
