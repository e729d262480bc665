"""`tha4 bench …`: measured speed of each part, written to docs/benchmarks.md with machine and date."""
