"""Helpers shared by the test suites and benchmarks: waiting on conditions, kubectl, names."""
