"""Distillation: train a per-character student (face and body SIREN morphers) from a teacher.

Entry points: `tha4_sdk.distill.run.distill` (API), ``tha4 distill`` / ``python -m tha4_sdk.distill``
and ``tha4 distill-eval`` (tha4_sdk.cli.distill). See docs/distillation.md.
"""
