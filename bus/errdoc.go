package bus

import (
	"fmt"
	"strings"
)

// CatalogueMarkdown renders the error catalogue as docs/errors.md; the doc
// is generated from the catalogue, never written by hand (a test keeps the
// two in sync: `go test ./bus -run TestErrorsDoc -update`).
func CatalogueMarkdown() string {
	var b strings.Builder
	b.WriteString(`# Error codes / Mã lỗi

<!-- Generated from bus/errors.go by "go test ./bus -run TestErrorsDoc -update"; do not edit. -->

Every error that leaves LGSP has a stable code. Over REST it is an ` + "`application/problem+json`" + `
body — ` + "`{\"type\",\"title\",\"status\",\"code\",\"detail\",\"message_vi\",\"message_en\",\"request_id\"}`" + ` —
and the header ` + "`X-LGSP-Error-Code`" + `; ` + "`detail`" + ` says what exactly was wrong (a field, a value, a
limit) and ` + "`request_id`" + ` finds the matching log lines. A 503 carries ` + "`Retry-After`" + `.
Codes never change meaning; new ones may be added.

| code | HTTP | Tiếng Việt | English |
|---|---|---|---|
`)
	for _, d := range Catalogue() {
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s |\n", d.Code, d.Status, d.VI, d.EN)
	}
	return b.String()
}
