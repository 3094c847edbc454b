from backlinkspider.standards.urls import *  # noqa: F403  (transitional shim: SHIMS.txt)
