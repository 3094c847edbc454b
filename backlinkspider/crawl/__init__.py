"""The Scrapy layer: what Scrapy loads by dotted path, named by role as Scrapy names its own
(``downloadermiddlewares/robotstxt.py``). settings.py and the add-on (``addon.py``) list the components."""
