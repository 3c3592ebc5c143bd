"""Configuration of the service's processes, read from the environment."""
