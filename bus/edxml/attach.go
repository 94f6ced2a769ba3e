package edxml

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DefaultMaxUnzip bounds the bytes UnwrapZip extracts per entry when the
// caller passes 0 (a guard against ZIP bombs).
const DefaultMaxUnzip = 1 << 30

// ErrZipTooLarge is returned when a ZIP entry expands beyond the limit.
var ErrZipTooLarge = errors.New("zip entry larger than the limit")

// UnwrapZip lists the entries of a ZIP-wrapped attachment (VNPT/VPCP
// producers zip each file; SPEC §5) and streams each entry's content to fn.
// The ZIP must be seekable (a spool file); memory stays bounded. Directory
// entries are skipped; an entry that expands beyond maxEntry bytes (0 =
// DefaultMaxUnzip) fails with ErrZipTooLarge.
func UnwrapZip(ra io.ReaderAt, size, maxEntry int64, fn func(f *zip.FileHeader, content io.Reader) error) error {
	if maxEntry <= 0 {
		maxEntry = DefaultMaxUnzip
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("reading zip attachment: %w", err)
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("opening zip entry %s: %w", f.Name, err)
		}
		lr := &limitedReader{r: rc, left: maxEntry}
		err = fn(&f.FileHeader, lr)
		if err == nil {
			_, err = io.Copy(io.Discard, lr)
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("zip entry %s: %w", f.Name, err)
		}
	}
	return nil
}

type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.left -= int64(n); l.left < 0 {
		return n, ErrZipTooLarge
	}
	return n, err
}

// Extracted is one file ExtractAttachments wrote.
type Extracted struct {
	Path      string // file written
	Name      string // AttachmentName (or ZIP entry name)
	Size      int64
	FromZip   string // for an unwrapped entry, the path of the ZIP it came from
	ContentId string
}

// ExtractAttachments parses the packet from r and writes each attachment's
// decoded bytes to dir as "NN-<AttachmentName>" (name sanitised, never
// outside dir). An attachment that is a ZIP is also unwrapped into
// "NN-<AttachmentName>.unzipped/". It returns the packet and the files.
func ExtractAttachments(r io.Reader, dir string) (*Packet, []Extracted, error) {
	var out []Extracted
	sink := func(m AttachmentMeta, content io.Reader) error {
		name := safeName(m.AttachmentName, fmt.Sprintf("attachment-%d", m.Index+1))
		path := filepath.Join(dir, fmt.Sprintf("%02d-%s", m.Index+1, name))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(f, content)
		if err != nil {
			return err
		}
		out = append(out, Extracted{Path: path, Name: m.AttachmentName, Size: n, ContentId: m.ContentId})
		var magic [4]byte
		if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "PK\x03\x04" {
			return nil
		}
		sub := path + ".unzipped"
		if err := os.Mkdir(sub, 0o700); err != nil {
			return err
		}
		i := 0
		return UnwrapZip(f, n, 0, func(h *zip.FileHeader, c io.Reader) error {
			i++
			ep := filepath.Join(sub, fmt.Sprintf("%02d-%s", i, safeName(h.Name, "entry")))
			ef, err := os.OpenFile(ep, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			en, err := io.Copy(ef, c)
			if cerr := ef.Close(); err == nil {
				err = cerr
			}
			out = append(out, Extracted{Path: ep, Name: h.Name, Size: en, FromZip: path, ContentId: m.ContentId})
			return err
		})
	}
	p, err := Parse(r, &Options{Sink: sink})
	return p, out, err
}

// safeName keeps the base name of s with path separators and control
// characters replaced; def when nothing is left.
func safeName(s, def string) string {
	s = s[strings.LastIndexAny(s, `/\`)+1:]
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`<>:"|?*`, r) {
			return '_'
		}
		return r
	}, s)
	s = strings.Trim(s, ". ")
	if s == "" {
		return def
	}
	if len(s) > 120 {
		s = s[len(s)-120:]
	}
	return s
}
