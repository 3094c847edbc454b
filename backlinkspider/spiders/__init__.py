"""Scrapy spiders of this project (``scrapy list``)."""
