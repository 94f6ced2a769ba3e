package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tuyenquang/lgsp/bus/xmldsig"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dsigbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dsigbench", flag.ContinueOnError)
	sizes := fs.String("sizes", "100KB,10MB,100MB", "attachment sizes of the packets, comma-separated (KB, MB)")
	runs := fs.Int("runs", 3, "verifications of each file by each tool; the median time and the largest RSS are printed")
	child := fs.String("child", "", "internal: verify this file with bus/xmldsig and exit")
	gen := fs.Bool("gen", false, "internal: write root.pem and the signed packets into -dir and exit")
	childScan := fs.String("child-scan", "", "internal: read this file and digest its reference with the byte scanner (xmldsig.DigestDocument), then exit")
	childStream := fs.String("child-stream", "", "internal: stream the reference digest of this file (xmldsig.StreamDigest) and exit")
	roots := fs.String("roots", "", "internal: the trusted root PEM for -child")
	dir := fs.String("dir", "", "directory for the packets (default: a temporary one, removed afterwards)")
	xmlsec := fs.String("xmlsec1", "xmlsec1", "the xmlsec1 binary")
	base := fs.String("base", "", "another dsigbench binary (built from an earlier commit) whose -child is measured on the same files, for an A/B in the same run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *child != "" {
		return verifyChild(*child, *roots)
	}
	if *childStream != "" {
		return streamChild(*childStream)
	}
	if *childScan != "" {
		return scanChild(*childScan)
	}
	var sz []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		sz = append(sz, n)
	}
	if *gen {
		return generate(*dir, sz)
	}
	if *runs < 1 {
		return errors.New("-runs must be positive")
	}
	xmlsecBin, err := exec.LookPath(*xmlsec)
	if err != nil {
		return fmt.Errorf("xmlsec1 is needed for the comparison: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	d := *dir
	if d == "" {
		if d, err = os.MkdirTemp("", "dsigbench"); err != nil {
			return err
		}
		defer os.RemoveAll(d)
	}
	// The packets are signed by a child: a child's peak RSS (ru_maxrss)
	// counts the pages of the parent it was forked from, so the parent
	// stays small.
	genArgs := []string{"-gen", "-dir", d, "-sizes", *sizes}
	if out, err := exec.Command(self, genArgs...).CombinedOutput(); err != nil {
		return fmt.Errorf("signing the packets: %v: %s", err, out)
	}
	rootFile := filepath.Join(d, "root.pem")
	type tool struct {
		name string
		argv []string
	}
	fmt.Printf("%-8s %9s | %-28s |", "packet", "file", "lgsp Verify (streaming)")
	if *base != "" {
		fmt.Printf(" %-22s |", "-base Verify")
	}
	fmt.Printf(" %-22s | %-14s |", "xmlsec1 --verify", "Verify÷xmlsec1")
	if *base != "" {
		fmt.Printf(" %-14s |", "base÷xmlsec1")
	}
	fmt.Printf(" host busy\n")
	for _, n := range sz {
		file := packetFile(d, n)
		st, err := os.Stat(file)
		if err != nil {
			return err
		}
		size := int(st.Size())
		tools := []tool{{"bus/xmldsig", []string{self, "-child", file, "-roots", rootFile}}}
		if *base != "" {
			tools = append(tools, tool{"-base", []string{*base, "-child", file, "-roots", rootFile}})
		}
		tools = append(tools, tool{"xmlsec1", []string{xmlsecBin, "--verify", "--trusted-pem", rootFile, file}})
		argv := make([][]string, len(tools))
		for i, t := range tools {
			argv[i] = t.argv
		}
		busy0 := readCPU()
		rs, err := measure(*runs, argv)
		if err != nil {
			return fmt.Errorf("%s: %w", fmtSize(n), err)
		}
		busy := readCPU().busySince(busy0)
		ours, theirs := rs[0], rs[len(rs)-1]
		ratio := func(r result) string {
			return fmt.Sprintf("%.2f× %.2f×", r.wall.Seconds()/theirs.wall.Seconds(), float64(r.rss)/float64(theirs.rss))
		}
		fmt.Printf("%-8s %9s | %7.0f ms %7.1f MB (%.2f× file) |", fmtSize(n), fmtMB(size), ms(ours.wall), mb(ours.rss), float64(ours.rss)/float64(size))
		if *base != "" {
			fmt.Printf(" %7.0f ms %8.1f MB |", ms(rs[1].wall), mb(rs[1].rss))
		}
		fmt.Printf(" %7.0f ms %8.1f MB | %-14s |", ms(theirs.wall), mb(theirs.rss), ratio(ours))
		if *base != "" {
			fmt.Printf(" %-14s |", ratio(rs[1]))
		}
		fmt.Printf(" %3.0f %%\n", busy*100)
	}
	return nil
}

// cpuTimes are the host's CPU counters (/proc/stat, first line).
type cpuTimes struct{ idle, total uint64 }

func readCPU() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var c cpuTimes
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		c.total += v
		if i == 3 || i == 4 { // idle, iowait
			c.idle += v
		}
	}
	return c
}

// busySince is the share of the host's CPU time that was busy since c0
// (our children's included).
func (c cpuTimes) busySince(c0 cpuTimes) float64 {
	if c.total <= c0.total {
		return 0
	}
	return 1 - float64(c.idle-c0.idle)/float64(c.total-c0.total)
}

func packetFile(dir string, n int) string { return filepath.Join(dir, "signed-"+fmtSize(n)+".xml") }

