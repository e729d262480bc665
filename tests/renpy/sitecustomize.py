"""Lets Debian's Ren'Py 8.0 (written for Python 3.9) run on Python 3.11. Test tooling only.

Ren'Py builds Python ASTs itself and renumbers their lines; some nodes end up ending before they
start, which Python 3.11's ``compile`` refuses ("AST node line range … is not valid"). Put this
folder on ``PYTHONPATH`` and ``compile`` clamps each node's end to be no earlier than its start.
"""

import ast
import builtins

_compile = builtins.compile


def _clamp_end_positions(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        start = getattr(node, "lineno", None)
        if start is None:
            continue
        if getattr(node, "end_lineno", None) is None or node.end_lineno < start:
            node.end_lineno = start
        col = getattr(node, "col_offset", None)
        if node.end_lineno == start and col is not None and \
                (getattr(node, "end_col_offset", None) is None or node.end_col_offset < col):
            node.end_col_offset = col


def compile(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, **kwargs):  # noqa: A001
    if isinstance(source, ast.AST):
        _clamp_end_positions(source)
    return _compile(source, filename, mode, flags, dont_inherit, optimize, **kwargs)


builtins.compile = compile
