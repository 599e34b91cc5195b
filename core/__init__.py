"""The liquid language model: config, layers, model, tokenizer, generation, state, adapters, training.

`core` knows nothing of storage or of the interfaces.
"""
