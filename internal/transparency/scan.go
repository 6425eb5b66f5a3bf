package transparency

import (
	"fmt"
	"slices"
	"time"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// hiddenMessage is the alert of a logged entry the device's chain lacks.
const hiddenMessage = "entry %d of your account is in the public log (leaf %d) but not in the chain your store showed you (a hidden or ghost entry)"

// scan applies the rules of docs/transparency.md §T.5.3 to the leaves of
// one Check, building the watched account's new AccountState.
type scan struct {
	w    Watch
	rep  *Report
	acct *AccountState // new, never shared with the saved state
	name *tlog.Hash    // the watched name's hash, if any
	now  time.Time
}

// newScan starts from the saved account state in st, or from leaf 0 if
// there is none or the watched name changed, and checks the entries found
// logged before against the chain.
func newScan(st *State, w Watch, rep *Report) *scan {
	s := &scan{w: w, rep: rep, now: w.now()}
	if w.Name != "" {
		h := tlog.Hash(tlog.NameHash(w.Name))
		s.name = &h
	}
	s.acct = &AccountState{NameHash: s.name}
	var old *AccountState
	if st != nil {
		old = st.Accounts[w.Account.String()]
	}
	if old != nil && (old.NameHash == nil) == (s.name == nil) && (s.name == nil || *old.NameHash == *s.name) {
		s.acct.Scanned, s.acct.Entries, s.acct.Pending = old.Scanned, slices.Clone(old.Entries), old.Pending
		if old.NameIndex != nil {
			i := *old.NameIndex
			s.acct.NameIndex = &i
		}
	}
	for seq, e := range s.acct.Entries {
		if seq >= len(w.Chain) || w.Chain[seq] != e.Hash {
			s.alert(AlertFork, uint64(seq), e.Index, "entry %d of your account was logged (leaf %d) with other contents than your chain now has: a fork", seq, e.Index)
		}
	}
	return s
}

// alert records an alert, up to MaxAlerts.
func (s *scan) alert(kind AlertKind, seq, index uint64, format string, args ...any) {
	if len(s.rep.Alerts) == MaxAlerts {
		s.rep.Suppressed++
		return
	}
	s.rep.Alerts = append(s.rep.Alerts, Alert{Kind: kind, Seq: seq, Index: index, Message: fmt.Sprintf(format, args...)})
}

// leaf checks leaf index of the log. A leaf that is not one of §T.1 fails
// the check: the log is malformed.
func (s *scan) leaf(index uint64, b []byte) error {
	l, err := tlog.ParseLeaf(b)
	if err != nil {
		return fmt.Errorf("leaf %d of the log: %w", index, err)
	}
	s.rep.Read++
	switch l := l.(type) {
	case *tlog.ChainLeaf:
		if l.Account == s.w.Account {
			s.chainLeaf(index, l.Seq, l.EntryHash)
		}
	case *tlog.NameLeaf:
		if s.name != nil && l.NameHash == *s.name {
			s.nameLeaf(index, l)
		}
	}
	return nil
}

// chainLeaf checks a leaf logging entry seq of the watched account with
// SHA-256 h: it must be the chain's entry, logged in order.
func (s *scan) chainLeaf(index, seq uint64, h tlog.Hash) {
	logged := uint64(len(s.acct.Entries))
	switch {
	case seq < logged && s.acct.Entries[seq].Hash == h:
		// The same entry logged again: nothing new.
	case seq < logged:
		s.alert(AlertFork, seq, index, "entry %d of your account is in the public log twice with different contents (leaves %d and %d): a fork", seq, s.acct.Entries[seq].Index, index)
	case seq >= uint64(len(s.w.Chain)):
		s.alert(AlertHidden, seq, index, hiddenMessage, seq, index)
	case s.w.Chain[seq] != h:
		s.alert(AlertGhost, seq, index, hiddenMessage, seq, index)
	case seq > logged:
		s.alert(AlertUnlogged, logged, index, "entry %d of your account is not in the public log although entry %d is (leaf %d): the server showed you an entry it did not log", logged, seq, index)
	default:
		s.acct.Entries = append(s.acct.Entries, Logged{Index: index, Hash: h})
	}
}

// nameLeaf checks a leaf mapping the watched name: to the watched
// account and its genesis entry, and nothing else.
func (s *scan) nameLeaf(index uint64, l *tlog.NameLeaf) {
	switch {
	case l.Account != s.w.Account:
		s.alert(AlertName, 0, index, "the public log maps your account name to another account, %s (leaf %d)", l.Account, index)
	case l.GenesisHash != s.w.Chain[0]:
		s.alert(AlertName, 0, index, "the public log maps your account name to your account with another genesis entry (leaf %d)", index)
	case s.acct.NameIndex == nil:
		s.acct.NameIndex = &index
	}
}

// pending records the chain entries not logged yet, keeping when each
// was first found missing, and alerts for those missing too long.
func (s *scan) pending() {
	logged := len(s.acct.Entries)
	s.rep.Logged, s.rep.NameLogged = logged, s.acct.NameIndex != nil
	limit := s.w.MaxPending
	if limit == 0 {
		limit = DefaultMaxPending
	}
	var pending map[uint64]int64
	for seq := uint64(logged); seq < uint64(len(s.w.Chain)); seq++ {
		first, ok := s.acct.Pending[seq]
		if !ok {
			first = s.now.Unix()
		}
		if pending == nil {
			pending = map[uint64]int64{}
		}
		pending[seq] = first
		s.rep.Pending = append(s.rep.Pending, seq)
		if age := s.now.Sub(time.Unix(first, 0)); age > limit {
			s.alert(AlertUnlogged, seq, 0, "entry %d of your account is still not in the public log %s after this device first saw it: the server showed you an entry it did not log", seq, age.Round(time.Minute))
		}
	}
	s.acct.Pending = pending
}
