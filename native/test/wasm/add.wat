;; The "adds two numbers" program of execute_trivial: i64 and i32 flavours.
(module
  (func (export "add") (param i64 i64) (result i64)
    local.get 0
    local.get 1
    i64.add)
  (func (export "add32") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add)
  (func (export "uses_f64") (param f64) (result f64)
    local.get 0))
