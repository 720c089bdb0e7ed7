"""What anyone may check without trusting us: the signing keys and the signed head of the audit chain."""
