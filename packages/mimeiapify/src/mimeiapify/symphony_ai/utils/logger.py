"""Import path kept for the quick-start guide: ``symphony_ai.utils.logger``."""

from mimeiapify.utils.logger import logger, setup_logging

__all__ = ["logger", "setup_logging"]
