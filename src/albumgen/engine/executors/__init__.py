"""Executors: where a stage's units run (in this process, a process pool, a Ray cluster)."""
