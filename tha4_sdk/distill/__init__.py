"""Distillation: train a per-character student (face and body SIREN morphers) from a teacher.

Entry points: `tha4_sdk.distill.run.distill` (API), ``python -m tha4_sdk.distill JOB.json`` (a job file,
`tha4_sdk.distill.job`), and the commands ``tha4 distill`` and ``tha4 distill-eval``. See docs/distillation.md.
"""
