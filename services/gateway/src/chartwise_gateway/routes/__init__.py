"""The gateway's route groups, one module each."""
