package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
)

// route is one endpoint of the API.
type route struct {
	name   string // label in logs and metrics
	auth   bool   // needs a bearer token
	handle func(*Server, *call) error
}

// The routes (docs/api.md). Their names are the route labels of metrics.
var (
	routeRegister    = &route{"register", false, (*Server).register}
	routeChallenge   = &route{"challenge", false, (*Server).challenge}
	routeToken       = &route{"token", false, (*Server).token}
	routeDevices     = &route{"devices_list", true, (*Server).listDevices}
	routeAddDevice   = &route{"device_add", true, (*Server).addDevice}
	routeRevoke      = &route{"device_revoke", true, (*Server).revokeDevice}
	routeList        = &route{"object_list", true, (*Server).listObjects}
	routeGet         = &route{"object_get", true, (*Server).getObject}
	routeHead        = &route{"object_head", true, (*Server).headObject}
	routePut         = &route{"object_put", true, (*Server).putObject}
	routeDelete      = &route{"object_delete", true, (*Server).deleteObject}
	routeRefGet      = &route{"ref_get", true, (*Server).getRef}
	routeRefPut      = &route{"ref_put", true, (*Server).putRef}
	routeHealth      = &route{"healthz", false, (*Server).health}
	routeMetrics     = &route{"metrics", false, (*Server).serveMetrics}
	objectNameRoutes = map[string]*route{http.MethodGet: routeGet, http.MethodHead: routeHead, http.MethodPut: routePut, http.MethodDelete: routeDelete}
)

// target is what a request path names.
type target struct {
	methods map[string]*route
	kind    store.Kind // for object routes
	name    string     // object name, ref name or device ID
}

// resolve maps a request path (as sent, still escaped) to its target. Every
// parameter is validated here, so handlers never see a malformed one.
func resolve(path string) (target, error) {
	switch path {
	case "/healthz":
		return target{methods: map[string]*route{http.MethodGet: routeHealth}}, nil
	case "/metrics":
		return target{methods: map[string]*route{http.MethodGet: routeMetrics}}, nil
	}
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return target{}, notFound("no such path")
	}
	seg := strings.Split(rest, "/")
	switch {
	case len(seg) == 1 && seg[0] == "accounts":
		return target{methods: map[string]*route{http.MethodPost: routeRegister}}, nil
	case len(seg) == 2 && seg[0] == "auth" && seg[1] == "challenge":
		return target{methods: map[string]*route{http.MethodPost: routeChallenge}}, nil
	case len(seg) == 2 && seg[0] == "auth" && seg[1] == "token":
		return target{methods: map[string]*route{http.MethodPost: routeToken}}, nil
	case len(seg) == 1 && seg[0] == "devices":
		return target{methods: map[string]*route{http.MethodGet: routeDevices, http.MethodPost: routeAddDevice}}, nil
	case len(seg) == 2 && seg[0] == "devices":
		if !validID(seg[1]) {
			return target{}, badRequest("a device ID is 32 lower-case hex digits")
		}
		return target{methods: map[string]*route{http.MethodDelete: routeRevoke}, name: seg[1]}, nil
	case len(seg) == 2 && seg[0] == "refs":
		if !store.ValidName(seg[1]) {
			return target{}, badRequest("invalid ref name")
		}
		return target{methods: map[string]*route{http.MethodGet: routeRefGet, http.MethodPut: routeRefPut}, name: seg[1]}, nil
	case (len(seg) == 2 || len(seg) == 3) && seg[0] == "objects":
		return resolveObject(seg[1:])
	}
	return target{}, notFound("no such path")
}

// resolveObject resolves "{kind}", "{kind}/" (listing) and "{kind}/{name}".
func resolveObject(seg []string) (target, error) {
	kind := store.Kind(seg[0])
	if !kind.Valid() {
		return target{}, badRequest("unknown object kind")
	}
	if len(seg) == 1 || seg[1] == "" {
		return target{methods: map[string]*route{http.MethodGet: routeList}, kind: kind}, nil
	}
	if !store.ValidName(seg[1]) {
		return target{}, badRequest("invalid object name")
	}
	return target{methods: objectNameRoutes, kind: kind, name: seg[1]}, nil
}

// pick returns the route of the method, or a 405 naming the allowed ones.
func (t target) pick(w http.ResponseWriter, method string) (*route, error) {
	if rt := t.methods[method]; rt != nil {
		return rt, nil
	}
	allowed := make([]string, 0, len(t.methods))
	for m := range t.methods {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return nil, newError(http.StatusMethodNotAllowed, wire.CodeBadMethod, "method %s is not allowed here", method)
}

// validID reports whether s is an account or device ID: 32 lower-case hex
// digits.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
