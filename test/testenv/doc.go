// Package testenv says, in one line, what a test needs from the machine and
// how to get it. The tests of LGSP run against real components (MariaDB,
// xmllint, xmlsec1, node with node-soap, python3-zeep); on a contributor's
// laptop one of them is often missing, and without this package the test
// would fail deep inside, with a connection error or an exec error. Each
// Require function instead fails the test at once with a single line that
// names the component, the Debian package to install, and ./test/run.sh,
// which installs and starts everything.
//
// A missing component is always a FAILURE, never a skip: test/run.sh and CI
// provide every component, and a run that skipped a check would look green.
//
// The one exception is the external corpus (ExternalEdXMLSamples): the
// official national-axis sample packets carry no licence, so they are not in
// the repository; tests over them run only when LGSP_EXTERNAL_EDXML_SAMPLES
// names their folder (CI sets it) and are skipped otherwise.
//
// It is for tests only; nothing that ships in the binary imports it.
package testenv
