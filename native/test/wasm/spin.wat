;; An infinite loop: ends by fuel, or by the wall-clock backstop when fuel is off.
(module
  (func (export "spin")
    (loop $l (br $l))))
