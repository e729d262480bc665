"""The student: two small SIREN networks distilled for one character (docs/architecture.md, "Student")."""
