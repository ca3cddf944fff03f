"""``make bench``: our stages against the raw library calls, measured in one run."""
