"""Browser window sizes of the web tests: a phone (iPhone 12-ish) and a laptop."""

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
