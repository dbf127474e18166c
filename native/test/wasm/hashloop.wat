;; CPU-heavy and branchy: n rounds of a 64-bit mix (an LCG step, a xorshift, a multiply), the
;; kind of loop fuel metering costs the most on. Used by the metering_overhead benchmark.
(module
  (func (export "hash") (param $n i64) (result i64) (local $x i64)
    (local.set $x (i64.const 0x9e3779b97f4a7c15))
    (block $done
      (loop $l
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $x (i64.add (i64.mul (local.get $x) (i64.const 6364136223846793005)) (i64.const 1442695040888963407)))
        (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))))
        (local.set $x (i64.mul (local.get $x) (i64.const 0xff51afd7ed558ccd)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $l)))
    (local.get $x)))
