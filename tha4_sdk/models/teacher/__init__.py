"""The official THA4 teacher: five networks (one module each) and the five-step poser (docs/architecture.md)."""
