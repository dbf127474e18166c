;; Imports a function the sandbox does not offer.
(module
  (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
  (func (export "run")))
