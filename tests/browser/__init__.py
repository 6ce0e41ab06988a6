"""Browser tests: the review app driven in headless Chromium."""
