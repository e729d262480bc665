"""Shipping a character without Python: ONNX graphs (`onnx`), the static web player (`web`)."""
