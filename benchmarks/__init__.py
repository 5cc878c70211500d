"""Benchmarks: `make bench` runs them all; each figure prints as
`BENCH <name> <value> <unit> target <op> <value>`."""
