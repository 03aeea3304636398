"""chaincrawler.models."""
