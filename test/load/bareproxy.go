package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// bareProxyArg, as the generator's only argument before the target URL,
// makes it serve a bare reverse proxy instead (a child of the service
// mode; see startBareProxy).
const bareProxyArg = "-serve-bare-proxy"

// serveBareProxy is the child process of the service mode's third phase:
// net/http/httputil's ReverseProxy to target and nothing else — no
// authentication, no session, no log, no limits — with as many idle
// connections to the target as the bus keeps (one per in-flight call). It
// prints its address on stdout and serves until stdin closes (the parent
// ended).
func serveBareProxy(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p := httputil.NewSingleHostReverseProxy(u)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 0, 10000
	p.Transport = tr
	return serveChild(ln, p)
}

// serveChild is the end of a child's main: it prints the address it
// listens on for startChild, serves h, and exits when stdin closes (the
// parent ended or stopped it).
func serveChild(ln net.Listener, h http.Handler) error {
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	return (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}

// child is a running serveBareProxy or serveBareSSE child.
type child struct {
	cmd   *exec.Cmd
	stdin io.Closer
	addr  string
}

// startChild starts this program again with args (bareProxyArg and its
// target, or bareSSEArg), in a process of its own as the node is, and
// reads the address it listens on.
func startChild(ctx context.Context, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		in.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	addr := strings.TrimSpace(line)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		in.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s printed no address", args[0])
	}
	return &child{cmd: cmd, stdin: in, addr: addr}, nil
}

// stop ends the child and waits for it.
func (b *child) stop() {
	b.stdin.Close()
	_ = b.cmd.Wait()
}
