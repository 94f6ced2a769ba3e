// Package edxmltest makes the worst-case edXML packets of the memory tests
// and measures the heap while a call runs. It is for tests only (bus/edxml,
// bus/transform and the black-box tests in test/ import it); nothing that
// ships in the binary does.
//
// It imports only bus/xmlscan, not bus/edxml, so that the tests inside
// package edxml can use it without an import cycle.
package edxmltest
