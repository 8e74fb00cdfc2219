"""The record store: the manifest, its records and recovery, atomic writes, hashing."""
