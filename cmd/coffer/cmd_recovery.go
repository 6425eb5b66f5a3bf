package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/pairing"
	"github.com/coffer-backup/coffer/internal/passphrase"
	"github.com/coffer-backup/coffer/internal/store"
	storeopen "github.com/coffer-backup/coffer/internal/store/open"
	"github.com/coffer-backup/coffer/internal/store/remote"
	"github.com/coffer-backup/coffer/internal/termsafe"
)

// Where recovery secrets come from; never the command line.
const (
	recoveryKeyEnv      = "COFFER_RECOVERY_KEY"
	recoveryKeyFileEnv  = "COFFER_RECOVERY_KEY_FILE"
	contactCodesEnv     = "COFFER_CONTACT_CODES"
	contactCodesFileEnv = "COFFER_CONTACT_CODES_FILE"
)

func runRecover(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"recover takes no arguments; give --store (and --account for a server, or --contact)"}
	}
	if e.o.contact {
		return e.recoverWithContacts(ctx)
	}
	if e.o.account == "" && storeopen.IsRemote(e.o.store) {
		return withHint(usageError{"recover from a server needs --account ACCOUNT (or --contact)"},
			"a server shows no one its accounts before they sign in; the account ID is what 'coffer init' printed, and what 'coffer verify --json' prints on any device of the account")
	}
	text, err := passphrase.Secret(recoveryKeyEnv, recoveryKeyFileEnv, "recovery key", "Recovery key: ")
	if err != nil {
		return err
	}
	rk, err := keys.ParseRecoveryKey(string(text)) // the checksum catches typos before any network call
	clear(text)
	if err != nil {
		return err
	}
	defer rk.Zero()
	n, err := e.newcomer("recover")
	if err != nil {
		return err
	}
	defer n.dev.Zero()
	rdev, err := rk.Device()
	if err != nil {
		return err
	}
	defer rdev.Zero()
	st, err := e.openStore(n.home, n.loc, storeopen.Options{Account: e.o.account, Device: rdev})
	if err != nil {
		return e.accountsHint(err, n.loc)
	}
	defer st.Close()
	acct, err := e.recoverAccount(ctx, st, n.loc)
	if err != nil {
		return err
	}
	c, err := account.RecoverWithKey(ctx, st, acct, rk, n.dev, e.firstLogCheck(ctx, n, st))
	if err != nil {
		return err
	}
	return e.recovered(ctx, n, c)
}

// recoverAccount returns the account to recover from the store at loc:
// on a server, --account; in a directory or S3 store, the one account it
// holds, which --account, if given, must name in full or by a prefix of
// 4 or more digits.
func (e *env) recoverAccount(ctx context.Context, st store.Store, loc string) (string, error) {
	if storeopen.IsRemote(loc) {
		return e.o.account, nil
	}
	acct, err := account.StoreAccount(ctx, st)
	if err != nil {
		return "", e.accountsHint(err, loc)
	}
	if e.o.account != "" && !isPrefix(acct, e.o.account) {
		return "", fmt.Errorf("the store holds account %s, which --account %s does not name (its ID or a prefix of 4 or more digits)", acct, termsafe.Name(e.o.account))
	}
	return acct, nil
}

// isPrefix reports whether ref names the ID id: all of it, or a prefix of
// 4 or more hex digits in either case.
func isPrefix(id, ref string) bool {
	return len(ref) >= 4 && strings.HasPrefix(id, strings.ToLower(ref))
}

// accountsHint adds to err, when loc is a server's data directory rather
// than a store, the stores of the accounts it keeps.
func (e *env) accountsHint(err error, loc string) error {
	stores := storeopen.AccountStores(loc)
	if len(stores) == 0 {
		return err
	}
	for i, s := range stores {
		stores[i] = termsafe.Name(s)
	}
	return withHint(fmt.Errorf("%s is a server's data directory, with %s, not a store", termsafe.Name(loc), plural(len(stores), "account")),
		"recover from the account's own store: --store "+strings.Join(stores, " or --store "))
}

// firstLogCheck pins the server's log policy for a recovering device and
// checks the account's chain against the log before the device acts on it:
// an old prefix (a removal withheld) shows as entries hidden from it. On a
// directory store there is no log.
func (e *env) firstLogCheck(ctx context.Context, n *newcomer, st store.Store) account.Check {
	return func(c *account.Chain) (*account.Chain, error) {
		if err := e.pinLog(ctx, n.home, n.loc, st); err != nil {
			return nil, err
		}
		c, _, err := e.checkLog(ctx, n.home, n.loc, st, c)
		return c, err
	}
}

