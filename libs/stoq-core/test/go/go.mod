module stoq.local/verify

go 1.21
