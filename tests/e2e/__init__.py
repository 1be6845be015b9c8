"""Browser tests that drive the app in Chromium through Playwright."""
