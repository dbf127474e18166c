module stoq.test/trustchain/ctclient

go 1.24.0

require (
	github.com/google/certificate-transparency-go v1.4.0
	github.com/transparency-dev/merkle v0.0.2
)

require (
	golang.org/x/crypto v0.48.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
