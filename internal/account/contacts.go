package account

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/shamir"
	"github.com/coffer-backup/coffer/internal/store"
)

// ContactsDeviceName names the device that recovery contacts restore: its
// keys derive from the secret they share (docs/security.md, "Recovery
// contacts").
const ContactsDeviceName = "recovery contacts"

// Labels of the contacts' device keys and of a sealed share.
const (
	labelContactsSign = "coffer v1 contacts device signing key"
	labelContactsKEM  = "coffer v1 contacts device kem key"
	labelShare        = "coffer v1 contact share"
	secretSize        = 32
)

// contactsDevice derives the recovery contacts' device from their secret:
// Ed25519 and MLKEM768-X25519 keys seeded by HKDF-SHA-256 of it.
func contactsDevice(secret []byte) (*keys.Device, error) {
	signSeed, err := hkdf.Key(sha256.New, secret, nil, labelContactsSign, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	defer clear(signSeed)
	kemSeed, err := hkdf.Key(sha256.New, secret, nil, labelContactsKEM, 32)
	if err != nil {
		return nil, err
	}
	defer clear(kemSeed)
	k, err := hpke.MLKEM768X25519().NewPrivateKey(kemSeed)
	if err != nil {
		return nil, err
	}
	sign := ed25519.NewKeyFromSeed(signSeed)
	return &keys.Device{ID: keys.DeviceID(sign.Public().(ed25519.PublicKey)), Sign: sign, KEM: k, Name: ContactsDeviceName}, nil
}

// ContactDevice returns the device of another account's verified chain c
// that holds that account's share when it becomes a recovery contact: its
// longest-standing device other than its own recovery contacts' device.
func ContactDevice(c *devices.Chain) (keys.DevicePublic, error) {
	var best *devices.Member
	for _, m := range c.Devices() {
		if m.Public.Name != ContactsDeviceName && (best == nil || m.AddedAt < best.AddedAt) {
			best = &m
		}
	}
	if best == nil {
		return keys.DevicePublic{}, fmt.Errorf("account %s has no device to hold a share", c.Account())
	}
	return best.Public, nil
}

// ContactShareName is the object, of kind keys, holding the share of
// contact for the contacts set by entry seq.
func ContactShareName(contact string, seq uint64) string {
	return fmt.Sprintf("contact-%s-%016x", contact, seq)
}

// shareInfo binds a sealed share to its account and contacts entry.
func shareInfo(account string, seq uint64) []byte {
	return crypt.AD(labelShare, fmt.Appendf(nil, "%s\x00%d", account, seq))
}

// SetContacts makes contacts the account's recovery contacts, any k of
// whom can together restore access: a fresh secret is split k of n, each
// share sealed to one contact's device; a device derived from the secret
// joins the account (replacing, with a new root-key epoch, the previous
// contacts' device). Neither a contact's share alone (k ≥ 2) nor anything
// the store holds reveals the secret.
func SetContacts(ctx context.Context, r *repo.Repo, c *Chain, me *keys.Device, contacts []keys.DevicePublic, k int) (*Chain, error) {
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	defer clear(secret)
	shares, err := shamir.Split(secret, k, len(contacts), rand.Reader)
	if err != nil {
		return nil, err
	}
	dc, err := contactsDevice(secret)
	if err != nil {
		return nil, err
	}
	defer dc.Zero()
	for _, m := range c.Devices() {
		if m.Public.Name == ContactsDeviceName {
			if c, err = RemoveDevice(ctx, r, c, me, m.Public.ID); err != nil {
				return nil, fmt.Errorf("retiring the previous recovery contacts: %w", err)
			}
		}
	}
	if err := putShares(ctx, r.Store(), c, contacts, shares); err != nil {
		return nil, err
	}
	entry, err := c.SetContacts(devices.ByDevice(me), contacts, k, time.Now())
	if err == nil {
		c, err = c.Append(ctx, store.ChainOf(r.Store()), entry)
	}
	if err != nil {
		return nil, err
	}
	return AddSelf(ctx, r, c, devices.ByDevice(me), dc)
}

// putShares writes each contact's share, sealed to its device, for the
// set-contacts entry that will follow c.
func putShares(ctx context.Context, st store.Store, c *Chain, contacts []keys.DevicePublic, shares []shamir.Share) error {
	seq := c.Len()
	for i, ct := range contacts {
		pt := append([]byte{shares[i].X}, shares[i].Y...)
		sealed, err := keys.SealToDevice(pt, shareInfo(c.Account(), seq), ct)
		clear(pt)
		if err != nil {
			return err
		}
		if err := store.PutBytes(ctx, st, store.Keys, ContactShareName(ct.ID, seq), sealed); err != nil {
			return err
		}
	}
	return nil
}

// HelpContact returns, for device me of a recovery contact, its share of
// the owner's contacts secret as a typable code. st is the owner's store,
// where me authenticates as a contact; the owner's chain must pass check
// (the transparency log), so the share is that of the contacts the log
// shows everyone.
func HelpContact(ctx context.Context, st store.Store, owner string, me *keys.Device, check Check) (*pairing.ShareCode, error) {
	c, err := firstUse(ctx, st, owner, check)
	if err != nil {
		return nil, err
	}
	contacts, _ := c.Contacts()
	if !isContact(contacts, me.ID) {
		return nil, fmt.Errorf("this device (%s) is not a recovery contact of account %s", me.ID, owner)
	}
	seq := c.ContactsSeq()
	name := ContactShareName(me.ID, seq)
	b, err := store.ReadAll(ctx, st, store.Keys, name, keys.MaxObjectSize)
	if err != nil {
		return nil, err
	}
	pt, err := keys.OpenFromDevice(b, shareInfo(owner, seq), me)
	if err != nil {
		return nil, fmt.Errorf("keys/%s: %w", name, err)
	}
	defer clear(pt)
	if len(pt) != 1+secretSize {
		return nil, fmt.Errorf("keys/%s: share of %d bytes: %w", name, len(pt), keys.ErrMalformed)
	}
	var raw [pairing.AccountSize]byte
	if _, err := hex.Decode(raw[:], []byte(owner)); err != nil {
		return nil, fmt.Errorf("account %q: %w", owner, err)
	}
	return pairing.NewShareCode(raw, shamir.Share{X: pt[0], Y: pt[1:]})
}

func isContact(contacts []keys.DevicePublic, id string) bool {
	for _, ct := range contacts {
		if ct.ID == id {
			return true
		}
	}
	return false
}

// CombineCodes joins the contacts' codes into the account they are for
// and the contacts' device. Too few or wrong codes give a device that is
// not in the account's chain, which Recover then refuses.
func CombineCodes(codes []*pairing.ShareCode) (string, *keys.Device, error) {
	if len(codes) == 0 {
		return "", nil, fmt.Errorf("no contact codes given")
	}
	acct := codes[0].Account()
	shares := make([]shamir.Share, len(codes))
	for i, sc := range codes {
		if sc.Account() != acct {
			return "", nil, fmt.Errorf("contact code %d is for account %x, code 1 for %x", i+1, sc.Account(), acct)
		}
		shares[i] = sc.Share()
	}
	secret, err := shamir.Combine(shares)
	if err != nil {
		return "", nil, fmt.Errorf("combining the contact codes: %w", err)
	}
	defer clear(secret)
	dc, err := contactsDevice(secret)
	return hex.EncodeToString(acct[:]), dc, err
}
