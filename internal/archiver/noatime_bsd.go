//go:build darwin || freebsd

package archiver

// oNoAtime is zero: macOS and FreeBSD have no O_NOATIME.
const oNoAtime = 0
