"""The project's Scrapy commands (``COMMANDS_MODULE``): ``scrapy crawl`` with the checks and exit code of
``backlinks crawl``."""
