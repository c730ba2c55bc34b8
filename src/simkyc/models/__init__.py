"""Model files inside installed packages, their checksums, and the wrappers that run them."""
