"""The pure standards layer: URLs, encodings and link extraction as browsers and the WHATWG standards
define them. No Scrapy, no network: every function here is a function of its arguments (and of the public
suffix list, read once)."""
