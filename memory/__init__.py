"""The encrypted store: vault, schema and migrations, records, recall index, export / import / reset.

`memory` stores bytes and tensors' bytes and knows nothing of models.
"""
