"""The liquid language model: config, layers, model, tokenizer, generation, state, adapters, learner.

`core` knows nothing of storage or of the interfaces. The offline pipeline (corpus, drills,
pretraining, ablations, baselines) is `core.training`, which nothing else in `core` imports.
"""
