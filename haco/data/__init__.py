"""Datasets: the registry of the paper's 14, synthetic twins, shards, sampling, loading."""
