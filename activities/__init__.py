"""Activities: the service's only contact with the outside world (mail, broker, warehouse)."""
