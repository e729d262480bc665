"""First-party pose-source and sink plugins, registered through the `tha4_sdk` entry-point group."""
