"""Where encoding runs: adaptive batches, batch events, the host-wide VRAM ledger, memory
trimming, VRAM estimates and the simulated GPU."""
