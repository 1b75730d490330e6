"""mimeiapify: connectors to outside APIs and the symphony_ai agent runtime."""
