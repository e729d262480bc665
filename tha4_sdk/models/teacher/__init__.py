"""The official THA4 teacher: five networks (one module each) and the five-step poser (TEACHER_ARCHITECTURE.md)."""
