package main

import (
	"flag"
	"time"
)

func commands() map[string]*command {
	list := []*command{
		{name: "init", args: "--store DIR|s3://BUCKET/PREFIX|URL [--s3-endpoint URL] [--account-name NAME] [--witness VKEY]...", summary: "create an account and its encrypted repository in a store", setup: initFlags, run: runInit},
		{name: "backup", args: "PATH... [--exclude PATTERN]... [--exclude-file F] [--tag T]... [--dry-run]", summary: "back up files and directories as a new snapshot", setup: backupFlags, run: runBackup},
		{name: "snapshots", args: "[--device NAME|ID]", summary: "list snapshots", setup: snapFlags, run: runSnapshots},
		{name: "ls", args: "SNAP [PATH]", summary: "list the items of a snapshot", setup: snapFlags, run: runLs},
		{name: "restore", args: "SNAP --target DIR [--include PATTERN]... [--exclude PATTERN]... [--overwrite always|if-changed|never]", summary: "restore a snapshot", setup: restoreFlags, run: runRestore},
		{name: "mount", args: "MOUNTPOINT", summary: "serve the snapshots as a read-only file system until Ctrl-C", setup: storeFlag, run: runMount},
		{name: "find", args: "PATTERN... [--snapshot SNAP]... [--newest N]", summary: "find items by name across snapshots", setup: findFlags, run: runFind},
		{name: "dump", args: "SNAP PATH", summary: "write a file to stdout, or a directory as a tar archive", setup: storeFlag, run: runDump},
		{name: "diff", args: "SNAP SNAP", summary: "show what changed between two snapshots", setup: snapFlags, run: runDiff},
		{name: "check", args: "[--read-data]", summary: "verify the repository's integrity", setup: checkFlags, run: runCheck},
		{name: "forget", args: "SNAP... | --keep-last N ... [--keep-within SPAN] [--keep-tag T]... [--group-by host,paths,tags,device] [--prune]", summary: "remove snapshots, named or by a retention policy", setup: forgetFlags, run: runForget},
		{name: "tag", args: "SNAP... --add T... | --remove T... | --set T...", summary: "change snapshots' tags: each becomes a new snapshot, the old one forgotten (full device)", setup: tagFlags, run: runTag},
		{name: "prune", summary: "delete data no snapshot uses (safe while backups run)", setup: pruneFlags, run: runPrune},
		{name: "repair", args: "[--dry-run]", summary: "rebuild the index from the copies that authenticate; delete false ones (full device)", setup: pruneFlags, run: runRepair},
		{name: "verify", summary: "check the account's device chain against the server's transparency log and its witnesses", setup: storeFlag, run: runVerify},
		{name: "stats", summary: "show repository statistics", setup: storeFlag, run: runStats},
		{name: "passphrase", args: "change", summary: "seal this device's keys under a new passphrase ($COFFER_NEW_PASSPHRASE, its _FILE, or typed twice)", run: runPassphrase},
		{name: "device", args: "add [--append-only] | list | remove ID", summary: "add a device by pairing code, list or remove devices", setup: deviceFlags, run: runDevice},
		{name: "join", args: "--store URL --code CODE [--name NAME]", summary: "make this machine a device of an account (with a code from 'device add')", setup: joinFlags, run: runJoin},
		{name: "recover", args: "--store URL --account ACCOUNT | --contact", summary: "regain an account on a new machine with the recovery key or recovery contacts", setup: recoverFlags, run: runRecover},
		{name: "recovery-key", args: "rotate", summary: "replace the recovery key; the old one stops working", setup: storeFlag, run: runRecoveryKey},
		{name: "recovery-contact", args: "add ACCOUNT... --fingerprint FP... [--threshold K] | help ACCOUNT", summary: "choose accounts that can help you recover, or help one", setup: contactFlags, run: runRecoveryContact},
		{name: "web", args: "enable | disable | approve CODE [--yes] [--duration D] | revoke SESSION | sessions | --listen 127.0.0.1:PORT", summary: "let a browser read the backups: turn web access on or off, approve, revoke or list browser sessions; or serve them to a browser from this device", setup: webFlags, run: runWeb},
		serveCommand(),
		{name: "completion", args: "bash|zsh|fish", summary: "print a shell completion script, made from this command table", run: runCompletion, noKeys: true},
		{name: "man", summary: "print the man page (section 1) in roff, made from this command table", run: runMan, noKeys: true},
		{name: "witness", args: "serve --data DIR --log VKEY...", summary: "cosign transparency-log checkpoints for others (a witness)", setup: witnessFlags, run: runWitness, noKeys: true},
	}
	m := make(map[string]*command, len(list))
	for _, c := range list {
		m[c.name] = c
	}
	return m
}

