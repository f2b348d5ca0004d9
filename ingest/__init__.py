"""ingest: bytes in, tagged ``Article``s out. Pure functions where it can be (no I/O but ``fetch``)."""
