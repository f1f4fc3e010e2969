"""What a person runs: the ragmill CLI, submission with backpressure, progress, the local stack."""
