"""Downloader middlewares: robots.txt, the host budget, the private-address guard."""
