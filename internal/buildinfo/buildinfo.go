// Package buildinfo says which build of coffer is running: the module
// version, the VCS revision and time it was built from, and whether the
// work tree had uncommitted changes, as the Go toolchain recorded them in
// the binary.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Info is what the binary records of its build. Fields the toolchain did
// not record (a build outside a VCS checkout, `go run`) are empty.
type Info struct {
	Version  string `json:"version"`            // module version, or "(devel)"
	Revision string `json:"revision,omitempty"` // VCS revision
	Time     string `json:"time,omitempty"`     // commit time, RFC 3339
	Modified bool   `json:"modified"`           // built from a work tree with changes
	Go       string `json:"go"`                 // toolchain version
	// WebApp is the SHA-256, in hex, of the web app's WebAssembly the
	// binary embeds and serves (docs/web.md): set by the caller.
	WebApp string `json:"web_app_sha256,omitempty"`
}

// Read returns the build information of the running binary; override, if
// not empty, is a version set at link time (-X main.version=…).
func Read(override string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: orDev(override)}
	}
	i := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if override != "" && override != "dev" {
		i.Version = override
	}
	for _, s := range bi.Settings {
		i.set(s.Key, s.Value)
	}
	return i
}

func (i *Info) set(key, value string) {
	switch key {
	case "vcs.revision":
		i.Revision = value
	case "vcs.time":
		i.Time = value
	case "vcs.modified":
		i.Modified = value == "true"
	}
}

func orDev(v string) string {
	if v == "" {
		return "dev"
	}
	return v
}

// String is the one-line form `coffer version` prints.
func (i Info) String() string {
	s := "coffer " + i.Version
	if i.Revision != "" {
		s += fmt.Sprintf(" (%.12s", i.Revision)
		if i.Modified {
			s += "+changes"
		}
		if i.Time != "" {
			s += ", " + i.Time
		}
		s += ")"
	}
	if i.Go != "" {
		s += " " + i.Go
	}
	return s
}
