;; Starts with 4 MiB of memory (64 pages).
(module
  (memory 64)
  (func (export "run") (result i32) (i32.const 1)))
