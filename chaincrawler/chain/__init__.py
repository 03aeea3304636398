"""The chain layer: Bitcoin blocks, transactions, scripts and addresses."""
