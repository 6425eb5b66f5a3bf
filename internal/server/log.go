package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/tlog"
)

// Cache-Control of log responses (C2SP tlog-tiles): a full tile never
// changes; a partial tile and the checkpoint do.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheNone      = "no-cache"
)

// getCheckpoint handles GET /log/checkpoint: the latest stored signed
// checkpoint, published first if the server has stored none yet.
func (s *Server) getCheckpoint(c *call) error {
	_, note, err := s.db.Checkpoint(c.ctx())
	if errors.Is(err, meta.ErrNotFound) {
		if err = s.pub.await(c.ctx(), 0); err == nil {
			_, note, err = s.db.Checkpoint(c.ctx())
		}
	}
	if err != nil {
		return err
	}
	return writeLog(c.w, "text/plain; charset=utf-8", cacheNone, note)
}

// getLogKey handles GET /log/vkey: the log's note verifier key.
func (s *Server) getLogKey(c *call) error {
	return writeLog(c.w, "text/plain; charset=utf-8", cacheNone, []byte(s.pub.key.vkey+"\n"))
}

// getTile handles GET /log/tile/<L>/<N>[.p/<W>] and
// /log/tile/entries/<N>[.p/<W>]: hash tiles and entry bundles of the tree
// of the stored checkpoint, computed from the database; 404 for one
// reaching beyond that tree.
func (s *Server) getTile(c *call) error {
	size, _, err := s.db.Checkpoint(c.ctx())
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return err
	}
	if tlog.CheckTile(c.tile, size) != nil {
		return notFound("the tile reaches beyond the log's checkpoint of %d leaves", size)
	}
	var b []byte
	if c.tile.L < 0 {
		b, err = s.bundle(c)
	} else {
		b, err = tlog.ReadTile(c.tile, size, dbHashes{c.ctx(), s.db})
	}
	if err != nil {
		return err
	}
	cache := cacheImmutable
	if c.tile.W < tlog.TileWidth {
		cache = cacheNone
	}
	return writeLog(c.w, "application/octet-stream", cache, b)
}

// bundle returns the entry bundle c.tile.
func (s *Server) bundle(c *call) ([]byte, error) {
	leaves, err := s.db.LogLeaves(c.ctx(), uint64(c.tile.N)*tlog.TileWidth, c.tile.W)
	if err != nil {
		return nil, err
	}
	return tlog.MarshalBundle(leaves)
}

// writeLog answers 200 with a log resource.
func writeLog(w http.ResponseWriter, contentType, cache string, b []byte) error {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", cache)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}
