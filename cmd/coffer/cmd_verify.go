package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/termsafe"
)

type verifyResult struct {
	Account   string       `json:"account"`
	Entries   uint64       `json:"chain_entries"`
	Head      string       `json:"chain_head"`
	Epoch     uint64       `json:"epoch"`
	Devices   []deviceRow  `json:"devices"`
	Log       *verifiedLog `json:"log"`
	Recovery  string       `json:"recovery_key_id"`
	Contacts  int          `json:"recovery_contacts"`
	Threshold int          `json:"recovery_threshold"`
}

type verifiedLog struct {
	Origin    string   `json:"origin"`
	Size      uint64   `json:"size"`
	Root      string   `json:"root"`
	Witnesses []string `json:"witnesses"`
	Logged    int      `json:"entries_logged"`
	Pending   []uint64 `json:"entries_pending"`
}

func runVerify(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"verify takes no arguments"}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	c := s.chain
	head := c.Head()
	contacts, k := c.Contacts()
	res := verifyResult{Account: c.Account(), Entries: c.Len(), Head: hex.EncodeToString(head[:]), Epoch: c.Epoch(),
		Devices: []deviceRow{}, Contacts: len(contacts), Threshold: k}
	for _, m := range c.Devices() {
		res.Devices = append(res.Devices, deviceRowOf(m, s.dev.ID))
	}
	if rep := s.log; rep != nil {
		res.Log = &verifiedLog{Origin: rep.Origin, Size: rep.Size, Root: hex.EncodeToString(rep.Root[:]),
			Witnesses: append([]string{}, rep.Witnesses...), Logged: rep.Logged, Pending: append([]uint64{}, rep.Pending...)}
	}
	return e.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "account %s: %d chain entries, head %s, key epoch %d, %d devices\n", termsafe.Name(res.Account), res.Entries, res.Head[:16], res.Epoch, len(res.Devices))
		if res.Log == nil {
			fmt.Fprintln(w, "no transparency log: a directory or S3 store has none")
			return
		}
		l := res.Log
		fmt.Fprintf(w, "log %s: checkpoint size %d, root %s\n", termsafe.Name(l.Origin), l.Size, l.Root[:16])
		fmt.Fprintf(w, "cosigned by %d witnesses: [%s]\n", len(l.Witnesses), joinNames(l.Witnesses, " "))
		fmt.Fprintf(w, "%d of the chain's entries are in the log; pending: %v\n", l.Logged, l.Pending)
	})
}
