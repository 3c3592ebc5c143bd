"""Benchmarks and chaos machinery: ``python -m bench.run [--quick]`` (see docs/performance.md)."""
