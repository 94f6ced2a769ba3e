package xmldsig

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/test/testenv"
)

// testPKI is a small CA hierarchy made with crypto/x509 for the tests:
//
//	root CA ─┬─ leaf            (signed by the CA directly)
//	         └─ intermediate CA ── interLeaf
//
// plus an attacker's self-signed certificate. Keys are generated once per
// test binary; files are written per test into t.TempDir().
type testPKI struct {
	root, inter, leaf, interLeaf, evil                *x509.Certificate
	rootKey, interKey, leafKey, interLeafKey, evilKey *rsa.PrivateKey
	notBefore, notAfter                               time.Time
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
)

func getPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		p := &testPKI{notBefore: time.Now().Add(-time.Hour).Truncate(time.Second), notAfter: time.Now().Add(48 * time.Hour).Truncate(time.Second)}
		keys := make([]*rsa.PrivateKey, 5)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err)
				}
				keys[i] = k
			})
		}
		wg.Wait()
		p.rootKey, p.interKey, p.leafKey, p.interLeafKey, p.evilKey = keys[0], keys[1], keys[2], keys[3], keys[4]
		p.root = mkCert(1, "Tuyên Quang Test Root CA", true, nil, nil, p.rootKey, p.notBefore, p.notAfter.Add(24*time.Hour))
		p.inter = mkCert(2, "Tuyên Quang Test Intermediate CA", true, p.root, p.rootKey, p.interKey, p.notBefore, p.notAfter.Add(12*time.Hour))
		p.leaf = mkCert(3, "Sở Thông tin và Truyền thông Tuyên Quang", false, p.root, p.rootKey, p.leafKey, p.notBefore, p.notAfter)
		p.interLeaf = mkCert(4, "UBND huyện Yên Sơn", false, p.inter, p.interKey, p.interLeafKey, p.notBefore, p.notAfter)
		p.evil = mkCert(5, "Sở Thông tin và Truyền thông Tuyên Quang", false, nil, nil, p.evilKey, p.notBefore, p.notAfter)
		pkiVal = p
	})
	return pkiVal
}

// mkCert makes a certificate; parent nil means self-signed.
func mkCert(serial int64, cn string, ca bool, parent *x509.Certificate, parentKey, key *rsa.PrivateKey, nb, na time.Time) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"LGSP test"}, Country: []string{"VN"}},
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: true,
		IsCA:                  ca,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func certPEM(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

func keyPEM(t testing.TB, k *rsa.PrivateKey, pkcs8 bool) []byte {
	if !pkcs8 {
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signer returns a Signer for the CA-issued leaf (or the intermediate's
// leaf with its chain when viaInter).
func (p *testPKI) signer(t testing.TB, viaInter bool, opts SignOptions) *Signer {
	t.Helper()
	key, certs := p.leafKey, []*x509.Certificate{p.leaf}
	if viaInter {
		key, certs = p.interLeafKey, []*x509.Certificate{p.interLeaf, p.inter}
	}
	s, err := NewSigner(key, certs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *testPKI) verifier() *Verifier {
	return &Verifier{Roots: pool(p.root)}
}

// edNS is the edXML namespace (docs/edxml.md).
const edNS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

// edxmlDoc returns an edXML document packet with Vietnamese text. rootID
// sets an Id attribute on the root; attachBytes is the approximate size of
// the base64 attachment, so that documents of any size can be made.
func edxmlDoc(rootID string, attachBytes int) []byte {
	var b strings.Builder
	idAttr := ""
	if rootID != "" {
		idAttr = fmt.Sprintf(` Id="%s"`, rootID)
	}
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="%[1]s"%[2]s>
  <edXML:edXMLEnvelope xmlns:edXML="%[1]s">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From>
          <edXML:OrganId>000.00.15.H60</edXML:OrganId>
          <edXML:OrganName>Sở Thông tin và Truyền thông tỉnh Tuyên Quang</edXML:OrganName>
          <edXML:OrganAdd>Số 1, đường Tân Trào, phường Minh Xuân, TP. Tuyên Quang</edXML:OrganAdd>
        </edXML:From>
        <edXML:To>
          <edXML:OrganId>000.00.01.H60</edXML:OrganId>
          <edXML:OrganName>Ủy ban nhân dân tỉnh Tuyên Quang</edXML:OrganName>
        </edXML:To>
        <edXML:DocumentId>000.00.15.H60,2026/03/02,125/STTTT-CĐS</edXML:DocumentId>
        <edXML:Code>
          <edXML:CodeNumber>125</edXML:CodeNumber>
          <edXML:CodeNotation>STTTT-CĐS</edXML:CodeNotation>
        </edXML:Code>
        <edXML:PromulgationInfo>
          <edXML:Place>Tuyên Quang</edXML:Place>
          <edXML:PromulgationDate>2026/03/02</edXML:PromulgationDate>
        </edXML:PromulgationInfo>
        <edXML:DocumentType>
          <edXML:Type>1</edXML:Type>
          <edXML:TypeName>Công văn</edXML:TypeName>
        </edXML:DocumentType>
        <edXML:Subject>V/v triển khai nền tảng tích hợp, chia sẻ dữ liệu cấp tỉnh (LGSP) &amp; ký số gói tin</edXML:Subject>
        <edXML:SignerInfo>
          <edXML:Competence>KT. GIÁM ĐỐC</edXML:Competence>
          <edXML:Position>Phó Giám đốc</edXML:Position>
          <edXML:FullName>Nguyễn Thị Hồng Nhung</edXML:FullName>
        </edXML:SignerInfo>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList>
        <edXML:TraceHeader>
          <edXML:OrganId>000.00.15.H60</edXML:OrganId>
          <edXML:Timestamp>2026/03/02 08:30:00</edXML:Timestamp>
        </edXML:TraceHeader>
      </edXML:TraceHeaderList>
      <!--SIGNATURE-->
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">
        <edXML:Reference>
          <edXML:ContentId>cid:1</edXML:ContentId>
          <edXML:ContentType>application/pdf</edXML:ContentType>
          <edXML:AttachmentName>Công văn 125.pdf</edXML:AttachmentName>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment>
      <ContentId>cid:1</ContentId>
      <AttachmentName>Công văn 125.pdf</AttachmentName>
      <ContentType>application/pdf</ContentType>
      <ContentTransferEncoded>`, edNS, idAttr)
	line := "JVBERi0xLjcKJeLjz9MKMSAwIG9iago8PC9UeXBlL0NhdGFsb2cvUGFnZXMgMiAwIFI+PgplbmRvYmoK\n"
	for n := 0; n < attachBytes; n += len(line) {
		b.WriteString(line)
	}
	b.WriteString(`</ContentTransferEncoded>
    </Attachment>
  </AttachmentEncoded>
</edXML>
`)
	return []byte(b.String())
}

// xmlsec1Path returns the xmlsec1 binary or fails the test: the interop
// tests must run against the real tool, never be skipped.
func xmlsec1Path(t testing.TB) string {
	t.Helper()
	return testenv.RequireTool(t, "xmlsec1")
}
