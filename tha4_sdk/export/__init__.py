"""Shipping a character: ONNX graphs (`onnx`), the static web player (`web`, served locally by `serve`),
and a Ren'Py game folder (`renpy`: sprites, movies, a script)."""
