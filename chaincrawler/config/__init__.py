"""chaincrawler.config."""
