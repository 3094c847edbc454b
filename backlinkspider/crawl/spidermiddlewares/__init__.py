"""Spider middlewares: the trap guard."""
