"""Evidence for the claims of issue #8: concurrency, bad input and secrets, on every backend."""
