"""Library layer: format sniffing, one adapter per format, and parsing in isolated processes."""
