package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// route is one endpoint of the API.
type route struct {
	name   string        // label in logs and metrics
	auth   bool          // needs a bearer token
	allow  []meta.Rights // with auth: the principals that may use it
	handle func(*Server, *call) error
}

// Who may use a route (docs/api.md, Principals); handlers narrow some
// further by kind, name or right.
var (
	devicesOnly   = []meta.Rights{meta.Full, meta.AppendOnly}
	fullOnly      = []meta.Rights{meta.Full}
	chainWriters  = []meta.Rights{meta.Full, meta.AppendOnly, meta.Recovery} // narrowed by the chain's own rights (docs/devices.md §D.4)
	anyPrincipal  = []meta.Rights{meta.Full, meta.AppendOnly, meta.Recovery, meta.Contact}
	objectReaders = []meta.Rights{meta.Full, meta.AppendOnly, meta.Recovery, meta.Contact, meta.Web} // narrowed by mayRead
	chainReaders  = objectReaders
	objectWriters = []meta.Rights{meta.Full, meta.AppendOnly, meta.Recovery} // narrowed by mayWrite
)

// The routes (docs/api.md). Their names are the route labels of metrics.
var (
	routeRegister     = &route{"register", false, nil, (*Server).register}
	routeChallenge    = &route{"challenge", false, nil, (*Server).challenge}
	routeToken        = &route{"token", false, nil, (*Server).token}
	routeDevices      = &route{"devices_list", true, devicesOnly, (*Server).listDevices}
	routeChainGet     = &route{"chain_get", true, chainReaders, (*Server).getChain}
	routeChainAppend  = &route{"chain_append", true, chainWriters, (*Server).appendChain}
	routeAccountChain = &route{"account_chain_get", true, anyPrincipal, (*Server).getAccountChain}
	routePairing      = &route{"pairing_create", true, fullOnly, (*Server).createPairing}
	routeSlotPut      = &route{"pairing_put", true, devicesOnly, (*Server).putPairing}
	routeSlotPutAnon  = &route{"pairing_put", false, nil, (*Server).putPairing}
	routeSlotGet      = &route{"pairing_get", false, nil, (*Server).getPairing}
	routeList         = &route{"object_list", true, objectReaders, (*Server).listObjects}
	routeGet          = &route{"object_get", true, objectReaders, (*Server).getObject}
	routeHead         = &route{"object_head", true, objectReaders, (*Server).headObject}
	routePut          = &route{"object_put", true, objectWriters, (*Server).putObject}
	routeDelete       = &route{"object_delete", true, devicesOnly, (*Server).deleteObject}
	routeRefGet       = &route{"ref_get", true, devicesOnly, (*Server).getRef}
	routeRefPut       = &route{"ref_put", true, devicesOnly, (*Server).putRef}
	routeNameRegister = &route{"name_register", true, fullOnly, (*Server).registerName}
	routeNameLookup   = &route{"name_lookup", true, anyPrincipal, (*Server).lookupName}
	routeCheckpoint   = &route{"log_checkpoint", false, nil, (*Server).getCheckpoint}
	routeLogKey       = &route{"log_vkey", false, nil, (*Server).getLogKey}
	routeTile         = &route{"log_tile", false, nil, (*Server).getTile}
	routeEntries      = &route{"log_entries", false, nil, (*Server).getTile}
	routeHealth       = &route{"healthz", false, nil, (*Server).health}
	routeMetrics      = &route{"metrics", false, nil, (*Server).serveMetrics}
	objectNameRoutes  = map[string]*route{http.MethodGet: routeGet, http.MethodHead: routeHead, http.MethodPut: routePut, http.MethodDelete: routeDelete}
)

