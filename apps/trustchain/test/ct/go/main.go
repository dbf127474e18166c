// An outside RFC 6962 client for TrustChain's CT HTTP API, built on certificate-transparency-go's
// LogClient (the client Google's monitors and auditors use). It trusts nothing the log says
// without checking it: STH signatures with the log's public key, every entry's leaf hash rebuilt
// into the root, inclusion proofs and a consistency proof between two STHs.
//
// Usage: ctclient -url http://[::1]:PORT -pubkey log.pem
//
// Phase 1 audits the current STH, then prints "STH1 <size>" and waits for a line on stdin (the
// test appends entries meanwhile). Phase 2 audits the new STH and the consistency between the two,
// then prints "OK". Any failed check prints "FAIL: ..." on stderr and exits 1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	stdx509 "crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/client"
	"github.com/google/certificate-transparency-go/jsonclient"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

var hasher = rfc6962.DefaultHasher

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// mth is RFC 6962 §2.1 MTH over leaf hashes, computed here and not trusted from the log.
func mth(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return hasher.EmptyRoot()
	case 1:
		return leaves[0]
	}
	k := 1
	for k<<1 < len(leaves) {
		k <<= 1
	}
	return hasher.HashChildren(mth(leaves[:k]), mth(leaves[k:]))
}

type auditor struct {
	ctx      context.Context
	lc       *client.LogClient
	verifier *ct.SignatureVerifier
	leaves   [][]byte // leaf hashes of every entry fetched so far, by index
}

// sth fetches and verifies an STH: signature with the log key, root rebuilt from all entries.
func (a *auditor) sth() *ct.SignedTreeHead {
	sth, err := a.lc.GetSTH(a.ctx)
	if err != nil {
		fail("get-sth: %v", err)
	}
	if err := a.verifier.VerifySTHSignature(*sth); err != nil {
		fail("STH of size %d: signature does not verify with the log key: %v", sth.TreeSize, err)
	}
	// The verifier must really check: the same STH with a different root must be refused.
	forged := *sth
	forged.SHA256RootHash[0] ^= 1
	if err := a.verifier.VerifySTHSignature(forged); err == nil {
		fail("a forged STH (root changed) verified")
	}
	a.fetchEntries(int64(sth.TreeSize))
	if root := mth(a.leaves[:sth.TreeSize]); !bytes.Equal(root, sth.SHA256RootHash[:]) {
		fail("STH of size %d: root %x, but the entries hash to %x", sth.TreeSize, sth.SHA256RootHash[:], root)
	}
	return sth
}

// fetchEntries pages through get-entries until `size` entries are held (the log may return
// fewer than asked, as RFC 6962 §4.6 allows), decoding each and keeping its leaf hash.
func (a *auditor) fetchEntries(size int64) {
	for int64(len(a.leaves)) < size {
		start := int64(len(a.leaves))
		rsp, err := a.lc.GetRawEntries(a.ctx, start, size-1)
		if err != nil {
			fail("get-entries %d..%d: %v", start, size-1, err)
		}
		if len(rsp.Entries) == 0 || int64(len(rsp.Entries)) > size-start {
			fail("get-entries %d..%d returned %d entries", start, size-1, len(rsp.Entries))
		}
		for i := range rsp.Entries {
			index := start + int64(i)
			raw, err := ct.RawLogEntryFromLeaf(index, &rsp.Entries[i])
			if err != nil {
				fail("entry %d does not decode: %v", index, err)
			}
			if raw.Leaf.TimestampedEntry.EntryType != ct.X509LogEntryType {
				fail("entry %d: entry type %v, want x509_entry", index, raw.Leaf.TimestampedEntry.EntryType)
			}
			if _, err := stdx509.ParseCertificate(raw.Cert.Data); err != nil {
				fail("entry %d: certificate does not parse with crypto/x509: %v", index, err)
			}
			if len(raw.Chain) == 0 {
				fail("entry %d: extra_data holds no chain (the root at least is expected)", index)
			}
			a.leaves = append(a.leaves, hasher.HashLeaf(rsp.Entries[i].LeafInput))
		}
	}
}

// inclusion proves leaf `index` under `sth` by get-proof-by-hash.
func (a *auditor) inclusion(index uint64, sth *ct.SignedTreeHead) {
	leaf := a.leaves[index]
	rsp, err := a.lc.GetProofByHash(a.ctx, leaf, sth.TreeSize)
	if err != nil {
		fail("get-proof-by-hash leaf %d size %d: %v", index, sth.TreeSize, err)
	}
	if uint64(rsp.LeafIndex) != index {
		fail("get-proof-by-hash: leaf index %d, want %d", rsp.LeafIndex, index)
	}
	if err := proof.VerifyInclusion(hasher, index, sth.TreeSize, leaf, rsp.AuditPath, sth.SHA256RootHash[:]); err != nil {
		fail("inclusion proof of leaf %d in tree %d does not verify: %v", index, sth.TreeSize, err)
	}
	other := sha256.Sum256([]byte("not this leaf"))
	if err := proof.VerifyInclusion(hasher, index, sth.TreeSize, other[:], rsp.AuditPath, sth.SHA256RootHash[:]); err == nil {
		fail("inclusion proof of leaf %d verified for another leaf", index)
	}
}

