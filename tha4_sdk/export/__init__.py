"""Packaging a character for other engines: ``renpy`` (a Ren'Py game folder: sprites, movies, a script)."""
