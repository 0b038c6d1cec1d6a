"""Pure maths and rules: no I/O, no ORM. Every function here is deterministic."""