// expectError checks a bad request gets the HTTP status and the JSON error body.
func (a *auditor) expectError(path string, params map[string]string, status int) {
	var ignored map[string]interface{}
	_, _, err := a.lc.GetAndParse(a.ctx, path, params, &ignored)
	var rspErr jsonclient.RspError
	if !errors.As(err, &rspErr) {
		fail("%s %v: want HTTP %d, got %v", path, params, status, err)
	}
	if rspErr.StatusCode != status {
		fail("%s %v: HTTP %d, want %d (%s)", path, params, rspErr.StatusCode, status, rspErr.Body)
	}
	var body struct {
		ErrorMessage string `json:"error_message"`
		Success      *bool  `json:"success"`
	}
	if err := json.Unmarshal(rspErr.Body, &body); err != nil || body.ErrorMessage == "" || body.Success == nil || *body.Success {
		fail("%s %v: error body %q is not {error_message, success: false}", path, params, rspErr.Body)
	}
}

func main() {
	url := flag.String("url", "", "log base URL, e.g. http://[::1]:8080")
	pubkey := flag.String("pubkey", "", "PEM file with the log's public key")
	flag.Parse()
	pemBytes, err := os.ReadFile(*pubkey)
	if err != nil {
		fail("read public key: %v", err)
	}
	pub, keyHash, rest, err := ct.PublicKeyFromPEM(pemBytes)
	if err != nil || len(bytes.TrimSpace(rest)) != 0 {
		fail("public key PEM: %v", err)
	}
	verifier, err := ct.NewSignatureVerifier(pub)
	if err != nil {
		fail("signature verifier: %v", err)
	}
	// No PublicKey in the options: every signature is checked explicitly with `verifier` above.
	lc, err := client.New(*url, &http.Client{Timeout: 30 * time.Second}, jsonclient.Options{UserAgent: "stoq-ct-go-test"})
	if err != nil {
		fail("client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := &auditor{ctx: ctx, lc: lc, verifier: verifier}

	roots, err := lc.GetAcceptedRoots(ctx)
	if err != nil || len(roots) == 0 {
		fail("get-roots: %d roots, %v", len(roots), err)
	}
	for i, r := range roots {
		if _, err := stdx509.ParseCertificate(r.Data); err != nil {
			fail("get-roots: root %d does not parse: %v", i, err)
		}
	}

	sth1 := a.sth()
	if sth1.TreeSize < 2 {
		fail("STH1 has %d entries; the test logs a few hundred first", sth1.TreeSize)
	}
	for _, i := range []uint64{0, 1, sth1.TreeSize / 3, sth1.TreeSize / 2, sth1.TreeSize - 1} {
		a.inclusion(i, sth1)
	}
	entryAndProof, err := lc.GetEntryAndProof(ctx, 1, sth1.TreeSize)
	if err != nil {
		fail("get-entry-and-proof: %v", err)
	}
	if err := proof.VerifyInclusion(hasher, 1, sth1.TreeSize, hasher.HashLeaf(entryAndProof.LeafInput), entryAndProof.AuditPath, sth1.SHA256RootHash[:]); err != nil {
		fail("get-entry-and-proof: proof does not verify: %v", err)
	}
	unknown := sha256.Sum256([]byte("never logged"))
	a.expectError(ct.GetProofByHashPath, map[string]string{"hash": "bm90IGEgaGFzaA==", "tree_size": "1"}, 400)
	a.expectError(ct.GetSTHConsistencyPath, map[string]string{"first": "5", "second": "2"}, 400)
	a.expectError(ct.GetEntriesPath, map[string]string{"start": fmt.Sprint(sth1.TreeSize + 1000), "end": fmt.Sprint(sth1.TreeSize + 1001)}, 400)
	if _, err := lc.GetProofByHash(ctx, unknown[:], sth1.TreeSize); err == nil {
		fail("get-proof-by-hash of a hash never logged succeeded")
	} else if rspErr := (jsonclient.RspError{}); !errors.As(err, &rspErr) || rspErr.StatusCode != 404 {
		fail("get-proof-by-hash of a hash never logged: %v, want HTTP 404", err)
	}
	fmt.Printf("STH1 %d %x\n", sth1.TreeSize, keyHash[:])

	// The test appends more entries, then tells us to go on.
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fail("waiting for the test: %v", err)
	}

	sth2 := a.sth()
	if sth2.TreeSize <= sth1.TreeSize {
		fail("STH2 has %d entries, not more than STH1's %d", sth2.TreeSize, sth1.TreeSize)
	}
	if sth2.Timestamp < sth1.Timestamp {
		fail("STH2 timestamp %d is before STH1's %d", sth2.Timestamp, sth1.Timestamp)
	}
	consistency, err := lc.GetSTHConsistency(ctx, sth1.TreeSize, sth2.TreeSize)
	if err != nil {
		fail("get-sth-consistency %d %d: %v", sth1.TreeSize, sth2.TreeSize, err)
	}
	if err := proof.VerifyConsistency(hasher, sth1.TreeSize, sth2.TreeSize, consistency, sth1.SHA256RootHash[:], sth2.SHA256RootHash[:]); err != nil {
		fail("consistency proof %d -> %d does not verify: %v", sth1.TreeSize, sth2.TreeSize, err)
	}
	forgedRoot := sth1.SHA256RootHash
	forgedRoot[31] ^= 1
	if err := proof.VerifyConsistency(hasher, sth1.TreeSize, sth2.TreeSize, consistency, forgedRoot[:], sth2.SHA256RootHash[:]); err == nil {
		fail("consistency proof verified against a forged old root")
	}
	for _, i := range []uint64{0, sth1.TreeSize - 1, sth1.TreeSize, sth2.TreeSize - 1} {
		a.inclusion(i, sth2)
	}
	fmt.Printf("OK %d %d\n", sth1.TreeSize, sth2.TreeSize)
}
