"""The search engine: candidates x settings -> best design; baselines; Pareto front (DESIGN §8)."""
