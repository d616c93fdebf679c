"""Authorization: the enforcement point, the compiled policy, object scope and masking."""
