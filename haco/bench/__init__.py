"""Micro-benchmarks run by `haco bench <name>`; each compares haco's code with a reference."""
