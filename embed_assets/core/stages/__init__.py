"""One function per stage of the asset graph: inputs in, an Arrow table and its typed
envelope out. The Dagster assets call these and add nothing but wiring."""
