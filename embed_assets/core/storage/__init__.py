"""Files on disk: atomic writes, hashing, Arrow tables and stage metadata, exports and
their atomic publication."""
