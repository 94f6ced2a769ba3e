package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestGenerateOffline: a WSDL whose schema import is remote (as JAX-WS
// publishes it, ?xsd=1) is refused before gowsdl runs, with the name of
// the local copy to supply; with -schema-dir the copy is used, gowsdl runs
// on a staged WSDL pointing at it, and the generated package builds and
// vets. The remote address is a loopback listener that counts
// connections: there must be none.
func TestGenerateOffline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String() + "/svc/Dossier?xsd=1"
	dir := t.TempDir()
	wsdl := filepath.Join(dir, "d.wsdl")
	must(t, os.WriteFile(wsdl, []byte(`<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:d" targetNamespace="urn:d" name="D">
<types><xsd:schema><xsd:import namespace="urn:d" schemaLocation="`+strings.ReplaceAll(url, "&", "&amp;")+`"/></xsd:schema></types>
<message name="push"><part name="parameters" element="tns:push"/></message>
<portType name="P"><operation name="push"><input message="tns:push"/></operation></portType>
<binding name="B" type="tns:P"><soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>
<operation name="push"><soap:operation soapAction=""/><input><soap:body use="literal"/></input></operation></binding>
</definitions>`), 0o644))
	gen := filepath.Join(dir, "gen")
	err = generate(wsdl, "d", gen, "", true, os.Stderr)
	name := localCopyName(url)
	if err == nil || !strings.Contains(err.Error(), "d.wsdl:4: xsd:import schemaLocation") || !strings.Contains(err.Error(), "save that schema") || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "-schema-dir") {
		t.Fatalf("remote import: %v", err)
	}
	if _, err := os.Stat(gen); !os.IsNotExist(err) {
		t.Fatal("gowsdl ran (gen/ exists) although the WSDL was refused")
	}
	schemas := filepath.Join(dir, "schemas")
	must(t, os.MkdirAll(schemas, 0o755))
	if err := generate(wsdl, "d", gen, schemas, true, os.Stderr); err == nil || !strings.Contains(err.Error(), "local copy") {
		t.Fatalf("missing copy: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(schemas, name), []byte(`<xs:schema version="1.0" targetNamespace="urn:d" xmlns:tns="urn:d" xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="push" type="tns:push"/>
  <xs:complexType name="push"><xs:sequence>
    <xs:element name="arg0" type="tns:doc" minOccurs="0"/>
  </xs:sequence></xs:complexType>
  <xs:complexType name="doc"><xs:sequence>
    <xs:element name="title" type="xs:string"/>
    <xs:element name="at" type="xs:dateTime"/>
  </xs:sequence></xs:complexType>
</xs:schema>`), 0o644))
	// Generate inside the module so that the result can be built and vetted.
	mod, err := os.MkdirTemp(".", "testgen-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(mod) })
	must(t, generate(wsdl, "d", mod, schemas, true, os.Stderr))
	got, err := os.ReadFile(filepath.Join(mod, "d", "d.go"))
	must(t, err)
	for _, want := range []string{"type Push struct", `xml:"urn:d push"`, "Arg0 *Doc `xml:\"arg0,omitempty\"", "Title string `xml:\"title\"", "At soap.XSDDateTime `xml:\"at\"", "func (*Push) SOAPExactNamespaces() {}"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	if strings.Contains(string(got), `xml:"urn:d doc"`) {
		t.Errorf("the type-level XMLName of doc is still there:\n%s", got)
	}
	out, err := exec.Command("go", "vet", "./"+filepath.Base(mod)+"/d").CombinedOutput()
	if err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections to the remote schema address", n)
	}
}
