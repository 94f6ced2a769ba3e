// Command dsigbench measures XML-DSig verification of signed edXML packets
// beside xmlsec1 (issue #13, the XML-DSig row): it generates a test CA and
// signer, signs packets of the sizes asked for (mostly a base64 attachment,
// as real packets are), then verifies each file in a child process — our
// verifier (bus/xmldsig, the same call `lgsp edoc verify` makes) and
// `xmlsec1 --verify` — and prints the median wall time and the peak RSS
// (the child's rusage) of each, with the ratios of the same run and the
// host's busy CPU share. With -base, the same child of another dsigbench
// binary (built from an earlier commit, e.g. main) is measured on the same
// files in the same interleaved runs, for an A/B (docs/xmldsig.md):
//
//	go run ./test/dsigbench -sizes 100KB,10MB,100MB -runs 3 [-base dsigbench-of-main]
//
// The child is this program again (-child), so what is measured is reading
// the file and verifying it, process start included for both tools.
package main
