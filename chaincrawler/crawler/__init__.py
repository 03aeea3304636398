"""chaincrawler.crawler."""
