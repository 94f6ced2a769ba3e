package route

import (
	"path/filepath"

	"github.com/tuyenquang/lgsp/bus"
)

// tellDir gives a step configuration that names files the folder of the
// route file (bus.RoutesDirSetter), before the configuration is decoded.
func (p *parser) tellDir(into any) {
	if s, ok := into.(bus.RoutesDirSetter); ok {
		s.SetRoutesDir(filepath.Dir(p.file))
	}
}
