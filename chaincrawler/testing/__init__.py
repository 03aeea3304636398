"""chaincrawler.testing."""
