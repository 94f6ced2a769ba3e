package main

import (
	"context"
	"flag"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
)

const exchangeUsage = `usage:
  lgsp exchange send    --creds F --to CODE[,CODE] --title T --type DATA_TYPE [--importance normal] [--media-type M] FILE
  lgsp exchange inbox   --creds F
  lgsp exchange receive --creds F [--out DIR] [--id ID] [--reject "reason"]   (ready → download → confirm)
  lgsp exchange status  --creds F ID
  lgsp exchange cancel  --creds F ID
Credentials: --creds FILE written by "lgsp keys issue --out", or LGSP_URL, LGSP_ACCESS_KEY, LGSP_SECRET_KEY.`

func exchangeCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(exchangeUsage)
	}
	fs := flag.NewFlagSet("exchange "+args[0], flag.ExitOnError)
	creds := fs.String("creds", os.Getenv("LGSP_CREDENTIALS"), "credentials file (env LGSP_CREDENTIALS)")
	url := fs.String("url", "", "platform URL (overrides the credentials file; env LGSP_URL)")
	to := fs.String("to", "", "send: recipients' identifier codes, comma-separated")
	title := fs.String("title", "", "send: title (trích yếu)")
	dtype := fs.String("type", "", "send: data type, e.g. edoc")
	importance := fs.String("importance", "", "send: normal | urgent | very-urgent | flash | flash-timed")
	media := fs.String("media-type", "", "send: media type (default from the file extension)")
	outDir := fs.String("out", ".", "receive: folder to write received files to")
	only := fs.String("id", "", "receive: only this exchange")
	reject := fs.String("reject", "", "receive: reject instead of confirming, with this reason")
	_ = fs.Parse(args[1:])
	c, err := client(*creds, *url)
	if err != nil {
		return err
	}
	switch args[0] {
	case "send":
		if fs.NArg() != 1 {
			return usageError(exchangeUsage)
		}
		return send(ctx, c, fs.Arg(0), exchange.Request{Recipients: splitList(*to), Title: *title, DataType: *dtype, Importance: *importance, MediaType: *media})
	case "inbox":
		items, err := c.Inbox(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "EXCHANGE\tFROM\tTYPE\tSIZE\tSTATUS\tTITLE")
		for _, it := range items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", it.ExchangeID, it.Source, it.DataType, it.Size, it.Status, it.Title)
		}
		tw.Flush()
		if len(items) == 0 {
			fmt.Println("(nothing pending)")
		}
	case "receive":
		return receive(ctx, c, *outDir, *only, *reject)
	case "status":
		if fs.NArg() != 1 {
			return usageError(exchangeUsage)
		}
		v, err := c.Status(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		return printJSON(v)
	case "cancel":
		if fs.NArg() != 1 {
			return usageError(exchangeUsage)
		}
		v, err := c.Cancel(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Printf("%s %s; its content is deleted\n", v.ID, v.Status)
	default:
		return usageError(exchangeUsage)
	}
	return nil
}

// preferredMedia overrides the system's MIME table where it names an older
// form (many systems map .xml to text/xml; RFC 7303 prefers application/xml).
var preferredMedia = map[string]string{".xml": "application/xml", ".edxml": "application/xml", ".json": "application/json", ".pdf": "application/pdf", ".zip": "application/zip"}

func client(credsPath, url string) (*rest.Client, error) {
	c := &rest.Client{BaseURL: os.Getenv("LGSP_URL"), AccessKey: os.Getenv("LGSP_ACCESS_KEY"), SecretKey: os.Getenv("LGSP_SECRET_KEY")}
	if credsPath != "" {
		cr, err := rest.LoadCredentials(credsPath)
		if err != nil {
			return nil, err
		}
		c.BaseURL, c.AccessKey, c.SecretKey = cr.URL, cr.AccessKey, cr.SecretKey
	}
	if url != "" {
		c.BaseURL = url
	}
	if c.BaseURL == "" || c.AccessKey == "" || c.SecretKey == "" {
		return nil, usageError("no credentials: pass --creds FILE (from `lgsp keys issue --out FILE`) or set LGSP_URL, LGSP_ACCESS_KEY and LGSP_SECRET_KEY")
	}
	return c, nil
}

func send(ctx context.Context, c *rest.Client, path string, req exchange.Request) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if req.MediaType == "" {
		req.MediaType = preferredMedia[strings.ToLower(filepath.Ext(path))]
	}
	if req.MediaType == "" {
		req.MediaType = mime.TypeByExtension(filepath.Ext(path))
		if i := strings.IndexByte(req.MediaType, ';'); i >= 0 {
			req.MediaType = req.MediaType[:i]
		}
	}
	req.Size = st.Size()
	if _, err := c.Connect(ctx); err != nil { // F1
		return err
	}
	sp, err := c.Request(ctx, req) // F2
	if err != nil {
		return err
	}
	fmt.Printf("F2 space %s opened (route %s, up to %d bytes, expires %s)\n", sp.ExchangeID, sp.Route, sp.MaxBytes, sp.ExpiresAt.Local().Format(time.RFC3339))
	sum, err := c.UploadFile(ctx, sp.ExchangeID, path) // F3
	if err != nil {
		return fmt.Errorf("uploading (resume with the same command's upload: the space keeps what it got): %w", err)
	}
	fmt.Printf("F3 uploaded %d bytes, sha256 %s\n", st.Size(), sum)
	v, err := c.Complete(ctx, sp.ExchangeID, exchange.CompleteRequest{SHA256: sum}) // F3 end → F4
	if err != nil {
		return err
	}
	for _, r := range v.Recipients {
		fmt.Printf("F4 %s → %s: %s, due %s\n", v.ID, r.Code, r.Status, r.DueAt.Local().Format(time.RFC3339))
	}
	fmt.Println(v.ID)
	return nil
}

func receive(ctx context.Context, c *rest.Client, outDir, only, reject string) error {
	items, err := c.Inbox(ctx) // F5
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return err
	}
	n := 0
	for _, it := range items {
		if only != "" && it.ExchangeID != only {
			continue
		}
		n++
		if reject != "" {
			if _, err := c.Confirm(ctx, it.ExchangeID, exchange.OutcomeRejected, reject); err != nil {
				return err
			}
			fmt.Printf("%s rejected: %s\n", it.ExchangeID, reject)
			continue
		}
		d, err := c.Ready(ctx, it.ExchangeID) // F6
		if err != nil {
			return err
		}
		dst := filepath.Join(outDir, it.ExchangeID+extFor(d.MediaType))
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		got, err := c.Download(ctx, it.ExchangeID, 0, f) // F7
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		v, err := c.Confirm(ctx, it.ExchangeID, exchange.OutcomeReceived, "") // F7 confirm
		if err != nil {
			return err
		}
		fmt.Printf("%s from %s: %d bytes → %s (exchange %s)\n", it.ExchangeID, it.Source, got, dst, v.Status)
	}
	if n == 0 {
		fmt.Println("(nothing to receive)")
	}
	return nil
}

func extFor(media string) string {
	for _, ext := range []string{".xml", ".json", ".pdf", ".zip"} {
		if preferredMedia[ext] == media {
			return ext
		}
	}
	if exts, _ := mime.ExtensionsByType(media); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}
