package restorer

// SetMaxBatch sets how many extents a batch plans, for a test, and
// returns a function restoring the default.
func SetMaxBatch(n int) func() {
	old := maxBatch
	maxBatch = n
	return func() { maxBatch = old }
}
