"""Model loading: MusicGen checkpoints through transformers, and the in-code `tiny` preset."""