// target is what a request path names.
type target struct {
	methods map[string]*route
	kind    store.Kind // for object routes
	name    string     // object name, ref name, pairing id, account name or log path
	account string     // another account named by the path
	slot    int        // pairing slot
	tile    tlog.Tile  // log tile or entry bundle
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
	if rest, ok := strings.CutPrefix(path, "/log/"); ok {
		return resolveLog(rest)
	}
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return target{}, notFound("no such path")
	}
	seg := strings.Split(rest, "/")
	switch {
	case len(seg) == 1 && seg[0] == "accounts":
		return target{methods: map[string]*route{http.MethodPost: routeRegister}}, nil
	case len(seg) >= 3 && seg[0] == "accounts":
		return resolveAccount(seg[1:])
	case len(seg) == 2 && seg[0] == "auth" && seg[1] == "challenge":
		return target{methods: map[string]*route{http.MethodPost: routeChallenge}}, nil
	case len(seg) == 2 && seg[0] == "auth" && seg[1] == "token":
		return target{methods: map[string]*route{http.MethodPost: routeToken}}, nil
	case len(seg) == 1 && seg[0] == "devices":
		return target{methods: map[string]*route{http.MethodGet: routeDevices}}, nil
	case len(seg) == 1 && seg[0] == "chain":
		return target{methods: map[string]*route{http.MethodGet: routeChainGet, http.MethodPost: routeChainAppend}}, nil
	case len(seg) == 1 && seg[0] == "names":
		return target{methods: map[string]*route{http.MethodPost: routeNameRegister}}, nil
	case len(seg) == 2 && seg[0] == "names":
		if !wire.ValidAccountName(seg[1]) {
			return target{}, badRequest("invalid account name")
		}
		return target{methods: map[string]*route{http.MethodGet: routeNameLookup}, name: seg[1]}, nil
	case len(seg) == 1 && seg[0] == "pairings":
		return target{methods: map[string]*route{http.MethodPost: routePairing}}, nil
	case len(seg) == 3 && seg[0] == "pairings":
		return resolveSlot(seg[1], seg[2])
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

// resolveAccount resolves "{account}/chain".
func resolveAccount(seg []string) (target, error) {
	if len(seg) != 2 || seg[1] != "chain" {
		return target{}, notFound("no such path")
	}
	if !validID(seg[0]) {
		return target{}, badRequest("an account ID is 32 lower-case hex digits")
	}
	return target{methods: map[string]*route{http.MethodGet: routeAccountChain}, account: seg[0]}, nil
}

// resolveLog resolves the C2SP tlog-tiles paths below "/log/":
// "checkpoint", "vkey" and the canonical tile and entry bundle paths.
func resolveLog(rest string) (target, error) {
	get := func(rt *route) map[string]*route { return map[string]*route{http.MethodGet: rt} }
	switch rest {
	case "checkpoint":
		return target{methods: get(routeCheckpoint), name: rest}, nil
	case "vkey":
		return target{methods: get(routeLogKey), name: rest}, nil
	}
	t, err := tlog.ParseTilePath(rest)
	if err != nil {
		return target{}, notFound("no such log path")
	}
	rt := routeTile
	if t.L < 0 {
		rt = routeEntries
	}
	return target{methods: get(rt), name: rest, tile: t}, nil
}

// resolveSlot resolves "{id}/{slot}" of a pairing. Slots 1 and 3 are
// written by the joining device, which has no credentials yet.
func resolveSlot(id, slot string) (target, error) {
	if !validID(id) {
		return target{}, badRequest("a pairing id is 32 lower-case hex digits")
	}
	if len(slot) != 1 || slot[0] < '1' || slot[0] > '0'+wire.PairingSlots {
		return target{}, badRequest("a pairing slot is 1 to %d", wire.PairingSlots)
	}
	n := int(slot[0] - '0')
	put := routeSlotPut
	if n%2 == 1 {
		put = routeSlotPutAnon
	}
	return target{methods: map[string]*route{http.MethodGet: routeSlotGet, http.MethodPut: put}, name: id, slot: n}, nil
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

// validID reports whether s is an account, device or pairing ID: 32
// lower-case hex digits.
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
