// Independent check that STOQ hybrid certificates are ordinary X.509 to Go's crypto/x509:
// parse the trust roots and the chain (leaf first), then verify the leaf for serverAuth and
// clientAuth against each given name (a DNS name or an IP literal). Stdlib only, works offline.
//
// usage: go run . -roots root.pem -chain chain.pem -name a.b.hypermesh -name ::1 [-time RFC3339]
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return nil }

func readCerts(path string) []*x509.Certificate {
	data, err := os.ReadFile(path)
	if err != nil {
		fail("read %s: %v", path, err)
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			fail("parse certificate %d of %s: %v", len(out), path, err)
		}
		if len(cert.UnhandledCriticalExtensions) > 0 {
			fail("certificate %d of %s has unhandled critical extensions %v", len(out), path, cert.UnhandledCriticalExtensions)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		fail("no certificate in %s", path)
	}
	return out
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	rootsPath := flag.String("roots", "", "PEM file of trusted roots")
	chainPath := flag.String("chain", "", "PEM file of the chain, leaf first")
	at := flag.String("time", "", "verification time (RFC 3339); default now")
	var toCheck names
	flag.Var(&toCheck, "name", "DNS name or IP the leaf must be valid for (repeatable)")
	flag.Parse()

	roots := x509.NewCertPool()
	for _, c := range readCerts(*rootsPath) {
		roots.AddCert(c)
	}
	chain := readCerts(*chainPath)
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fail("bad -time: %v", err)
		}
		now = t
	}
	usages := map[string]x509.ExtKeyUsage{"serverAuth": x509.ExtKeyUsageServerAuth, "clientAuth": x509.ExtKeyUsageClientAuth}
	for _, usage := range []string{"serverAuth", "clientAuth"} {
		for _, name := range toCheck {
			opts := x509.VerifyOptions{
				DNSName:       name,
				Roots:         roots,
				Intermediates: intermediates,
				KeyUsages:     []x509.ExtKeyUsage{usages[usage]},
				CurrentTime:   now,
			}
			paths, err := chain[0].Verify(opts)
			if err != nil {
				fail("verify %s for %s: %v", usage, name, err)
			}
			fmt.Printf("ok %s %s (path length %d)\n", usage, name, len(paths[0]))
		}
	}
}
