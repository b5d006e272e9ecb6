"""The tamper-evident log: Merkle tree (RFC 9162), signed checkpoints (C2SP), trusted
timestamps (RFC 3161), and verification of a whole diary."""
