;; Grows its memory one page at a time, forever (traps if growth is ever refused with -1).
(module
  (memory 1)
  (func (export "grow") (result i32)
    (loop $l
      (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))