func (e *env) recovered(ctx context.Context, n *newcomer, c *account.Chain) error {
	res, err := n.finish(ctx, e, c)
	if err != nil {
		return err
	}
	return e.emitJoined(res, "recovered")
}

// contactCodes reads the contacts' codes, separated by commas or line
// breaks, and checks each one's checksum.
func contactCodes() ([]*pairing.ShareCode, error) {
	b, err := passphrase.Secret(contactCodesEnv, contactCodesFileEnv, "contact codes", "Contact codes, separated by commas: ")
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var codes []*pairing.ShareCode
	for i, f := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		if strings.TrimSpace(f) == "" {
			continue
		}
		sc, err := pairing.ParseShareCode(f)
		if err != nil {
			return nil, fmt.Errorf("contact code %d: %w", i+1, err)
		}
		codes = append(codes, sc)
	}
	return codes, nil
}

func (e *env) recoverWithContacts(ctx context.Context) error {
	codes, err := contactCodes()
	if err != nil {
		return err
	}
	acct, dc, err := account.CombineCodes(codes)
	for _, c := range codes {
		c.Zero()
	}
	if err != nil {
		return err
	}
	defer dc.Zero()
	if e.o.account != "" && !isPrefix(acct, e.o.account) {
		return fmt.Errorf("the contact codes are for account %s, not %s", acct, e.o.account)
	}
	n, err := e.newcomer("recover")
	if err != nil {
		return err
	}
	defer n.dev.Zero()
	st, err := e.openStore(n.home, n.loc, storeopen.Options{Account: acct, Device: dc})
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := account.RecoverWithContacts(ctx, st, acct, dc, n.dev, e.firstLogCheck(ctx, n, st))
	if err != nil {
		return withHint(err, "each contact runs 'coffer recovery-contact help "+acct+"' and reads you the code; enough of them must be given")
	}
	return e.recovered(ctx, n, c)
}

func runRecoveryKey(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 || args[0] != "rotate" {
		return usageError{"usage: coffer recovery-key rotate"}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	c, rk, err := account.RotateRecoveryKey(ctx, s.repo, s.chain, s.dev)
	if rk == nil {
		return err
	}
	defer rk.Zero()
	if serr := s.saveChecked(ctx, e, c); err == nil {
		err = serr
	}
	if err != nil {
		fmt.Fprintf(e.stdout, "new recovery key: %s\n", rk.String())
		return withHint(err, "the key above is now the account's only recovery key: write it down")
	}
	res := map[string]string{"recovery_key": rk.String()}
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "new recovery key: %s\n\n", rk.String())
		fmt.Fprintln(w, "Write it down and keep it offline; it is shown only this once. The old one no longer works.")
	})
}

func runRecoveryContact(ctx context.Context, e *env, args []string) error {
	if len(args) >= 2 && args[0] == "add" {
		return e.contactAdd(ctx, args[1:])
	}
	if len(args) == 2 && args[0] == "help" {
		return e.contactHelp(ctx, args[1])
	}
	return usageError{"usage: coffer recovery-contact add ACCOUNT... [--threshold K] | recovery-contact help ACCOUNT"}
}

// otherChain reads another account's device chain from the server.
type otherChain struct {
	rs      *remote.Store
	account string
}

func (o otherChain) ChainEntries(ctx context.Context, from uint64) ([][]byte, error) {
	return o.rs.AccountChain(ctx, o.account, from)
}

// contactDevice returns the device of another account, given by ID or by
// name, that will hold its share: the account's longest-standing device.
// Its chain (and its name) must be in the server's transparency log as
// everybody sees it, so the keys are the ones everybody else gets.
func (e *env) contactDevice(ctx context.Context, s *session, rs *remote.Store, arg string) (keys.DevicePublic, error) {
	acct, name := arg, ""
	if _, err := hex.DecodeString(arg); err != nil || len(arg) != 32 {
		name = arg
		if acct, _, err = rs.LookupName(ctx, name); err != nil {
			return keys.DevicePublic{}, fmt.Errorf("looking up the account name %q: %w", name, err)
		}
	}
	if acct == s.chain.Account() {
		return keys.DevicePublic{}, usageError{"an account cannot be its own recovery contact"}
	}
	c, err := account.FirstUse(ctx, otherChain{rs, acct}, acct)
	if err != nil {
		return keys.DevicePublic{}, fmt.Errorf("the device chain of account %s: %w", acct, err)
	}
	if err := e.contactLogged(ctx, s, c, name); err != nil {
		return keys.DevicePublic{}, err
	}
	pub, err := account.ContactDevice(c.Chain)
	if err != nil {
		return keys.DevicePublic{}, err
	}
	e.say("contact %s: device %s %q, fingerprint %s", arg, pub.ID, pub.Name, pub.Fingerprint())
	return pub, nil
}

