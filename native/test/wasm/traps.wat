;; Ordinary traps.
(module
  (func (export "unreachable") unreachable)
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))
