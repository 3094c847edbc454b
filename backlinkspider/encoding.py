from backlinkspider.standards.encoding import *  # noqa: F403  (transitional shim: SHIMS.txt)
