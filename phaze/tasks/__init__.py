"""Task runners: each turns a validated config into result files. The entry point dispatches on `task`."""
