package server

import (
	"net/http"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// needAdmin refuses a principal without the admin right (all but full
// devices).
func needAdmin(c *call) error {
	if c.dev.Rights != meta.Full {
		return forbidden("this needs a device with full rights")
	}
	return nil
}

func deviceInfo(d meta.Device) wire.DeviceInfo {
	info := wire.DeviceInfo{Device: d.ID, SignKey: d.SignKey, Name: d.Name, Rights: string(d.Rights), AddedBy: d.AddedBy, Added: d.Added}
	if !d.Active() {
		info.Revoked = &d.Revoked
	}
	return info
}

// listDevices handles GET /v1/devices.
func (s *Server) listDevices(c *call) error {
	ds, err := s.db.Devices(c.ctx(), c.account)
	if err != nil {
		return err
	}
	resp := wire.DevicesResponse{Devices: make([]wire.DeviceInfo, len(ds))}
	for i, d := range ds {
		resp.Devices[i] = deviceInfo(d)
	}
	return writeJSON(c.w, http.StatusOK, resp)
}
