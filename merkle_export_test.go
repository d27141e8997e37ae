package bijotel

// DisableTreeForTest turns Merkle tree maintenance off for c, so that
// benchmarks in package bijotel_test can measure what the tree costs.
func DisableTreeForTest(c *Chain) {
	c.tree.mu.Lock()
	defer c.tree.mu.Unlock()
	c.tree.disabled = true
}
