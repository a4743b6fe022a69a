"""Code only the tests use: generated bad inputs, a fake Common Crawl server, reference
implementations the fast paths are compared against."""
