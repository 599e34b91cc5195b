"""The offline training pipeline: corpus and drills, pretraining, conversion, ablations, baselines.

Nothing here runs when the assistant answers, and the runtime (`core` outside this package,
`memory`, `assistant`'s session and `ui`) never imports it; `tests/ui/test_layering.py` holds that.

    sources      the corpus sources (installed datasets) and their readers
    dialogues    generated memory dialogues and recall drills (the fact kinds as one table)
    data         the corpus build: clean, render, deduplicate, split; drill documents
    pretrain     the resumable pretraining loop
    evaluate     bits per byte, memory-use evaluation, sample replies
    ablation     the state-kind ablation on associative recall
    baseline     the transformer baseline (RoPE attention with a KV cache)
    extraction   the memory detector's data, training and measurement (`core.extraction`);
                 extraction_data holds its tables and the hand-written check set
"""
