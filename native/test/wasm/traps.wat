;; Ordinary traps.
(module
  (func (export "unreachable") unreachable)
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  ;; Loops n times without a call, then divides by zero: the fuel the loop burned is still in
  ;; compiled code's register when the trap ends the run (RunOutput::fuel_exact is false).
  (func (export "loop_then_divide") (param $n i32) (result i32)
    (local $i i32)
    (loop $again
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (local.get $n))))
    (i32.div_u (local.get $i) (i32.const 0))))
