package server

import (
	"errors"
	"net/http"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/wire"
)

// needAdmin refuses a device without the admin right (append-only ones).
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

// addDevice handles POST /v1/devices.
func (s *Server) addDevice(c *call) error {
	if err := needAdmin(c); err != nil {
		return err
	}
	var req wire.AddDeviceRequest
	if err := decodeJSON(c, maxAuthBody, &req); err != nil {
		return err
	}
	rights := meta.Rights(req.Rights)
	if !rights.Valid() {
		return badRequest("rights must be %q or %q", wire.RightsFull, wire.RightsAppendOnly)
	}
	id, err := checkDeviceKey(c.account, req.Device, req.Signature)
	if err != nil {
		return err
	}
	d := meta.Device{ID: id, SignKey: req.Device.SignKey, Name: req.Device.Name, Rights: rights, AddedBy: c.dev.ID, Added: s.cfg.Now().UTC()}
	err = s.db.AddDevice(c.ctx(), c.account, d)
	if errors.Is(err, meta.ErrExists) {
		return newError(http.StatusConflict, wire.CodeExists, "the account has or had that device")
	}
	if err != nil {
		return err
	}
	return writeJSON(c.w, http.StatusCreated, deviceInfo(d))
}

// revokeDevice handles DELETE /v1/devices/{id}.
func (s *Server) revokeDevice(c *call) error {
	if err := needAdmin(c); err != nil {
		return err
	}
	err := s.db.RevokeDevice(c.ctx(), c.account, c.name, s.cfg.Now().UTC())
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return notFound("no such device")
	case errors.Is(err, meta.ErrConflict):
		return newError(http.StatusConflict, wire.CodeConflict, "the account's last active full device cannot be revoked")
	case err != nil:
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
