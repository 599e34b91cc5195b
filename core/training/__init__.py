"""The offline training pipeline: corpus and drills, pretraining, conversion, ablations, baselines.

Nothing here runs when the assistant answers, and the runtime (`core` outside this package,
`memory`, `assistant`'s session and `ui`) never imports it; `tests/ui/test_layering.py` holds that.
"""
