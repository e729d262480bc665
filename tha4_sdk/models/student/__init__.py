"""The student: two small SIREN networks distilled for one character (STUDENT_ARCHITECTURE.md)."""