// generate makes a CA and a signer, and writes root.pem and one signed
// packet per size into dir.
func generate(dir string, sizes []int) error {
	signer, rootPEM, err := newSigner()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), rootPEM, 0o600); err != nil {
		return err
	}
	for _, n := range sizes {
		signed, err := signer.Sign(edxmlDoc(n))
		if err != nil {
			return fmt.Errorf("signing %s: %w", fmtSize(n), err)
		}
		if err := os.WriteFile(packetFile(dir, n), signed, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// verifyChild is the measured process: read the file, verify it, exit.
func verifyChild(file, rootFile string) error {
	pemBytes, err := os.ReadFile(rootFile)
	if err != nil {
		return err
	}
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return errors.New("no PEM in " + rootFile)
	}
	root, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	v := &xmldsig.Verifier{Roots: pool, MaxBytes: 1 << 30}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := v.VerifyReader(f)
	if err != nil {
		return err
	}
	if res.DigestMethod != "http://www.w3.org/2001/04/xmlenc#sha256" || res.C14NMethod != "http://www.w3.org/2001/10/xml-exc-c14n#" {
		return fmt.Errorf("unexpected methods %s, %s", res.DigestMethod, res.C14NMethod)
	}
	return nil
}

// streamChild digests the reference of file as xmldsig.StreamDigest reads
// it from the file, checking it against the DigestValue is left to a
// wired verify (issue #13): this measures the part that grows with the
// document.
func streamChild(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if err := xmldsig.StreamDigest(bufio.NewReaderSize(f, 64<<10), "http://www.w3.org/2001/10/xml-exc-c14n#", h); err != nil {
		return err
	}
	fmt.Printf("%x\n", h.Sum(nil))
	return nil
}

// scanChild reads file into memory (as Verify does) and digests its
// reference with xmldsig.DigestDocument.
func scanChild(file string) error {
	doc, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	h := sha256.New()
	if err := xmldsig.DigestDocument(doc, "http://www.w3.org/2001/10/xml-exc-c14n#", h); err != nil {
		return err
	}
	// The packet's DigestValue (the signer wrote one, with prefix ds).
	_, after, ok := bytes.Cut(doc, []byte("<ds:DigestValue>"))
	dv, _, ok2 := bytes.Cut(after, []byte("</ds:DigestValue>"))
	if !ok || !ok2 {
		return errors.New("no DigestValue")
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != string(dv) {
		return fmt.Errorf("digest %s, DigestValue %s", got, dv)
	}
	return nil
}

type result struct {
	wall time.Duration
	rss  int64 // bytes
}

// measure runs every command runs times, interleaved (one run of each in
// turn, so that the host's load falls on all of them alike), and returns
// per command the median wall time and the largest peak RSS.
func measure(runs int, argv [][]string) ([]result, error) {
	walls := make([][]time.Duration, len(argv))
	out := make([]result, len(argv))
	for range runs {
		for i, a := range argv {
			cmd := exec.Command(a[0], a[1:]...)
			start := time.Now()
			b, err := cmd.CombinedOutput()
			wall := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("%s: %v: %s", filepath.Base(a[0]), err, strings.TrimSpace(string(b)))
			}
			walls[i] = append(walls[i], wall)
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				out[i].rss = max(out[i].rss, ru.Maxrss*1024) // kilobytes on Linux
			}
		}
	}
	for i, w := range walls {
		slices.Sort(w)
		out[i].wall = w[len(w)/2]
	}
	return out, nil
}

func newSigner() (*xmldsig.Signer, []byte, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dsigbench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "dsigbench signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, nil, err
	}
	s, err := xmldsig.NewSigner(key, []*x509.Certificate{leaf}, xmldsig.SignOptions{})
	if err != nil {
		return nil, nil, err
	}
	return s, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// edxmlDoc is an edXML packet whose attachment holds about n bytes of
// base64 in lines of 76 characters.
func edxmlDoc(n int) []byte {
	const ns = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
	var b strings.Builder
	b.Grow(n + 4096)
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="%[1]s">
  <edXML:edXMLEnvelope xmlns:edXML="%[1]s">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From><edXML:OrganId>000.00.15.H60</edXML:OrganId><edXML:OrganName>Sở Thông tin và Truyền thông tỉnh Tuyên Quang</edXML:OrganName></edXML:From>
        <edXML:To><edXML:OrganId>000.00.01.H60</edXML:OrganId><edXML:OrganName>Ủy ban nhân dân tỉnh Tuyên Quang</edXML:OrganName></edXML:To>
        <edXML:DocumentId>000.00.15.H60,2026/03/02,125/STTTT-CĐS</edXML:DocumentId>
        <edXML:Subject>V/v triển khai nền tảng tích hợp &amp; ký số gói tin</edXML:Subject>
      </edXML:MessageHeader>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">
        <edXML:Reference><edXML:ContentId>cid:1</edXML:ContentId><edXML:ContentType>application/pdf</edXML:ContentType></edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment>
      <ContentId>cid:1</ContentId>
      <ContentType>application/pdf</ContentType>
      <ContentTransferEncoded>`, ns)
	line := "JVBERi0xLjcKJeLjz9MKMSAwIG9iago8PC9UeXBlL0NhdGFsb2cvUGFnZXMgMiAwIFI+PgplbmRv\n"
	for k := 0; k < n; k += len(line) {
		b.WriteString(line)
	}
	b.WriteString("</ContentTransferEncoded>\n    </Attachment>\n  </AttachmentEncoded>\n</edXML>\n")
	return []byte(b.String())
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "MB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MB")
	case strings.HasSuffix(s, "KB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KB")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with KB or MB", s)
	}
	return n * mult, nil
}

func fmtSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KB"
	}
	return strconv.Itoa(n) + "B"
}

func fmtMB(n int) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(b int64) float64 { return float64(b) / (1 << 20) }