func storeFlag(fs *flag.FlagSet, o *opts) {
	fs.StringVar(&o.store, "store", "", "the store: a directory, s3://BUCKET/PREFIX, or a server URL https://host:port#sha256=PIN (default $COFFER_STORE, else the store of the last init)")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", "", "with an s3:// store: the URL of an S3-compatible service, such as http://127.0.0.1:7070 (default: the one this device used the store with first, else AWS); credentials and region come from the AWS_* environment")
}

// snapFlags are the flags of commands that name snapshots.
func snapFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	selectFlags(fs, o)
	fs.StringVar(&o.device, "device", "", "only snapshots written by this device (name or ID prefix, as 'device list' shows); 'latest' is then its newest, even for an append-only device")
}

// selectFlags select snapshots by host, tags and paths (snapshot.Filter).
func selectFlags(fs *flag.FlagSet, o *opts) {
	fs.Var((*multi)(&o.filter.Hosts), "host", "only snapshots of this host (repeatable: any of them)")
	fs.Var((*multi)(&o.filter.TagSets), "tag", "only snapshots carrying these tags, comma-separated (repeatable: any of the sets)")
	fs.Var((*multi)(&o.filter.Paths), "path", "only snapshots that include this absolute path (repeatable: all of them)")
}

func timeoutFlag(fs *flag.FlagSet, o *opts) {
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long to wait for the other device")
}

func deviceFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	timeoutFlag(fs, o)
	fs.BoolVar(&o.appendOnly, "append-only", false, "with 'device add': the new device may add backups but never delete or change anything on the server")
}

// logFlags are the transparency-log policy a device sets for a server.
func logFlags(fs *flag.FlagSet, o *opts) {
	fs.StringVar(&o.logKey, "log-key", "", "the server's log verifier key, as 'coffer serve' prints it (default: the one the server states, trusted on first use)")
	fs.Var(&o.witnesses, "witness", "a witness's cosigner verifier key (repeatable); checkpoints need their cosignatures")
	fs.IntVar(&o.witnessThreshold, "witness-threshold", 0, "how many of the witnesses must cosign (default: all)")
}

func initFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	logFlags(fs, o)
	fs.StringVar(&o.accountName, "account-name", "", "a name others can find the account by, recorded in the server's transparency log")
}

func joinFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	timeoutFlag(fs, o)
	logFlags(fs, o)
	fs.StringVar(&o.code, "code", "", "the pairing code 'coffer device add' printed (default $COFFER_PAIRING_CODE, else a prompt)")
	fs.StringVar(&o.name, "name", "", "this device's name, if it has no keys yet (default: the host name)")
}

func recoverFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	logFlags(fs, o)
	fs.StringVar(&o.account, "account", "", "the account to recover")
	fs.StringVar(&o.name, "name", "", "this device's name, if it has no keys yet (default: the host name)")
	fs.BoolVar(&o.contact, "contact", false, "recover with codes from recovery contacts ($COFFER_CONTACT_CODES, its _FILE, or a prompt) instead of the recovery key ($COFFER_RECOVERY_KEY, its _FILE, or a prompt)")
}

func contactFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	fs.Var(&o.fingerprints, "fingerprint", "with 'add': a contact device's fingerprint, as the contact reads it to you from 'coffer device list' (one per contact)")
	fs.IntVar(&o.threshold, "threshold", 0, "how many contacts together can recover (default: the current number, else 2, or 1 with one contact)")
}

func backupFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	filterFlags(fs, o)
	fs.Var(&o.tags, "tag", "tag the snapshot (repeatable)")
	fs.StringVar(&o.host, "host", "", "hostname to record (default: this machine's)")
	fs.StringVar(&o.parent, "parent", "", "snapshot to compare with to skip unchanged files (default: the latest of the same host and paths)")
	fs.BoolVar(&o.force, "force", false, "read every file, even those unchanged since the parent snapshot")
	verboseFlags(fs, o, "name each regular file on stderr as it is stored: new or changed (read), or unchanged (taken from the parent unread)")
	fs.StringVar(&o.compression, "compression", "auto", "how hard to compress new data: auto, fast (no compression) or max (smaller store, more CPU)")
}

func restoreFlags(fs *flag.FlagSet, o *opts) {
	snapFlags(fs, o)
	fs.StringVar(&o.target, "target", "", "directory to restore into (required)")
	fs.Var(&o.includes, "include", "restore only what this gitignore pattern matches, from the snapshot's root (repeatable)")
	fs.Var(&o.excludes, "exclude", "leave out what this gitignore pattern matches (repeatable)")
	fs.Var(&o.overwrite, "overwrite", "where the target holds an item: always replace it, replace it if-changed (size or time), or never (default: fail)")
	verboseFlags(fs, o, "name each item on stderr as it is restored, or kept as the target holds it")
}

func findFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	selectFlags(fs, o)
	fs.Var(&o.snapshots, "snapshot", "search only this snapshot, latest or an ID prefix (repeatable; default: all)")
	fs.IntVar(&o.newest, "newest", 0, "search only the N newest of those snapshots (default: all)")
}

func checkFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	fs.BoolVar(&o.readData, "read-data", false, "also read and verify every pack")
}

func pruneFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	fs.BoolVar(&o.dryRun, "dry-run", false, "only say what would be deleted")
	fs.Var(&o.ignoreSessions, "ignore-session", "a backup session (ID or 8+ digit prefix, as prune prints it) that has ended though its marker remains, e.g. a killed backup: plans stop waiting for it (repeatable)")
}

func forgetFlags(fs *flag.FlagSet, o *opts) {
	pruneFlags(fs, o)
	selectFlags(fs, o)
	fs.IntVar(&o.keep.Last, "keep-last", 0, "keep the N newest snapshots")
	fs.IntVar(&o.keep.Hourly, "keep-hourly", 0, "keep the newest snapshot of each of the last N hours with snapshots")
	fs.IntVar(&o.keep.Daily, "keep-daily", 0, "likewise for days")
	fs.IntVar(&o.keep.Weekly, "keep-weekly", 0, "likewise for ISO weeks")
	fs.IntVar(&o.keep.Monthly, "keep-monthly", 0, "likewise for months")
	fs.IntVar(&o.keep.Yearly, "keep-yearly", 0, "likewise for years")
	fs.Var((*withinFlag)(&o.keep.Within), "keep-within", "keep the snapshots taken within this span of the newest of their group, such as 1y6m or 7d12h (y, m, d, h)")
	fs.Var((*keepTagFlag)(&o.keep.Tags), "keep-tag", "keep the snapshots carrying this tag (repeatable: any of them)")
	fs.Var(&groupByFlag{&o.keep.GroupBy}, "group-by", "decide on each group of snapshots with the same of these, comma-separated: host, paths, tags, device (default host,paths,device; an append-only device's snapshots are always a group of their own)")
	fs.BoolVar(&o.prune, "prune", false, "prune afterwards")
}

func tagFlags(fs *flag.FlagSet, o *opts) {
	storeFlag(fs, o)
	fs.StringVar(&o.device, "device", "", "resolve SNAP among the snapshots of this device (name or ID prefix); 'latest' is then its newest")
	fs.Var(&o.tagAdd, "add", "add this tag (repeatable)")
	fs.Var(&o.tagRemove, "remove", "remove this tag (repeatable)")
	fs.Var(&o.tagSet, "set", "replace all tags with these (repeatable; --set '' removes them all); not with --add or --remove")
}

// verboseFlags are --verbose and its short form -v.
func verboseFlags(fs *flag.FlagSet, o *opts, usage string) {
	fs.BoolVar(&o.verbose, "verbose", false, usage)
	fs.BoolVar(&o.verbose, "v", false, "short for --verbose")
}
