;; Unbounded recursion: ends with a stack overflow.
(module
  (func $down (export "recurse") (param i64) (result i64)
    (call $down (i64.add (local.get 0) (i64.const 1)))))
