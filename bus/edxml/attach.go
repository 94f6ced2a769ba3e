package edxml

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
)

// DefaultMaxUnzip bounds the bytes UnwrapZip extracts per entry when the
// caller passes 0 (a guard against ZIP bombs).
const DefaultMaxUnzip = 1 << 30

// ErrZipTooLarge is returned when a ZIP entry expands beyond the limit.
var ErrZipTooLarge = errors.New("zip entry larger than the limit")

// UnwrapZip lists the entries of a ZIP-wrapped attachment (VNPT/VPCP
// producers zip each file; docs/edxml.md) and streams each entry's content to fn.
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

// Default bounds of ExtractAttachments: a 16 MiB packet holds at most
// about 12 MiB of base64-decoded attachments, but a ZIP attachment may
// expand a thousandfold, so what is written is bounded on its own.
const (
	DefaultExtractFiles = 1000
	DefaultExtractBytes = 256 << 20
)

// ExtractLimits bound what ExtractAttachments writes: files (attachments
// and unzipped entries) and their total bytes. Zero means the default.
type ExtractLimits struct {
	MaxFiles int
	MaxBytes int64
}

func (l ExtractLimits) orDefaults() ExtractLimits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultExtractFiles
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultExtractBytes
	}
	return l
}

// ExtractAttachments parses the packet from r and writes each attachment's
// decoded bytes to dir (which must exist) as "NN-<AttachmentName>" (name
// sanitised, never outside dir). An attachment that is a ZIP is also
// unwrapped into "NN-<AttachmentName>.unzipped/". It returns the packet and
// the files.
//
// Past lim (a ZIP bomb, a packet with thousands of attachments) it stops
// with bus.ErrExtractLimit naming the limit. Files are written to a
// temporary folder inside dir and moved into dir only when everything was
// extracted, so a refusal or any other error leaves dir as it was.
func ExtractAttachments(r io.Reader, dir string, lim ExtractLimits) (*Packet, []Extracted, error) {
	tmp, err := os.MkdirTemp(dir, ".extract-")
	if err != nil {
		return nil, nil, err
	}
	p, out, err := extractInto(r, tmp, lim.orDefaults())
	if err == nil {
		err = moveAll(tmp, dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return p, nil, err
	}
	for i := range out {
		out[i].Path = filepath.Join(dir, strings.TrimPrefix(out[i].Path, tmp+string(filepath.Separator)))
		if out[i].FromZip != "" {
			out[i].FromZip = filepath.Join(dir, strings.TrimPrefix(out[i].FromZip, tmp+string(filepath.Separator)))
		}
	}
	return p, out, os.Remove(tmp)
}

// moveAll renames every entry of tmp into dir, refusing before moving
// anything if one of them already exists there.
func moveAll(tmp, dir string) error {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := os.Lstat(filepath.Join(dir, e.Name())); err == nil {
			return fmt.Errorf("%s already exists", filepath.Join(dir, e.Name()))
		}
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// budget counts files and bytes against the limits.
type budget struct {
	lim   ExtractLimits
	files int
	bytes int64
}

func (b *budget) file() error {
	if b.files++; b.files > b.lim.MaxFiles {
		return bus.ErrExtractLimit.New("more than %d files (raise --max-files)", b.lim.MaxFiles)
	}
	return nil
}

// copy writes src to dst while the byte budget lasts.
func (b *budget) copy(dst io.Writer, src io.Reader) (int64, error) {
	left := b.lim.MaxBytes - b.bytes
	n, err := io.Copy(dst, io.LimitReader(src, left+1))
	b.bytes += n
	if err == nil && n > left {
		err = bus.ErrExtractLimit.New("more than %d bytes in total (raise --max-bytes)", b.lim.MaxBytes)
	}
	return n, err
}

func extractInto(r io.Reader, dir string, lim ExtractLimits) (*Packet, []Extracted, error) {
	var out []Extracted
	b := &budget{lim: lim}
	sink := func(m AttachmentMeta, content io.Reader) error {
		if err := b.file(); err != nil {
			return err
		}
		name := safeName(m.AttachmentName, fmt.Sprintf("attachment-%d", m.Index+1))
		path := filepath.Join(dir, fmt.Sprintf("%02d-%s", m.Index+1, name))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := b.copy(f, content)
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
			if err := b.file(); err != nil {
				return err
			}
			ep := filepath.Join(sub, fmt.Sprintf("%02d-%s", i, safeName(h.Name, "entry")))
			ef, err := os.OpenFile(ep, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			en, err := b.copy(ef, c)
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
