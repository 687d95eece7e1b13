"""Human-facing output: console tables now; plots and comparison tables as the search lands."""
