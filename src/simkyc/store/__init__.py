"""Storage: database, encryption of sensitive fields, the hash-chained audit log."""
