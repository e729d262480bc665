"""Shipping a character: ONNX graphs (`onnx`), the static web player (`web`, served locally by
`static_site_server`), and a Ren'Py game folder (`renpy`: sprites, movies, a script)."""
