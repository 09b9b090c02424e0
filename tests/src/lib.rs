//! Black-box HTTP tests live in tests/tests/.