// confirmed requires the user to have confirmed, with --fingerprint, the
// fingerprint of the device that will hold a contact's share: the server
// serves the contact's chain, so only a comparison with what the contact
// sees on their own device rules out a key the server substituted.
func (e *env) confirmed(arg string, pub keys.DevicePublic) error {
	norm := func(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), "")) }
	for _, fp := range e.o.fingerprints {
		if norm(fp) == norm(pub.Fingerprint()) {
			return nil
		}
	}
	return withHint(fmt.Errorf("the fingerprint of contact %s's device (%s) is not confirmed", arg, pub.Fingerprint()),
		"ask the contact to run 'coffer device list' and read you their device's fingerprint; if it matches, repeat with --fingerprint '"+pub.Fingerprint()+"'")
}

// contactLogged checks a contact's chain, and its name if given, against
// the server's transparency log.
func (e *env) contactLogged(ctx context.Context, s *session, c *account.Chain, name string) error {
	l, err := serverLog(s.home, s.loc, s.store)
	if err != nil {
		return err
	}
	rep, err := l.Check(ctx, c, name)
	if err != nil {
		return fmt.Errorf("the contact's account %s: %w", c.Account(), err)
	}
	if len(rep.Pending) > 0 {
		return fmt.Errorf("the contact's account %s: device chain entries %v are not in the transparency log yet", c.Account(), rep.Pending)
	}
	if name != "" && !rep.NameLogged {
		return fmt.Errorf("the transparency log does not map the name %q to account %s", name, c.Account())
	}
	return nil
}

func (e *env) contactAdd(ctx context.Context, args []string) error {
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	rs, ok := s.store.(*remote.Store)
	if !ok {
		return fmt.Errorf("recovery contacts are accounts on the same Coffer server; this store is a directory")
	}
	contacts, k := s.chain.Contacts()
	for _, a := range args {
		pub, err := e.contactDevice(ctx, s, rs, a)
		if err == nil {
			err = e.confirmed(a, pub)
		}
		if err != nil {
			return err
		}
		contacts = append(contacts, pub)
	}
	if e.o.threshold > 0 {
		k = e.o.threshold
	} else if k == 0 {
		k = min(2, len(contacts))
	}
	if k > len(contacts) {
		return usageError{fmt.Sprintf("a threshold of %d needs at least %d contacts, not %d", k, k, len(contacts))}
	}
	c, err := account.SetContacts(ctx, s.repo, s.chain, s.dev, contacts, k)
	if err == nil {
		err = s.saveChecked(ctx, e, c)
	}
	if err != nil {
		return err
	}
	res := map[string]any{"contacts": len(contacts), "threshold": k}
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "%d recovery contacts; any %d of them can help you recover this account\n", len(contacts), k)
	})
}

func (e *env) contactHelp(ctx context.Context, owner string) error {
	h, err := e.home()
	if err != nil {
		return err
	}
	loc, err := e.storeLocation(h)
	if err != nil {
		return err
	}
	dev, err := e.unlockDevice(h)
	if err != nil {
		return err
	}
	defer dev.Zero()
	st, err := e.openStore(h, loc, storeopen.Options{Account: owner, Device: dev})
	if err != nil {
		return err
	}
	defer st.Close()
	check := func(c *account.Chain) (*account.Chain, error) {
		l, err := serverLog(h, loc, st)
		if err != nil || l == nil {
			return c, err
		}
		if _, err := l.Check(ctx, c, ""); err != nil {
			return nil, fmt.Errorf("account %s: %w: %w", owner, account.ErrLog, err)
		}
		return c, nil
	}
	code, err := account.HelpContact(ctx, st, owner, dev, check)
	if err != nil {
		return err
	}
	defer code.Zero()
	res := map[string]string{"code": code.String()}
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "recovery code for account %s: %s\n", owner, code.String())
		fmt.Fprintln(w, "Give it only to the account's owner, in person or on a call where you recognise them.")
	})
}
