"""The pure business rules of carm-returns: no I/O, no Temporal calls, safe to import in workflows."""
