// Package tlog publishes a bijotel chain as a transparency log. It signs
// checkpoints of the chain's RFC 6962 Merkle tree and writes proof bundles
// that anyone can check with the log's public key alone. It checks that a
// chain still extends an earlier checkpoint, and it provides the HTTP
// endpoints and the automatic checkpointer that a server mounts. The tree itself lives in the chain's database and is
// maintained by the bijotel package; docs/chain-format.md specifies its
// leaves and docs/verifiability.md explains the checks to an auditor.
//
// A checkpoint is a C2SP tlog-checkpoint signed note: three lines (origin,
// tree size in decimal, base64 root hash), a blank line, and one signature
// line per signer, for example
//
//	audit.example.com/chain
//	5
//	dYM4w+hl13vytVR2t1PyrAjqQfLV5AzgokkFKhgRFek=
//
//	— audit.example.com/chain uQZ7Xg...
//
// Keys are Ed25519 keys in the signed-note formats of
// golang.org/x/mod/sumdb/note: "PRIVATE+KEY+name+hash+key" for a signer and
// "name+hash+key" for a verifier.
package tlog
