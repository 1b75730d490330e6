"""Utilities used by symphony_ai (logging lives in :mod:`mimeiapify.utils`)."""

from mimeiapify.utils.logger import logger, setup_logging

__all__ = ["logger", "setup_logging"]
