"""What the tests, the benchmarks and the scripts share: real servers, a stack, the journeys."""
