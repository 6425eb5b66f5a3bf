package procinfo

// validBoot reports whether s is BootIDSize lower-case hex digits.
func validBoot(s string) bool {
	if len(s) != BootIDSize {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidBoot reports whether s may be a boot ID in a session marker: empty,
// or BootIDSize lower-case hex digits.
func ValidBoot(s string) bool { return s == "" || validBoot(s) }
