"""The encrypted store: vault, schema and migrations, records, recall index, export / import / reset.

`memory` stores bytes and tensors' bytes and knows nothing of models. Start at `memory.store.Store`.

    crypto        envelopes (AES-256-GCM, bound to table|column|row) and Argon2id
    vault         the key file: passphrase slot, optional OS-keyring slot (keyring_slot)
    codec         row values in and out of envelopes; CorruptRecord names table and row
    migrations    the schema, the plaintext allow-list, recorded migrations
    sqlite        the connection settings (secure_delete, temp_store=MEMORY, WAL, 0600)
    lock          one running instance per data directory
    base          open / unlock / lock / close, transactions, change listeners
    chats         conversations, messages, recurrent states
    learning_data adapter versions, replay buffer, unlearning
    facts         memories, settings, learning log
    snapshots     snapshot() and restore() (replace or merge)
    integrity     the whole-store manifest: counts, keyed sums, a write counter the key file keeps too
    forgetting    what each saved state has read, and dropping the states that read something deleted
    rekey         every record re-encrypted under a new data key, crash-safe
    store         Store (all of the above), recall, verify, check_integrity, drop_damaged, reset
    recall        the in-memory BM25 index
    archive       the export file format, plaintext exports
    records       the dataclasses handed out; errors: the typed errors
"""
